/**
 * Chinese characters → pinyin with tone numbers, for espeak-ng's `cmn-latn-pinyin` voice. A small
 * vocabulary of what IVR prompts say (greetings, menus, departments, digits, hours, voicemail);
 * words first (polyphones such as 重听 chong2 ting1), then single characters. A character outside
 * the vocabulary is left as it is (espeak-ng skips it): write such prompts in pinyin, e.g.
 * `huan1 ying2 zhi4 dian4`. Punctuation becomes a pause.
 */

const WORDS: Record<string, string> = {
  重听: 'chong2 ting1',
  重新: 'chong2 xin1',
  重复: 'chong2 fu4',
  还款: 'huan2 kuan3',
  银行: 'yin2 hang2',
  长时间: 'chang2 shi2 jian1',
  不要: 'bu2 yao4',
  不是: 'bu2 shi4',
  一下: 'yi2 xia4',
  一个: 'yi2 ge4',
  人工: 'ren2 gong1',
  您好: 'nin2 hao3',
  你好: 'ni2 hao3',
};

const CHARS: Record<string, string> = {
  零: 'ling2', 〇: 'ling2', 一: 'yi1', 二: 'er4', 三: 'san1', 四: 'si4', 五: 'wu3', 六: 'liu4', 七: 'qi1', 八: 'ba1', 九: 'jiu3', 十: 'shi2',
  欢: 'huan1', 迎: 'ying2', 致: 'zhi4', 电: 'dian4', 来: 'lai2', 请: 'qing3', 按: 'an4', 键: 'jian4', 号: 'hao4', 星: 'xing1', 井: 'jing3',
  销: 'xiao1', 售: 'shou4', 客: 'ke4', 服: 'fu2', 务: 'wu4', 技: 'ji4', 术: 'shu4', 支: 'zhi1', 持: 'chi2', 人: 'ren2', 工: 'gong1',
  转: 'zhuan3', 接: 'jie1', 留: 'liu2', 言: 'yan2', 语: 'yu3', 音: 'yin1', 信: 'xin4', 箱: 'xiang1', 听: 'ting1', 谢: 'xie4',
  您: 'nin2', 你: 'ni3', 的: 'de5', 我: 'wo3', 们: 'men5', 现: 'xian4', 在: 'zai4', 是: 'shi4', 下: 'xia4', 班: 'ban1', 时: 'shi2', 间: 'jian1',
  作: 'zuo4', 再: 'zai4', 见: 'jian4', 到: 'dao4', 提: 'ti2', 示: 'shi4', 后: 'hou4', 说: 'shuo1', 话: 'hua4', 好: 'hao3', 查: 'cha2', 询: 'xun2',
  订: 'ding4', 单: 'dan1', 投: 'tou2', 诉: 'su4', 建: 'jian4', 议: 'yi4', 返: 'fan3', 回: 'hui2', 上: 'shang4', 级: 'ji2', 菜: 'cai4',
  为: 'wei4', 了: 'le5', 等: 'deng3', 待: 'dai4', 排: 'pai2', 队: 'dui4', 位: 'wei4', 置: 'zhi4', 第: 'di4', 前: 'qian2', 面: 'mian4',
  有: 'you3', 名: 'ming2', 正: 'zheng4', 忙: 'mang2', 稍: 'shao1', 候: 'hou4', 早: 'zao3', 点: 'dian3', 至: 'zhi4', 晚: 'wan3', 周: 'zhou1',
  末: 'mo4', 日: 'ri4', 节: 'jie2', 假: 'jia4', 营: 'ying2', 业: 'ye4', 外: 'wai4', 内: 'nei4', 将: 'jiang1', 或: 'huo4', 者: 'zhe3',
  挂: 'gua4', 机: 'ji1', 结: 'jie2', 束: 'shu4', 通: 'tong1', 公: 'gong1', 司: 'si1', 中: 'zhong1', 心: 'xin1', 部: 'bu4', 门: 'men2',
  帮: 'bang1', 助: 'zhu4', 问: 'wen4', 题: 'ti2', 其: 'qi2', 他: 'ta1', 账: 'zhang4', 户: 'hu4', 付: 'fu4', 款: 'kuan3', 沟: 'gou1',
  如: 'ru2', 需: 'xu1', 要: 'yao4', 和: 'he2', 与: 'yu3', 不: 'bu4', 就: 'jiu4', 可: 'ke3', 以: 'yi3', 会: 'hui4', 给: 'gei3',
  系: 'xi4', 联: 'lian2', 年: 'nian2', 月: 'yue4', 分: 'fen1', 钟: 'zhong1', 秒: 'miao3', 感: 'gan3', 耐: 'nai4',
};

const PAUSE = /[，。、；：！？,.;:!?\s]/;

/** Chinese characters of the vocabulary → pinyin with tone numbers; everything else kept (pinyin passes through). */
export function toPinyinWithTones(text: string): string {
  const out: string[] = [];
  let latin = '';
  const flush = () => {
    if (latin.trim()) out.push(latin.trim());
    latin = '';
  };
  for (let i = 0; i < text.length; ) {
    const word = [3, 2].map((n) => text.slice(i, i + n)).find((w) => WORDS[w] !== undefined);
    if (word) {
      flush();
      out.push(WORDS[word]!);
      i += word.length;
      continue;
    }
    const ch = text[i]!;
    const py = CHARS[ch];
    if (py !== undefined) {
      flush();
      out.push(py);
    } else if (PAUSE.test(ch) && /[\u3000-\u303f\uff00-\uffef]/.test(ch)) {
      flush();
      out.push(',');
    } else if (/[\u4e00-\u9fff]/.test(ch)) {
      flush();
    } else latin += ch;
    i++;
  }
  flush();
  return out.join(' ').replace(/\s+,/g, ',').replace(/,+/g, ',').trim();
}

/** The characters of `text` the vocabulary cannot say (an admin form shows them). */
export function unknownHanzi(text: string): string[] {
  const known = new Set(Object.keys(CHARS));
  const covered = new Set<number>();
  for (const w of Object.keys(WORDS)) for (let i = text.indexOf(w); i !== -1; i = text.indexOf(w, i + 1)) for (let k = 0; k < w.length; k++) covered.add(i + k);
  return [...new Set([...text].filter((c, i) => /[\u4e00-\u9fff]/.test(c) && !known.has(c) && !covered.has(i)))];
}
