import { describe, expect, it } from 'vitest';
import { shortAge, splitQuoted } from '../../src/renderer/util/format';
import { fillTemplate } from '../../src/renderer/util/canned';
import { parseDeepLink } from '../../src/shared/ipc';

describe('splitQuoted', () => {
  it('folds quoted e-mail text', () => {
    expect(splitQuoted('Thanks!\n\nOn Mon, Tom wrote:\n> hi\n> there')).toEqual({ body: 'Thanks!', quoted: 'On Mon, Tom wrote:\n> hi\n> there' });
    expect(splitQuoted('no quote here')).toEqual({ body: 'no quote here', quoted: null });
  });
});

describe('fillTemplate', () => {
  it('replaces known variables and keeps unknown ones', () => {
    expect(fillTemplate('Hello {{contact.name}}, I am {{ agent.name }} {{x.y}}', { contact: { name: '王芳' }, agent: { name: 'Li' } })).toBe('Hello 王芳, I am Li {{x.y}}');
  });
});

describe('shortAge', () => {
  const t = (k: string, a?: Record<string, unknown>) => `${k}:${String(a?.n ?? '')}`;
  it('formats minutes, hours and days', () => {
    expect(shortAge(10_000, t)).toBe('time.now:');
    expect(shortAge(5 * 60_000, t)).toBe('time.m:5');
    expect(shortAge(3 * 3_600_000, t)).toBe('time.h:3');
    expect(shortAge(72 * 3_600_000, t)).toBe('time.d:3');
  });
});

describe('parseDeepLink', () => {
  it('accepts goutong://conversation/{id} only', () => {
    expect(parseDeepLink('goutong://conversation/019a-abc')).toEqual({ conversationId: '019a-abc' });
    expect(parseDeepLink('goutong://conversation/../../etc')).toBeNull();
    expect(parseDeepLink('https://evil.example/conversation/1')).toBeNull();
  });
});
