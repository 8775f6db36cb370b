import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChannelServer, type ChannelServer } from './support.js';
import { recordMessageId } from '../../src/domain/threading.js';

describe.each([['sqlite'], ['postgres']] as const)('inbound ingest (%s)', (dialect) => {
  let s: ChannelServer;
  let inboxId = '';
  beforeAll(async () => {
    s = await startChannelServer({ dialect });
    inboxId = await s.createInbox({ name: 'API', channel: 'api', provider: 'api', config: {}, secrets: {} });
  }, 60_000);
  afterAll(async () => s?.close());

  it('inbound attachments and side rows commit with the message, all or nothing', async () => {
    const inbox = (await s.server.workspace.inbox(s.tenant.tenantId, inboxId))!;
    const bytes = crypto.randomBytes(1000);
    const staged = s.server.attachments.stage(s.tenant.tenantId, bytes, { name: 'scan.pdf', mime: 'application/pdf' });
    const att = { id: staged.id, name: staged.name, mime: staged.mime, size: staged.size, sha256: staged.sha256 };
    const headerId = `<${crypto.randomUUID()}@customer.example>`;
    const input = { externalId: 'tx-1', from: { identifier: 'alice' }, text: 'with a file', stagedAttachments: [att] };

    // A side row that fails takes the message and the attachment row with it.
    await expect(
      s.server.workspace.ingestInbound(inbox, {
        ...input,
        sideRows: async () => {
          throw new Error('side row failed');
        },
      }),
    ).rejects.toThrow('side row failed');
    expect(await s.count('SELECT COUNT(*) AS n FROM messages WHERE inbox_id = ? AND external_id = ?', [inboxId, 'tx-1'])).toBe(0);
    expect(await s.count('SELECT COUNT(*) AS n FROM attachments WHERE id = ?', [att.id])).toBe(0);

    // The provider's retry stores all of it at once: the attachment row bound to its message, the side row with it.
    const res = await s.server.workspace.ingestInbound(inbox, {
      ...input,
      sideRows: (q, stored) => recordMessageId(q, { inboxId, headerId, conversationId: stored.conversationId, messageId: stored.messageId, direction: 'in' }),
    });
    expect(res.duplicate).toBe(false);
    expect(res.message.attachments).toEqual([att]);
    expect(await s.count('SELECT COUNT(*) AS n FROM attachments WHERE id = ? AND message_id = ? AND tenant_id = ?', [att.id, res.message.id, s.tenant.tenantId])).toBe(1);
    expect(await s.count('SELECT COUNT(*) AS n FROM email_message_ids WHERE header_id = ? AND message_id = ?', [headerId, res.message.id])).toBe(1);
    expect((await s.server.attachments.bytes(s.tenant.tenantId, att.id))!.equals(bytes)).toBe(true);

    // A duplicate delivery writes no second row.
    const again = await s.server.workspace.ingestInbound(inbox, { ...input, stagedAttachments: [{ ...att, id: crypto.randomUUID() }] });
    expect(again.duplicate).toBe(true);
    expect(await s.count('SELECT COUNT(*) AS n FROM attachments WHERE sha256 = ?', [att.sha256])).toBe(1);
  });
});
