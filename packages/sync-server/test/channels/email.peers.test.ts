import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import nodemailer from 'nodemailer';
import { ImapFlow } from 'imapflow';
import { simpleParser, type ParsedMail } from 'mailparser';
import { emailProvider } from '../../src/channels/email/index.js';
import { missingPeers, startDovecot, startPostfix, type Dovecot, type Postfix } from '../peers/peers.js';
import { eventually, startChannelServer, type ChannelServer } from './support.js';

/**
 * Email against real Dovecot (IMAP IDLE, LMTP) and Postfix (SMTP) on loopback: a customer's mail
 * becomes a conversation via IDLE; the agent's reply lands in the customer's mailbox with thread
 * headers; the customer's reply joins the conversation; a bounce fails the reply.
 */
const missing = missingPeers(['dovecot', 'postfix']);

describe('email with Dovecot and Postfix', () => {
  let dovecot: Dovecot;
  let postfix: Postfix;
  let s: ChannelServer;
  let inboxId: string;
  let smtp: nodemailer.Transporter;

  const mailbox = async (user: string): Promise<ParsedMail[]> => {
    const c = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth: { user, pass: 'secret' }, logger: false });
    await c.connect();
    const out: ParsedMail[] = [];
    const lock = await c.getMailboxLock('INBOX');
    try {
      if (c.mailbox && c.mailbox.exists > 0) for await (const m of c.fetch('1:*', { source: true })) out.push(await simpleParser(m.source!));
    } finally {
      lock.release();
      await c.logout();
    }
    return out;
  };
  const waitMail = (user: string, pred: (m: ParsedMail) => boolean, what: string) =>
    eventually(async () => (await mailbox(user)).find(pred) ?? null, what, 20_000);

  beforeAll(async () => {
    if (missing) throw new Error(missing);
    dovecot = await startDovecot({ agent: 'secret', customer: 'secret', colleague: 'secret' });
    postfix = await startPostfix(dovecot.lmtpPort);
    smtp = nodemailer.createTransport({ host: '127.0.0.1', port: postfix.smtpPort, secure: false, ignoreTLS: true });
    s = await startChannelServer({ providers: [emailProvider({ resyncMs: 10_000, backoff: { baseMs: 200, maxMs: 2000 } })] });
    inboxId = await s.createInbox({
      name: 'Support mail',
      channel: 'email',
      provider: 'email',
      config: {
        address: 'agent@lab.test',
        fromName: 'Goutong Support',
        imap: { host: '127.0.0.1', port: dovecot.imapPort, secure: false, user: 'agent' },
        smtp: { host: '127.0.0.1', port: postfix.smtpPort, secure: false },
        autoReply: { text: 'Thank you, we received your message and will answer soon. 我们已收到您的邮件。' },
      },
      secrets: { imapPassword: 'secret' },
    });
  }, 90_000);

  afterAll(async () => {
    await s?.close();
    await postfix?.stop();
    await dovecot?.stop();
  });

  let convId: string;
  let customerMessageId: string;
  let replyId: string;

  it('a customer mail becomes a conversation within seconds via IDLE (HTML sanitised, attachment stored, auto-reply sent)', async () => {
    const started = Date.now();
    const info = await smtp.sendMail({
      from: { name: '王芳', address: 'customer@lab.test' },
      to: 'agent@lab.test',
      subject: '订单问题 Order #4471',
      text: '你好，我的订单 #4471 还没有发货。',
      html: '<p>你好，我的订单 <b>#4471</b> 还没有发货。</p><script>alert(1)</script><img src="https://tracker.example/p.gif"><a href="javascript:alert(2)">x</a>',
      attachments: [{ filename: '发票.txt', content: 'invoice 4471 发票', contentType: 'text/plain' }],
    });
    customerMessageId = info.messageId;
    const conv = await eventually(async () => (await s.conversations(inboxId))[0] ?? null, 'conversation from IMAP', 15_000);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(10_000);
    convId = conv.id;
    expect(conv).toMatchObject({ channel: 'email', subject: '订单问题 Order #4471', contactName: '王芳', status: 'open' });
    const [m] = await s.messages(convId);
    expect(m).toMatchObject({ direction: 'in', kind: 'email', text: '你好，我的订单 #4471 还没有发货。' });
    const email = m!.meta.email as { messageId: string; html: string };
    expect(email.messageId).toBe(customerMessageId);
    expect(email.html).toContain('<b>#4471</b>');
    expect(email.html).not.toMatch(/script|tracker\.example|javascript:/);
    expect(m!.attachments).toHaveLength(1);
    expect(m!.attachments[0]).toMatchObject({ name: '发票.txt', mime: 'text/plain', size: Buffer.byteLength('invoice 4471 发票') });
    const dl = await fetch(`${s.url}/api/v1/attachments/${m!.attachments[0]!.id}`, { headers: { authorization: `Bearer ${s.token}` } });
    expect(dl.status).toBe(200);
    expect(await dl.text()).toBe('invoice 4471 发票');
    expect((await fetch(`${s.url}/api/v1/attachments/${m!.attachments[0]!.id}`)).status).toBe(401);
    // The attachment row and the thread's Message-ID were written with the message, bound to it.
    expect(await s.count('SELECT COUNT(*) AS n FROM attachments WHERE id = ? AND message_id = ?', [m!.attachments[0]!.id, m!.id])).toBe(1);
    expect(await s.count("SELECT COUNT(*) AS n FROM email_message_ids WHERE header_id = ? AND message_id = ? AND direction = 'in'", [customerMessageId, m!.id])).toBe(1);

    // The automatic acknowledgement reaches the customer, marked as automatic.
    const ack = await waitMail('customer', (x) => x.text?.includes('we received your message') ?? false, 'auto-reply');
    expect(ack.headers.get('auto-submitted')).toBe('auto-replied');
    expect(ack.inReplyTo).toBe(customerMessageId);
    // An acknowledgement is not an answer: the customer still waits.
    expect((await s.conversation(convId))!.waitingSince).not.toBeNull();
  });

  it("the agent's reply lands in the customer's mailbox with the thread headers", async () => {
    const r = await s.reply(convId, '您好，订单已于今天发货。Your order shipped today.');
    expect(r.status).toBe(201);
    replyId = r.body.id;
    const got = await waitMail('customer', (x) => x.messageId === `<${replyId}@lab.test>`, 'reply in the customer mailbox');
    expect(got.inReplyTo).toBe(customerMessageId);
    const refs = Array.isArray(got.references) ? got.references : [got.references];
    expect(refs).toContain(customerMessageId);
    // Outgoing mail names its ticket ([#n], issue 10); the customer's own '#4471' stays as written.
    expect(got.subject).toMatch(/^Re: \[#\d+\] 订单问题 Order #4471$/);
    expect(got.from?.value[0]).toMatchObject({ address: 'agent@lab.test', name: 'Goutong Support' });
    const replyTo = got.replyTo?.value[0]?.address ?? '';
    expect(replyTo).toMatch(/^agent\+[a-z2-7]{16}@lab\.test$/);
    expect(got.text).toContain('订单已于今天发货');
    const m = await eventually(async () => {
      const x = await s.message(replyId);
      return x?.status === 'accepted' ? x : null;
    }, 'accepted');
    expect(m.meta.cost).toEqual({ amount: 0, currency: 'USD', units: 1 });
  });

  it("the customer's reply joins the same conversation (by headers, by token alone)", async () => {
    const original = (await mailbox('customer')).find((x) => x.messageId === `<${replyId}@lab.test>`)!;
    const replyTo = original.replyTo!.value[0]!.address!;
    await smtp.sendMail({
      from: { name: '王芳', address: 'customer@lab.test' },
      to: replyTo,
      subject: `Re: ${original.subject}`,
      text: '谢谢！什么时候能到？\n\n> 您好，订单已于今天发货。',
      inReplyTo: original.messageId!,
      references: [customerMessageId, original.messageId!],
    });
    await eventually(async () => (await s.messages(convId)).filter((x) => x.direction === 'in').length === 2, 'reply joined', 15_000);
    const joined = (await s.messages(convId)).filter((x) => x.direction === 'in')[1]!;
    expect(joined.text).toContain('什么时候能到');
    expect((joined.meta.email as { threadedBy: string }).threadedBy).toBe('token');
    // A mail client that dropped the headers and changed the subject: the token still threads it.
    await smtp.sendMail({ from: 'customer@lab.test', to: replyTo, subject: 'another question', text: 'Can I change the address?' });
    // In-Reply-To alone (sent to the plain address).
    await smtp.sendMail({ from: 'customer@lab.test', to: 'agent@lab.test', subject: 'unrelated words', text: 'One more thing', inReplyTo: original.messageId! });
    await eventually(async () => (await s.messages(convId)).filter((x) => x.direction === 'in').length === 4, 'both joined', 15_000);
    const byWhat = (await s.messages(convId)).filter((x) => x.direction === 'in').map((x) => (x.meta.email as { threadedBy?: string }).threadedBy);
    expect(byWhat.slice(2).sort()).toEqual(['in-reply-to', 'token']);
    expect(await s.conversations(inboxId)).toHaveLength(1);
  });

  it('a bounce marks the reply failed with the reason', async () => {
    await smtp.sendMail({ from: 'ghost@lab.test', to: 'agent@lab.test', subject: 'hello from ghost', text: 'hi' });
    const conv = await eventually(async () => (await s.conversations(inboxId)).find((c) => c.subject === 'hello from ghost') ?? null, 'ghost conversation', 15_000);
    const r = await s.reply(conv.id, 'Hello ghost');
    const failed = await eventually(async () => {
      const x = await s.message(r.body.id);
      return x?.status === 'failed' ? x : null;
    }, 'bounce marks failed', 20_000);
    expect(failed.statusReason).toMatch(/^bounced: 5\.1\.1/);
    expect(failed.meta.bounce).toMatchObject({ action: 'failed', status: '5.1.1', recipient: 'ghost@lab.test' });
    // The bounce itself is not a conversation.
    expect((await s.conversations(inboxId)).some((c) => /undelivered/i.test(c.subject ?? ''))).toBe(false);
  });

  it('auto-submitted mail (out of office) gets no auto-reply', async () => {
    await smtp.sendMail({
      from: 'colleague@lab.test',
      to: 'agent@lab.test',
      subject: 'Out of office: back Monday',
      text: 'I am away until Monday.',
      headers: { 'Auto-Submitted': 'auto-replied' },
    });
    const conv = await eventually(async () => (await s.conversations(inboxId)).find((c) => c.subject?.startsWith('Out of office')) ?? null, 'OOF stored', 15_000);
    const msgs = await s.messages(conv.id);
    expect(msgs).toHaveLength(1);
    expect(msgs[0]!.meta.autoSubmitted).toBe('Auto-Submitted: auto-replied');
    // An agent's reply goes out through the same relay after anything queued at ingest: once it is
    // in the colleague's mailbox, an auto-reply would be there too.
    await s.reply(conv.id, 'marker: a real answer');
    await waitMail('colleague', (x) => x.text?.includes('marker: a real answer') ?? false, 'the agent reply');
    const got = await mailbox('colleague');
    expect(got.map((x) => x.text?.trim())).toEqual(['marker: a real answer']);
  });

  it('a reply to a resolved conversation reopens it within the window, otherwise (or once closed) starts a new linked one', async () => {
    const resolve = (id: string) => s.admin('PATCH', `/api/v1/conversations/${id}`, { status: 'resolved' });
    expect((await resolve(convId)).status).toBe(200);
    await smtp.sendMail({ from: 'customer@lab.test', to: 'agent@lab.test', subject: 'Re: 订单问题 Order #4471', text: 'It has not arrived yet.', inReplyTo: `<${replyId}@lab.test>` });
    await eventually(async () => (await s.conversation(convId))?.status === 'open', 'reopened', 15_000);
    expect((await s.messages(convId)).at(-1)!.meta.reopened).toBe(true);

    expect((await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, { config: { reopenWindowHours: 0 } })).status).toBe(200);
    expect((await resolve(convId)).status).toBe(200);
    const before = (await s.conversations(inboxId)).length;
    await smtp.sendMail({ from: 'customer@lab.test', to: 'agent@lab.test', subject: 'Re: 订单问题 Order #4471', text: 'A new problem with the same order.', inReplyTo: `<${replyId}@lab.test>` });
    const fresh = await eventually(async () => {
      const all = await s.conversations(inboxId);
      return all.length > before ? all[all.length - 1]! : null;
    }, 'new linked conversation', 15_000);
    expect((await s.conversation(convId))!.status).toBe('resolved');
    const [first] = await s.messages(fresh.id);
    expect(first!.meta.previousConversationId).toBe(convId);
    const link = await s.server.db.one<{ previous_conversation_id: string }>('SELECT previous_conversation_id FROM conversation_links WHERE conversation_id = ?', [fresh.id]);
    expect(link?.previous_conversation_id).toBe(convId);

    // Closed is final (the lifecycle's rule, core joinsConversation): within the window too, a reply starts a new linked conversation.
    expect((await s.admin('PATCH', `/api/v1/inboxes/${inboxId}`, { config: { reopenWindowHours: 168 } })).status).toBe(200);
    expect((await s.admin('PATCH', `/api/v1/conversations/${convId}`, { status: 'closed' })).status).toBe(200);
    const count = (await s.conversations(inboxId)).length;
    await smtp.sendMail({ from: 'customer@lab.test', to: 'agent@lab.test', subject: 'Re: 订单问题 Order #4471', text: 'Writing after it was closed.', inReplyTo: `<${replyId}@lab.test>` });
    const after = await eventually(async () => {
      const all = await s.conversations(inboxId);
      return all.length > count ? all[all.length - 1]! : null;
    }, 'a new conversation after the closed one', 15_000);
    expect((await s.conversation(convId))!.status).toBe('closed');
    expect((await s.messages(after.id))[0]!.meta.previousConversationId).toBe(convId);
  });

  it('the mailbox watcher reconnects with backoff after the IMAP server went away, and takes the mail that arrived meanwhile', async () => {
    const { activeWatchers } = await import('../../src/channels/email/imap.js');
    const w = activeWatchers.get(inboxId)!;
    expect(w.status.state).toBe('connected');
    const connects = w.status.connects;
    await dovecot.down();
    await eventually(() => w.status.state === 'backoff', 'watcher notices the drop', 15_000);
    // At least one reconnect failed while the server was away (connection refused).
    await eventually(() => /ECONNREFUSED|refused/i.test(w.status.lastError ?? ''), 'a refused reconnect', 15_000);
    await dovecot.up();
    // Mail delivered right after the server is back (LMTP), while the watcher may still be backing off.
    await smtp.sendMail({ from: 'customer@lab.test', to: 'agent@lab.test', subject: 'after the outage', text: 'are you there?' });
    await eventually(async () => (await s.conversations(inboxId)).some((c) => c.subject === 'after the outage'), 'mail after reconnect', 20_000);
    expect(w.status.connects).toBeGreaterThan(connects);
    expect(w.status.state).toBe('connected');
  });

  it('the same mail seen twice is stored once', async () => {
    const raw = `From: customer@lab.test\r\nTo: agent@lab.test\r\nSubject: twice\r\nMessage-ID: <twice-1@lab.test>\r\nDate: ${new Date().toUTCString()}\r\n\r\nsame mail\r\n`;
    const c = new ImapFlow({ host: '127.0.0.1', port: dovecot.imapPort, secure: false, auth: { user: 'agent', pass: 'secret' }, logger: false });
    await c.connect();
    await c.append('INBOX', raw);
    const second = await c.append('INBOX', raw);
    await c.logout();
    expect(second && second.uid).toBeTruthy();
    await eventually(async () => (await s.conversations(inboxId)).some((x) => x.subject === 'twice'), 'stored', 15_000);
    // The watcher has taken both copies (its last UID reached the second one).
    const { activeWatchers } = await import('../../src/channels/email/imap.js');
    await eventually(() => activeWatchers.get(inboxId)!.status.lastUid >= (second ? second.uid ?? 0 : 0), 'both copies read', 15_000);
    expect(await s.count("SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND external_id = '<twice-1@lab.test>'", [inboxId])).toBe(1);
  });
});
