// A small strict XML 1.0 reader for the tests (no XML package in the project): it
// rejects what a conforming parser rejects in the documents ssmc writes (unbalanced or
// misnested tags, unquoted or duplicate attributes, raw `<` or `&` in text, unknown
// entities, characters XML forbids, `--` inside comments, content after the root) and
// returns the element tree with entities decoded, so tests can query the SVG.

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** Text directly inside the element (entities decoded). */
  text: string;
}

export class XmlError extends Error {}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function checkChars(s: string, at: number): void {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const bad =
      (c < 0x20 && c !== 0x9 && c !== 0xa && c !== 0xd) ||
      c === 0xfffe ||
      c === 0xffff ||
      (c >= 0xd800 && c <= 0xdbff && !(s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) <= 0xdfff)) ||
      (c >= 0xdc00 && c <= 0xdfff && !(s.charCodeAt(i - 1) >= 0xd800 && s.charCodeAt(i - 1) <= 0xdbff));
    if (bad) throw new XmlError(`character U+${c.toString(16)} not allowed in XML at ${at + i}`);
  }
}

function decode(s: string, at: number): string {
  checkChars(s, at);
  if (s.includes('<')) throw new XmlError(`raw '<' at ${at}`);
  return s.replace(/&([^;]*);?/g, (m, body: string, off: number) => {
    if (!m.endsWith(';')) throw new XmlError(`unterminated entity at ${at + off}`);
    if (body in ENTITIES) return ENTITIES[body];
    const num = /^#(?:x([0-9A-Fa-f]+)|([0-9]+))$/.exec(body);
    if (!num) throw new XmlError(`unknown entity &${body}; at ${at + off}`);
    const code = num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2]);
    if (code === 0 || code > 0x10ffff || (code < 0x20 && code !== 9 && code !== 10 && code !== 13) || (code >= 0xd800 && code <= 0xdfff) || code === 0xfffe || code === 0xffff) {
      throw new XmlError(`character reference &${body}; not allowed at ${at + off}`);
    }
    return String.fromCodePoint(code);
  });
}

export function parseXml(src: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new XmlError(`${msg} at ${i}`);
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (!m) fail('expected a name');
    i += m![0].length;
    return m![0];
  };
  const ws = () => {
    while (i < src.length && /[ \t\r\n]/.test(src[i])) i++;
  };
  const misc = () => {
    for (;;) {
      ws();
      if (src.startsWith('<!--', i)) {
        const end = src.indexOf('-->', i + 4);
        if (end < 0) fail('unterminated comment');
        const body = src.slice(i + 4, end);
        if (body.includes('--') || body.endsWith('-')) fail("'--' inside a comment");
        checkChars(body, i);
        i = end + 3;
      } else if (src.startsWith('<?', i)) {
        const end = src.indexOf('?>', i);
        if (end < 0) fail('unterminated processing instruction');
        i = end + 2;
      } else return;
    }
  };
  misc();
  if (src.startsWith('<!DOCTYPE', i)) {
    let depth = 0;
    for (; i < src.length; i++) {
      if (src[i] === '[') depth++;
      else if (src[i] === ']') depth--;
      else if (src[i] === '>' && depth === 0) break;
    }
    if (i >= src.length) fail('unterminated DOCTYPE');
    i++;
    misc();
  }
  if (src[i] !== '<') fail('expected the root element');
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  while (i < src.length) {
    if (stack.length === 0 && root) break;
    if (src.startsWith('<!--', i)) {
      misc();
      continue;
    }
    if (src.startsWith('<![CDATA[', i)) {
      const end = src.indexOf(']]>', i);
      if (end < 0) fail('unterminated CDATA');
      const body = src.slice(i + 9, end);
      checkChars(body, i);
      stack[stack.length - 1].text += body;
      i = end + 3;
      continue;
    }
    if (src.startsWith('<?', i)) {
      misc();
      continue;
    }
    if (src.startsWith('</', i)) {
      i += 2;
      const n = name();
      ws();
      if (src[i] !== '>') fail('expected > after a closing tag');
      i++;
      const open = stack.pop();
      if (!open || open.name !== n) fail(`closing </${n}> does not match <${open?.name}>`);
      continue;
    }
    if (src[i] === '<') {
      i++;
      const n = name();
      const attrs: Record<string, string> = {};
      for (;;) {
        const before = i;
        ws();
        if (src.startsWith('/>', i) || src[i] === '>') break;
        if (i === before) fail('expected whitespace before an attribute');
        const a = name();
        ws();
        if (src[i] !== '=') fail(`expected = after attribute ${a}`);
        i++;
        ws();
        const q = src[i];
        if (q !== '"' && q !== "'") fail(`attribute ${a} is not quoted`);
        const end = src.indexOf(q, i + 1);
        if (end < 0) fail('unterminated attribute value');
        if (Object.hasOwn(attrs, a)) fail(`duplicate attribute ${a}`);
        attrs[a] = decode(src.slice(i + 1, end), i + 1);
        i = end + 1;
      }
      const el: XmlElement = { name: n, attrs, children: [], text: '' };
      if (stack.length) stack[stack.length - 1].children.push(el);
      else if (root) fail('a second root element');
      else root = el;
      if (src.startsWith('/>', i)) i += 2;
      else {
        i++;
        stack.push(el);
      }
      continue;
    }
    const end = src.indexOf('<', i);
    const raw = src.slice(i, end < 0 ? src.length : end);
    if (stack.length === 0) {
      if (raw.trim() !== '') fail('text outside the root element');
    } else stack[stack.length - 1].text += decode(raw, i);
    i += raw.length;
  }
  if (stack.length) fail(`unclosed <${stack[stack.length - 1].name}>`);
  if (!root) fail('no root element');
  misc();
  if (i !== src.length) fail('content after the root element');
  return root!;
}

export function* walkXml(e: XmlElement): Generator<XmlElement> {
  yield e;
  for (const c of e.children) yield* walkXml(c);
}

/** Elements whose class list contains `cls`. */
export function byClass(root: XmlElement, cls: string): XmlElement[] {
  return [...walkXml(root)].filter((e) => (e.attrs.class ?? '').split(/\s+/).includes(cls));
}
