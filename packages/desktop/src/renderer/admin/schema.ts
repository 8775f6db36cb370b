// Inbox forms generated from the server's OpenAPI document: each provider's `config` and `secrets`
// are JSON Schemas (`components.schemas['Provider.<channel>[/<provider>].config|secrets']`, made
// from the same zod schemas the server validates with). This module turns them into field
// descriptors, checks values the way the server will, and builds the request bodies. Labels come
// from the schemas too (`title`, and `x-i18n['zh-CN'].title` written by the provider): adding a
// provider on the server needs no entry in the app's i18n files.
import type { Channel, Inbox } from '@goutong/core';

/** Titles and descriptions per locale beside the English `title`/`description` (the server's `label()`). */
export type SchemaI18n = Record<string, { title?: string; description?: string }>;

export interface JsonSchema {
  title?: string;
  'x-i18n'?: SchemaI18n;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  default?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  maxItems?: number;
  description?: string;
  /** A map's values (and, beside `properties`, named extra entries such as `password:<user>`). */
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  anyOf?: JsonSchema[];
}

export interface OpenApiDoc {
  components?: { schemas?: Record<string, JsonSchema> };
}

export interface ProviderSchema {
  /** `sms/kannel`, `api`, `email`… */
  key: string;
  channel: Channel;
  /** The `provider` of the inbox (the channel's name when the channel has one provider). */
  provider: string;
  config: JsonSchema;
  secrets: JsonSchema;
}

/** A URL the server says an admin configures at the provider (see the provider's `urls`). */
export interface AdminUrl {
  key: string;
  /** What it is, per locale (`en`, `zh-CN`). */
  what: Record<string, string>;
  method: 'GET' | 'POST';
  /** Absolute, or a path on this server; sealed secrets as `<name>`. */
  url: string;
}

/** An inbox as GET /api/v1/inboxes shows it to an admin: config, only the names of its secrets, the URLs to configure. */
export interface AdminInbox extends Inbox {
  config: Record<string, unknown>;
  secretsSet: string[];
  urls?: AdminUrl[];
}

/** The schema's title in `locale` (zh-CN from `x-i18n`), else its English title, else null. */
export function schemaTitle(s: JsonSchema | undefined, locale: string): string | null {
  if (!s) return null;
  return s['x-i18n']?.[locale]?.title ?? s.title ?? null;
}

/** The schema's description in `locale`, else its English one, else null. */
export function schemaDescription(s: JsonSchema | undefined, locale: string): string | null {
  if (!s) return null;
  return s['x-i18n']?.[locale]?.description ?? s.description ?? null;
}

/** A provider's name to show: its config schema's title, else its key. */
export function providerTitle(p: Pick<ProviderSchema, 'key' | 'config'> | undefined, key: string, locale: string): string {
  return schemaTitle(p?.config, locale) ?? key;
}

/** A field's label: its schema's title, else its name. */
export function fieldLabel(f: Pick<Field, 'name' | 'schema'>, locale: string): string {
  return schemaTitle(f.schema, locale) ?? f.name;
}

export type FieldKind = 'text' | 'url' | 'email' | 'integer' | 'number' | 'boolean' | 'enum' | 'list' | 'object' | 'map' | 'json';

/** The synthetic field holding an object's entries beyond its properties (its `additionalProperties`). */
export const EXTRA_ENTRIES = '*';

/** A map entry as the form edits it. */
export interface MapRow {
  k: string;
  v: string;
}

export interface Field {
  name: string;
  /** Dotted path from the form root (imap.host). */
  path: string;
  kind: FieldKind;
  required: boolean;
  schema: JsonSchema;
  /** Nested fields of an object field. */
  fields?: Field[];
}

const CHANNELS: readonly string[] = ['api', 'email', 'sms', 'voice', 'im', 'wechat'];

