import { describe, expect, it } from 'vitest';
import { answeredQuestions, Bm25Index, rankSuggestions, stem, tokenize, type SuggestionCandidate } from './suggest.js';

describe('tokenize', () => {
  it('segments Chinese into words, stems English, drops stop words, folds full-width', () => {
    expect(tokenize('我想申请退款')).toEqual(expect.arrayContaining(['申请', '退款']));
    expect(tokenize('我想申请退款')).not.toContain('我');
    expect(tokenize('Refunds REFUNDED refunding')).toEqual(['refund', 'refund', 'refund']);
    expect(tokenize('ＡＢＣ１２３')).toEqual(['abc123']);
    expect(stem('stopped')).toBe('stop');
    expect(stem('deliveries')).toBe('delivery');
    expect(['invoice', 'invoices', 'invoiced'].map(stem)).toEqual(['invoic', 'invoic', 'invoic']);
    expect(stem('address')).toBe('address');
  });
});

describe('BM25', () => {
  it('prefers the document with the rarer matching term', () => {
    const idx = new Bm25Index<string>();
    idx.add('a', 'invoice for my order', 'a');
    idx.add('b', 'order shipped order', 'b');
    idx.add('c', 'password reset', 'c');
    expect(idx.search('invoice order')[0]!.id).toBe('a');
    expect(idx.search('nothing matches here')).toEqual([]);
  });
});

describe('rankSuggestions', () => {
  const candidates: SuggestionCandidate[] = [
    { key: 'canned:refund', question: '退款 Refund policy', text: '您好，退款将在3-5个工作日内原路退回。', source: 'canned' },
    { key: 'canned:invoice', question: '发票 Invoice', text: 'We will e-mail the invoice within one business day.', source: 'canned' },
    { key: 'canned:password', question: 'Password reset 重置密码', text: 'Use "Forgot password" on the sign-in page.', source: 'canned' },
    { key: 'm1', question: 'Where is my package? It has not arrived', text: 'Your parcel is on its way; tracking number follows.', source: 'history' },
    { key: 'm2', question: '快递怎么还没到', text: '您的包裹正在派送中。', source: 'history' },
  ];
  it('finds the right answer for paraphrased Chinese and English questions', () => {
    expect(rankSuggestions('请问怎么申请退款？', candidates, new Map())[0]!.key).toBe('canned:refund');
    expect(rankSuggestions('Could you send me the invoices please', candidates, new Map())[0]!.key).toBe('canned:invoice');
    expect(rankSuggestions('I forgot my password, how do I reset it?', candidates, new Map())[0]!.key).toBe('canned:password');
    expect(rankSuggestions('my package still has not arrived', candidates, new Map())[0]!.key).toBe('m1');
    expect(rankSuggestions('我的快递还没到', candidates, new Map())[0]!.key).toBe('m2');
  });
  it('learns from picks and collapses identical answers', () => {
    const two: SuggestionCandidate[] = [
      { key: 'x', question: 'order status', text: 'Answer X', source: 'history' },
      { key: 'y', question: 'order status', text: 'Answer Y', source: 'history' },
      { key: 'z', question: 'order status', text: 'Answer X', source: 'history' },
    ];
    expect(rankSuggestions('order status', two, new Map())[0]!.key).toBe('x');
    expect(rankSuggestions('order status', two, new Map([['y', 3]]))[0]!.key).toBe('y');
    expect(rankSuggestions('order status', two, new Map()).map((s) => s.text)).toEqual(['Answer X', 'Answer Y']);
  });
});

describe('answeredQuestions', () => {
  it('pairs each agent answer with the last customer message since the previous answer; notes, events and automatic replies answer nothing', () => {
    const m = (id: string, direction: 'in' | 'out', text: string, authorType = direction === 'in' ? 'contact' : 'agent', kind = 'text') => ({ id, direction, authorType, kind, text });
    const pairs = answeredQuestions([
      m('1', 'in', 'first question'),
      m('2', 'in', 'where is my parcel?'),
      m('3', 'out', 'internal', 'agent', 'note'),
      m('4', 'out', 'we received your message', 'system'),
      m('5', 'out', 'on its way'),
      m('6', 'out', 'anything else?'),
      m('7', 'in', 'invoice please'),
      m('8', 'out', '   '),
      m('9', 'out', 'sent'),
    ]);
    expect(pairs.map((p) => [p.question, p.answer.id])).toEqual([['where is my parcel?', '5'], ['invoice please', '9']]);
  });
});
