/**
 * Sentiment of a customer's message (positive / neutral / negative), Chinese and English, once.
 *
 * A lexicon scorer tuned for customer-service text: phrases first ("doesn't work", "还没收到"), then
 * words (English stemmed as the suggestion index stems them; Chinese by longest match), with
 * negation ("not helpful", "不满意"), intensifiers ("very", "非常") and emoji. It runs on the server
 * when an inbound message is written (the message's `meta.sentiment` and the conversation's
 * `sentiment` are facts of that write) and anywhere a client wants to show it for text it holds.
 * Deterministic and dependency-free; good enough to sort a queue by who is upset, not a verdict.
 */
import type { Sentiment } from '../domain/model.js';
import { stem } from './suggest.js';

export interface SentimentResult {
  sentiment: Sentiment;
  /** Sum of the weighted lexicon hits (positive above 0); rounded to two decimals. */
  score: number;
  /** How many lexicon entries matched (0: nothing to go on, always neutral). */
  hits: number;
}

/** A score at or beyond this magnitude is positive or negative; below it, neutral. */
export const SENTIMENT_THRESHOLD = 1;

// ----- English ---------------------------------------------------------------------------------
const EN_WORDS: Record<string, number> = {
  thank: 1, thanks: 1, thx: 1, appreciate: 1.5, appreciated: 1.5, great: 1.5, excellent: 2, awesome: 2, amazing: 2, perfect: 2,
  helpful: 1.5, love: 2, happy: 1.5, glad: 1.5, pleased: 1.5, satisfied: 1.5, wonderful: 2, fantastic: 2, brilliant: 2, good: 1,
  nice: 1, quick: 1, fast: 1, resolved: 1, fixed: 1, solved: 1, smooth: 1, recommend: 1.5, best: 1.5, works: 1, friendly: 1.5, patient: 1,
  terrible: -2, awful: -2, horrible: -2, worst: -2, bad: -1.5, poor: -1.5, angry: -2, furious: -2.5, upset: -1.5, annoyed: -1.5,
  frustrated: -2, frustrating: -2, disappointed: -2, disappointing: -2, unacceptable: -2, ridiculous: -2, useless: -2, broken: -1.5,
  broke: -1.5, damaged: -1.5, fail: -1.5, failed: -1.5, failure: -1.5, error: -1, wrong: -1, late: -1, delay: -1, delayed: -1,
  slow: -1, complaint: -1.5, complain: -1.5, scam: -2.5, fraud: -2.5, rude: -2, hate: -2, waste: -1.5, lost: -1.5, missing: -1,
  stuck: -1, crash: -1.5, bug: -1, problem: -0.5, issue: -0.5, sucks: -2, overcharged: -2, cheated: -2.5, lawyer: -1.5, sue: -2,
};
const EN_PHRASES: Array<[string, number]> = [
  ['no problem', 1], ['no worries', 1], ['thank you', 1], ['well done', 1.5], ['not bad', 1],
  ["doesn't work", -2], ['does not work', -2], ["didn't work", -2], ['did not work', -2], ['not working', -2], ["isn't working", -2],
  ["haven't received", -1.5], ['have not received', -1.5], ['never received', -2], ['never arrived', -2], ['not received', -1.5],
  ["didn't arrive", -1.5], ['still waiting', -1.5], ['no reply', -1.5], ['no response', -1.5], ['no one', -1], ['nobody', -1],
  ['waste of time', -2], ['fed up', -2], ['give me my money back', -2], ['cancel my', -1], ['ripped off', -2.5], ['what a joke', -2],
];
const EN_NEGATORS = new Set(['not', 'no', 'never', "don't", "doesn't", "didn't", "isn't", "wasn't", "aren't", "can't", 'cannot', "won't", "haven't", "hasn't", 'nothing', 'hardly']);
const EN_INTENSIFIERS = new Set(['very', 'so', 'really', 'extremely', 'super', 'absolutely', 'totally', 'incredibly', 'too', 'completely']);
const EN_STEMMED = new Map(Object.entries(EN_WORDS).map(([w, v]) => [stem(w), v]));

// ----- Chinese ---------------------------------------------------------------------------------
const ZH_WORDS: Record<string, number> = {
  谢谢: 1, 感谢: 1, 多谢: 1, 辛苦了: 1, 满意: 2, 好评: 2, 不错: 1.5, 很棒: 2, 棒: 1.5, 优秀: 2, 专业: 1, 耐心: 1, 及时: 1,
  给力: 2, 完美: 2, 方便: 1, 顺利: 1, 解决了: 1.5, 开心: 1.5, 高兴: 1.5, 赞: 1.5, 点赞: 1.5, 太好了: 2, 好用: 1.5, 快速: 1, 喜欢: 1.5,
  热情: 1, 周到: 1.5, 靠谱: 1.5,
  不满意: -2, 不满: -2, 投诉: -2, 差评: -2, 垃圾: -2.5, 太差: -2, 很差: -2, 差劲: -2, 糟糕: -2, 失望: -2, 生气: -2, 愤怒: -2.5,
  气死: -2.5, 烦: -1, 太慢: -1.5, 慢: -1, 骗子: -2.5, 欺骗: -2.5, 骗: -2, 坏了: -1.5, 故障: -1, 错误: -1, 失败: -1.5, 丢失: -1.5,
  丢了: -1.5, 损坏: -1.5, 破损: -1.5, 难用: -2, 恶心: -2, 无语: -1.5, 催: -1, 拖: -1, 赔偿: -1, 怎么回事: -1.5, 到底: -1,
  还没收到: -1.5, 一直没: -1.5, 没人: -1.5, 不好: -1.5, 不行: -1.5, 不能用: -2, 没用: -1.5, 没有用: -1.5, 无法: -1, 退货: -0.5,
  扣费: -1, 乱扣: -2, 乱收费: -2, 忽悠: -2, 态度差: -2.5, 太贵: -1,
};
const ZH_ENTRIES = Object.keys(ZH_WORDS).sort((a, b) => b.length - a.length);
const ZH_NEGATORS = ['没有', '不', '没', '未', '别', '无'];
const ZH_INTENSIFIERS = ['非常', '特别', '十分', '极其', '相当', '真的', '很', '太', '真', '超'];

