export { twilioProvider, twilioSignature, verifyTwilioSignature, TwilioConfig, TwilioSecrets, parseForm } from './twilio.js';
export { aliyunProvider, aliyunSignature, aliyunPercentEncode, aliyunCanonicalQuery, AliyunConfig, AliyunSecrets } from './aliyun.js';
export { kannelProvider, KannelConfig, KannelSecrets } from './kannel.js';
export { countSegments, isGsm7, smsCost, type SegmentCount } from './segments.js';
