import type { Conversation, Inbox, InboxRouting } from '../domain/model.js';
import type { IdSource } from './commandRules.js';
import type { IvrDigit } from './ivr.js';
import { decideRouting, effectiveAvailability, effectiveRouting, type RoutingCandidate } from './routing.js';

/**
 * Voice queues (ACD) behind the IVR: the order callers are served in, when a waiting caller hears
 * their position or overflows to voicemail, and which agent's phone rings. The agent is chosen by
 * routing's own rule (`decideRouting`: availability, team, skills, capacity, strategy, longest
 * idle); this file only says what a call changes in routing's input.
 */

/** A voice queue's settings (per voice inbox; the team comes from the IVR menu choice). */
export interface VoiceQueueSettings {
  /** Longest a caller waits before overflowing to voicemail (s). */
  maxWaitSeconds: number;
  /** How long an agent's phone rings before the call is offered to the next agent (s). */
  ringTimeoutSeconds: number;
  /** How often a waiting caller hears their position (s); 0: only once, on entry. */
  announceEverySeconds: number;
  /** The key a waiting caller presses to be called back instead of waiting; null: no callback. */
  callbackKey: IvrDigit | null;
}

export type QueuedCallState = 'waiting' | 'ringing' | 'connected';

/** A caller in a queue as the decisions read it (the live rows of the queue table). */
export interface QueuedCall {
  id: string;
  tenantId: string;
  inboxId: string;
  teamId: string | null;
  /** When the caller entered the queue (ms): the queue's order. */
  enteredAt: number;
  state: QueuedCallState;
  /** The agent whose phone rings or who talks with the caller. */
  agentId: string | null;
  /** Agents whose phone rang for this call without an answer (the next offer goes to someone else first). */
  declined: readonly string[];
}

