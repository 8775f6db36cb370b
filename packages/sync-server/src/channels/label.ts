import type { Localized } from './provider.js';

/**
 * Schema metadata for a field, an object or a whole provider config: `title` (English) and
 * `x-i18n` with the zh-CN title (and descriptions when given). `z.toJSONSchema` copies it into
 * the OpenAPI document, from which the admin app labels its forms: no per-provider i18n entries.
 *
 *     host: z.string().meta(label('Host', '主机')),
 */
export function label(en: string, zh: string, description?: Localized): { title: string; description?: string; 'x-i18n': Record<string, { title: string; description?: string }> } {
  return {
    title: en,
    ...(description ? { description: description.en } : {}),
    'x-i18n': { 'zh-CN': { title: zh, ...(description ? { description: description['zh-CN'] } : {}) } },
  };
}

export const localized = (en: string, zh: string): Localized => ({ en, 'zh-CN': zh });
