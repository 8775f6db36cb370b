/**
 * Issue 11 (`pnpm bench suggest`): reply suggestions over 10,000 past answers, in process.
 *
 *  - `suggest-rank`: one ranking with the past answers indexed once (core's SuggestionIndex, as the
 *    server keeps it) and the canned responses indexed per call, beside the **baseline** of the same
 *    run: `rankSuggestions`, which indexes every candidate for each call (what the server did before).
 *  - `suggest-index`: building the index of 10,000 past answers once.
 *
 * Env: BENCH_ANSWERS (default 10,000), BENCH_REPEAT (default 7). Prints one JSON line per figure.
 */
import { rankIndexed, rankSuggestions, SuggestionIndex, type SuggestionCandidate } from '../src/index.js';

const ANSWERS = Number(process.env.BENCH_ANSWERS ?? 10_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

const QA: Array<[string, string]> = [
  ['我的快递怎么还没到？', '您的包裹正在派送中，预计明天送达。'],
  ['发票抬头写错了，能重新开一张吗？', '可以，请提供正确的抬头，我们会重新开具发票。'],
  ['你们周末营业吗？', '我们周六周日 9:00–18:00 营业。'],
  ['怎么修改收货地址？', '在订单详情页点击“修改地址”即可，发货前都可以修改。'],
  ['Where is my invoice?', 'We e-mail the invoice within one business day of payment.'],
  ['I was charged twice this month', 'Sorry about that: we refunded the duplicate charge, it shows within 5 days.'],
  ['How do I reset my password?', 'Use “Forgot password” on the sign-in page and follow the e-mail.'],
  ['Can I change the delivery address?', 'Yes, open the order and choose “Change address” before it ships.'],
  ['The app keeps logging me out', 'Please update to the latest version; it fixes the sign-out issue.'],
  ['Do you ship to Hong Kong?', 'Yes, we ship to Hong Kong in 3–5 business days.'],
];
const QUERIES = ['请问我的快递为什么还没到呢', 'could you resend my invoice please', '周六你们开门吗', 'I got charged two times', 'my app logs me out all the time', '收货地址填错了怎么改'];

const history: SuggestionCandidate[] = Array.from({ length: ANSWERS }, (_, i) => {
  const [q, a] = QA[i % QA.length]!;
  return { key: `msg:${i}`, question: `${q} 订单 #${20260000 + i}`, text: `${a} (#${i % 97})`, source: 'history', inboxId: `inbox-${i % 4}` };
});
const canned: SuggestionCandidate[] = QA.map(([q, a], i) => ({ key: `canned:${i}`, question: q.slice(0, 8), text: a, source: 'canned' }));
const all = [...canned, ...history];

const t0 = performance.now();
const index = new SuggestionIndex(history);
const buildMs = performance.now() - t0;

const time = (fn: () => void): number => {
  fn(); // warm-up
  const xs: number[] = [];
  for (let i = 0; i < REPEAT; i += 1) {
    const s = performance.now();
    fn();
    xs.push(performance.now() - s);
  }
  return median(xs);
};
const picks = new Map<string, number>();
const kept = time(() => {
  for (const q of QUERIES) rankIndexed(q, [new SuggestionIndex(canned), index], picks, 5, (c) => c.inboxId !== 'inbox-3');
}) / QUERIES.length;
const rebuilt = time(() => {
  for (const q of QUERIES) rankSuggestions(q, all, picks, 5);
}) / QUERIES.length;
// The two rank the same (the past answers' filter aside).
for (const q of QUERIES) {
  const a = rankIndexed(q, [new SuggestionIndex(canned), index], picks, 5).map((s) => s.key);
  const b = rankSuggestions(q, all, picks, 5).map((s) => s.key);
  if (a.join() !== b.join()) throw new Error(`rankings differ for "${q}": ${a.join()} vs ${b.join()}`);
}
console.log(JSON.stringify({ name: 'suggest-rank', answers: ANSWERS, ms: round(kept, 3), baselineMs: round(rebuilt, 1), baseline: 'rankSuggestions, indexing every candidate per call', ratioToBaseline: round(kept / rebuilt, 4) }));
console.log(JSON.stringify({ name: 'suggest-index', answers: ANSWERS, ms: round(buildMs, 1) }));
