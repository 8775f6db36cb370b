export { emailProvider, receiveMail, classifySmtpError, type MailOutcome } from './provider.js';
export { EmailConfig, EmailSecrets, messageIdDomain } from './config.js';
export { parseMail, sanitizeEmailHtml, baseSubject, normMessageId, parseDsn } from './parse.js';
export { ourMessageId, parseOurMessageId, findThread, threadHeaders } from './threading.js';
export { MailboxWatcher, activeWatchers, startMailboxWatchers } from './imap.js';
