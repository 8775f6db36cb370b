import en from './en.json';
import zhHans from './zh-Hans.json';

/** The app's languages (vue-i18n codes). uni's own locale files are `en.json` and `zh-Hans.json`. */
export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

type Tree = { [key: string]: string | Tree };

/** Flat "a.b.c" keys (shared with pages.json's %a.b% titles) to the nested form vue-i18n resolves. */
export function nest(flat: Record<string, string>): Tree {
  const root: Tree = {};
  for (const [key, value] of Object.entries(flat)) {
    const parts = key.split('.');
    let node = root;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      if (typeof next === 'string') throw new Error(`locale key ${key} collides with a message`);
      node = next ?? (node[part] = {});
    }
    node[parts[parts.length - 1]!] = value;
  }
  return root;
}

export const messages = { 'zh-CN': nest(zhHans), en: nest(en) } as const;

/** uni's locale code for an app locale (uni.setLocale / pages.json titles). */
export function uniLocale(locale: Locale): string {
  return locale === 'zh-CN' ? 'zh-Hans' : 'en';
}

/** Picks the app locale from a system language tag such as "zh-Hans-CN", "zh_CN" or "en-US". */
export function pickLocale(tag: string | undefined | null): Locale {
  return tag && /^zh/i.test(tag) ? 'zh-CN' : 'en';
}
