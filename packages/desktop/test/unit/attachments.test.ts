// @vitest-environment happy-dom
import { beforeEach, describe, expect, it } from 'vitest';
import { mount } from '@vue/test-utils';
import { createPinia, setActivePinia, type Pinia } from 'pinia';
import ElementPlus from 'element-plus';
import { makeContact, makeMessage } from '@goutong/core/testing';
import { useSessionStore } from '../../src/renderer/stores/session';
import { useConversationStore } from '../../src/renderer/stores/conversation';
import { useConnectivityStore } from '../../src/renderer/stores/connectivity';
import { useUploadsStore } from '../../src/renderer/stores/uploads';
import ComposerBox from '../../src/renderer/components/ComposerBox.vue';
import MessageItem from '../../src/renderer/components/MessageItem.vue';
import ConnectivityBar from '../../src/renderer/components/ConnectivityBar.vue';
import { makeI18n } from '../../src/renderer/i18n';
import { fileSize, isPlayableAudio, validSignedUrl } from '../../src/renderer/attachments/display';
import { conversations, flush, offlineServices, useTestApp } from './testServices';

let pinia: Pinia;
beforeEach(() => {
  pinia = createPinia();
  setActivePinia(pinia);
});
const plugins = (locale: 'en' | 'zh-CN' = 'en') => ({ global: { plugins: [pinia, makeI18n(locale), ElementPlus] } });

async function openConversation() {
  const rows = conversations(1, () => ({ contactId: 'contact-1' }));
  const services = await offlineServices({ conversations: rows, contacts: [makeContact({ id: 'contact-1', tenantId: 'tenant-1', name: 'Wang Fang' })] });
  useTestApp(services);
  await useSessionStore().login('http://127.0.0.1:8787', 'me@example.com', 'pw');
  const uploads = useUploadsStore();
  await uploads.bind();
  const conv = useConversationStore();
  conv.bind();
  useConnectivityStore().bind();
  await conv.open(rows[0]!.id);
  return { services, conv, uploads, id: rows[0]!.id };
}

describe('attachments in the composer (offline: the upload queue)', () => {
  it('a reply with a file waits to upload, shows in the timeline and counts as pending', async () => {
    const { services, conv, uploads, id } = await openConversation();
    const blob = new Blob(['%PDF-1.4'], { type: 'application/pdf' });
    await conv.send('reply', 'the invoice', [{ blob, name: 'invoice.pdf', mime: 'application/pdf', size: blob.size }]);
    expect(uploads.pending).toBe(1);
    // Not in core's outbox yet: the server needs the file first.
    expect(services.client.outboxEntries()).toHaveLength(0);
    const m = conv.messages.find((x) => x.text === 'the invoice')!;
    expect(m.attachments).toEqual([expect.objectContaining({ name: 'invoice.pdf', mime: 'application/pdf' })]);
    expect((m.meta as { upload: { state: string } }).upload.state).toBe('waiting');

    // Resolving now waits behind the reply, and the conversation shows resolved at once.
    await conv.setStatus('resolved');
    expect(uploads.pending).toBe(2);
    expect(conv.conversation?.status).toBe('resolved');
    const conn = useConnectivityStore();
    expect(conn.pendingTotal).toBe(2);

    const bar = mount(ConnectivityBar, plugins());
    expect(bar.get('[role="status"]').attributes('data-pending')).toBe('2');
    expect(bar.text()).toContain('2 pending');

    const item = mount(MessageItem, { props: { message: m }, ...plugins() });
    expect(item.get('article').attributes('data-upload')).toBe('waiting');
    expect(item.get('[data-testid="delivery-status"]').text()).toBe('Waiting to upload');
    expect(item.get('a.download').attributes('aria-label')).toBe('Download invoice.pdf');
    const zh = mount(MessageItem, { props: { message: m }, ...plugins('zh-CN') });
    expect(zh.get('[data-testid="delivery-status"]').text()).toBe('等待上传');
    void id;
    uploads.unbind();
  });

  it('the composer attaches files (reply only), removes them and sends text-less replies', async () => {
    const { conv, uploads } = await openConversation();
    const w = mount(ComposerBox, plugins());
    await flush();
    const input = w.get('input[type="file"]');
    expect(input.attributes('aria-label')).toBe('Files to attach');
    const f1 = new File(['a'], 'a.txt', { type: 'text/plain' });
    const f2 = new File(['b'], 'b.png', { type: 'image/png' });
    Object.defineProperty(input.element, 'files', { value: [f1, f2], configurable: true });
    await input.trigger('change');
    expect(w.findAll('.chip')).toHaveLength(2);
    await w.get('button[aria-label="Remove a.txt"]').trigger('click');
    expect(w.findAll('.chip')).toHaveLength(1);
    expect(w.get('button[type="submit"]').attributes('disabled')).toBeUndefined();
    await w.get('form').trigger('submit');
    await flush();
    expect(uploads.entries).toHaveLength(1);
    expect(uploads.entries[0]!.files.map((f) => f.name)).toEqual(['b.png']);
    expect(w.findAll('.chip')).toHaveLength(0);
    expect(conv.messages.some((m) => m.attachments.some((a) => a.name === 'b.png'))).toBe(true);
    uploads.unbind();
  });

  it('files over 25 MiB are refused with a message', async () => {
    await openConversation();
    const w = mount(ComposerBox, plugins());
    await flush();
    const input = w.get('input[type="file"]');
    const big = { name: 'huge.bin', size: 26 * 1024 * 1024, type: 'application/octet-stream' } as File;
    Object.defineProperty(input.element, 'files', { value: [big], configurable: true });
    await input.trigger('change');
    expect(w.findAll('.chip')).toHaveLength(0);
    expect(w.get('[role="alert"]').text()).toContain('huge.bin is larger than 25 MiB');
    useUploadsStore().unbind();
  });

  it('messages show their attachments as download links', () => {
    const m = makeMessage({ direction: 'in', attachments: [{ id: 'a1', name: 'report.xlsx', mime: 'application/vnd.ms-excel', size: 2048 }] });
    const w = mount(MessageItem, { props: { message: m }, ...plugins() });
    expect(w.get('a.download').text()).toContain('report.xlsx');
    expect(w.text()).toContain('2 KB');
  });

  it('voicemail and call recordings play inline; other audio-looking types do not', () => {
    expect(isPlayableAudio('audio/webm')).toBe(true);
    expect(isPlayableAudio('audio/wav')).toBe(true);
    expect(isPlayableAudio('audio/mpeg')).toBe(true);
    expect(isPlayableAudio('image/png')).toBe(false);
    expect(isPlayableAudio('audio/x-foo')).toBe(false);
  });

  it('helpers: sizes and signed URL expiry', () => {
    expect(fileSize(512, 'en')).toBe('512 B');
    expect(fileSize(1536, 'en')).toBe('1.5 KB');
    expect(fileSize(3 * 1024 * 1024, 'en')).toBe('3 MB');
    const now = 1_700_000_000_000;
    expect(validSignedUrl(`/api/v1/attachments/x?exp=${now / 1000 + 3600}&sig=s`, now)).not.toBeNull();
    expect(validSignedUrl(`/api/v1/attachments/x?exp=${now / 1000 + 10}&sig=s`, now)).toBeNull();
    expect(validSignedUrl(undefined, now)).toBeNull();
  });
});
