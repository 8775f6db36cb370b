// The embed loader: `<script src="https://chat.example.com/widget/widget.js" data-inbox-token="…" async>`.
// A few KB, no framework: it draws the launcher inside its own Shadow DOM (the host page's styles do
// not reach in, ours do not leak out) and loads the chat UI only when it is needed: the visitor opens
// the chat, or messages written earlier still wait in the browser's outbox.

declare const __CHAT_FILE__: string;

interface ChatApi {
  toggle(open?: boolean): void;
  identify(identifier: string, identifierHash: string): void;
  reset(): void;
}
interface MountOptions {
  base: string;
  token: string;
  identifier?: string | undefined;
  identifierHash?: string | undefined;
  launcher: HTMLElement;
}
interface GoutongWindow {
  __goutongChat?: { mount(root: ShadowRoot, opts: MountOptions): ChatApi };
  GoutongWidget?: { open(): void; close(): void; identify(identifier: string, identifierHash: string): void; reset(): void };
}

(() => {
  const w = window as unknown as GoutongWindow;
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script || w.GoutongWidget) return;
  const src = new URL(script.src, location.href);
  const token = script.dataset['inboxToken'] ?? src.searchParams.get('inbox');
  if (!token) {
    console.warn('[goutong] the widget script needs data-inbox-token');
    return;
  }
  const zh = /^zh\b/i.test(document.documentElement.lang);
  const host = document.createElement('div');
  host.setAttribute('data-goutong-widget', '');
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML =
    '<style>:host{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;font:14px/1.4 system-ui,sans-serif}' +
    '.l{width:56px;height:56px;border-radius:50%;border:0;cursor:pointer;background:#2563eb;color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.25);display:flex;align-items:center;justify-content:center}' +
    '.l:focus-visible{outline:3px solid #93c5fd}.l svg{width:26px;height:26px}</style>' +
    `<button class="l" part="launcher" aria-label="${zh ? '打开聊天' : 'Open chat'}"><svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg></button>`;
  const launcher = root.querySelector('button')!;
  let chat: Promise<ChatApi> | null = null;
  const identity = { identifier: script.dataset['identifier'], identifierHash: script.dataset['identifierHash'] };
  const load = (): Promise<ChatApi> =>
    (chat ??= new Promise<ChatApi>((resolve, reject) => {
      const s = document.createElement('script');
      s.src = `${src.origin}/widget/${__CHAT_FILE__}`;
      s.async = true;
      s.onload = () => {
        const m = w.__goutongChat;
        if (!m) return reject(new Error('chat UI missing'));
        resolve(m.mount(root, { base: src.origin, token, ...identity, launcher }));
      };
      s.onerror = () => {
        chat = null;
        reject(new Error('chat UI could not load'));
      };
      document.head.appendChild(s);
    }));
  launcher.addEventListener('click', () => void load().then((c) => c.toggle()).catch(() => undefined));
  w.GoutongWidget = {
    open: () => void load().then((c) => c.toggle(true)),
    close: () => void chat?.then((c) => c.toggle(false)),
    // The site signed a user in after the page loaded: the next session is theirs (signed on the site's server).
    identify: (identifier, identifierHash) => {
      identity.identifier = identifier;
      identity.identifierHash = identifierHash;
      void chat?.then((c) => c.identify(identifier, identifierHash));
    },
    // The user signed out: the next session is a new anonymous visitor.
    reset: () => {
      identity.identifier = undefined;
      identity.identifierHash = undefined;
      try {
        localStorage.removeItem(`goutong:${token}:visitor`);
      } catch {
        /* storage blocked */
      }
      void chat?.then((c) => c.reset());
    },
  };
  const attach = () => {
    document.body.appendChild(host);
    // Messages still waiting in the outbox go out without the visitor opening the chat again.
    try {
      if ((localStorage.getItem(`goutong:${token}:outbox`) ?? '[]').length > 2) void load().catch(() => undefined);
    } catch {
      /* storage blocked: nothing waits */
    }
  };
  if (document.body) attach();
  else document.addEventListener('DOMContentLoaded', attach);
})();