/** Queue order: first come, first served (entry time, then id so that two processes agree). */
export function compareQueued(a: Pick<QueuedCall, 'enteredAt' | 'id'>, b: Pick<QueuedCall, 'enteredAt' | 'id'>): number {
  return a.enteredAt - b.enteredAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

const sameQueue = (a: Pick<QueuedCall, 'inboxId' | 'teamId'>, b: Pick<QueuedCall, 'inboxId' | 'teamId'>) => a.inboxId === b.inboxId && a.teamId === b.teamId;

/** A caller's position in their queue (1 = next), counting the callers not yet talking to an agent; 0 when the call is not waiting. */
export function queuePosition(calls: readonly QueuedCall[], id: string): number {
  const me = calls.find((c) => c.id === id);
  if (!me || me.state === 'connected') return 0;
  return calls.filter((c) => c.state !== 'connected' && sameQueue(c, me) && compareQueued(c, me) <= 0).length;
}

/** What a waiting caller hears or gets next. */
export type QueueTick =
  /** The maximum wait is over: voicemail. */
  | { kind: 'overflow' }
  /** Say the position (and the callback key). */
  | { kind: 'announce'; position: number }
  /** Keep waiting (music / silence). */
  | { kind: 'wait' };

/** The decision on each tick of a waiting caller (not while their call is offered to an agent). */
export function decideQueueTick(s: Pick<VoiceQueueSettings, 'maxWaitSeconds' | 'announceEverySeconds'>, w: { enteredAt: number; now: number; lastAnnouncedAt: number | null; position: number }): QueueTick {
  if (w.now - w.enteredAt >= s.maxWaitSeconds * 1000) return { kind: 'overflow' };
  if (w.lastAnnouncedAt === null) return { kind: 'announce', position: w.position };
  if (s.announceEverySeconds > 0 && w.now - w.lastAnnouncedAt >= s.announceEverySeconds * 1000) return { kind: 'announce', position: w.position };
  return { kind: 'wait' };
}

/** Calls are always routed: a manual inbox or team (agents pick conversations from a list) rings its agents by least load. */
export function callRouting(r: InboxRouting): InboxRouting {
  return r.strategy === 'manual' ? { ...r, strategy: 'least_loaded' } : r;
}

export interface CallOfferState {
  call: QueuedCall;
  /** The skills the call asks for besides the inbox's (e.g. the labels of the caller's open conversation). */
  labels: readonly string[];
  inbox: Inbox;
  teamRouting: InboxRouting | null;
  /** Every live queued call of the tenant (all queues, all processes): who is ringing or talking. */
  calls: readonly QueuedCall[];
  /** Every agent of the tenant as routing weighs them. */
  candidates: readonly RoutingCandidate[];
  /** When each agent last got a queue call (ms): their idle time counts from there. */
  lastCallAt: ReadonlyMap<string, number>;
  /** Round robin: the agent the queue's last call went to. */
  pointer: string | null;
}

export type CallOffer =
  | { kind: 'offer'; agentId: string; /** Every agent had declined: a new round starts (the declined list is cleared). */ newRound: boolean }
  | { kind: 'wait'; reason: string };

/**
 * Whose phone rings for a waiting caller. Strictly first come, first served: only the longest-waiting
 * caller of a queue (inbox and team) is offered an agent; the others wait behind it. An agent whose
 * phone rings or who talks on a queue call is busy (as a softphone call makes them); a call's load is
 * the calls in progress (not the open voice conversations); idle time counts from the last queue
 * call. Agents who let this call ring out are asked after the others; when only they are left, a
 * new round starts. The rest is routing's decision.
 */
export function decideCallOffer(s: CallOfferState, ctx: { now: number; seq: number; ids: IdSource }): CallOffer {
  const { call } = s;
  if (call.state !== 'waiting') return { kind: 'wait', reason: `the call is ${call.state}` };
  const ahead = s.calls.filter((c) => c.id !== call.id && c.state === 'waiting' && sameQueue(c, call) && compareQueued(c, call) < 0);
  if (ahead.length > 0) return { kind: 'wait', reason: `${ahead.length} caller(s) ahead` };
  const engaged = new Set(s.calls.filter((c) => c.state !== 'waiting' && c.agentId !== null).map((c) => c.agentId!));
  const candidates = s.candidates.map((c): RoutingCandidate => {
    const onCall = engaged.has(c.agent.id);
    const availability = onCall ? effectiveAvailability({ chosen: c.agent.availability ?? 'offline', connected: true, onCall: true }) : c.agent.availability;
    return {
      agent: { ...c.agent, ...(availability !== undefined ? { availability } : {}) },
      load: { ...c.load, voice: onCall ? 1 : 0 },
      lastRoutedAt: Math.max(c.lastRoutedAt, s.lastCallAt.get(c.agent.id) ?? 0),
    };
  });
  const routing = callRouting(effectiveRouting(s.inbox, s.teamRouting));
  const conversation = callConversation(call, s.labels);
  const decide = (pool: readonly RoutingCandidate[]) =>
    decideRouting({ conversation, inbox: s.inbox, contact: null, candidates: pool, pointer: s.pointer, teamRouting: routing }, ctx);
  const declined = new Set(call.declined);
  const first = decide(candidates.filter((c) => !declined.has(c.agent.id)));
  if (first.kind === 'assign') return { kind: 'offer', agentId: first.agentId, newRound: false };
  if (declined.size === 0) return { kind: 'wait', reason: first.reason };
  const again = decide(candidates);
  return again.kind === 'assign' ? { kind: 'offer', agentId: again.agentId, newRound: true } : { kind: 'wait', reason: again.reason };
}

/** A waiting call as routing reads a conversation: open, unassigned, on the voice channel, in the queue's team. */
function callConversation(call: QueuedCall, labels: readonly string[]): Conversation {
  return {
    id: call.id, tenantId: call.tenantId, inboxId: call.inboxId, channel: 'voice', contactId: call.id, contactName: '', teamId: call.teamId, status: 'open', priority: 'normal',
    assigneeId: null, labels: [...labels], subject: null, lastMessagePreview: '', lastMessageDirection: 'in', lastMessageAt: call.enteredAt, waitingSince: call.enteredAt,
    snoozedUntil: null, messageCount: 0, createdAt: call.enteredAt, updatedAt: call.enteredAt, seq: 0,
  };
}

/** Queue length and longest wait of each queue (inbox and team): the live board's and `GET /api/v1/queues`' call figures. */
export interface CallQueueStats {
  inboxId: string;
  teamId: string | null;
  /** Callers not yet talking to an agent (waiting or ringing). */
  waiting: number;
  /** Callers talking to an agent. */
  connected: number;
  /** How long the longest-waiting caller waits (ms), 0 when none. */
  longestWaitMs: number;
}

export function callQueueStats(calls: readonly QueuedCall[], now: number): CallQueueStats[] {
  const out = new Map<string, CallQueueStats>();
  for (const c of [...calls].sort(compareQueued)) {
    const key = `${c.inboxId}|${c.teamId ?? '-'}`;
    let e = out.get(key);
    if (!e) out.set(key, (e = { inboxId: c.inboxId, teamId: c.teamId, waiting: 0, connected: 0, longestWaitMs: 0 }));
    if (c.state === 'connected') e.connected++;
    else {
      e.waiting++;
      e.longestWaitMs = Math.max(e.longestWaitMs, Math.max(0, now - c.enteredAt));
    }
  }
  return [...out.values()];
}

// ----- what the waiting caller hears ---------------------------------------------------------

const ZH_DIGITS = ['ling2', 'yi1', 'er4', 'san1', 'si4', 'wu3', 'liu4', 'qi1', 'ba1', 'jiu3'];

/** A number in Mandarin pinyin with tone numbers (what espeak-ng's pinyin voice reads; cloud TTS reads it too). */
export function pinyinNumber(n: number): string {
  const v = Math.max(0, Math.floor(n));
  if (v < 10) return v === 2 ? 'liang3' : ZH_DIGITS[v]!;
  if (v < 20) return `shi2${v % 10 ? ` ${ZH_DIGITS[v % 10]}` : ''}`;
  if (v < 100) return `${ZH_DIGITS[Math.floor(v / 10)]} shi2${v % 10 ? ` ${ZH_DIGITS[v % 10]}` : ''}`;
  return String(v).split('').map((d) => ZH_DIGITS[Number(d)]).join(' ');
}

function keyName(k: IvrDigit, language: 'en' | 'zh'): string {
  if (language === 'zh') return k === '*' ? 'xing1 hao4' : k === '#' ? 'jing3 hao4' : ZH_DIGITS[Number(k)]!;
  return k === '*' ? 'star' : k === '#' ? 'the hash key' : k;
}

/** The periodic queue prompt: the caller's position, and how to ask for a call back. */
export function queuePrompt(language: 'en' | 'zh', position: number, callbackKey: IvrDigit | null): string {
  if (language === 'zh') {
    const pos = position <= 1 ? 'nin2 shi4 xia4 yi2 wei4.' : `nin2 qian2 mian4 hai2 you3 ${pinyinNumber(position - 1)} wei4.`;
    return `${pos} qing3 shao1 hou4.${callbackKey ? ` xu1 yao4 hui2 dian4 qing3 an4 ${keyName(callbackKey, 'zh')}.` : ''}`;
  }
  const pos = position <= 1 ? 'You are next in line.' : `You are number ${position} in the queue.`;
  return `${pos} Please hold.${callbackKey ? ` To be called back, press ${keyName(callbackKey, 'en')}.` : ''}`;
}

/** What the caller hears after asking for a call back. */
export function callbackConfirmation(language: 'en' | 'zh'): string {
  return language === 'zh' ? 'hao3 de, wo3 men5 hui4 jin3 kuai4 gei3 nin2 hui2 dian4. zai4 jian4.' : 'Thank you. An agent will call you back. Goodbye.';
}
