import type http from 'node:http';
import { HttpFake } from './httpFake.js';

/** One outbound webhook of the `api` channel as the receiving system saw it. */
export interface WebhookSend {
  messageId: string;
  conversationId: string;
  text: string;
  idempotencyKey: string | null;
}

/**
 * The receiving end of the `api` channel's outbound webhook: a provider that counts sends. Every
 * POST is recorded (whatever its body) and answered 200 with a provider id.
 */
export class FakeWebhook extends HttpFake {
  readonly sent: WebhookSend[] = [];

  get url(): string {
    return `${this.baseUrl}/hook`;
  }

  /** How many times the provider received this message. */
  sendsOf(messageId: string): number {
    return this.sent.filter((s) => s.messageId === messageId).length;
  }

  protected handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const j = JSON.parse(body.toString('utf8')) as { conversationId?: string; message?: { id?: string; text?: string } };
    const key = req.headers['idempotency-key'];
    this.sent.push({
      messageId: String(j.message?.id ?? ''),
      conversationId: String(j.conversationId ?? ''),
      text: String(j.message?.text ?? ''),
      idempotencyKey: typeof key === 'string' ? key : null,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: `hook-${this.sent.length}` }));
  }
}
