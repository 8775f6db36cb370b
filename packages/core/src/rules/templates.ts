import { z } from 'zod';
import { renderCanned, unknownVariables, type CannedContext } from '../domain/canned.js';
import { Id, LocalizedText, Millis, type Contact } from '../domain/model.js';

/** The languages Goutong writes to customers in. */
export const CUSTOMER_LANGUAGES = ['en', 'zh-CN'] as const;
export type CustomerLanguage = (typeof CUSTOMER_LANGUAGES)[number];

/** What an admin saves: a named message in en and/or zh-CN with {{variables}} (rendered by core renderCanned). */
export const TemplateInput = z.object({
  name: z.string().trim().min(1).max(200),
  body: LocalizedText,
  subject: LocalizedText.nullable().optional(),
});
export type TemplateInput = z.infer<typeof TemplateInput>;

export const MessageTemplate = z.object({
  id: Id,
  tenantId: Id,
  name: z.string().min(1).max(200),
  body: LocalizedText,
  subject: LocalizedText.nullable(),
  createdAt: Millis,
  updatedAt: Millis,
});
export type MessageTemplate = z.infer<typeof MessageTemplate>;

/** Why a template (or text written in place) cannot be saved: an unknown variable. Null when it can. */
export function templateProblem(input: { body?: LocalizedText | null | undefined; subject?: LocalizedText | null | undefined }): string | null {
  for (const [where, t] of [['body', input.body], ['subject', input.subject]] as const) {
    if (!t) continue;
    for (const lang of CUSTOMER_LANGUAGES) {
      const text = t[lang];
      if (!text) continue;
      const unknown = unknownVariables(text);
      if (unknown.length > 0) return `${where} (${lang}): unknown variable${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}`;
    }
  }
  return null;
}

/** CJK ideographs (and kana), the sign of a Chinese message. */
const CJK_RE = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3040-\u30ff]/u;

/** The language of a text: any CJK character → zh-CN, else en. */
export function detectLanguage(text: string): CustomerLanguage {
  return CJK_RE.test(text) ? 'zh-CN' : 'en';
}

/** The customer's language: the contact attribute `language` (zh*, en*), else detected from their message. */
export function customerLanguage(contact: Pick<Contact, 'attributes'> | null, messageText: string): CustomerLanguage {
  const attr = contact?.attributes['language']?.trim().toLowerCase();
  if (attr) {
    if (attr.startsWith('zh')) return 'zh-CN';
    if (attr.startsWith('en')) return 'en';
  }
  return detectLanguage(messageText);
}

/** A localized text in a language, falling back to the other one. */
export function pickLanguage(t: LocalizedText, lang: CustomerLanguage): string {
  const want = t[lang]?.trim() ? t[lang]! : null;
  if (want) return want;
  const other = CUSTOMER_LANGUAGES.find((l) => l !== lang)!;
  return t[other] ?? '';
}

/** A template (or in-place text) rendered for a customer: language picked, variables filled by renderCanned. */
export function renderTemplate(
  t: { body: LocalizedText; subject?: LocalizedText | null | undefined },
  lang: CustomerLanguage,
  ctx: CannedContext,
): { text: string; subject: string | null } {
  return {
    text: renderCanned(pickLanguage(t.body, lang), ctx),
    subject: t.subject ? renderCanned(pickLanguage(t.subject, lang), ctx) || null : null,
  };
}
