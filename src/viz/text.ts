// Text that goes into DOT and SVG. Names and attributes in the IR may hold any string
// (kernel names are free text), but XML 1.0 forbids control characters and lone UTF-16
// surrogates even as character references, and Graphviz copies label text straight into
// its SVG. So text is first made printable (controls shown as their Unicode "control
// pictures"), then escaped for the syntax it lands in.

/** Printable, well-formed text: C0 controls -> U+2400.., DEL -> U+2421; C1 controls, lone surrogates and U+FFFE/U+FFFF -> U+FFFD. */
export function printable(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20) out += String.fromCharCode(0x2400 + c);
    else if (c === 0x7f) out += '\u2421';
    else if (c >= 0x80 && c <= 0x9f) out += '\ufffd';
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else out += '\ufffd';
    } else if (c >= 0xdc00 && c <= 0xdfff) out += '\ufffd';
    else if (c === 0xfffe || c === 0xffff) out += '\ufffd';
    else out += s[i];
  }
  return out;
}

/** Escapes for XML text and attribute values (and Graphviz HTML-like labels, which are XML). */
export function xmlEscape(s: string): string {
  return printable(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/**
 * A DOT double-quoted string. Backslashes are doubled because Graphviz reads escape
 * sequences (\N, \G, \n, ...) in labels and tooltips; `&` becomes `&amp;` because it
 * decodes entities there too.
 */
export function dotString(s: string): string {
  return `"${printable(s).replace(/[\\"]/g, (c) => `\\${c}`).replace(/&/g, '&amp;')}"`;
}

/** A number as SVG/DOT coordinates: at most 2 decimals, no "-0", no exponent. */
export function num(x: number): string {
  const r = Math.round(x * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

/** A fraction as a percentage with one decimal: 0.5 -> "50.0%". */
export function percent(fraction: number): string {
  return `${(100 * fraction).toFixed(1)}%`;
}
