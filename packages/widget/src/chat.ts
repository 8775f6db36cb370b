// The chat UI, loaded by the loader on demand into its Shadow DOM. Plain DOM, no framework: the host
// page may run any (or none). The visitor's messages go through the durable outbox (outbox.ts).
import { localeOf, translator, type Key } from './i18n.js';
import { Outbox, outcomeOf, type ContactFields, type OutboxItem, type SendOutcome } from './outbox.js';
import { STYLES } from './styles.js';
import { deleteFile, getFile, putFile } from './files.js';

interface MountOptions {
  base: string;
  token: string;
  identifier?: string | undefined;
  identifierHash?: string | undefined;
  launcher: HTMLElement;
}

interface VisitorMessage {
  id: string;
  clientId: string | null;
  direction: 'in' | 'out';
  text: string;
  attachments: { name: string; mime: string; size: number; url: string | null }[];
  status: string | null;
  createdAt: number;
  seq: number;
  agent: { name: string } | null;
}
interface ConversationView {
  id: string;
  status: string;
  ended: boolean;
}
interface Settings {
  greeting: string | null;
  preChatFields: ('name' | 'email' | 'phone')[];
  online: boolean;
  nextOpening?: number | null;
  csat: boolean;
  inboxName: string;
}
interface Changes {
  conversation: ConversationView | null;
  messages: VisitorMessage[];
  seq: number;
  typing?: { name: string } | null;
}

type View = 'prechat' | 'offline' | 'chat';

const uuid = (): string =>
  typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) => (Number(c) ^ (crypto.getRandomValues(new Uint8Array(1))[0]! & (15 >> (Number(c) / 4)))).toString(16));

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string | null)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) if (c !== null) e.append(c);
  return e;
}

const initials = (name: string): string =>
  name
    .trim()
    .split(/\s+/)
    .map((p) => Array.from(p)[0] ?? '')
    .join('')
    .slice(0, 2)
    .toUpperCase() || '?';

