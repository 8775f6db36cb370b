// RxDB schemas of the local database. Index fields are required; strings have maxLength and numbers
// minimum/maximum/multipleOf, as RxDB asks. Rows keep the domain object as JSON (`json`) next to the
// derived index fields, so reads return exactly what was stored and the indexes can change freely.
import type { RxJsonSchema } from 'rxdb';
import { SORT_KEY_MAX_LENGTH } from './keys.js';

export interface ConversationDoc {
  id: string;
  /** status */
  s: string;
  /** assigneeId, '' when unassigned (index fields cannot be null) */
  a: string;
  /** sort keys: lastActivity, waitingLongest, priority */
  kA: string;
  kW: string;
  kP: string;
  seq: number;
  json: string;
}

export interface MessageDoc {
  id: string;
  /** conversationId */
  cid: string;
  /** timeline key: newest first */
  k: string;
  seq: number;
  json: string;
}

export const DIRECTORY_KINDS = ['contact', 'inbox', 'agent', 'team'] as const;
export type DirectoryKind = (typeof DIRECTORY_KINDS)[number];

/** Contacts, inboxes, agents and teams in one collection (RxDB's free tier allows few collections). */
export interface DirectoryDoc {
  /** `${kind}:${id}` */
  pk: string;
  kind: string;
  seq: number;
  json: string;
}

export const KV_KINDS = ['meta', 'outbox', 'sys'] as const;
export type KvKind = (typeof KV_KINDS)[number];

/** Settings (meta), outbox entries and the checkpoint. */
export interface KvDoc {
  /** `${kind}:${key}` */
  key: string;
  kind: string;
  json: string;
}

export interface YjsDoc {
  /** `${doc}|${n, 15 digits}` */
  id: string;
  doc: string;
  /** Append sequence within the document. */
  n: number;
  /** The update, base64. */
  data: string;
}

const ID = { type: 'string', maxLength: 128 } as const;
const KEY = { type: 'string', maxLength: SORT_KEY_MAX_LENGTH } as const;
const SEQ = { type: 'number', minimum: 0, maximum: Number.MAX_SAFE_INTEGER, multipleOf: 1 } as const;

export const conversationSchema: RxJsonSchema<ConversationDoc> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: ID,
    s: { type: 'string', maxLength: 32 },
    a: ID,
    kA: KEY,
    kW: KEY,
    kP: KEY,
    seq: SEQ,
    json: { type: 'string' },
  },
  required: ['id', 's', 'a', 'kA', 'kW', 'kP', 'seq', 'json'],
  // Status (and assignee) narrow the range, the sort key orders it: the inbox query reads only
  // the rows it returns. Queries over several statuses merge one range per status.
  indexes: [
    ['s', 'a', 'kA'],
    ['s', 'a', 'kW'],
    ['s', 'a', 'kP'],
    ['s', 'kA'],
    ['s', 'kW'],
    ['s', 'kP'],
  ],
};

export const messageSchema: RxJsonSchema<MessageDoc> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: { id: ID, cid: ID, k: KEY, seq: SEQ, json: { type: 'string' } },
  required: ['id', 'cid', 'k', 'seq', 'json'],
  indexes: [['cid', 'k']],
};

export const directorySchema: RxJsonSchema<DirectoryDoc> = {
  version: 0,
  primaryKey: 'pk',
  type: 'object',
  properties: { pk: { type: 'string', maxLength: 160 }, kind: { type: 'string', maxLength: 16 }, seq: SEQ, json: { type: 'string' } },
  required: ['pk', 'kind', 'seq', 'json'],
  indexes: ['kind'],
};

export const kvSchema: RxJsonSchema<KvDoc> = {
  version: 0,
  primaryKey: 'key',
  type: 'object',
  properties: { key: { type: 'string', maxLength: 1024 }, kind: { type: 'string', maxLength: 16 }, json: { type: 'string' } },
  required: ['key', 'kind', 'json'],
  indexes: ['kind'],
};

export const yjsSchema: RxJsonSchema<YjsDoc> = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 1040 },
    doc: { type: 'string', maxLength: 1024 },
    n: SEQ,
    data: { type: 'string' },
  },
  required: ['id', 'doc', 'n', 'data'],
  indexes: [['doc', 'n']],
};

export const COLLECTIONS = {
  conversations: conversationSchema,
  messages: messageSchema,
  directory: directorySchema,
  kv: kvSchema,
  yjs: yjsSchema,
} as const;
