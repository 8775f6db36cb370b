// Issue 15: "None stored on this device" leaked the app's internals into the conversation pane. No
// message of either app (desktop renderer, mobile) names storage, sync or command internals; where a
// conversation has no older messages both apps say it is the beginning of the conversation.
import { describe, expect, it } from 'vitest';
import { makeI18n } from '../../src/renderer/i18n';
import mobileEn from '../../../mobile/src/locale/en.json';
import mobileZh from '../../../mobile/src/locale/zh-Hans.json';

/** Every message string of a messages tree. */
function strings(tree: unknown, path = ''): Array<[string, string]> {
  if (typeof tree === 'string') return [[path, tree]];
  if (tree && typeof tree === 'object') return Object.entries(tree).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  return [];
}

/** Words of the implementation an agent should never read (the mobile settings' storage line names its database on purpose). */
const INTERNALS = /None stored|stored on this device|IndexedDB|RxDB|SQLite|checkpoint|\bseq\b|send_reply|set_status|provider_rejected|mutation|未存储在本设备/i;

describe('wording', () => {
  it('no message of the desktop or the mobile app names storage, sync or command internals (en, zh-CN)', () => {
    for (const locale of ['en', 'zh-CN'] as const) {
      const messages = makeI18n(locale).global.getLocaleMessage(locale);
      const leaks = strings(messages).filter(([, s]) => INTERNALS.test(s));
      expect(leaks, `desktop ${locale}`).toEqual([]);
    }
    for (const [name, tree] of [['mobile en', mobileEn], ['mobile zh', mobileZh]] as const) {
      expect(strings(tree).filter(([k, s]) => !k.startsWith('settings.storage.') && INTERNALS.test(s)), name).toEqual([]);
    }
  });

  it('the start of a conversation is named as such in both apps', () => {
    expect(makeI18n('en').global.t('conversation.noOlder')).toBe('Beginning of the conversation');
    expect(makeI18n('zh-CN').global.t('conversation.noOlder')).toBe('已到会话开头');
    expect(mobileZh['conversation.noMore' as keyof typeof mobileZh]).toBe('已到会话开头');
  });
});
