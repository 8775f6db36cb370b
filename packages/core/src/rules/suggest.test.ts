import { describe, expect, it } from 'vitest';
import { answeredQuestions, Bm25Index, rankIndexed, rankSuggestions, searchIndexes, stem, SuggestionIndex, tokenize, type SuggestionCandidate } from './suggest.js';

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

describe('BM25 over several indexes', () => {
  /** The old scan: every document scored against the whole corpus (the reference the inverted index must equal). */
  const scan = (docs: Array<[string, string]>, query: string) => {
    const terms = docs.map(([id, text]) => ({ id, terms: tokenize(text) }));
    const n = terms.length;
    const avg = terms.reduce((s, d) => s + d.terms.length, 0) / n;
    const q = [...new Set(tokenize(query))];
    return terms
      .map((d) => ({
        id: d.id,
        score: q.reduce((s, t) => {
          const f = d.terms.filter((x) => x === t).length;
          if (!f) return s;
          const df = terms.filter((x) => x.terms.includes(t)).length;
          return s + Math.log(1 + (n - df + 0.5) / (df + 0.5)) * ((f * 2.2) / (f + 1.2 * (0.25 + (0.75 * d.terms.length) / avg)));
        }, 0),
      }))
      .filter((d) => d.score > 0)
      .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
  };
  const words = ['order', 'invoice', 'refund', 'parcel', 'late', 'password', '退款', '发票', '快递', '订单', 'address', 'delivery'];
  it('ranks two indexes exactly as one index over both, and as a scan of every document (random corpora)', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 20; round += 1) {
      const docs: Array<[string, string]> = Array.from({ length: 5 + Math.floor(rnd() * 40) }, (_, i) => [
        `d${String(i).padStart(3, '0')}`,
        Array.from({ length: 1 + Math.floor(rnd() * 8) }, () => words[Math.floor(rnd() * words.length)]).join(' '),
      ]);
      const query = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => words[Math.floor(rnd() * words.length)]).join(' ');
      const one = new Bm25Index<string>();
      const small = new Bm25Index<string>();
      const large = new Bm25Index<string>();
      docs.forEach(([id, text], i) => {
        one.add(id, text, id);
        (i % 5 === 0 ? small : large).add(id, text, id);
      });
      const expected = scan(docs, query);
      const got = one.search(query, 1000);
      expect(got.map((r) => r.id)).toEqual(expected.map((r) => r.id));
      got.forEach((r, i) => expect(r.score).toBeCloseTo(expected[i]!.score, 9));
      const split = searchIndexes([small, large], query, 1000);
      expect(split.map((r) => r.id)).toEqual(got.map((r) => r.id));
      split.forEach((r, i) => expect(r.score).toBeCloseTo(got[i]!.score, 9));
    }
  });

  it('filters without changing the corpus statistics', () => {
    const idx = new Bm25Index<{ inbox: string }>();
    idx.add('a', 'refund order', { inbox: 'i1' });
    idx.add('b', 'refund', { inbox: 'i2' });
    idx.add('c', 'password', { inbox: 'i2' });
    const all = idx.search('refund', 10);
    const mine = idx.search('refund', 10, (d) => d.inbox === 'i2');
    expect(mine.map((r) => r.id)).toEqual(['b']);
    expect(mine[0]!.score).toBe(all.find((r) => r.id === 'b')!.score);
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
  it('ranks the same over a prebuilt index of past answers and a small one of canned responses', () => {
    const history = new SuggestionIndex(candidates.filter((c) => c.source === 'history'));
    const canned = new SuggestionIndex(candidates.filter((c) => c.source === 'canned'));
    for (const q of ['请问怎么申请退款？', 'Could you send me the invoices please', 'my package still has not arrived', '我的快递还没到']) {
      expect(rankIndexed(q, [canned, history], new Map(), 5)).toEqual(rankSuggestions(q, candidates, new Map(), 5));
    }
    // Only answers the agent may see: a filter on the candidates.
    expect(rankIndexed('我的快递还没到', [canned, history], new Map(), 5, (c) => c.key !== 'm2').map((s) => s.key)).not.toContain('m2');
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
