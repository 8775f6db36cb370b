// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import ElementPlus from 'element-plus';
import { makeMessage } from '@goutong/core/testing';
import type { MessageTranscript } from '@goutong/core';
import MessageItem from '../../src/renderer/components/MessageItem.vue';
import { makeI18n } from '../../src/renderer/i18n';

let pinia: Pinia;
beforeEach(() => {
  pinia = createPinia();
  setActivePinia(pinia);
});
const plugins = (locale: 'en' | 'zh-CN' = 'en') => ({ global: { plugins: [pinia, makeI18n(locale), ElementPlus] } });
const base: MessageTranscript = { state: 'pending', text: null, seconds: null, provider: 'pocketsphinx', language: 'en', attempts: 0, error: null, nextAttemptAt: null, updatedAt: 0 };
const voicemail = (t: MessageTranscript | null) =>
  makeMessage({ direction: 'in', kind: 'voice', text: 'Voicemail · 0:12', attachments: [{ id: 'a1', name: 'vm.wav', mime: 'audio/wav', size: 2048 }], meta: t ? { transcript: t } : {} });

describe('voicemail transcript under the player', () => {
  it('shows each state of the transcript, in English and Chinese', () => {
    expect(mount(MessageItem, { props: { message: voicemail(null) }, ...plugins() }).find('[data-testid="transcript"]').exists()).toBe(false);
    const pending = mount(MessageItem, { props: { message: voicemail(base) }, ...plugins() }).get('[data-testid="transcript"]');
    expect(pending.attributes('data-state')).toBe('pending');
    expect(pending.text()).toContain('Transcription queued');
    const retrying = mount(MessageItem, { props: { message: voicemail({ ...base, attempts: 1, error: 'timed out' }) }, ...plugins('zh-CN') }).get('[data-testid="transcript"]');
    expect(retrying.text()).toContain('第 1 次转写失败（timed out），稍后重试');
    const done = mount(MessageItem, { props: { message: voicemail({ ...base, state: 'done', text: 'please call me back', seconds: 12.4 }) }, ...plugins() }).get('[data-testid="transcript"]');
    expect(done.get('.text').text()).toBe('please call me back');
    expect(done.text()).toContain('12 s transcribed');
    const failed = mount(MessageItem, { props: { message: voicemail({ ...base, state: 'failed', error: 'AuthFailure' }) }, ...plugins('zh-CN') }).get('[data-testid="transcript"]');
    expect(failed.text()).toContain('转写失败：AuthFailure');
    // the player stays above the transcript
    const html = mount(MessageItem, { props: { message: voicemail({ ...base, state: 'done', text: 'x', seconds: 1 }) }, ...plugins() }).html();
    expect(html.indexOf('vm.wav')).toBeLessThan(html.indexOf('data-testid="transcript"'));
  });
});

describe('a queue call the server bridged', () => {
  it('says who answered (meta.ivr.queue.agentId), in English and Chinese, with the server’s recording and its transcript', async () => {
    const { useDirectoryStore } = await import('../../src/renderer/stores/directory');
    useDirectoryStore().agents = [{ id: 'ag-alice', name: 'Alice Chen' }] as never;
    const call = makeMessage({
      direction: 'in', kind: 'call', text: 'IVR · 0:42',
      attachments: [{ id: 'r1', name: 'call.wav', mime: 'audio/wav', size: 4096 }],
      meta: { call: { direction: 'in', outcome: 'answered', durationSeconds: 42, agentId: 'ag-alice' }, ivr: { action: 'queue', queue: { result: 'answered', agentId: 'ag-alice' } }, transcript: { ...base, state: 'done', text: 'my order', seconds: 40 } },
    });
    const en = mount(MessageItem, { props: { message: call }, ...plugins() });
    expect(en.get('[data-testid="call-answered-by"]').text()).toBe('Answered by Alice Chen');
    expect(en.get('[data-testid="transcript"] .text').text()).toBe('my order');
    const zh = mount(MessageItem, { props: { message: call }, ...plugins('zh-CN') });
    expect(zh.get('[data-testid="call-answered-by"]').text()).toBe('由 Alice Chen 接听');
    // a missed call names nobody
    const missed = makeMessage({ direction: 'in', kind: 'call', text: 'IVR · 0:10', meta: { call: { direction: 'in', outcome: 'missed' }, ivr: { queue: { result: 'hangup' } } } });
    expect(mount(MessageItem, { props: { message: missed }, ...plugins() }).find('[data-testid="call-answered-by"]').exists()).toBe(false);
  });
});
