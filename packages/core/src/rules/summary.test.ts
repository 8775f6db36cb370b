import { describe, expect, it } from 'vitest';
import { ownText, sentencesOf, summarizeConversation, type SummarizableMessage } from './summary.js';

let t = 0;
const msg = (id: string, who: 'c' | 'a' | 'n' | 'bot', text: string): SummarizableMessage => ({
  id,
  direction: who === 'c' ? 'in' : 'out',
  kind: who === 'n' ? 'note' : 'text',
  authorType: who === 'c' ? 'contact' : who === 'bot' ? 'system' : 'agent',
  text,
  createdAt: (t += 1000),
});

describe('summarizeConversation', () => {
  it('a short conversation needs no summary', () => {
    const s = summarizeConversation([msg('1', 'c', 'Hi, where is my order?'), msg('2', 'a', 'It ships today.')]);
    expect(s.worthIt).toBe(false);
    expect(s.points).toEqual([]);
  });

  it('keeps the first request, where things stand, and what colleagues found; in order; within the limit', () => {
    const conv = [
      msg('m1', 'c', 'Hello. My washing machine model WM-200 leaks water from the door since Monday. I bought it in March.'),
      msg('m2', 'bot', 'Thanks for your message, we will answer within one business day.'),
      msg('m3', 'a', 'Sorry to hear that. Could you send a photo of the door seal?'),
      msg('m4', 'c', 'Here is the photo. The seal looks torn at the bottom.'),
      msg('n1', 'n', 'Checked warranty: WM-200 bought in March is covered, seal replacement is free.'),
      msg('m5', 'a', 'Thank you. The door seal is covered by the warranty.'),
      msg('m6', 'c', 'Great. When can the technician come?'),
      msg('m7', 'a', 'A technician will replace the seal on Friday between 9 and 12.'),
    ];
    const s = summarizeConversation(conv, 4);
    expect(s.worthIt).toBe(true);
    expect(s.points.length).toBeLessThanOrEqual(4);
    expect(s.points.length).toBeGreaterThanOrEqual(3);
    const ids = s.points.map((p) => p.messageId);
    expect(ids[0]).toBe('m1'); // the request
    expect(s.points[0]!.text).toMatch(/leaks water/);
    expect(ids).toContain('m7'); // where things stand
    expect(ids).not.toContain('m2'); // automatic replies say nothing
    // chronological
    expect([...s.points].sort((a, b) => a.at - b.at)).toEqual(s.points);
  });

  it('summarises Chinese conversations', () => {
    const conv = [
      msg('c1', 'c', '你好，我上周买的空气净化器一直显示滤网故障。已经重启过了。'),
      msg('a1', 'a', '您好，请问滤网是原装的吗？'),
      msg('c2', 'c', '是原装的，刚换了新的滤网。'),
      msg('n1', 'n', '同批次净化器传感器有问题，需要寄回检修。'),
      msg('a2', 'a', '这个批次的传感器需要检修，我们会安排快递上门取件。'),
      msg('c3', 'c', '好的，那什么时候取件？'),
      msg('a3', 'a', '快递明天上午上门取件，检修大约需要五个工作日。'),
    ];
    const s = summarizeConversation(conv);
    expect(s.worthIt).toBe(true);
    expect(s.points[0]!.messageId).toBe('c1');
    expect(s.points[0]!.text).toContain('滤网故障');
    expect(s.points.map((p) => p.messageId)).toContain('a3');
    expect(s.points.every((p) => p.text.length <= 200)).toBe(true);
  });

  it('drops quoted email history and near-duplicates', () => {
    expect(ownText('Yes please.\n\nOn Mon, 1 Dec 2026 at 10:00, Support <s@x.cn> wrote:\n> Shall we refund?')).toBe('Yes please.');
    const repeat = 'My invoice for November is wrong, the amount is doubled.';
    const conv = Array.from({ length: 6 }, (_, i) => msg(`r${i}`, i % 2 ? 'a' : 'c', i % 2 ? `Checking, step ${i}.` : repeat));
    const s = summarizeConversation(conv);
    expect(s.points.filter((p) => p.text === repeat)).toHaveLength(1);
  });

  it('splits sentences in both languages', () => {
    expect(sentencesOf('第一句。第二句！Third one. Fourth?\nFifth')).toEqual(['第一句。', '第二句！', 'Third one.', 'Fourth?', 'Fifth']);
  });
});
