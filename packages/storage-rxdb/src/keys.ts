// Order-preserving string keys. IndexedDB compares strings by UTF-16 code units and can only walk an
// index in one direction per query, so each sort order of the index becomes one ascending string key.
import { PRIORITY_RANK, type Conversation, type ConversationSort, type Message } from '@goutong/core';

const WIDTH = 16; // digits of Number.MAX_SAFE_INTEGER
const MAX = Number.MAX_SAFE_INTEGER;

/** A non-negative safe integer as a fixed-width decimal string (ascending order). */
export function ascNum(n: number): string {
  const v = Math.min(MAX, Math.max(0, Math.trunc(n)));
  return String(v).padStart(WIDTH, '0');
}

/** A non-negative safe integer as a fixed-width decimal string in descending order. */
export function descNum(n: number): string {
  return ascNum(MAX - Math.min(MAX, Math.max(0, Math.trunc(n))));
}

const TERMINATOR = '\uffff';

/**
 * A string in descending order: each code unit c becomes 0xFFFE - c and a terminator above every
 * mapped unit ends it, so a prefix sorts after its extensions ("ab" after "abc", as in descending order).
 * Ids are ASCII (`Id` in the domain model), far from the one unit (0xFFFF) that cannot be mapped.
 */
export function descString(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += String.fromCharCode(0xfffe - Math.min(0xfffe, s.charCodeAt(i)));
  return out + TERMINATOR;
}

/** The key of a conversation in one sort order; ascending key order equals `compareConversations(sort)`. */
export function conversationSortKey(c: Pick<Conversation, 'id' | 'lastMessageAt' | 'waitingSince' | 'priority'>, sort: ConversationSort): string {
  const activity = descNum(c.lastMessageAt) + descString(c.id);
  switch (sort) {
    case 'lastActivity':
      return activity;
    case 'waitingLongest':
      return ascNum(c.waitingSince ?? MAX) + activity;
    case 'priority':
      return String(PRIORITY_RANK[c.priority]) + activity;
  }
}

/** The key of a message in a conversation's timeline: ascending key order is newest first, ties by id descending. */
export function messageKey(m: Pick<Message, 'createdAt' | 'id'>): string {
  return descNum(m.createdAt) + descString(m.id);
}

/** Upper bound of the longest key (3 numbers, a rank digit, a 128-unit id and its terminator), with room. */
export const SORT_KEY_MAX_LENGTH = 512;

const CHUNK = 0x8000;

export function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += CHUNK) bin += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(bin);
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
