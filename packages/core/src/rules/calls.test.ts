import { describe, expect, it } from 'vitest';
import { QUEUE_CALL_HEADER, queueCallIdOf, softphoneWritesCall } from './calls.js';

describe('softphoneWritesCall (one writer per call)', () => {
  const base = { direction: 'in' as const, queueCallId: null, colleagueId: null, monitoring: false, recordCalls: true };

  it('an ordinary call is logged by the softphone, and recorded when the inbox records calls', () => {
    expect(softphoneWritesCall(base)).toEqual({ log: true, record: true });
    expect(softphoneWritesCall({ ...base, recordCalls: false })).toEqual({ log: true, record: false });
    expect(softphoneWritesCall({ ...base, direction: 'out' })).toEqual({ log: true, record: true });
  });

  it('a queue call (the ACD bridged it) is the server’s: neither logged nor recorded by the softphone', () => {
    expect(softphoneWritesCall({ ...base, queueCallId: 'q-1' })).toEqual({ log: false, record: false });
    expect(softphoneWritesCall({ ...base, queueCallId: 'q-1', recordCalls: false })).toEqual({ log: false, record: false });
  });

  it('a colleague’s call is the colleague’s; a supervisor’s listening leg is nobody’s', () => {
    expect(softphoneWritesCall({ ...base, colleagueId: 'agent-2' })).toEqual({ log: false, record: false });
    expect(softphoneWritesCall({ ...base, direction: 'out', monitoring: true })).toEqual({ log: false, record: false });
  });

  it('the queue header only counts on an incoming call', () => {
    expect(softphoneWritesCall({ ...base, direction: 'out', queueCallId: 'q-1' })).toEqual({ log: true, record: true });
  });
});

describe('queueCallIdOf', () => {
  it('reads the header value', () => {
    expect(QUEUE_CALL_HEADER).toBe('X-Goutong-Queue');
    expect(queueCallIdOf(' 0b5d3a8e-1c2f-4f5e-9a3b-7c1d2e3f4a5b ')).toBe('0b5d3a8e-1c2f-4f5e-9a3b-7c1d2e3f4a5b');
    expect(queueCallIdOf(undefined)).toBeNull();
    expect(queueCallIdOf('')).toBeNull();
    expect(queueCallIdOf('bad value; with spaces')).toBeNull();
    expect(queueCallIdOf('x'.repeat(129))).toBeNull();
  });
});
