// The SIP endpoint's codec and dialogs against a raw UDP peer: parsing (compact and folded headers),
// SDP answer (PCMA when offered first, 488 without G.711), 200 retransmitted until the ACK, SIP INFO
// DTMF, BYE both ways along the Record-Route, RTP header fields, and digest authentication of
// REGISTER against a challenging registrar.
import crypto from 'node:crypto';
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { SipEndpoint, infoDigit, type SipCall } from '../../src/voice/endpoint.js';
import { header, headerAll, parseSdp, parseSip, serializeSip, type SipRequest } from '../../src/voice/sip.js';
import { parseRtp, parseTelephoneEvent, rtpPacket } from '../../src/voice/rtp.js';

class RawPeer {
  readonly got: ReturnType<typeof parseSip>[] = [];
  readonly rtp: Buffer[] = [];
  sock = dgram.createSocket('udp4');
  media = dgram.createSocket('udp4');
  port = 0;
  mediaPort = 0;
  async open() {
    this.sock.on('message', (b) => this.got.push(parseSip(b)));
    this.media.on('message', (b) => this.rtp.push(b));
    await new Promise<void>((r) => this.sock.bind(0, '127.0.0.1', () => r()));
    await new Promise<void>((r) => this.media.bind(0, '127.0.0.1', () => r()));
    this.port = this.sock.address().port;
    this.mediaPort = this.media.address().port;
  }
  send(text: string, port: number) {
    this.sock.send(Buffer.from(text.replace(/\n/g, '\r\n')), port, '127.0.0.1');
  }
  async wait<T>(pick: () => T | undefined, ms = 5000): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = pick();
      if (v !== undefined) return v;
      if (Date.now() > end) throw new Error(`timed out; got ${this.got.map((m) => (m.kind === 'request' ? m.method : m.status)).join(',')}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  close() {
    this.sock.close();
    this.media.close();
  }
}

const invite = (peer: RawPeer, ep: number, callId: string, m = '8 0 101', rtpmap = 'a=rtpmap:8 PCMA/8000\na=rtpmap:0 PCMU/8000\na=rtpmap:101 telephone-event/8000') => {
  const sdp = `v=0\no=x 1 1 IN IP4 127.0.0.1\ns=-\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio ${peer.mediaPort} RTP/AVP ${m}\n${rtpmap}\n`.replace(/\n/g, '\r\n');
  peer.send(
    `INVITE sip:ivr@127.0.0.1:${ep} SIP/2.0\nv: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-${callId}\nRecord-Route: <sip:127.0.0.1:${peer.port};lr;ftag=abc>\nf: "Li Lei" <sip:13900139000@lab.test>;tag=abc\nt: <sip:ivr@lab.test>\ni: ${callId}\nCSeq: 1 INVITE\nm: <sip:13900139000@127.0.0.1:${peer.port}>\nSubject: a folded\n  header\nc: application/sdp\nl: ${Buffer.byteLength(sdp)}\n\n` + sdp.replace(/\r\n/g, '\n'),
    ep,
  );
};

let cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function setup() {
  const ep = new SipEndpoint({ host: '127.0.0.1', port: 0, user: 'ivr' });
  await ep.start();
  const peer = new RawPeer();
  await peer.open();
  cleanup.push(() => ep.stop(), () => peer.close());
  return { ep, peer };
}

describe('SIP codec', () => {
  it('parses compact and folded headers, and serializes with a right Content-Length', () => {
    const m = parseSip(Buffer.from('INFO sip:a@b SIP/2.0\r\ni: x1\r\nSubject: one\r\n two\r\nc: application/dtmf\r\nl: 1\r\n\r\n5'));
    expect(m.kind).toBe('request');
    expect(header(m, 'Call-ID')).toBe('x1');
    expect(header(m, 'subject')).toBe('one two');
    expect(infoDigit(m as SipRequest)).toBe('5');
    expect(infoDigit({ ...(m as SipRequest), headers: [['content-type', 'application/dtmf-relay']], body: 'Signal=11\r\nDuration=160' })).toBe('#');
    expect(infoDigit({ ...(m as SipRequest), headers: [['content-type', 'text/plain']], body: '5' })).toBeNull();
    const again = parseSip(serializeSip({ kind: 'response', status: 200, reason: 'OK', headers: [['record-route', '<sip:a;lr>, <sip:b;lr>']], body: '體' }));
    expect(again.body).toBe('體');
    expect(headerAll(again, 'record-route')).toEqual(['<sip:a;lr>', '<sip:b;lr>']);
    expect(parseSdp('v=0\r\nc=IN IP4 10.0.0.1\r\nm=video 9 RTP/AVP 96\r\nm=audio 4000 RTP/AVP 0\r\n')).toMatchObject({ address: '10.0.0.1', port: 4000, payloads: [0] });
  });

  it('reads RTP headers with CSRCs, an extension and padding', () => {
    const base = rtpPacket({ payloadType: 101, marker: true, seq: 65535, timestamp: 2 ** 32 - 1, ssrc: 0xdeadbeef, payload: Buffer.from([2, 0x8a, 0x01, 0xe0]) });
    const withExtras = Buffer.concat([Buffer.from([0x80 | 0x20 | 0x10 | 1, base[1]!]), base.subarray(2, 12), Buffer.alloc(4, 7), Buffer.from([0xbe, 0xde, 0, 1]), Buffer.alloc(4), base.subarray(12), Buffer.from([0, 0, 3])]);
    const p = parseRtp(withExtras)!;
    expect(p).toMatchObject({ payloadType: 101, marker: true, seq: 65535, timestamp: 2 ** 32 - 1, ssrc: 0xdeadbeef });
    expect(parseTelephoneEvent(p.payload)).toEqual({ event: 2, end: true, volume: 10, duration: 480 });
    expect(parseRtp(Buffer.from([0x40, 0, 0]))).toBeNull();
  });
});

describe('SIP endpoint dialogs', () => {
  it('answers with PCMA when offered first, retransmits the 200 until the ACK, takes INFO DTMF and a BYE', async () => {
    const { ep, peer } = await setup();
    const calls: SipCall[] = [];
    ep.on('call', (c) => calls.push(c));
    const callId = crypto.randomUUID();
    invite(peer, ep.port, callId);
    await peer.wait(() => (peer.got.filter((m) => m.kind === 'response' && m.status === 200).length >= 2 ? true : undefined), 3000);
    const ok = peer.got.find((m) => m.kind === 'response' && m.status === 200)!;
    expect(header(ok, 'record-route')).toBe(`<sip:127.0.0.1:${peer.port};lr;ftag=abc>`);
    expect(header(ok, 'to')).toMatch(/;tag=[0-9a-f]+$/);
    const answer = parseSdp(ok.body)!;
    expect([...answer.rtpmap]).toEqual([[8, 'PCMA/8000'], [101, 'TELEPHONE-EVENT/8000']]);
    const call = calls[0]!;
    expect(call.from).toEqual({ user: '13900139000', displayName: 'Li Lei', uri: 'sip:13900139000@lab.test' });
    const toTag = /tag=([0-9a-f]+)/.exec(header(ok, 'to')!)![1];
    peer.send(`ACK sip:ivr@127.0.0.1:${ep.port} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-ack\nFrom: <sip:13900139000@lab.test>;tag=abc\nTo: <sip:ivr@lab.test>;tag=${toTag}\nCall-ID: ${callId}\nCSeq: 1 ACK\nContent-Length: 0\n\n`, ep.port);
    const digits: string[] = [];
    call.on('dtmf', (d, via) => digits.push(`${d}:${via}`));
    const info = (cseq: number, signal: string) => `INFO sip:ivr@127.0.0.1:${ep.port} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-info${cseq}\nFrom: <sip:13900139000@lab.test>;tag=abc\nTo: <sip:ivr@lab.test>;tag=${toTag}\nCall-ID: ${callId}\nCSeq: ${cseq} INFO\nContent-Type: application/dtmf-relay\nContent-Length: 22\n\nSignal=${signal}\nDuration=160\n`;
    peer.send(info(2, '2'), ep.port);
    await peer.wait(() => (digits.length ? true : undefined));
    expect(digits).toEqual(['2:info']);
    // a retransmitted INFO (same CSeq) is the same key press; the next INFO is a new one
    peer.send(info(2, '2'), ep.port);
    peer.send(info(3, '4'), ep.port);
    await peer.wait(() => (digits.length >= 2 ? true : undefined));
    expect(digits).toEqual(['2:info', '4:info']);
    // audio goes to the offered media port as PCMA
    await call.rtp.play(new Int16Array(320).fill(1000));
    await peer.wait(() => (peer.rtp.length >= 2 ? true : undefined));
    expect(parseRtp(peer.rtp[0]!)!.payloadType).toBe(8);
    const ended = new Promise((r) => call.once('ended', r));
    peer.send(`BYE sip:ivr@127.0.0.1:${ep.port} SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:${peer.port};branch=z9hG4bK-bye\nFrom: <sip:13900139000@lab.test>;tag=abc\nTo: <sip:ivr@lab.test>;tag=${toTag}\nCall-ID: ${callId}\nCSeq: 3 BYE\nContent-Length: 0\n\n`, ep.port);
    expect(await ended).toBe('remote');
    await peer.wait(() => peer.got.find((m) => m.kind === 'response' && header(m, 'cseq') === '3 BYE' && m.status === 200));
    const resent = peer.got.filter((m) => m.kind === 'response' && m.status === 200 && header(m, 'cseq') === '1 INVITE').length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(peer.got.filter((m) => m.kind === 'response' && m.status === 200 && header(m, 'cseq') === '1 INVITE').length).toBe(resent);
  });

  it('refuses an offer without G.711 (488), and hangs up along the Record-Route', async () => {
    const { ep, peer } = await setup();
    invite(peer, ep.port, 'no-g711', '18', 'a=rtpmap:18 G729/8000');
    await peer.wait(() => peer.got.find((m) => m.kind === 'response' && m.status === 488));
    const calls: SipCall[] = [];
    ep.on('call', (c) => calls.push(c));
    invite(peer, ep.port, 'hangup-1', '0 101', 'a=rtpmap:101 telephone-event/8000');
    await peer.wait(() => (calls.length ? true : undefined));
    const hang = calls[0]!.hangup();
    // the BYE comes to the first Record-Route hop (the peer here), addressed to the caller's Contact
    const bye = await peer.wait(() => peer.got.find((m): m is SipRequest => m.kind === 'request' && m.method === 'BYE'));
    expect(bye.uri).toBe(`sip:13900139000@127.0.0.1:${peer.port}`);
    expect(header(bye, 'route')).toBe(`<sip:127.0.0.1:${peer.port};lr;ftag=abc>`);
    expect(header(bye, 'to')).toBe('"Li Lei" <sip:13900139000@lab.test>;tag=abc');
    peer.send(serializeSip({ kind: 'response', status: 200, reason: 'OK', headers: bye.headers.filter(([n]) => ['via', 'from', 'to', 'call-id', 'cseq'].includes(n)), body: '' }).toString().replace(/\r\n/g, '\n'), ep.port);
    await hang;
    expect(calls[0]!.ended).toBe(true);
  });

  it('answers a digest challenge of the registrar', async () => {
    const reg = dgram.createSocket('udp4');
    await new Promise<void>((r) => reg.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => reg.close());
    const nonce = crypto.randomBytes(8).toString('hex');
    let authorized = '';
    reg.on('message', (b, rinfo) => {
      const m = parseSip(b) as SipRequest;
      const base = ['via', 'from', 'to', 'call-id', 'cseq'].map((n) => `${n}: ${header(m, n)}`).join('\r\n');
      const auth = header(m, 'authorization');
      let status = '401 Unauthorized\r\nWWW-Authenticate: Digest realm="lab.test", nonce="' + nonce + '", qop="auth", algorithm=MD5';
      if (auth) {
        const p = (k: string) => new RegExp(`${k}="?([^",]+)"?`).exec(auth)![1]!;
        const md5 = (s: string) => crypto.createHash('md5').update(s).digest('hex');
        const expected = md5(`${md5('ivr:lab.test:s3cret')}:${nonce}:${p('nc')}:${p('cnonce')}:auth:${md5(`REGISTER:${p('uri')}`)}`);
        if (p('response') === expected && p('username') === 'ivr') {
          status = '200 OK';
          authorized = auth;
        } else status = '403 Forbidden';
      }
      reg.send(Buffer.from(`SIP/2.0 ${status}\r\n${base}\r\nContent-Length: 0\r\n\r\n`), rinfo.port, rinfo.address);
    });
    const ep = new SipEndpoint({ host: '127.0.0.1', port: 0, user: 'ivr', registrar: { host: '127.0.0.1', port: reg.address().port, domain: 'lab.test', password: 's3cret' } });
    const registered = new Promise<void>((r) => ep.once('registered', () => r()));
    await ep.start();
    cleanup.push(() => ep.stop());
    await registered;
    expect(ep.registered).toBe(true);
    expect(authorized).toMatch(/^Digest username="ivr", realm="lab.test"/);
  });
});

