// What the SMS providers share (each provider is its own folder: ../twilio, ../aliyun, ../kannel).
export { countSegments, isGsm7, smsCost, type SegmentCount } from './segments.js';
export { SmsPricing, SMS_USES, PublicBaseUrl, receiveSms, smsRecipient, outboundCost, type SmsInbound } from './common.js';
