// The segment rule lives once in core (rules/smsSegments.ts); the SMS channels price by it.
export { countSegments, gsm7Length, isGsm7, smsCost, type SegmentCount, type SegmentRule, type SmsEncoding } from '@goutong/core';
