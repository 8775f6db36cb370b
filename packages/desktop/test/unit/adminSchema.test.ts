import { describe, expect, it } from 'vitest';
import { fieldLabel, fieldsOf, initialValues, isGeneratedToken, providerTitle, providersOf, randomToken, toPayload, validate, webhookUrls, type AdminUrl, type ErrorText, type OpenApiDoc } from '../../src/renderer/admin/schema';
import { canManageCanned, canManageInboxes, canSeeSettings } from '../../src/renderer/stores/admin';

// Trimmed from GET /api/v1/openapi.json (components.schemas), as z.toJSONSchema writes them.
const doc: OpenApiDoc = {
  components: {
    schemas: {
      Inbox: { type: 'object' },
      'Provider.api.config': { type: 'object', properties: { webhookUrl: { type: 'string', format: 'uri' } } },
      'Provider.api.secrets': { type: 'object', properties: { secret: { type: 'string', minLength: 16, maxLength: 256 } }, required: ['secret'] },
      'Provider.email.config': {
        type: 'object',
        properties: {
          address: { type: 'string', maxLength: 254, format: 'email' },
          imap: { type: 'object', properties: { host: { type: 'string', minLength: 1 }, port: { default: 993, type: 'integer', minimum: 1, maximum: 65535 }, secure: { default: true, type: 'boolean' } }, required: ['host'] },
          smtp: { type: 'object', properties: { host: { type: 'string', minLength: 1 }, port: { default: 587, type: 'integer', minimum: 1, maximum: 65535 } }, required: ['host'] },
          initialSync: { default: 'new', type: 'string', enum: ['new', 'all'] },
          currency: { default: 'USD', type: 'string', pattern: '^[A-Z]{3}$' },
        },
        required: ['address', 'smtp'],
      },
      'Provider.email.secrets': { type: 'object', properties: { imapPassword: { type: 'string' }, smtpPassword: { type: 'string' } } },
      'Provider.sms/kannel.config': {
        type: 'object',
        properties: {
          sendsmsUrl: { default: 'http://127.0.0.1:13013/cgi-bin/sendsms', type: 'string', format: 'uri' },
          username: { type: 'string', minLength: 1, maxLength: 64 },
          webhookBaseUrl: { type: 'string', format: 'uri' },
          dlrMask: { default: 31, type: 'integer', minimum: 0, maximum: 31 },
          pricePerSegment: { default: 0, type: 'number', minimum: 0 },
        },
        required: ['username', 'webhookBaseUrl'],
      },
      'Provider.sms/kannel.secrets': { type: 'object', properties: { password: { type: 'string', minLength: 1 }, webhookToken: { type: 'string', minLength: 16 } }, required: ['password', 'webhookToken'] },
      'Provider.voice/sip.config': {
        type: 'object',
        properties: {
          wsUrl: { type: 'string', format: 'uri' },
          domain: { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9.-]+(:\\d{1,5})?$' },
          agents: { default: {}, type: 'object', propertyNames: { type: 'string', minLength: 1, maxLength: 320 }, additionalProperties: { type: 'string', minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9_.!~*'()&=+$,;?/-]+$" } },
          auth: { default: 'static', type: 'string', enum: ['static', 'ephemeral', 'none'] },
          iceServers: { default: [], maxItems: 5, type: 'array', items: { type: 'object', properties: { urls: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] } }, required: ['urls'] } },
        },
        required: ['wsUrl', 'domain'],
      },
      'Provider.voice/sip.secrets': { type: 'object', properties: { voicemailToken: { type: 'string', pattern: '^[A-Za-z0-9_-]{16,128}$' }, ephemeralSecret: { type: 'string', minLength: 1, maxLength: 256 } }, additionalProperties: { type: 'string', minLength: 1, maxLength: 256 } },
      'Provider.im/wildfire.config': { type: 'object', properties: { serverApiBaseUrl: { type: 'string', format: 'uri' }, allowedSourceCidrs: { maxItems: 2, type: 'array', items: { type: 'string', maxLength: 64 } } }, required: ['serverApiBaseUrl'] },
      'Provider.im/wildfire.secrets': { type: 'object', properties: { adminSecret: { type: 'string' }, callbackToken: { type: 'string', pattern: '^[A-Za-z0-9_-]{16,128}$' } }, required: ['adminSecret'] },
    },
  },
};

