/**
 * @module The lexical layer of vcdext's XML parser (xml_parse.ts): XML names and characters,
 * the five predefined entities and character references, white space and positions, where
 * markup closes, the linear pre-scan that enforces the document's shape and limits before
 * anything else, and {@linkcode XmlError}. Also the character classes the renderer (xml.ts)
 * checks names and text with.
 */

import { quote } from "./redact.ts";

/**
 * Characters XML 1.0 cannot carry even as character references: C0 controls other than tab,
 * LF and CR, U+FFFE/U+FFFF and lone surrogates (the `u` flag makes the surrogate range match
 * only unpaired halves). Rendering turns lone surrogates into U+FFFD first, as JSON output
 * does, so only the others are dropped there.
 */
export const ILLEGAL_CHARS =
  // deno-lint-ignore no-control-regex
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDFFF]/gu;

/** Characters that may start an XML name (a regular-expression class body, no colon). */
export const NAME_START = "A-Za-z_\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D" +
  "\\u037F-\\u1FFF\\u200C\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF" +
  "\\uFDF0-\\uFFFD";
/** Characters that may follow in an XML name (a regular-expression class body, no colon). */
export const NAME_CHAR = NAME_START + "\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040";

/**
 * Thrown by {@linkcode parseXml} for input it refuses; the message starts with
 * `"Cannot parse XML: "` and says what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseXml, XmlError } from "./xml.ts";
 * assert.throws(() => parseXml("<a>"), XmlError);
 * assert.throws(() => parseXml(""), /^XmlError: Cannot parse XML: the document is empty$/);
 * ```
 */
export class XmlError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "XmlError";
  }
}

/** An element or attribute name of the document, as a message may quote it: cut short. */
export function q(name: string): string {
  return quote(name);
}

/** "element <name>", for messages. */
export function elementOf(qname: string): string {
  return `element <${q(qname)}>`;
}

/** An {@linkcode XmlError} with the `"Cannot parse XML: "` prefix. */
export function fail(detail: string, cause?: unknown): XmlError {
  return new XmlError(`Cannot parse XML: ${detail}`, cause === undefined ? undefined : { cause });
}

/**
 * Where `delimiter` (`-->`, `]]>`, `?>`, `>`) first stands at or after `from`: the end of the
 * markup `what` names, else a "<what> is not closed" {@linkcode XmlError}. Both the pre-scan and
 * the tree builder (xml_parse.ts) find where comments, CDATA sections and the like close with it.
 */
export function closing(text: string, from: number, delimiter: string, what: string): number {
  const at = text.indexOf(delimiter, from);
  if (at === -1) throw fail(`${what} is not closed`);
  return at;
}

/**
 * Linear scan over the raw text, before the tree is built: refuses DTDs and other markup
 * declarations outright, enforces the depth and node limits, and checks there is exactly one
 * root element with nothing but whitespace, comments and processing instructions around it.
 * Structural errors it does not look for (mismatched tags, bad names, bad attributes) are
 * left to the tree builder (xml_parse.ts).
 */
