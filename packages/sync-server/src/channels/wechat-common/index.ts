export { wechatSignature, signatureMatches, staleTimestamp, aesKeyOf, wechatEncrypt, wechatDecrypt, WechatCryptoError } from './crypto.js';
export { parseWechatXml, xmlText, buildWechatXml, XmlError, MAX_XML_BYTES, type XmlNode, type XmlValue } from './xml.js';
export { WechatApi, withToken, fileNameOf, multipartFile, TOKEN_ERRORS, RETRYABLE_ERRORS, WECHAT_ERRORS, type ApiAnswer, type TokenSource } from './api.js';
