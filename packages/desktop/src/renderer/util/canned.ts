// Canned responses with {{variables}}. Kept out of vue-i18n messages, whose syntax owns braces.
import type { Locale } from '../i18n';

export interface CannedResponse {
  id: string;
  title: string;
  text: string;
}

const CANNED: Record<Locale, CannedResponse[]> = {
  en: [
    { id: 'greeting', title: 'Greeting', text: 'Hello {{contact.name}}, thank you for contacting us. ' },
    { id: 'follow-up', title: 'Follow-up', text: 'Hi {{contact.name}}, I am following up on your request. Is there anything else I can help with?' },
    { id: 'closing', title: 'Closing', text: 'Thank you {{contact.name}}, have a nice day! — {{agent.name}}' },
  ],
  'zh-CN': [
    { id: 'greeting', title: '问候', text: '{{contact.name}}，您好，感谢您联系我们。' },
    { id: 'follow-up', title: '跟进', text: '{{contact.name}}，您好，我来跟进一下您的问题，还有什么可以帮您的吗？' },
    { id: 'closing', title: '结束语', text: '谢谢您，{{contact.name}}，祝您愉快！—— {{agent.name}}' },
  ],
};

export function cannedResponses(locale: Locale): CannedResponse[] {
  return CANNED[locale];
}

/** Replaces {{path.to.value}} with values; unknown variables stay as they are. */
export function fillTemplate(text: string, vars: Record<string, Record<string, string | undefined> | undefined>): string {
  return text.replace(/\{\{\s*([a-zA-Z]+)\.([a-zA-Z]+)\s*\}\}/g, (whole, obj: string, key: string) => vars[obj]?.[key] ?? whole);
}
