import { describe, expect, it } from 'vitest';
import { EMOJI_GROUPS, insertAt, matchCanned, matchMentions, mentionsInText, mentionsOf, mentionText, replaceToken, tokenAtCaret } from './composer.js';
import { AddNote, Command, pendingMessageOf } from '../commands/commands.js';
import { makeMessage } from '../testing/fixtures.js';

const item = (shortCode: string, title: string) => ({ id: shortCode, shortCode, title, body: 'x' });
const agents = [
  { id: 'a-li', name: 'Li Wei', email: 'li.wei@demo.goutong' },
  { id: 'a-zhang', name: '张三', email: 'zhang.san@demo.goutong' },
  { id: 'a-alice', name: 'Alice Martin', email: 'alice@demo.goutong' },
  { id: 'a-gone', name: 'Alina Gone', email: 'alina@demo.goutong', active: false },
];

describe('composer: the token at the caret', () => {
  it('finds /code and @name where the caret is, not only at the end of the text', () => {
    const text = 'Hello /hel and more';
    expect(tokenAtCaret(text, 10)).toEqual({ trigger: '/', query: 'hel', start: 6, end: 10 });
    expect(tokenAtCaret(text, 7)).toEqual({ trigger: '/', query: '', start: 6, end: 7 });
    expect(tokenAtCaret(text, text.length)).toBeNull();
    expect(tokenAtCaret('/退款', 3)).toEqual({ trigger: '/', query: '退款', start: 0, end: 3 });
    expect(tokenAtCaret('ping @li', 8)).toEqual({ trigger: '@', query: 'li', start: 5, end: 8 });
  });
  it('never opens inside URLs, dates or email addresses, nor for a trigger that is not allowed', () => {
    expect(tokenAtCaret('see https://x.io/a', 18)).toBeNull();
    expect(tokenAtCaret('on 1/2', 6)).toBeNull();
    expect(tokenAtCaret('mail a@b.c', 10)).toBeNull();
    expect(tokenAtCaret('ping @li', 8, ['/'])).toBeNull();
    expect(tokenAtCaret('', 0)).toBeNull();
  });
  it('replaces the token with the pick and puts the caret after it; inserts at the caret', () => {
    const text = 'Hi /hel, bye';
    const tok = tokenAtCaret(text, 7)!;
    expect(replaceToken(text, tok, 'Hello Ann')).toEqual({ text: 'Hi Hello Ann, bye', caret: 12 });
    expect(insertAt('ab', 1, '😀')).toEqual({ text: 'a😀b', caret: 3 });
    expect(insertAt('ab', 99, '!')).toEqual({ text: 'ab!', caret: 3 });
  });
});

describe('composer: what a token matches', () => {
  it('canned: short-code prefix first, then code or title containing the query, at most the limit', () => {
    const list = [item('thanks', 'Thank you'), item('hello', 'Greeting: thanks for waiting'), item('help', 'How to get help'), item('refund', 'Refund policy')];
    expect(matchCanned(list, 'hel').map((c) => c.id)).toEqual(['hello', 'help']);
    expect(matchCanned(list, 'th').map((c) => c.id)).toEqual(['thanks', 'hello']);
    expect(matchCanned(list, '').map((c) => c.id)).toEqual(['hello', 'help', 'refund', 'thanks']);
    expect(matchCanned(list, '', 2)).toHaveLength(2);
    expect(matchCanned(list, 'zzz')).toEqual([]);
  });
  it('mentions: active agents by name word or email prefix, then containing; Chinese names too', () => {
    expect(matchMentions(agents, 'li').map((a) => a.id)).toEqual(['a-li', 'a-alice']);
    expect(matchMentions(agents, 'wei').map((a) => a.id)).toEqual(['a-li']);
    expect(matchMentions(agents, '张').map((a) => a.id)).toEqual(['a-zhang']);
    expect(matchMentions(agents, 'zhang').map((a) => a.id)).toEqual(['a-zhang']);
    expect(matchMentions(agents, 'alin')).toEqual([]);
    expect(matchMentions(agents, '').map((a) => a.id)).toEqual(['a-alice', 'a-li', 'a-zhang']);
    expect(mentionText(agents[0]!)).toBe('@Li Wei ');
  });
  it('mentions kept are those still in the text, each once', () => {
    expect(mentionsInText('@Li Wei please call, cc @张三', [agents[0]!, agents[1]!, agents[0]!])).toEqual(['a-li', 'a-zhang']);
    expect(mentionsInText('please call', [agents[0]!])).toEqual([]);
  });
  it('the emoji set is small and every entry is one grapheme', () => {
    const all = EMOJI_GROUPS.flatMap((g) => g.emoji);
    expect(all.length).toBeGreaterThan(30);
    expect(new Set(all).size).toBe(all.length);
    const seg = new Intl.Segmenter('en', { granularity: 'grapheme' });
    for (const e of all) expect([...seg.segment(e)]).toHaveLength(1);
  });
});

describe('mentions on notes', () => {
  const base = { id: '01900000-0000-7000-8000-000000000001', deviceTime: 1, type: 'add_note', conversationId: 'cv-1' } as const;
  it('a note command carries mentions; the pending note shows them; mentionsOf reads them back', () => {
    const c = Command.parse({ ...base, text: '@Li Wei look', mentions: ['a-li', 'a-li'] });
    const m = pendingMessageOf(c, { id: 'me', tenantId: 't' })!;
    expect(mentionsOf(m)).toEqual(['a-li']);
  });
  it('mentionsOf: only notes, only well-formed lists', () => {
    expect(mentionsOf(makeMessage({ kind: 'note', meta: { mentions: ['a', 'b'] } }))).toEqual(['a', 'b']);
    expect(mentionsOf(makeMessage({ kind: 'text', meta: { mentions: ['a'] } }))).toEqual([]);
    expect(mentionsOf(makeMessage({ kind: 'note', meta: { mentions: 'a' } }))).toEqual([]);
    expect(mentionsOf(makeMessage({ kind: 'note', meta: {} }))).toEqual([]);
  });
  it('a note needs text or an attachment', () => {
    expect(AddNote.safeParse({ ...base, text: '  ' }).success).toBe(false);
    expect(AddNote.safeParse({ ...base, text: '', attachments: [{ id: 'f1', name: 'a.png', mime: 'image/png', size: 3 }] }).success).toBe(true);
  });
});
