import { describe, expect, it } from 'vitest';
import { countSegments, smsCounter, smsSegmentRuleOf } from './smsSegments.js';

// Worked examples of 3GPP TS 23.038/23.040 (GSM-7 160/153 septets, UCS-2 70/67 code units).
describe('the SMS segment rule (one for pricing and the composer counter)', () => {
  it('GSM-7: 160 septets fit one SMS, concatenated parts carry 153', () => {
    expect(smsCounter('Hello')).toMatchObject({ encoding: 'GSM-7', segments: 1, units: 5, perSegment: 160, remaining: 155 });
    expect(smsCounter('a'.repeat(160))).toMatchObject({ segments: 1, remaining: 0 });
    expect(smsCounter('a'.repeat(161))).toMatchObject({ segments: 2, perSegment: 153, remaining: 306 - 161 });
    expect(countSegments('a'.repeat(306)).segments).toBe(2);
    expect(countSegments('a'.repeat(307)).segments).toBe(3);
  });
  it('the extension table (€ [ ] { } ~ ^ | \\) takes two septets and an escape pair is never split', () => {
    expect(countSegments('Total: 5€')).toMatchObject({ encoding: 'GSM-7', units: 10 });
    expect(countSegments('€'.repeat(80))).toMatchObject({ units: 160, segments: 1 });
    expect(countSegments(`${'a'.repeat(152)}€${'a'.repeat(152)}`)).toMatchObject({ units: 306, segments: 3 });
  });
  it('Chinese text is UCS-2: 70 characters in one SMS, 67 per part', () => {
    const zh = '您好，您的订单已发货，请注意查收。';
    expect(smsCounter(zh)).toMatchObject({ encoding: 'UCS-2', segments: 1, units: zh.length, perSegment: 70, remaining: 70 - zh.length });
    expect(countSegments('好'.repeat(70))).toMatchObject({ segments: 1 });
    expect(countSegments('好'.repeat(71))).toMatchObject({ segments: 2, perSegment: 67 });
    expect(countSegments('好'.repeat(134))).toMatchObject({ segments: 2 });
    expect(countSegments('好'.repeat(135))).toMatchObject({ segments: 3 });
    // One non-GSM character switches the whole message: 100 Latin letters and one 好 are two parts.
    expect(countSegments(`${'a'.repeat(100)}好`)).toMatchObject({ encoding: 'UCS-2', segments: 2 });
  });
  it('an emoji is two UTF-16 units and is never split across parts', () => {
    expect(countSegments('😀')).toMatchObject({ encoding: 'UCS-2', units: 2, segments: 1 });
    expect(countSegments(`${'a'.repeat(66)}😀${'a'.repeat(5)}`)).toMatchObject({ units: 73, segments: 2 });
    expect(countSegments(`${'a'.repeat(66)}😀${'a'.repeat(66)}`)).toMatchObject({ units: 134, segments: 3 });
  });
  it('Aliyun bills by characters (70, then 67) with the signature; other providers by GSM-7/UCS-2', () => {
    expect(smsSegmentRuleOf('aliyun')).toBe('cn');
    expect(smsSegmentRuleOf('twilio')).toBe('gsm');
    expect(smsSegmentRuleOf(null)).toBe('gsm');
    expect(countSegments(`【沟通】${'a'.repeat(66)}`, 'cn')).toMatchObject({ units: 70, segments: 1 });
    expect(countSegments(`【沟通】${'a'.repeat(67)}`, 'cn')).toMatchObject({ units: 71, segments: 2 });
  });
});