const EMOJI: Array<[RegExp, number]> = [
  [/[😊🙂😀😁😃😄👍❤🎉🥰😍🙏]/gu, 1.5],
  [/[😡😠🤬👎😤😞😢😭💢😒]/gu, -1.5],
];

const CJK = /[\u3400-\u9fff\uf900-\ufaff]/;
const NEGATION_FLIP = -0.8;
const INTENSIFY = 1.5;

function scoreEnglish(text: string): { score: number; hits: number } {
  let score = 0;
  let hits = 0;
  let rest = ` ${text} `;
  for (const [phrase, w] of EN_PHRASES) {
    const re = new RegExp(`(?<![a-z'])${phrase.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![a-z'])`, 'g');
    const n = rest.match(re)?.length ?? 0;
    if (n > 0) {
      score += w * n;
      hits += n;
      rest = rest.replace(re, ' | ');
    }
  }
  const tokens = rest.match(/[a-z]+(?:'[a-z]+)?|\|/g) ?? [];
  for (let i = 0; i < tokens.length; i += 1) {
    const t = tokens[i]!;
    const w = EN_WORDS[t] ?? EN_STEMMED.get(stem(t));
    if (w === undefined) continue;
    let v = w;
    // Negation and intensifiers within the three words before (not across a matched phrase "|").
    for (let j = i - 1; j >= Math.max(0, i - 3) && tokens[j] !== '|'; j -= 1) {
      if (EN_NEGATORS.has(tokens[j]!)) {
        v *= NEGATION_FLIP;
        break;
      }
    }
    if (i > 0 && EN_INTENSIFIERS.has(tokens[i - 1]!)) v *= INTENSIFY;
    score += v;
    hits += 1;
  }
  return { score, hits };
}

function scoreChinese(text: string): { score: number; hits: number } {
  let score = 0;
  let hits = 0;
  let negateUntil = -1;
  let intensifyUntil = -1;
  for (let i = 0; i < text.length; ) {
    if (!CJK.test(text[i]!)) {
      i += 1;
      continue;
    }
    const entry = ZH_ENTRIES.find((e) => text.startsWith(e, i));
    if (entry) {
      let v = ZH_WORDS[entry]!;
      if (i <= negateUntil) v *= NEGATION_FLIP;
      if (i <= intensifyUntil) v *= INTENSIFY;
      score += v;
      hits += 1;
      negateUntil = -1;
      intensifyUntil = -1;
      i += entry.length;
      continue;
    }
    const neg = ZH_NEGATORS.find((n) => text.startsWith(n, i));
    if (neg) {
      // "不太满意": the negation reaches over an intensifier or two characters.
      negateUntil = i + neg.length + 2;
      i += neg.length;
      continue;
    }
    const int = ZH_INTENSIFIERS.find((n) => text.startsWith(n, i));
    if (int) {
      intensifyUntil = i + int.length + 1;
      i += int.length;
      continue;
    }
    i += 1;
  }
  return { score, hits };
}

/** The sentiment of a text (a customer's message). Quoted email history (lines starting with ">") is ignored. */
export function sentimentOf(text: string): SentimentResult {
  const body = text
    .normalize('NFKC')
    .split(/\r?\n/)
    .filter((l) => !l.trimStart().startsWith('>'))
    .join('\n')
    .slice(0, 5000);
  const lower = body.toLowerCase();
  const en = scoreEnglish(lower.replace(/[’]/g, "'"));
  const zh = scoreChinese(body);
  let score = en.score + zh.score;
  let hits = en.hits + zh.hits;
  for (const [re, w] of EMOJI) {
    const n = body.match(re)?.length ?? 0;
    score += n * w;
    hits += n;
  }
  // Repeated exclamation marks amplify whatever was said ("!!!", "！！").
  if (hits > 0 && /[!！]{2,}/.test(body)) score *= 1.2;
  score = Math.round(score * 100) / 100;
  const sentiment: Sentiment = hits === 0 ? 'neutral' : score >= SENTIMENT_THRESHOLD ? 'positive' : score <= -SENTIMENT_THRESHOLD ? 'negative' : 'neutral';
  return { sentiment, score, hits };
}

/** Whether a message's text should be scored: a customer's text, email or chat message (not a call, an event or a note). */
export const scoresSentiment = (m: { direction: string; kind: string; text: string }): boolean =>
  m.direction === 'in' && (m.kind === 'text' || m.kind === 'email') && m.text.trim().length > 0;
