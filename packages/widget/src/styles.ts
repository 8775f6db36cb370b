/** The chat panel's styles: inside the Shadow DOM, so neither the host page nor we leak. Light and dark follow the system. */
export const STYLES = `
:host{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;font:14px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
--bg:#fff;--fg:#111827;--muted:#6b7280;--line:#e5e7eb;--mine:#2563eb;--mine-fg:#fff;--theirs:#f3f4f6;--accent:#2563eb;--warn:#b45309;--bad:#b91c1c}
@media (prefers-color-scheme: dark){:host{--bg:#111827;--fg:#f9fafb;--muted:#9ca3af;--line:#374151;--mine:#3b82f6;--theirs:#1f2937;--accent:#60a5fa;--warn:#fbbf24;--bad:#f87171}}
*{box-sizing:border-box}
.panel{width:min(370px,calc(100vw - 24px));height:min(560px,calc(100vh - 40px));display:flex;flex-direction:column;background:var(--bg);color:var(--fg);border:1px solid var(--line);border-radius:14px;box-shadow:0 12px 40px rgba(0,0,0,.28);overflow:hidden}
.panel[hidden]{display:none}
header{display:flex;align-items:center;justify-content:space-between;padding:12px 14px;background:var(--accent);color:#fff}
.head{display:flex;flex-direction:column}.title{font-size:15px}.sub{font-size:12px;opacity:.9}
.icon{border:0;background:transparent;color:inherit;font-size:22px;line-height:1;cursor:pointer;padding:2px 6px;border-radius:6px}
.icon:focus-visible,.send:focus-visible,.star:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.notice{padding:6px 12px;font-size:12px;background:var(--theirs);color:var(--warn)}.notice[hidden]{display:none}
.body{flex:1;min-height:0;display:flex;flex-direction:column;overflow:auto}
.list{flex:1;overflow:auto;padding:12px;display:flex;flex-direction:column;gap:8px}
.msg{display:flex;gap:8px;max-width:85%}.msg.mine{align-self:flex-end;flex-direction:row-reverse}
.col{display:flex;flex-direction:column;min-width:0}.msg.mine .col{align-items:flex-end}
.avatar{flex:none;width:28px;height:28px;border-radius:50%;background:var(--accent);color:#fff;font-size:12px;display:flex;align-items:center;justify-content:center}
.who{font-size:11px;color:var(--muted);margin-bottom:2px}
.bubble{padding:8px 11px;border-radius:12px;background:var(--theirs);white-space:pre-wrap;word-break:break-word}
.mine .bubble{background:var(--mine);color:var(--mine-fg)}.mine.pending .bubble{opacity:.65}.mine.failed .bubble{outline:1px solid var(--bad)}
.file{display:block;color:inherit;text-decoration:underline;font-size:13px}
.meta{font-size:11px;color:var(--muted);margin-top:2px;display:flex;gap:6px;align-items:center}.failed .status,.reason{color:var(--bad)}
.link{border:0;background:none;color:var(--accent);cursor:pointer;font:inherit;padding:0;text-decoration:underline}
.typing{font-size:12px;color:var(--muted);font-style:italic}.typing[hidden]{display:none}
.footer{border-top:1px solid var(--line)}
.composer{display:flex;gap:6px;align-items:flex-end;padding:8px}
.input{flex:1;resize:none;max-height:120px;border:1px solid var(--line);border-radius:10px;padding:8px 10px;font:inherit;background:var(--bg);color:var(--fg)}
.send{border:0;border-radius:10px;background:var(--accent);color:#fff;padding:8px 14px;font:inherit;cursor:pointer}
.attach{color:var(--muted)}
.hint{margin:12px 14px 0;color:var(--muted)}
.form{display:flex;flex-direction:column;gap:10px;padding:12px 14px}
.form label{display:flex;flex-direction:column;gap:4px;font-size:12px;color:var(--muted)}
.form input,.form textarea{border:1px solid var(--line);border-radius:8px;padding:8px;font:inherit;background:var(--bg);color:var(--fg)}
.csat{padding:10px 12px 0;text-align:center;font-size:13px}.csat.done{padding-bottom:10px;color:var(--muted)}
.stars{display:flex;justify-content:center;gap:4px}.star{border:0;background:none;font-size:24px;color:#f59e0b;cursor:pointer}
`;
