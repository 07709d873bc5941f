/**
 * @module Renders the XML documents vcdext sends (vCloud `Error`, extension registration,
 * blocking task parameters) and parses the XML bodies it receives into a small, safe tree:
 * no DTDs, no entity expansion beyond the five predefined entities and character
 * references, and hard limits on depth and size checked before any recursive work.
 *
 * The parser is vcdext's own single pass over the text. It replaced a fast-xml-parser based
 * one (validate, parse, convert), which took 23 µs for a ticket body where this takes 2.7;
 * `tests/xml_diff_test.ts` holds the two to the same answers on generated documents.
 */

import { quote } from "./redact.ts";

// ---------------------------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------------------------

/** A child of an {@linkcode XmlElement}: an element, text (primitives) or nothing (skipped). */
export type XmlChild = XmlElement | string | number | boolean | null | undefined;

/**
 * An element to render. `name` may carry a prefix (`"vmext:Service"`); namespace declarations
 * are ordinary attributes (`xmlns`, `xmlns:vmext`). Attribute values `undefined`/`null` are
 * omitted; numbers and booleans are stringified. Children `null`/`undefined` are skipped and
 * primitives become text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderXml, type XmlElement } from "./xml.ts";
 * const e: XmlElement = { name: "Right", attrs: { name: "View" }, children: ["Read tickets"] };
 * assert.equal(renderXml(e), '<?xml version="1.0" encoding="UTF-8"?><Right name="View">Read tickets</Right>');
 * ```
 */
export interface XmlElement {
  /** Qualified element name, e.g. `"Error"` or `"vmext:Service"`. */
  readonly name: string;
  /** Attributes in rendering order; `undefined`/`null` values are left out. */
  readonly attrs?: Readonly<Record<string, string | number | boolean | undefined | null>>;
  /** Child elements and text, in order. */
  readonly children?: readonly XmlChild[];
}

/**
 * Builds an {@linkcode XmlElement}; shorthand for nested literals.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { el, renderXml } from "./xml.ts";
 * const doc = el("Ticket", { id: 42, open: true }, el("Message", {}, "disk full"), null);
 * assert.equal(
 *   renderXml(doc),
 *   '<?xml version="1.0" encoding="UTF-8"?><Ticket id="42" open="true"><Message>disk full</Message></Ticket>',
 * );
 * ```
 */
export function el(name: string, attrs?: XmlElement["attrs"], ...children: XmlChild[]): XmlElement {
  return attrs === undefined ? { name, children } : { name, attrs, children };
}

/** The prolog {@linkcode renderXml} puts in front of every document. */
const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';

/**
 * Characters XML 1.0 cannot carry even as character references: C0 controls other than tab,
 * LF and CR, U+FFFE/U+FFFF and lone surrogates (the `u` flag makes the surrogate range match
 * only unpaired halves). Rendering turns lone surrogates into U+FFFD first, as JSON output
 * does, so only the others are dropped there.
 */
// deno-lint-ignore no-control-regex
const ILLEGAL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDFFF]/gu;

const TEXT_ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\r": "&#13;", // a literal CR would be normalized to LF by any parser
  "\n": "&#10;", // in attributes a literal LF or tab would be normalized to a space
  "\t": "&#9;",
};

