import { describe, expect, it } from 'vitest';
import { sentimentOf, scoresSentiment } from './sentiment.js';

const label = (t: string) => sentimentOf(t).sentiment;

describe('sentimentOf', () => {
  it.each([
    ['Thank you so much, that was really helpful!', 'positive'],
    ['Great service, I will recommend you to my friends', 'positive'],
    ['The issue is fixed now, thanks', 'positive'],
    ['No problem, have a nice day', 'positive'],
    ['Not bad at all', 'positive'],
    ['谢谢，问题已经解决了', 'positive'],
    ['你们的客服非常耐心，很满意', 'positive'],
    ['太好了，给力！', 'positive'],
    ['服务不错 👍', 'positive'],
  ])('%s → positive', (text, expected) => expect(label(text)).toBe(expected));

  it.each([
    ['This is terrible. My order never arrived and nobody answers.', 'negative'],
    ["The app doesn't work and I am very frustrated", 'negative'],
    ['Still waiting for my refund, this is unacceptable!!!', 'negative'],
    ['The support was not helpful', 'negative'],
    ['我要投诉，你们的服务太差了', 'negative'],
    ['快递还没收到，到底怎么回事？', 'negative'],
    ['非常不满意', 'negative'],
    ['产品坏了，很失望', 'negative'],
    ['客服态度差 😡', 'negative'],
  ])('%s → negative', (text, expected) => expect(label(text)).toBe(expected));

  it.each([
    ['Could you send me the invoice for order 2024-118?'],
    ['What are your opening hours?'],
    ['请问发票怎么开？'],
    ['好的'],
    ['我的订单号是 20240118'],
    [''],
  ])('%s → neutral', (text) => expect(label(text)).toBe('neutral'));

  it('negation flips: "不太满意" and "not happy" are negative, "不错" stays positive', () => {
    expect(label('不太满意')).toBe('negative');
    expect(label('I am not happy with this')).toBe('negative');
    expect(label('不错')).toBe('positive');
  });

  it('intensifiers weigh more than the plain word', () => {
    expect(sentimentOf('very bad').score).toBeLessThan(sentimentOf('bad').score);
    expect(sentimentOf('非常失望').score).toBeLessThan(sentimentOf('失望').score);
  });

  it('ignores quoted email history', () => {
    expect(label('Thanks, that answers it.\n> This is terrible, I am furious\n> worst service ever')).toBe('positive');
  });

  it('is deterministic and reports its evidence', () => {
    const a = sentimentOf('I hate waiting, terrible');
    expect(a).toEqual(sentimentOf('I hate waiting, terrible'));
    expect(a.hits).toBeGreaterThanOrEqual(2);
    expect(sentimentOf('hello').hits).toBe(0);
  });

  it('scores only customer text messages', () => {
    expect(scoresSentiment({ direction: 'in', kind: 'text', text: 'hi' })).toBe(true);
    expect(scoresSentiment({ direction: 'in', kind: 'email', text: 'hi' })).toBe(true);
    expect(scoresSentiment({ direction: 'out', kind: 'text', text: 'hi' })).toBe(false);
    expect(scoresSentiment({ direction: 'in', kind: 'call', text: '' })).toBe(false);
    expect(scoresSentiment({ direction: 'in', kind: 'note', text: 'x' })).toBe(false);
  });
});