/** The providers the server documents, in a stable order (channel, then provider). */
export function providersOf(doc: OpenApiDoc): ProviderSchema[] {
  const schemas = doc.components?.schemas ?? {};
  const out: ProviderSchema[] = [];
  for (const name of Object.keys(schemas)) {
    const m = /^Provider\.([a-z]+)(?:\/([a-z0-9_-]+))?\.config$/.exec(name);
    if (!m || !CHANNELS.includes(m[1]!)) continue;
    const key = m[2] ? `${m[1]}/${m[2]}` : m[1]!;
    out.push({ key, channel: m[1] as Channel, provider: m[2] ?? m[1]!, config: schemas[name]!, secrets: schemas[`Provider.${key}.secrets`] ?? { type: 'object', properties: {} } });
  }
  return out.sort((a, b) => CHANNELS.indexOf(a.channel) - CHANNELS.indexOf(b.channel) || a.provider.localeCompare(b.provider));
}

export function providerKey(inbox: Pick<Inbox, 'channel' | 'provider'>): string {
  return !inbox.provider || inbox.provider === inbox.channel ? inbox.channel : `${inbox.channel}/${inbox.provider}`;
}

const typeOf = (s: JsonSchema): string | undefined => (Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type);

const isSchema = (x: unknown): x is JsonSchema => typeof x === 'object' && x !== null;

function kindOf(s: JsonSchema): FieldKind {
  if (s.enum) return 'enum';
  const t = typeOf(s);
  if (t === 'object') return !s.properties && isSchema(s.additionalProperties) ? 'map' : 'object';
  // Lists of plain values one per line; anything richer (ICE servers…) as JSON.
  if (t === 'array') return s.items && !s.items.anyOf && ['string', 'number', 'integer'].includes(typeOf(s.items) ?? '') ? 'list' : 'json';
  if (t === 'boolean') return 'boolean';
  if (t === 'integer') return 'integer';
  if (t === 'number') return 'number';
  if (s.format === 'uri') return 'url';
  if (s.format === 'email') return 'email';
  return 'text';
}

/** The fields of an object schema, nested objects included. */
export function fieldsOf(schema: JsonSchema, prefix = ''): Field[] {
  const req = new Set(schema.required ?? []);
  const fields: Field[] = Object.entries(schema.properties ?? {}).map(([name, s]) => {
    const kind = kindOf(s);
    const path = prefix ? `${prefix}.${name}` : name;
    return { name, path, kind, required: req.has(name), schema: s, ...(kind === 'object' ? { fields: fieldsOf(s, path) } : {}) };
  });
  // Named entries beside the properties (the voice inbox's `password:<user>` secrets).
  if (schema.properties && isSchema(schema.additionalProperties)) {
    fields.push({ name: EXTRA_ENTRIES, path: prefix ? `${prefix}.${EXTRA_ENTRIES}` : EXTRA_ENTRIES, kind: 'map', required: false, schema: { type: 'object', additionalProperties: schema.additionalProperties } });
  }
  return fields;
}

const mapRows = (o: unknown, skip: ReadonlySet<string> = new Set()): MapRow[] =>
  o && typeof o === 'object' && !Array.isArray(o)
    ? Object.entries(o as Record<string, unknown>)
        .filter(([k]) => !skip.has(k))
        .map(([k, v]) => ({ k, v: typeof v === 'string' ? v : JSON.stringify(v) }))
    : [];

/** Form values are strings for text-like inputs, booleans for checkboxes, nested records for objects. */
export type FormValues = Record<string, unknown>;

/** Initial form values: from an existing config, else booleans at their defaults and the rest empty. */
export function initialValues(fields: readonly Field[], from: Record<string, unknown> = {}): FormValues {
  const out: FormValues = {};
  for (const f of fields) {
    const v = from[f.name];
    if (f.name === EXTRA_ENTRIES) {
      out[f.name] = mapRows(from, new Set(fields.map((x) => x.name)));
      continue;
    }
    if (f.kind === 'map') out[f.name] = mapRows(v);
    else if (f.kind === 'json') out[f.name] = v === undefined || v === null ? '' : JSON.stringify(v, null, 2);
    else if (f.kind === 'object') {
      const present = v !== undefined && v !== null && typeof v === 'object';
      out[f.name] = { __enabled: present || f.required, ...initialValues(f.fields ?? [], present ? (v as Record<string, unknown>) : {}) };
    } else if (f.kind === 'boolean') out[f.name] = typeof v === 'boolean' ? v : f.schema.default === true;
    else if (f.kind === 'list') out[f.name] = Array.isArray(v) ? v.join('\n') : '';
    else out[f.name] = v === undefined || v === null ? '' : String(v);
  }
  return out;
}