export function preScan(text: string, maxDepth: number, maxNodes: number): void {
  const n = text.length;
  let depth = 0;
  let nodes = 0;
  let roots = 0;
  let i = 0;
  while (i < n) {
    const lt = text.indexOf("<", i);
    const end = lt === -1 ? n : lt;
    if (depth === 0 && end > i && !/^[ \t\r\n]*$/.test(text.slice(i, end))) {
      throw fail("text outside the root element");
    }
    if (lt === -1) break;
    if (text.startsWith("<!--", lt)) {
      i = closing(text, lt + 4, "-->", "comment") + 3;
    } else if (text.startsWith("<![CDATA[", lt)) {
      if (depth === 0) throw fail("CDATA section outside the root element");
      const close = closing(text, lt + 9, "]]>", "CDATA section");
      if (++nodes > maxNodes) throw fail(`more than ${maxNodes} nodes`);
      i = close + 3;
    } else if (text.startsWith("<!", lt)) {
      throw fail(
        text.startsWith("<!DOCTYPE", lt)
          ? "DOCTYPE declarations are not allowed"
          : "markup declarations are not allowed",
      );
    } else if (text.startsWith("<?", lt)) {
      const close = closing(text, lt + 2, "?>", "processing instruction");
      if (lt > 0 && /^<\?xml[ \t\r\n?]/i.test(text.slice(lt, lt + 6))) {
        throw fail("the XML declaration is allowed only at the start of the document");
      }
      i = close + 2;
    } else if (text.startsWith("</", lt)) {
      const close = closing(text, lt + 2, ">", "closing tag");
      if (--depth < 0) throw fail("closing tag without an opening tag");
      i = close + 1;
    } else {
      // Opening or empty-element tag: find its '>' outside quoted attribute values.
      let j = lt + 1;
      for (; j < n; j++) {
        const c = text.charCodeAt(j);
        if (c === 0x22 || c === 0x27) {
          j = text.indexOf(c === 0x22 ? '"' : "'", j + 1);
          if (j === -1) throw fail("attribute value is not closed");
        } else if (c === 0x3e) break;
      }
      if (j >= n) throw fail("tag is not closed");
      if (++nodes > maxNodes) throw fail(`more than ${maxNodes} nodes`);
      if (depth === 0 && ++roots > 1) throw fail("several root elements");
      if (depth + 1 > maxDepth) throw fail(`elements nested deeper than ${maxDepth}`);
      if (text.charCodeAt(j - 1) !== 0x2f) depth++; // not an empty-element tag
      i = j + 1;
    }
  }
  if (roots === 0) throw fail("no root element");
}

const PREDEFINED: ReadonlyMap<string, string> = new Map([
  ["amp", "&"],
  ["lt", "<"],
  ["gt", ">"],
  ["quot", '"'],
  ["apos", "'"],
]);
const REFERENCE = /&(?:#x0*([0-9A-Fa-f]{1,6})|#0*([0-9]{1,7})|([A-Za-z_][\w.-]{0,63}));/y;

function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) ||
    (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

/**
 * Decodes the predefined entities and character references; anything else is an error. The
 * message names `what` of element `name` (built only on failure: the name is quoted).
 */
export function decode(raw: string, what: string, name: string): string {
  let amp = raw.indexOf("&");
  if (amp === -1) return raw;
  let out = "";
  let from = 0;
  while (amp !== -1) {
    REFERENCE.lastIndex = amp;
    const m = REFERENCE.exec(raw);
    if (m === null) {
      throw fail(
        `malformed reference ${JSON.stringify(raw.slice(amp, amp + 10))} in ${what} <${q(name)}>`,
      );
    }
    let value: string | undefined;
    if (m[3] !== undefined) {
      value = PREDEFINED.get(m[3]);
      if (value === undefined) throw fail(`unknown entity "&${m[3]};" in ${what} <${q(name)}>`);
    } else {
      const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2] ?? "", 10);
      if (!isXmlChar(cp)) throw fail(`reference ${JSON.stringify(m[0])} to an illegal character`);
      value = String.fromCodePoint(cp);
    }
    out += raw.slice(from, amp) + value;
    from = amp + m[0].length;
    amp = raw.indexOf("&", from);
  }
  return out + raw.slice(from);
}

/**
 * An XML 1.0 Name, read in place (sticky). Colons are allowed anywhere, as they were before
 * (the prefix is what comes before the first one): stricter QName rules would refuse
 * documents this parser has always accepted.
 */
const NAME = new RegExp(`[:${NAME_START}][:${NAME_CHAR}]*`, "y");
/** XML white space, read in place. */
const SPACE = /[ \t\n\r]*/y;

export /** The XML name at `at`, or `undefined`. */
function nameAt(text: string, at: number): string | undefined {
  NAME.lastIndex = at;
  return NAME.exec(text)?.[0];
}

/** The offset after the white space at `at`. */
export function skipSpace(text: string, at: number): number {
  SPACE.lastIndex = at;
  SPACE.test(text);
  return SPACE.lastIndex;
}

/** Line and column of an offset, for messages. */
export function position(text: string, at: number): string {
  const before = text.slice(0, at);
  const line = before.split("\n").length;
  return `line ${line}, column ${at - before.lastIndexOf("\n")}`;
}
