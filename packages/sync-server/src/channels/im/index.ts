export { wildfireProvider, WildfireConfig, WildfireSecrets, replyTarget, type WildfireInboundResult } from './wildfire.js';
export { wildfireSign, wildfireHeaders, parseWildfireJson, callWildfire, wildfireFailure, WILDFIRE_ERRORS } from './wildfireApi.js';
export { mapPayload, WfOutputMessage, type WfPayload } from './wildfirePayload.js';
export { cidrMatcher, parseCidr } from './cidr.js';