function escapeText(value: string): string {
  return value.toWellFormed().replace(ILLEGAL_CHARS, "").replace(
    /[&<>"'\r]/g,
    (c) => TEXT_ESCAPES[c] ?? c,
  );
}

function escapeAttr(value: string): string {
  return value.toWellFormed().replace(ILLEGAL_CHARS, "").replace(
    /[&<>"'\r\n\t]/g,
    (c) => TEXT_ESCAPES[c] ?? c,
  );
}

const NAME_START = "A-Za-z_\\u00C0-\\u00D6\\u00D8-\\u00F6\\u00F8-\\u02FF\\u0370-\\u037D" +
  "\\u037F-\\u1FFF\\u200C\\u200D\\u2070-\\u218F\\u2C00-\\u2FEF\\u3001-\\uD7FF\\uF900-\\uFDCF" +
  "\\uFDF0-\\uFFFD";
const NAME_CHAR = NAME_START + "\\-.0-9\\u00B7\\u0300-\\u036F\\u203F\\u2040";
const NCNAME = `[${NAME_START}][${NAME_CHAR}]*`;
/** An XML qualified name: `local` or `prefix:local`. */
const QNAME = new RegExp(`^${NCNAME}(?::${NCNAME})?$`);

function checkName(name: string, what: string): string {
  if (!QNAME.test(name)) {
    throw new TypeError(`Cannot render XML: ${what} name ${JSON.stringify(name)} is not valid`);
  }
  return name;
}

function renderElement(element: XmlElement, out: string[]): void {
  const name = checkName(element.name, "element");
  out.push("<", name);
  for (const [key, value] of Object.entries(element.attrs ?? {})) {
    if (value === undefined || value === null) continue;
    out.push(" ", checkName(key, "attribute"), '="', escapeAttr(String(value)), '"');
  }
  const start = out.length;
  out.push(">");
  for (const c of element.children ?? []) {
    if (c === undefined || c === null) continue;
    if (typeof c === "object") renderElement(c, out);
    else {
      const text = escapeText(String(c));
      if (text !== "") out.push(text);
    }
  }
  if (out.length === start + 1) out[start] = "/>"; // nothing inside: self-close
  else out.push("</", name, ">");
}

/**
 * Renders an element as a compact UTF-8 XML document with the
 * `<?xml version="1.0" encoding="UTF-8"?>` prolog and no pretty printing. `& < > " '` are
 * escaped in text and attributes (CR, and LF and tab in attributes, as character references
 * so they survive parsing); lone surrogates become U+FFFD and the other characters XML 1.0
 * forbids (e.g. U+0000–U+0008) are dropped.
 * Elements without content self-close. Throws `TypeError` on an invalid element or
 * attribute name, so a name can never inject markup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { el, renderXml } from "./xml.ts";
 * const error = el("Error", {
 *   xmlns: "http://www.vmware.com/vcloud/v1.5",
 *   majorErrorCode: 404,
 *   minorErrorCode: "NOT_FOUND",
 *   message: 'no "ticket" <42>',
 * });
 * assert.equal(
 *   renderXml(error),
 *   '<?xml version="1.0" encoding="UTF-8"?><Error xmlns="http://www.vmware.com/vcloud/v1.5"' +
 *     ' majorErrorCode="404" minorErrorCode="NOT_FOUND" message="no &quot;ticket&quot; &lt;42&gt;"/>',
 * );
 * ```
 */
export function renderXml(root: XmlElement): string {
  const out: string[] = [PROLOG];
  renderElement(root, out);
  return out.join("");
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/**
 * A parsed element. `name` is the local name (prefix stripped), `prefix` the prefix as
 * written (`""` when none) and `ns` the namespace URI bound to it by the `xmlns` /
 * `xmlns:p` declarations in scope (`undefined` when unbound). `attrs` holds attributes by
 * local name, namespace declarations excluded (on a clash of local names the later one
 * wins). `text` is the element's own text (character data and CDATA, references decoded)
 * concatenated exactly as written, except that an element with child elements whose text is
 * only whitespace (indentation) has `text` `""`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseXml, type XmlNode } from "./xml.ts";
 * const node: XmlNode = parseXml('<v:Enabled xmlns:v="urn:x" at="1"> true </v:Enabled>');
 * assert.deepEqual(
 *   { name: node.name, prefix: node.prefix, ns: node.ns, attrs: node.attrs, text: node.text },
 *   { name: "Enabled", prefix: "v", ns: "urn:x", attrs: { at: "1" }, text: " true " },
 * );
 * ```
 */
export interface XmlNode {
  /** Local name, e.g. `"Notification"` for `<vmext:Notification>`. */
  readonly name: string;
  /** Prefix as written, `""` when there is none. */
  readonly prefix: string;
  /** Namespace URI in scope for the prefix (or the default namespace), if any. */
  readonly ns: string | undefined;
  /** Attributes by local name, without namespace declarations. */
  readonly attrs: Readonly<Record<string, string>>;
  /** Child elements in document order. */
  readonly children: readonly XmlNode[];
  /** The element's own text; whitespace-only text between child elements is dropped. */
  readonly text: string;
}

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
function q(name: string): string {
  return quote(name);
}

/** "element <name>", for messages. */
function elementOf(qname: string): string {
  return `element <${q(qname)}>`;
}

function fail(detail: string, cause?: unknown): XmlError {
  return new XmlError(`Cannot parse XML: ${detail}`, cause === undefined ? undefined : { cause });
}

/**
 * Limits of {@linkcode parseXml}, checked by a linear scan before anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseXml, type ParseXmlOptions, XmlError } from "./xml.ts";
 * const tight: ParseXmlOptions = { maxDepth: 2, maxNodes: 3 };
 * assert.equal(parseXml("<a><b/><c/></a>", tight).children.length, 2);
 * assert.throws(() => parseXml("<a><b><c/></b></a>", tight), XmlError);
 * assert.throws(() => parseXml("<a><b/><c/><d/></a>", tight), XmlError);
 * ```
 */
export interface ParseXmlOptions {
  /** Most levels of nested elements, the root counting as 1. Default 64. */
  maxDepth?: number;
  /** Most elements (plus CDATA sections) in the document. Default 10,000. */
  maxNodes?: number;
}

const XML_NS = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS = "http://www.w3.org/2000/xmlns/";

/**
 * Linear scan over the raw text, before the tree is built: refuses DTDs and other markup
 * declarations outright, enforces the depth and node limits, and checks there is exactly one
 * root element with nothing but whitespace, comments and processing instructions around it.
 * Structural errors it does not look for (mismatched tags, bad names, bad attributes) are
 * left to {@linkcode build}.
 */
function preScan(text: string, maxDepth: number, maxNodes: number): void {
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
      const close = text.indexOf("-->", lt + 4);
      if (close === -1) throw fail("comment is not closed");
      i = close + 3;
    } else if (text.startsWith("<![CDATA[", lt)) {
      if (depth === 0) throw fail("CDATA section outside the root element");
      const close = text.indexOf("]]>", lt + 9);
      if (close === -1) throw fail("CDATA section is not closed");
      if (++nodes > maxNodes) throw fail(`more than ${maxNodes} nodes`);
      i = close + 3;
    } else if (text.startsWith("<!", lt)) {
      throw fail(
        text.startsWith("<!DOCTYPE", lt)
          ? "DOCTYPE declarations are not allowed"
          : "markup declarations are not allowed",
      );
    } else if (text.startsWith("<?", lt)) {
      const close = text.indexOf("?>", lt + 2);
      if (close === -1) throw fail("processing instruction is not closed");
      if (lt > 0 && /^<\?xml[ \t\r\n?]/i.test(text.slice(lt, lt + 6))) {
        throw fail("the XML declaration is allowed only at the start of the document");
      }
      i = close + 2;
    } else if (text.startsWith("</", lt)) {
      const close = text.indexOf(">", lt + 2);
      if (close === -1) throw fail("closing tag is not closed");
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
function decode(raw: string, what: string, name: string): string {
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

function nameAt(text: string, at: number): string | undefined {
  NAME.lastIndex = at;
  return NAME.exec(text)?.[0];
}

function skipSpace(text: string, at: number): number {
  SPACE.lastIndex = at;
  SPACE.test(text);
  return SPACE.lastIndex;
}

/** Line and column of an offset, for messages. */
function position(text: string, at: number): string {
  const before = text.slice(0, at);
  const line = before.split("\n").length;
  return `line ${line}, column ${at - before.lastIndexOf("\n")}`;
}

type MutableNode = XmlNode & { children: XmlNode[]; text: string };

/**
 * Namespace declarations in scope: an element's own, then its ancestors'. A chain, not a copy
 * per declaring element, so many prefixes declared high up cost nothing per element below
 * (a lookup walks at most the depth limit).
 */
interface Scope {
  readonly own: ReadonlyMap<string, string | undefined>;
  readonly parent: Scope | undefined;
}

function lookup(scope: Scope, prefix: string): string | undefined {
  for (let s: Scope | undefined = scope; s !== undefined; s = s.parent) {
    if (s.own.has(prefix)) return s.own.get(prefix);
  }
  return undefined;
}

interface Open {
  readonly qname: string;
  readonly node: MutableNode;
  readonly scope: Scope;
  text: string;
}

/** Closes an element: its text, unless that is only white space between child elements. */
function close(open: Open): void {
  const { node, text } = open;
  node.text = node.children.length > 0 && /^[ \t\r\n]*$/.test(text) ? "" : text;
}

/**
 * Reads one start tag from `lt` (the `<`): its element with attributes decoded and namespaces
 * resolved against `parentScope`. Returns where the tag ends and whether it was empty.
 */
function startTag(
  text: string,
  lt: number,
  parentScope: Scope,
): {
  qname: string;
  node: MutableNode;
  scope: Scope;
  end: number;
  empty: boolean;
} {
  const qname = nameAt(text, lt + 1);
  if (qname === undefined) throw fail(`invalid element name (${position(text, lt + 1)})`);
  const seen = new Set<string>();
  let own: Map<string, string | undefined> | undefined; // copied on the first declaration
  const attrs: Record<string, string> = {};
  let i = lt + 1 + qname.length;
  let empty = false;
  for (;;) {
    const spaced = skipSpace(text, i);
    const c = text[spaced];
    if (c === ">") {
      i = spaced + 1;
      break;
    }
    if (c === "/" && text[spaced + 1] === ">") {
      i = spaced + 2;
      empty = true;
      break;
    }
    const name = spaced > i ? nameAt(text, spaced) : undefined;
    if (name === undefined) {
      throw fail(
        c === undefined
          ? `tag <${q(qname)}> is not closed`
          : `unexpected ${JSON.stringify(c)} in ${elementOf(qname)} (${position(text, spaced)})`,
      );
    }
    i = skipSpace(text, spaced + name.length);
    if (text[i] !== "=") throw fail(`attribute ${q(name)} of ${elementOf(qname)} has no value`);
    i = skipSpace(text, i + 1);
    const quote = text[i];
    if (quote !== '"' && quote !== "'") {
      throw fail(`attribute ${q(name)} of ${elementOf(qname)} is not quoted`);
    }
    const endQuote = text.indexOf(quote, i + 1);
    if (endQuote === -1) throw fail(`attribute ${q(name)} of ${elementOf(qname)} is not closed`);
    const raw = text.slice(i + 1, endQuote);
    i = endQuote + 1;
    if (seen.has(name)) throw fail(`attribute ${q(name)} is repeated in ${elementOf(qname)}`);
    seen.add(name);
    if (raw.includes("<")) throw fail(`"<" in an attribute value of ${elementOf(qname)}`);
    const value = decode(raw.replace(/[\t\n\r]/g, " "), "element", qname);
    if (name === "xmlns" || name.startsWith("xmlns:")) {
      own ??= new Map();
      own.set(name === "xmlns" ? "" : name.slice(6), value === "" ? undefined : value);
    } else {
      // Defined, not assigned: a `__proto__` attribute is data like any other.
      Object.defineProperty(attrs, name.slice(name.indexOf(":") + 1), {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  const scope = own ? { own, parent: parentScope } : parentScope;
  const colon = qname.indexOf(":");
  const prefix = colon === -1 ? "" : qname.slice(0, colon);
  const node: MutableNode = {
    name: qname.slice(colon + 1),
    prefix,
    ns: lookup(scope, prefix),
    attrs,
    children: [],
    text: "",
  };
  return { qname, node, scope, end: i, empty };
}

const TOP_SCOPE: Scope = {
  own: new Map([["xml", XML_NS], ["xmlns", XMLNS_NS]]),
  parent: undefined,
};

/**
 * One pass over a document that passed {@linkcode preScan}: builds the tree and checks what
 * the pre-scan does not (names, attribute syntax, matching end tags). Iterative: the depth is
 * the length of `stack`, never of the call stack.
 */
function build(text: string): XmlNode {
  const stack: Open[] = [];
  let root: MutableNode | undefined;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const lt = text.indexOf("<", i);
    const top = stack.at(-1);
    const end = lt === -1 ? n : lt;
    if (top && end > i) top.text += decode(text.slice(i, end), "the text of", top.node.name);
    if (lt === -1) break;
    if (text.startsWith("<!--", lt)) {
      const closeAt = text.indexOf("-->", lt + 4);
      if (closeAt === -1) throw fail("comment is not closed");
      i = closeAt + 3;
    } else if (text.startsWith("<![CDATA[", lt)) {
      const closeAt = text.indexOf("]]>", lt + 9);
      if (closeAt === -1) throw fail("CDATA section is not closed");
      if (!top) throw fail("CDATA section outside the root element");
      top.text += text.slice(lt + 9, closeAt);
      i = closeAt + 3;
    } else if (text.startsWith("<?", lt)) {
      if (nameAt(text, lt + 2) === undefined) throw fail("processing instruction has no target");
      const closeAt = text.indexOf("?>", lt + 2);
      if (closeAt === -1) throw fail("processing instruction is not closed");
      i = closeAt + 2;
    } else if (text.startsWith("<!", lt)) {
      throw fail("markup declarations are not allowed");
    } else if (text.startsWith("</", lt)) {
      const name = nameAt(text, lt + 2);
      const gt = name === undefined ? -1 : skipSpace(text, lt + 2 + name.length);
      if (name === undefined || text[gt] !== ">") {
        throw fail(`malformed closing tag (${position(text, lt)})`);
      }
      const open = stack.pop();
      if (!open) throw fail(`closing tag '${q(name)}' without an opening tag`);
      if (open.qname !== name) {
        throw fail(
          `Expected closing tag '${q(open.qname)}' instead of closing tag '${q(name)}' (${
            position(text, lt)
          })`,
        );
      }
      close(open);
      i = gt + 1;
    } else {
      if (!top && root) throw fail("several root elements");
      const tag = startTag(text, lt, top?.scope ?? TOP_SCOPE);
      if (top) top.node.children.push(tag.node);
      else root = tag.node;
      if (!tag.empty) {
        stack.push({
          qname: tag.qname,
          node: tag.node,
          scope: tag.scope,
          text: "",
        });
      }
      i = tag.end;
    }
  }
  const unclosed = stack.at(-1);
  if (unclosed) throw fail(`Unclosed tag '${q(unclosed.qname)}'`);
  if (!root) throw fail("no root element");
  return root;
}

/**
 * Parses an XML document and returns its root element. Safe for untrusted input: any
 * DOCTYPE or other markup declaration is refused outright (no billion laughs, no XXE, nothing
 * is ever fetched); only `&amp; &lt; &gt; &quot; &apos;` and character references
 * (`&#38;`, `&#x26;`) are decoded, and any other entity is an error. Depth and element count
 * are checked by a linear pre-scan, so hostile nesting fails fast without deep recursion. A
 * leading BOM, the `<?xml …?>` prolog, comments, processing instructions and CDATA (as text)
 * are accepted. Throws {@linkcode XmlError} on malformed input, an empty document, several
 * roots or a limit exceeded, and `RangeError` on a limit option below 1.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseXml, XmlError } from "./xml.ts";
 * const t = parseXml("<Ticket><Message>disk &amp; full</Message></Ticket>");
 * assert.equal(t.name, "Ticket");
 * assert.equal(t.children[0]?.text, "disk & full");
 * assert.throws(() => parseXml('<!DOCTYPE x [<!ENTITY e "boom">]><x>&e;</x>'), XmlError);
 * ```
 */
export function parseXml(text: string, options: ParseXmlOptions = {}): XmlNode {
  const maxDepth = options.maxDepth ?? 64;
  const maxNodes = options.maxNodes ?? 10_000;
  if (!(maxDepth >= 1) || !(maxNodes >= 1)) {
    throw new RangeError("Cannot parse XML: maxDepth and maxNodes must be at least 1");
  }
  const body = text.startsWith("\uFEFF") ? text.slice(1) : text;
  if (/^[ \t\r\n]*$/.test(body)) throw fail("the document is empty");
  const illegal = body.search(ILLEGAL_CHARS);
  if (illegal !== -1) {
    const code = body.codePointAt(illegal) ?? 0;
    throw fail(`illegal character U+${code.toString(16).toUpperCase().padStart(4, "0")}`);
  }
  // Line ends are normalized first (XML 1.0, 2.11): CR LF and a lone CR read as LF.
  const normalized = body.includes("\r") ? body.replace(/\r\n?/g, "\n") : body;
  preScan(normalized, maxDepth, maxNodes);
  return build(normalized);
}

/**
 * The first child element with this local name (and, when given, this namespace URI), or
 * `undefined`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { child, parseXml } from "./xml.ts";
 * const t = parseXml("<Ticket><Status>open</Status></Ticket>");
 * assert.equal(child(t, "Status")?.text, "open");
 * assert.equal(child(t, "Owner"), undefined);
 * assert.equal(child(t, "Status", "urn:other"), undefined);
 * ```
 */
export function child(node: XmlNode, name: string, ns?: string): XmlNode | undefined {
  return node.children.find((c) => c.name === name && (ns === undefined || c.ns === ns));
}

/**
 * All child elements with this local name (and, when given, this namespace URI), in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { childrenNamed, parseXml } from "./xml.ts";
 * const n = parseXml('<N><EntityLink rel="entity"/><Timestamp/><EntityLink rel="up"/></N>');
 * assert.deepEqual(childrenNamed(n, "EntityLink").map((l) => l.attrs.rel), ["entity", "up"]);
 * ```
 */
export function childrenNamed(node: XmlNode, name: string, ns?: string): XmlNode[] {
  return node.children.filter((c) => c.name === name && (ns === undefined || c.ns === ns));
}

/**
 * The text of the first child element with this local name (and, when given, this namespace
 * URI), or `undefined` when there is no such child.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { childText, parseXml } from "./xml.ts";
 * const t = parseXml("<Ticket><Message>disk &amp; full</Message><Note/></Ticket>");
 * assert.equal(childText(t, "Message"), "disk & full");
 * assert.equal(childText(t, "Note"), "");
 * assert.equal(childText(t, "Status"), undefined);
 * ```
 */
export function childText(node: XmlNode, name: string, ns?: string): string | undefined {
  return child(node, name, ns)?.text;
}