const e: ErrorText = {
  required: () => 'required',
  integer: () => 'integer',
  number: () => 'number',
  min: (n) => `min ${n}`,
  max: (n) => `max ${n}`,
  minLength: (n) => `minLength ${n}`,
  maxLength: (n) => `maxLength ${n}`,
  url: () => 'url',
  pattern: () => 'pattern',
  maxItems: (n) => `maxItems ${n}`,
  json: () => 'json',
  duplicate: () => 'duplicate',
};

describe('inbox forms from the OpenAPI provider schemas', () => {
  it('lists the providers by channel', () => {
    expect(providersOf(doc).map((p) => [p.key, p.channel, p.provider])).toEqual([
      ['api', 'api', 'api'],
      ['email', 'email', 'email'],
      ['sms/kannel', 'sms', 'kannel'],
      ['voice/sip', 'voice', 'sip'],
      ['im/wildfire', 'im', 'wildfire'],
    ]);
  });

  it('Kannel: required fields, ranges, URLs; blanks left to the server defaults; numbers as numbers', () => {
    const kannel = providersOf(doc).find((p) => p.key === 'sms/kannel')!;
    const fields = fieldsOf(kannel.config);
    expect(fields.map((f) => [f.name, f.kind, f.required])).toEqual([
      ['sendsmsUrl', 'url', false],
      ['username', 'text', true],
      ['webhookBaseUrl', 'url', true],
      ['dlrMask', 'integer', false],
      ['pricePerSegment', 'number', false],
    ]);
    const v = initialValues(fields);
    expect(validate(fields, v, e)).toEqual({ username: 'required', webhookBaseUrl: 'required' });
    Object.assign(v, { username: 'goutong', webhookBaseUrl: 'goutong.example.com', dlrMask: '32', pricePerSegment: 'abc' });
    expect(validate(fields, v, e)).toEqual({ webhookBaseUrl: 'url', dlrMask: 'max 31', pricePerSegment: 'number' });
    Object.assign(v, { webhookBaseUrl: 'https://goutong.example.com/', dlrMask: '7.5', pricePerSegment: '0.05' });
    expect(validate(fields, v, e)).toEqual({ dlrMask: 'integer' });
    v.dlrMask = '';
    expect(validate(fields, v, e)).toEqual({});
    expect(toPayload(fields, v)).toEqual({ username: 'goutong', webhookBaseUrl: 'https://goutong.example.com/', pricePerSegment: 0.05 });

    const secrets = fieldsOf(kannel.secrets);
    expect(validate(secrets, initialValues(secrets), e)).toEqual({ password: 'required', webhookToken: 'required' });
    // Edit mode: blank secrets keep their stored values.
    expect(validate(secrets, initialValues(secrets), e, { optionalAll: true })).toEqual({});
    expect(validate(secrets, { password: 'p', webhookToken: 'short' }, e)).toEqual({ webhookToken: 'minLength 16' });
    expect(isGeneratedToken('webhookToken')).toBe(true);
    expect(isGeneratedToken('password')).toBe(false);
    const token = randomToken(24);
    expect(token).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  it('e-mail: nested objects (required smtp, optional imap), booleans, enums, patterns; edit values from the stored config', () => {
    const email = providersOf(doc).find((p) => p.key === 'email')!;
    const fields = fieldsOf(email.config);
    const imap = fields.find((f) => f.name === 'imap')!;
    expect(imap.kind).toBe('object');
    expect(imap.fields!.map((f) => f.path)).toEqual(['imap.host', 'imap.port', 'imap.secure']);
    const v = initialValues(fields);
    expect(v.imap).toEqual({ __enabled: false, host: '', port: '', secure: true });
    expect((v.smtp as Record<string, unknown>).__enabled).toBe(true);
    expect(validate(fields, v, e)).toEqual({ address: 'required', 'smtp.host': 'required' });
    Object.assign(v, { address: 'support@example.com', currency: 'usd' });
    (v.smtp as Record<string, unknown>).host = 'smtp.example.com';
    expect(validate(fields, v, e)).toEqual({ currency: 'pattern' });
    v.currency = 'CNY';
    (v.imap as Record<string, unknown>).__enabled = true;
    expect(validate(fields, v, e)).toEqual({ 'imap.host': 'required' });
    (v.imap as Record<string, unknown>).host = 'imap.example.com';
    v.initialSync = 'all';
    expect(toPayload(fields, v)).toEqual({ address: 'support@example.com', imap: { host: 'imap.example.com', secure: true }, smtp: { host: 'smtp.example.com' }, initialSync: 'all', currency: 'CNY' });

    const stored = initialValues(fields, { address: 'a@b.cn', smtp: { host: 'h', port: 465 }, initialSync: 'new', currency: 'USD' });
    expect(stored.smtp).toEqual({ __enabled: true, host: 'h', port: '465' });
    expect((stored.imap as Record<string, unknown>).__enabled).toBe(false);
  });

  it('lists: one per line, each checked', () => {
    const wf = providersOf(doc).find((p) => p.key === 'im/wildfire')!;
    const fields = fieldsOf(wf.config);
    const v = { ...initialValues(fields), serverApiBaseUrl: 'http://im.internal:18080', allowedSourceCidrs: '10.0.0.0/8\n\n192.168.1.0/24\n' };
    expect(validate(fields, v, e)).toEqual({});
    expect(toPayload(fields, v)).toEqual({ serverApiBaseUrl: 'http://im.internal:18080', allowedSourceCidrs: ['10.0.0.0/8', '192.168.1.0/24'] });
    v.allowedSourceCidrs = 'a\nb\nc';
    expect(validate(fields, v, e)).toEqual({ allowedSourceCidrs: 'maxItems 2' });
    expect(initialValues(fields, { allowedSourceCidrs: ['1.2.3.4/32', '::1/128'] }).allowedSourceCidrs).toBe('1.2.3.4/32\n::1/128');
  });

  it('voice: maps (agent → SIP user), JSON lists (ICE servers) and named extra secrets (password:<user>)', () => {
    const voice = providersOf(doc).find((p) => p.key === 'voice/sip')!;
    const fields = fieldsOf(voice.config);
    expect(fields.map((f) => [f.name, f.kind])).toEqual([
      ['wsUrl', 'url'],
      ['domain', 'text'],
      ['agents', 'map'],
      ['auth', 'enum'],
      ['iceServers', 'json'],
    ]);
    const v: Record<string, unknown> = { ...initialValues(fields), wsUrl: 'wss://sip.example.com/ws', domain: 'sip.example.com' };
    expect(v.agents).toEqual([]);
    (v.agents as Array<{ k: string; v: string }>).push({ k: 'alice@demo.goutong', v: '1001' }, { k: '', v: '' }, { k: 'bob@demo.goutong', v: 'bad user!' });
    expect(validate(fields, v, e)).toEqual({ agents: 'bob@demo.goutong: pattern' });
    (v.agents as Array<{ k: string; v: string }>)[2]!.k = 'alice@demo.goutong';
    expect(validate(fields, v, e).agents).toBe('alice@demo.goutong: duplicate');
    (v.agents as Array<{ k: string; v: string }>).splice(2, 1);
    v.iceServers = '{"urls": "stun:x"}';
    expect(validate(fields, v, e)).toEqual({ iceServers: 'json' });
    v.iceServers = '[{"urls": ["stun:stun.example.com:3478"]}]';
    expect(validate(fields, v, e)).toEqual({});
    expect(toPayload(fields, v)).toEqual({ wsUrl: 'wss://sip.example.com/ws', domain: 'sip.example.com', agents: { 'alice@demo.goutong': '1001' }, iceServers: [{ urls: ['stun:stun.example.com:3478'] }] });
    // Editing shows the stored map and JSON.
    const stored = initialValues(fields, { wsUrl: 'wss://x/ws', domain: 'x', agents: { a: '1' }, auth: 'none', iceServers: [{ urls: 'stun:y' }] });
    expect(stored.agents).toEqual([{ k: 'a', v: '1' }]);
    expect(JSON.parse(stored.iceServers as string)).toEqual([{ urls: 'stun:y' }]);

    const secrets = fieldsOf(voice.secrets);
    expect(secrets.map((f) => [f.name, f.kind])).toEqual([
      ['voicemailToken', 'text'],
      ['ephemeralSecret', 'text'],
      ['*', 'map'],
    ]);
    const sv = initialValues(secrets);
    (sv['*'] as Array<{ k: string; v: string }>).push({ k: 'password:1001', v: 's3cret' }, { k: 'password:1002', v: '' });
    expect(validate(secrets, sv, e)).toEqual({ '*': 'password:1002: required' });
    // Editing: a blank value keeps the stored secret.
    expect(validate(secrets, sv, e, { optionalAll: true })).toEqual({});
    expect(toPayload(secrets, sv)).toEqual({ 'password:1001': 's3cret' });
  });

  it('webhook URLs as the server declares them: server paths prefixed, known tokens filled in, labels per locale', () => {
    const what = (en: string, zh: string) => ({ en, 'zh-CN': zh });
    // As GET /api/v1/inboxes/{id} answers (`urls`, from the provider's declaration).
    const urls: AdminUrl[] = [
      { key: 'get-url', what: what('Kannel get-url', 'Kannel 的 get-url'), method: 'GET', url: 'http://10.0.0.5:8787/webhooks/kannel/inbox-1/inbound?token=<webhookToken>&from=%p&to=%P&text=%a' },
      { key: 'voicemail', what: what('Voicemail upload', '语音留言上传'), method: 'POST', url: '/api/v1/inboxes/inbox-1/voicemail?from={caller}&callId={callId}' },
    ];
    expect(webhookUrls({ urls }, 'https://gt.example.com/', { webhookToken: 'tok en' })).toEqual([
      { key: 'get-url', what: 'Kannel get-url', method: 'GET', url: 'http://10.0.0.5:8787/webhooks/kannel/inbox-1/inbound?token=tok%20en&from=%p&to=%P&text=%a' },
      { key: 'voicemail', what: 'Voicemail upload', method: 'POST', url: 'https://gt.example.com/api/v1/inboxes/inbox-1/voicemail?from={caller}&callId={callId}' },
    ]);
    expect(webhookUrls({ urls }, 'https://gt.example.com', {}, 'zh-CN').map((u) => [u.what, u.url.includes('token=<webhookToken>')])).toEqual([
      ['Kannel 的 get-url', true],
      ['语音留言上传', false],
    ]);
    expect(webhookUrls({}, 'https://gt.example.com')).toEqual([]);
  });

  it('labels come from the schema titles (zh-CN from x-i18n), else the property name', () => {
    const schema = { type: 'object', title: 'SMS · Kannel', 'x-i18n': { 'zh-CN': { title: '短信 · Kannel' } }, properties: { username: { type: 'string', title: 'sendsms user', 'x-i18n': { 'zh-CN': { title: 'sendsms 用户' } } }, smsc: { type: 'string' } } };
    const [username, smsc] = fieldsOf(schema);
    expect([fieldLabel(username!, 'en'), fieldLabel(username!, 'zh-CN'), fieldLabel(smsc!, 'zh-CN')]).toEqual(['sendsms user', 'sendsms 用户', 'smsc']);
    expect(providerTitle({ key: 'sms/kannel', config: schema }, 'sms/kannel', 'zh-CN')).toBe('短信 · Kannel');
    expect(providerTitle(undefined, 'sms/new', 'en')).toBe('sms/new');
  });

  it('roles: admins manage inboxes, supervisors canned responses, agents see only their own account in settings', () => {
    expect([canSeeSettings('admin'), canManageInboxes('admin'), canManageCanned('admin')]).toEqual([true, true, true]);
    expect([canSeeSettings('supervisor'), canManageInboxes('supervisor'), canManageCanned('supervisor')]).toEqual([true, false, true]);
    expect([canSeeSettings('agent'), canManageInboxes('agent'), canManageCanned('agent')]).toEqual([true, false, false]);
  });
});