export type FieldErrors = Record<string, string>;

export interface ErrorText {
  required(): string;
  integer(): string;
  number(): string;
  min(n: number): string;
  max(n: number): string;
  minLength(n: number): string;
  maxLength(n: number): string;
  url(): string;
  pattern(): string;
  maxItems(n: number): string;
  json(): string;
  duplicate(): string;
}

function checkScalar(s: JsonSchema, kind: FieldKind, raw: string, e: ErrorText): string | null {
  if (kind === 'integer' || kind === 'number') {
    const n = Number(raw);
    if (!Number.isFinite(n)) return e.number();
    if (kind === 'integer' && !Number.isInteger(n)) return e.integer();
    if (s.minimum !== undefined && n < s.minimum) return e.min(s.minimum);
    if (s.maximum !== undefined && n > s.maximum) return e.max(s.maximum);
    return null;
  }
  if (s.minLength !== undefined && raw.length < s.minLength) return e.minLength(s.minLength);
  if (s.maxLength !== undefined && raw.length > s.maxLength) return e.maxLength(s.maxLength);
  if (s.format === 'uri') {
    // Any absolute URL (wss:// for SIP too); the server checks which schemes a field takes.
    if (!/^[a-z][a-z0-9+.-]*:\/\/[^/\s]/i.test(raw)) return e.url();
    try {
      new URL(raw);
    } catch {
      return e.url();
    }
  }
  if (s.pattern) {
    try {
      if (!new RegExp(s.pattern, 'u').test(raw)) return e.pattern();
    } catch {
      /* a pattern this engine does not know: the server checks it */
    }
  }
  return null;
}

/**
 * Checks values like the server will (required, types, ranges, lengths, patterns, URLs); `optionalAll`
 * in edit mode for secrets (blank keeps the stored value).
 */
export function validate(fields: readonly Field[], values: FormValues, e: ErrorText, opts: { optionalAll?: boolean } = {}): FieldErrors {
  const errors: FieldErrors = {};
  for (const f of fields) {
    const v = values[f.name];
    if (f.kind === 'object') {
      const nested = (v ?? {}) as FormValues;
      if (nested.__enabled) Object.assign(errors, validate(f.fields ?? [], nested, e, opts));
      continue;
    }
    if (f.kind === 'boolean') continue;
    if (f.kind === 'map') {
      const err = checkMap(f.schema, (v ?? []) as MapRow[], e, opts.optionalAll ?? false);
      if (err) errors[f.path] = err;
      continue;
    }
    const raw = v === undefined || v === null ? '' : String(v).trim();
    if (!raw) {
      if (f.required && !opts.optionalAll && f.schema.default === undefined) errors[f.path] = e.required();
      continue;
    }
    if (f.kind === 'json') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(raw);
      } catch {
        errors[f.path] = e.json();
        continue;
      }
      if (typeOf(f.schema) === 'array' && !Array.isArray(parsed)) errors[f.path] = e.json();
      else if (Array.isArray(parsed) && f.schema.maxItems !== undefined && parsed.length > f.schema.maxItems) errors[f.path] = e.maxItems(f.schema.maxItems);
      continue;
    }
    if (f.kind === 'list') {
      const items = raw.split('\n').map((x) => x.trim()).filter(Boolean);
      if (f.schema.maxItems !== undefined && items.length > f.schema.maxItems) errors[f.path] = e.maxItems(f.schema.maxItems);
      else for (const item of items) {
        const err = checkScalar(f.schema.items ?? {}, kindOf(f.schema.items ?? {}), item, e);
        if (err) {
          errors[f.path] = `${item}: ${err}`;
          break;
        }
      }
      continue;
    }
    if (f.kind === 'enum') continue;
    const err = checkScalar(f.schema, f.kind, raw, e);
    if (err) errors[f.path] = err;
  }
  return errors;
}

