import dgram from 'node:dgram';
import { header, newBranch, newCallId, newTag, parseSip, responseTo, serializeSip, type SipRequest } from '../../src/voice/sip.js';

/**
 * An agent's phone that rings and is never picked up: registers `user`@lab.test with Kamailio,
 * answers INVITE with 180 Ringing, and a CANCEL with 200 and the INVITE with 487 (RFC 3261 §9.2).
 */
export class RingingPhone {
  readonly invites: SipRequest[] = [];
  cancels = 0;
  private readonly socket = dgram.createSocket('udp4');
  private port = 0;
  private readonly tag = newTag();
  private readonly callId = newCallId('127.0.0.1');
  private cseq = 0;
  private registered: (() => void) | null = null;

  constructor(private readonly user: string, private readonly registrar: { host: string; port: number }) {}

  async start(): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(0, '127.0.0.1', () => r()));
    this.port = this.socket.address().port;
    this.socket.on('message', (b, rinfo) => {
      const m = parseSip(b);
      const to = { address: rinfo.address, port: rinfo.port };
      if (m.kind === 'response') {
        if (/REGISTER/.test(header(m, 'cseq') ?? '') && m.status === 200) this.registered?.();
        return;
      }
      if (m.method === 'INVITE') {
        if (!this.invites.some((i) => header(i, 'call-id') === header(m, 'call-id'))) this.invites.push(m);
        this.send(responseTo(m, 180, 'Ringing', { toTag: this.tag, headers: [['contact', `<sip:${this.user}@127.0.0.1:${this.port}>`]] }), to);
      } else if (m.method === 'CANCEL') {
        this.cancels++;
        this.send(responseTo(m, 200, 'OK', { toTag: this.tag }), to);
        const invite = this.invites.find((i) => header(i, 'call-id') === header(m, 'call-id'));
        if (invite) this.send(responseTo(invite, 487, 'Request Terminated', { toTag: this.tag }), to);
      } else if (m.method !== 'ACK') {
        this.send(responseTo(m, 200, 'OK', { toTag: this.tag }), to);
      }
    });
    await this.register(300);
  }

  private send(m: Parameters<typeof serializeSip>[0], to: { address: string; port: number }): void {
    this.socket.send(serializeSip(m), to.port, to.address);
  }

  private async register(expires: number): Promise<void> {
    const aor = `sip:${this.user}@lab.test`;
    const done = new Promise<void>((r) => (this.registered = r));
    this.send(
      {
        kind: 'request', method: 'REGISTER', uri: 'sip:lab.test',
        headers: [
          ['via', `SIP/2.0/UDP 127.0.0.1:${this.port};rport;branch=${newBranch()}`], ['max-forwards', '70'], ['from', `<${aor}>;tag=${this.tag}`], ['to', `<${aor}>`],
          ['call-id', this.callId], ['cseq', `${++this.cseq} REGISTER`], ['contact', `<sip:${this.user}@127.0.0.1:${this.port}>`], ['expires', String(expires)],
        ],
        body: '',
      },
      this.registrar,
    );
    await Promise.race([done, new Promise((_, rej) => setTimeout(() => rej(new Error(`${this.user}: REGISTER not answered`)), 10_000))]);
  }

  async stop(): Promise<void> {
    await this.register(0).catch(() => undefined);
    this.socket.close();
  }
}