describe('RTP recording', () => {
  it('puts reordered packets back in sequence (across the 16-bit wrap) and drops repeats', async () => {
    const { RtpSession } = await import('../../src/voice/rtp.js');
    const { decodeG711, encodeG711 } = await import('../../src/voice/audio.js');
    const rtp = new RtpSession('127.0.0.1', { address: '127.0.0.1', port: 9 }, 'PCMU', 0, 101);
    const port = await rtp.open();
    cleanup.push(() => rtp.close());
    const sock = dgram.createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => sock.close());
    rtp.startRecording();
    const frame = (v: number) => encodeG711('PCMU', new Int16Array(160).fill(v));
    const seqs = [65534, 0, 65535, 1, 0];
    for (const [i, seq] of seqs.entries()) {
      const v = { 65534: 1000, 65535: 2000, 0: 3000, 1: 4000 }[seq]!;
      sock.send(rtpPacket({ payloadType: 0, marker: i === 0, seq, timestamp: 0, ssrc: 1, payload: frame(v) }), port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 5));
    }
    const end = Date.now() + 2000;
    while (rtp.received < seqs.length && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
    const pcm = rtp.stopRecording();
    expect(pcm.length).toBe(4 * 160);
    const levels = [0, 1, 2, 3].map((i) => pcm[i * 160]!);
    expect(levels).toEqual([1000, 2000, 3000, 4000].map((v) => decodeG711('PCMU', encodeG711('PCMU', [v]))[0]));
  });
});