/** Map entries: keys and values checked against propertyNames / additionalProperties; blanks skipped. */
function checkMap(s: JsonSchema, rows: readonly MapRow[], e: ErrorText, blankValuesAllowed: boolean): string | null {
  const values = isSchema(s.additionalProperties) ? s.additionalProperties : {};
  const seen = new Set<string>();
  for (const row of rows) {
    const k = row.k.trim();
    const v = row.v.trim();
    if (!k && !v) continue;
    if (!k) return e.required();
    if (seen.has(k)) return `${k}: ${e.duplicate()}`;
    seen.add(k);
    const keyErr = checkScalar(s.propertyNames ?? {}, 'text', k, e);
    if (keyErr) return `${k}: ${keyErr}`;
    if (!v) {
      if (blankValuesAllowed) continue;
      return `${k}: ${e.required()}`;
    }
    const valueErr = checkScalar(values, kindOf(values), v, e);
    if (valueErr) return `${k}: ${valueErr}`;
  }
  return null;
}

/** The JSON value of the form: blanks left out (the server applies its defaults), numbers as numbers. */
export function toPayload(fields: readonly Field[], values: FormValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const v = values[f.name];
    if (f.kind === 'object') {
      const nested = (v ?? {}) as FormValues;
      if (nested.__enabled) out[f.name] = toPayload(f.fields ?? [], nested);
      continue;
    }
    if (f.kind === 'boolean') {
      out[f.name] = v === true;
      continue;
    }
    if (f.kind === 'map') {
      const entries: Record<string, unknown> = {};
      const values = isSchema(f.schema.additionalProperties) ? f.schema.additionalProperties : {};
      const numeric = ['integer', 'number'].includes(typeOf(values) ?? '');
      for (const row of (v ?? []) as MapRow[]) if (row.k.trim() && row.v.trim()) entries[row.k.trim()] = numeric ? Number(row.v.trim()) : row.v.trim();
      if (f.name === EXTRA_ENTRIES) Object.assign(out, entries);
      else out[f.name] = entries;
      continue;
    }
    const raw = v === undefined || v === null ? '' : String(v).trim();
    if (!raw) continue;
    if (f.kind === 'json') {
      out[f.name] = JSON.parse(raw) as unknown;
      continue;
    }
    if (f.kind === 'integer' || f.kind === 'number') out[f.name] = Number(raw);
    else if (f.kind === 'list') out[f.name] = raw.split('\n').map((x) => x.trim()).filter(Boolean);
    else out[f.name] = raw;
  }
  return out;
}

/** Secrets that are random tokens shared with the provider (offered a "generate" button). */
export function isGeneratedToken(name: string): boolean {
  return /token$/i.test(name) || name === 'secret';
}

/** A random URL-safe token (base64url of `bytes` random bytes). */
export function randomToken(bytes = 24, random: (n: number) => Uint8Array = (n) => crypto.getRandomValues(new Uint8Array(n))): string {
  let s = '';
  for (const b of random(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export interface WebhookUrl {
  key: string;
  /** What it is, in the current locale. */
  what: string;
  method: 'GET' | 'POST';
  url: string;
}

/**
 * The URLs a provider calls, as the server declares them for the inbox (`urls` of GET
 * /api/v1/inboxes/{id}): paths on this server get the server's URL, and `<name>` placeholders of
 * sealed secrets the value when known here (right after creation).
 */
export function webhookUrls(inbox: Pick<AdminInbox, 'urls'>, serverUrl: string, secrets: Record<string, string> = {}, locale = 'en'): WebhookUrl[] {
  const server = serverUrl.replace(/\/+$/, '');
  return (inbox.urls ?? []).map((u) => ({
    key: u.key,
    what: u.what[locale] ?? u.what.en ?? u.key,
    method: u.method,
    url: (u.url.startsWith('/') ? `${server}${u.url}` : u.url).replace(/<([A-Za-z0-9_:.-]+)>/g, (m, name: string) => (secrets[name] ? encodeURIComponent(secrets[name]) : m)),
  }));
}