function mount(root: ShadowRoot, opts: MountOptions) {
  const locale = localeOf(document.documentElement.lang);
  const t = translator(locale);
  const api = `${opts.base}/api/v1/webchat/${encodeURIComponent(opts.token)}`;
  const k = (name: string) => `goutong:${opts.token}:${name}`;
  const store = window.localStorage;
  const read = <T,>(name: string, fallback: T): T => {
    try {
      return (JSON.parse(store.getItem(k(name)) ?? 'null') as T | null) ?? fallback;
    } catch {
      return fallback;
    }
  };
  const write = (name: string, v: unknown) => store.setItem(k(name), JSON.stringify(v));

  const outbox = new Outbox(store, k('outbox'));
  let visitorToken: string | null = read<string | null>('visitor', null);
  let settings: Settings | null = null;
  let conversation: ConversationView | null = null;
  const messages = new Map<string, VisitorMessage>();
  let seq = 0;
  let agentTyping: { name: string } | null = null;
  let typingTimer: ReturnType<typeof setTimeout> | null = null;
  let view: View = 'chat';
  let open = false;
  let notice: string | null = null;
  let offlineSent = false;
  let stream: EventSource | null = null;
  let flushTimer: ReturnType<typeof setTimeout> | null = null;
  let sessionTry = 0;

  // ----- DOM -----
  const style = el('style');
  style.textContent = STYLES;
  const title = el('strong', { class: 'title' });
  const sub = el('span', { class: 'sub' });
  const closeBtn = el('button', { class: 'icon', 'aria-label': t('close'), type: 'button' }, '×');
  const list = el('div', { class: 'list', role: 'log', 'aria-live': 'polite' });
  const typingLine = el('div', { class: 'typing', hidden: '' });
  const noticeLine = el('div', { class: 'notice', hidden: '' });
  const body = el('div', { class: 'body' });
  const footer = el('div', { class: 'footer' });
  const panel = el('section', { class: 'panel', hidden: '', 'aria-label': t('title') }, el('header', {}, el('div', { class: 'head' }, title, sub), closeBtn), noticeLine, body, footer);
  root.append(style, panel);
  closeBtn.addEventListener('click', () => toggle(false));

  const input = el('textarea', { class: 'input', rows: '1', placeholder: t('placeholder'), 'aria-label': t('placeholder') });
  const sendBtn = el('button', { class: 'send', type: 'button' }, t('send'));
  const fileInput = el('input', { type: 'file', hidden: '' });
  const attachBtn = el('button', { class: 'icon attach', type: 'button', 'aria-label': t('attach'), title: t('attach') }, '+');
  const composer = el('div', { class: 'composer' }, attachBtn, fileInput, input, sendBtn);
  attachBtn.addEventListener('click', () => fileInput.click());
  fileInput.addEventListener('change', () => void upload());
  sendBtn.addEventListener('click', () => submitText());
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submitText();
    }
  });
  // "Typing" at most every 2.5 s; a keystroke inside that gap is signalled when the gap ends (while
  // there is still text), so typing right after a send is never lost.
  let lastTyping = 0;
  let typingSignal: ReturnType<typeof setTimeout> | null = null;
  const signalTyping = () => {
    typingSignal = null;
    if (!visitorToken || !conversation || !input.value) return;
    lastTyping = Date.now();
    void call('POST', '/typing', { typing: true }).catch(() => undefined);
  };
  input.addEventListener('input', () => {
    if (typingSignal) return;
    const wait = lastTyping + 2500 - Date.now();
    if (wait <= 0) signalTyping();
    else typingSignal = setTimeout(signalTyping, wait);
  });

  // ----- HTTP -----
  async function call(method: string, path: string, payload?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown; retryAfter: string | null }> {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: { ...(visitorToken ? { authorization: `Bearer ${visitorToken}` } : {}), ...(payload !== undefined && !(payload instanceof Blob) ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(payload !== undefined ? { body: payload instanceof Blob ? payload : JSON.stringify(payload) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed, retryAfter: res.headers.get('retry-after') };
  }

  async function startSession(): Promise<void> {
    try {
      const r = await call('POST', '/session', { ...(visitorToken ? { visitorToken } : {}), ...(opts.identifier && opts.identifierHash ? { identifier: opts.identifier, identifierHash: opts.identifierHash } : {}) });
      if (r.status !== 200) throw new Error((r.body as { error?: { message?: string } } | null)?.error?.message ?? `HTTP ${r.status}`);
      const b = r.body as { visitorToken: string; settings: Settings; conversation: ConversationView | null };
      visitorToken = b.visitorToken;
      write('visitor', visitorToken);
      settings = b.settings;
      conversation = b.conversation;
      sessionTry = 0;
      view = !settings.online ? 'offline' : settings.preChatFields.length > 0 && !conversation && !read('prechat', null) && outbox.items().length === 0 ? 'prechat' : 'chat';
      setNotice(null);
      render();
      await refresh();
      connect();
      // Messages written before the session existed were backing off: they may go now.
      outbox.wake();
      void flush();
    } catch {
      setNotice(t('noConnection'));
      sessionTry += 1;
      setTimeout(() => void startSession(), Math.min(30_000, 1000 * 2 ** Math.min(5, sessionTry)));
    }
  }

  function merge(c: Changes): void {
    if (c.conversation) conversation = c.conversation;
    for (const m of c.messages) messages.set(m.id, m);
    seq = Math.max(seq, c.seq);
    if (c.typing !== undefined) agentTyping = c.typing;
    render();
  }

  async function refresh(): Promise<void> {
    if (!visitorToken) return;
    const r = await call('GET', `/messages?after=${seq}`);
    if (r.status === 200) merge(r.body as Changes);
  }

  function connect(): void {
    stream?.close();
    if (!visitorToken) return;
    const s = new EventSource(`${api}/stream?token=${encodeURIComponent(visitorToken)}&after=${seq}`);
    stream = s;
    s.addEventListener('changes', (e) => merge(JSON.parse((e as MessageEvent<string>).data) as Changes));
    s.addEventListener('typing', (e) => {
      agentTyping = (JSON.parse((e as MessageEvent<string>).data) as { agent: { name: string } | null }).agent;
      if (typingTimer) clearTimeout(typingTimer);
      typingTimer = setTimeout(() => {
        agentTyping = null;
        render();
      }, 6000);
      render();
    });
    s.addEventListener('open', () => setNotice(null));
    s.addEventListener('error', () => {
      // The browser reconnects by itself unless the server refused the stream.
      if (s.readyState === EventSource.CLOSED && stream === s) setTimeout(() => stream === s && connect(), 3000);
    });
  }

  // ----- outbox -----
  /** Uploads the files a message still keeps in the browser; its reference joins the message in the outbox. */
  async function uploadPending(item: OutboxItem): Promise<SendOutcome | null> {
    for (const key of item.blobs ?? []) {
      const f = await getFile(key);
      if (!f) return { kind: 'refused', reason: t('uploadFailed', { reason: 'file missing' }) };
      let r;
      try {
        r = await call('POST', '/attachments', f.blob, { 'content-type': 'application/octet-stream', 'x-file-type': f.type || 'application/octet-stream', 'x-file-name': encodeURIComponent(f.name) });
      } catch (e) {
        return { kind: 'retry', reason: String(e) };
      }
      if (r.status !== 201) {
        const o = outcomeOf(r.status, r.body, r.retryAfter);
        return o.kind === 'acked' ? { kind: 'retry', reason: `HTTP ${r.status}` } : { ...o, reason: t('uploadFailed', { reason: o.reason }) };
      }
      item.attachments = [...item.attachments, (r.body as { ref: string }).ref];
      item.blobs = (item.blobs ?? []).filter((b) => b !== key);
      outbox.update(item.clientId, { attachments: item.attachments, blobs: item.blobs });
      await deleteFile(key).catch(() => undefined);
    }
    return null;
  }

  async function sendItem(item: OutboxItem): Promise<SendOutcome> {
    if (!visitorToken) return { kind: 'retry', reason: 'no session yet' };
    const upload = await uploadPending(item);
    if (upload) return upload;
    let r;
    try {
      r = await call('POST', '/messages', {
        clientId: item.clientId,
        text: item.text,
        deviceTime: item.deviceTime,
        attachments: item.attachments,
        ...(item.preChat ? { preChat: item.preChat } : {}),
        ...(item.offline ? { offline: item.offline } : {}),
      });
    } catch (e) {
      return { kind: 'retry', reason: String(e) };
    }
    if (r.status === 401) {
      visitorToken = null;
      void startSession();
      return { kind: 'retry', reason: 'session expired' };
    }
    return outcomeOf(r.status, r.body, r.retryAfter);
  }

  async function flush(): Promise<void> {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = null;
    await outbox.flush(sendItem, (_item, b) => {
      const ack = b as { conversation: ConversationView; message: VisitorMessage };
      conversation = ack.conversation;
      messages.set(ack.message.id, ack.message);
    });
    render();
    const due = outbox.nextDueIn();
    if (due !== null) flushTimer = setTimeout(() => void flush(), due);
  }

  function enqueue(text: string, extra: { clientId?: string; blobs?: string[]; files?: string[]; offline?: ContactFields } = {}): void {
    const pre = read<ContactFields | null>('prechat', null);
    outbox.add({
      clientId: extra.clientId ?? uuid(),
      text,
      deviceTime: Date.now(),
      attachments: [],
      files: extra.files ?? [],
      ...(extra.blobs ? { blobs: extra.blobs } : {}),
      ...(pre && !conversation ? { preChat: pre } : {}),
      ...(extra.offline ? { offline: extra.offline } : {}),
    });
    render();
    void flush();
  }

  function submitText(): void {
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    // A sent message ends the typing: the next keystroke is signalled at once.
    lastTyping = 0;
    enqueue(text);
  }

  /** A picked file is kept in the browser first (like the message), then uploaded by the outbox. */
  async function upload(): Promise<void> {
    const file = fileInput.files?.[0];
    fileInput.value = '';
    if (!file) return;
    const clientId = uuid();
    try {
      await putFile(`${clientId}:0`, { name: file.name, type: file.type, blob: file });
      enqueue('', { clientId, blobs: [`${clientId}:0`], files: [file.name] });
    } catch (e) {
      setNotice(t('uploadFailed', { reason: (e as Error).message }));
    }
  }

  // ----- rendering -----
  function setNotice(text: string | null): void {
    notice = text;
    noticeLine.textContent = text ?? '';
    noticeLine.hidden = !text;
  }

  function contactForm(fields: ('name' | 'email' | 'phone')[], withMessage: boolean, submitLabel: Key, onSubmit: (c: ContactFields, message: string) => void): HTMLFormElement {
    const form = el('form', { class: 'form' });
    const inputs: Partial<Record<'name' | 'email' | 'phone', HTMLInputElement>> = {};
    for (const f of fields) {
      const i = el('input', { name: f, type: f === 'email' ? 'email' : f === 'phone' ? 'tel' : 'text', autocomplete: f === 'phone' ? 'tel' : f });
      inputs[f] = i;
      form.append(el('label', {}, el('span', {}, t(f)), i));
    }
    const msg = el('textarea', { name: 'message', rows: '4', required: '' });
    if (withMessage) form.append(el('label', {}, el('span', {}, t('message')), msg));
    form.append(el('button', { class: 'send', type: 'submit' }, t(submitLabel)));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      const c: ContactFields = {};
      for (const f of fields) {
        const v = inputs[f]?.value.trim();
        if (v) c[f] = v;
      }
      onSubmit(c, msg.value.trim());
    });
    return form;
  }

  function statusText(m: { state?: string; status?: string | null }): string {
    if (m.state === 'pending') return t('sending');
    if (m.state === 'failed') return t('failed');
    return m.status === 'delivered' ? t('delivered') : t('sent');
  }

  function bubble(mine: boolean, text: string, files: { name: string; url: string | null }[], meta: Node[], agent: { name: string } | null, extraClass = ''): HTMLElement {
    const content = el('div', { class: 'bubble' });
    if (text) content.append(el('div', { class: 'text' }, text));
    for (const f of files) content.append(f.url ? el('a', { class: 'file', href: `${opts.base}${f.url}`, target: '_blank', rel: 'noopener' }, f.name) : el('span', { class: 'file' }, f.name));
    const row = el('div', { class: `msg ${mine ? 'mine' : 'theirs'} ${extraClass}`.trim() });
    if (agent) row.append(el('div', { class: 'avatar', 'aria-hidden': 'true' }, initials(agent.name || t('agent'))));
    const col = el('div', { class: 'col' });
    if (agent) col.append(el('div', { class: 'who' }, agent.name || t('agent')));
    col.append(content, el('div', { class: 'meta' }, ...meta));
    row.append(col);
    return row;
  }

  function renderList(): void {
    list.replaceChildren();
    if (settings?.greeting) list.append(bubble(false, settings.greeting, [], [], { name: settings.inboxName }, 'greeting'));
    const sorted = [...messages.values()].sort((a, b) => a.createdAt - b.createdAt || a.seq - b.seq);
    const acked = new Set(sorted.map((m) => m.clientId).filter(Boolean));
    for (const m of sorted) {
      const mine = m.direction === 'in';
      list.append(bubble(mine, m.text, m.attachments, mine ? [el('span', { class: 'status' }, statusText({ status: 'sent' }))] : [], mine ? null : m.agent));
      list.lastElementChild!.setAttribute('data-id', m.id);
    }
    for (const item of outbox.items()) {
      if (acked.has(item.clientId)) continue;
      const meta: Node[] = [el('span', { class: 'status' }, statusText(item))];
      if (item.state === 'failed') {
        if (item.error) meta.push(el('span', { class: 'reason' }, item.error));
        const b = el('button', { class: 'link', type: 'button' }, t('retry'));
        b.addEventListener('click', () => {
          outbox.retry(item.clientId);
          void flush();
        });
        meta.push(b);
      }
      const row = bubble(true, item.text, item.files.map((name) => ({ name, url: null })), meta, null, item.state);
      row.setAttribute('data-client-id', item.clientId);
      list.append(row);
    }
    list.append(typingLine);
    typingLine.hidden = !agentTyping;
    typingLine.textContent = agentTyping ? t('typing', { name: agentTyping.name || t('agent') }) : '';
    list.scrollTop = list.scrollHeight;
  }

  function renderCsat(): HTMLElement | null {
    if (!settings?.csat || !conversation?.ended) return null;
    const rated = read<Record<string, number>>('rated', {});
    if (rated[conversation.id]) return el('div', { class: 'csat done' }, t('rateThanks'));
    const box = el('div', { class: 'csat' }, el('div', {}, t('rateTitle')));
    const stars = el('div', { class: 'stars', role: 'group' });
    const convId = conversation.id;
    for (let n = 1; n <= 5; n++) {
      const b = el('button', { type: 'button', class: 'star', 'aria-label': t('star', { n }), 'data-rating': String(n) }, '★');
      b.addEventListener('click', () => {
        void call('POST', '/csat', { conversationId: convId, rating: n }).then((r) => {
          if (r.status === 200 || r.status === 201) {
            write('rated', { ...read<Record<string, number>>('rated', {}), [convId]: n });
            render();
          }
        });
      });
      stars.append(b);
    }
    box.append(stars);
    return box;
  }

  function render(): void {
    title.textContent = settings?.inboxName || t('title');
    sub.textContent = settings ? (settings.online ? t('online') : t('offlineTitle')) : '';
    body.replaceChildren();
    footer.replaceChildren();
    if (view === 'prechat' && settings) {
      body.append(
        el('p', { class: 'hint' }, t('preChatTitle')),
        contactForm(settings.preChatFields, false, 'start', (c) => {
          write('prechat', c);
          view = 'chat';
          render();
          input.focus();
        }),
      );
      return;
    }
    if (view === 'offline' && settings) {
      renderList();
      if (offlineSent) body.append(list, el('p', { class: 'hint' }, t('offlineSent')));
      else
        body.append(
          el('p', { class: 'hint' }, t('offlineHint')),
          settings.nextOpening ? el('p', { class: 'hint opens' }, t('opensAt', { time: new Date(settings.nextOpening).toLocaleString(locale, { weekday: 'short', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' }) })) : '',
          contactForm(['name', 'email', 'phone'], true, 'leaveMessage', (c, message) => {
            if (!message) return;
            offlineSent = true;
            enqueue(message, { offline: c });
          }),
        );
      return;
    }
    renderList();
    body.append(list);
    const csat = renderCsat();
    if (csat) footer.append(csat);
    footer.append(composer);
  }

  function toggle(next = !open): void {
    open = next;
    panel.hidden = !open;
    opts.launcher.hidden = open;
    if (open) input.focus();
  }

  window.addEventListener('online', () => {
    outbox.wake();
    void flush();
    void refresh().catch(() => undefined);
    connect();
  });
  window.addEventListener('offline', () => setNotice(t('noConnection')));
  // Another tab of the same site wrote to the outbox or sent it: show its state.
  window.addEventListener('storage', (e) => {
    if (e.key === k('outbox')) render();
  });

  render();
  void startSession();
  function identify(identifier: string, identifierHash: string): void {
    opts.identifier = identifier;
    opts.identifierHash = identifierHash;
    messages.clear();
    seq = 0;
    conversation = null;
    void startSession();
  }

  function reset(): void {
    opts.identifier = undefined;
    opts.identifierHash = undefined;
    visitorToken = null;
    store.removeItem(k('visitor'));
    store.removeItem(k('prechat'));
    messages.clear();
    seq = 0;
    conversation = null;
    void startSession();
  }

  return { toggle, identify, reset, state: () => ({ notice, view, seq }) };
}

(window as unknown as { __goutongChat: { mount: typeof mount } }).__goutongChat = { mount };
