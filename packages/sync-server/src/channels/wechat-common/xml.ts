/*
 * A small strict parser for the XML WeChat and WeCom post: one `<xml>` root whose children are
 * elements holding text or CDATA, or (a few events: ScanCodeInfo, SendPicsInfo) further elements.
 * No DTD, no entities beyond the five predefined ones and character references, no attributes that
 * matter (they are skipped), no processing instructions except the XML declaration: anything else
 * is refused, so nothing the platform does not send can slip through.
 */

export type XmlValue = string | XmlNode;
export interface XmlNode {
  [name: string]: XmlValue | XmlValue[];
}

export class XmlError extends Error {
  override readonly name = 'XmlError';
}

const MAX_DEPTH = 8;
export const MAX_XML_BYTES = 1_000_000;
const NAME = /[A-Za-z_][A-Za-z0-9_.-]*/y;

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(raw: string, at: number): string {
  return raw.replace(/&(?:([A-Za-z]{1,8}|#x[0-9a-fA-F]{1,6}|#[0-9]{1,7});)?/g, (whole, ent: string | undefined) => {
    if (ent === undefined) throw new XmlError(`a bare & near offset ${at}`);
    if (ent in ENTITIES) return ENTITIES[ent]!;
    if (ent.startsWith('#')) {
      const cp = ent.startsWith('#x') ? parseInt(ent.slice(2), 16) : parseInt(ent.slice(1), 10);
      if (cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff)) return String.fromCodePoint(cp);
    }
    throw new XmlError(`unknown entity ${whole} near offset ${at}`);
  });
}

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(what: string): never {
    throw new XmlError(`${what} at offset ${this.i}`);
  }
  ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }
  startsWith(t: string): boolean {
    return this.s.startsWith(t, this.i);
  }
  name(): string {
    NAME.lastIndex = this.i;
    const m = NAME.exec(this.s);
    if (!m) this.fail('expected a tag name');
    this.i += m[0].length;
    return m[0];
  }
  /** `<name attrs...>` or `<name/>`: returns the name and whether it closed itself. */
  openTag(): { name: string; empty: boolean } {
    if (this.s[this.i] !== '<') this.fail('expected <');
    this.i++;
    const name = this.name();
    // Attributes are not used by WeChat; skip them (quoted values), refuse anything odd.
    for (;;) {
      this.ws();
      if (this.startsWith('/>')) {
        this.i += 2;
        return { name, empty: true };
      }
      if (this.s[this.i] === '>') {
        this.i++;
        return { name, empty: false };
      }
      this.name();
      this.ws();
      if (this.s[this.i] !== '=') this.fail('expected = in an attribute');
      this.i++;
      this.ws();
      const q = this.s[this.i];
      if (q !== '"' && q !== "'") this.fail('expected a quoted attribute value');
      const end = this.s.indexOf(q, this.i + 1);
      if (end < 0) this.fail('unterminated attribute');
      this.i = end + 1;
    }
  }
  comment(): void {
    const end = this.s.indexOf('-->', this.i + 4);
    if (end < 0) this.fail('unterminated comment');
    this.i = end + 3;
  }
  /** The content of an element after its open tag, through its close tag. */
  content(name: string, depth: number): XmlValue {
    if (depth > MAX_DEPTH) this.fail('elements nested too deeply');
    let text = '';
    let node: XmlNode | null = null;
    for (;;) {
      if (this.i >= this.s.length) this.fail(`unterminated <${name}>`);
      if (this.startsWith('<![CDATA[')) {
        const end = this.s.indexOf(']]>', this.i + 9);
        if (end < 0) this.fail('unterminated CDATA');
        text += this.s.slice(this.i + 9, end);
        this.i = end + 3;
      } else if (this.startsWith('<!--')) {
        this.comment();
      } else if (this.startsWith('</')) {
        this.i += 2;
        const close = this.name();
        this.ws();
        if (close !== name || this.s[this.i] !== '>') this.fail(`</${close}> does not close <${name}>`);
        this.i++;
        if (node) {
          if (text.trim()) this.fail(`text mixed with elements in <${name}>`);
          return node;
        }
        return text;
      } else if (this.startsWith('<!') || this.startsWith('<?')) {
        this.fail('declarations and processing instructions are not allowed');
      } else if (this.s[this.i] === '<') {
        const tag = this.openTag();
        const value: XmlValue = tag.empty ? '' : this.content(tag.name, depth + 1);
        node ??= {};
        const prev = node[tag.name];
        if (prev === undefined) node[tag.name] = value;
        else node[tag.name] = Array.isArray(prev) ? [...prev, value] : [prev, value];
      } else {
        const next = this.s.indexOf('<', this.i);
        const end = next < 0 ? this.s.length : next;
        text += decodeText(this.s.slice(this.i, end), this.i);
        this.i = end;
      }
    }
  }
}

/** Parses a WeChat/WeCom XML document; the `<xml>` root's children as an object. */
export function parseWechatXml(input: string): XmlNode {
  if (input.length > MAX_XML_BYTES) throw new XmlError('document too large');
  const p = new Parser(input.replace(/^\uFEFF/, ''));
  p.ws();
  if (p.startsWith('<?xml')) {
    const end = input.indexOf('?>', p.i);
    if (end < 0) p.fail('unterminated XML declaration');
    p.i = end + 2;
  }
  for (;;) {
    p.ws();
    if (p.startsWith('<!--')) p.comment();
    else break;
  }
  if (p.startsWith('<!')) p.fail('a DTD is not allowed');
  const root = p.openTag();
  if (root.name !== 'xml') p.fail(`the root is <${root.name}>, not <xml>`);
  const body = root.empty ? '' : p.content('xml', 1);
  p.ws();
  if (p.i !== p.s.length) p.fail('content after the root element');
  if (typeof body === 'string') {
    if (body.trim()) throw new XmlError('<xml> holds text, not elements');
    return {};
  }
  return body;
}

/** A child's text (the first when repeated), or undefined when absent or not text. */
export function xmlText(node: XmlNode, name: string): string | undefined {
  const v = node[name];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === 'string' ? first : undefined;
}

function cdata(v: string): string {
  // "]]>" cannot appear inside one CDATA section: split it across two.
  return `<![CDATA[${v.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`;
}

/** A flat `<xml>` document; numbers as bare text, strings as CDATA (what the platform writes). */
export function buildWechatXml(fields: Record<string, string | number>): string {
  let out = '<xml>';
  for (const [k, v] of Object.entries(fields)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new XmlError(`bad element name ${k}`);
    out += `<${k}>${typeof v === 'number' ? String(v) : cdata(v)}</${k}>`;
  }
  return `${out}</xml>`;
}
