/**
 * @module Renders the XML documents vcdext sends (vCloud `Error`, extension registration,
 * blocking task parameters) and parses the XML bodies it receives into a small, safe tree:
 * no DTDs, no entity expansion beyond the five predefined entities and character
 * references, and hard limits on depth and size checked before any recursive work.
 */

import { XMLParser, XMLValidator } from "fast-xml-parser";

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
 * only unpaired halves).
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
  return value.replace(ILLEGAL_CHARS, "").replace(/[&<>"'\r]/g, (c) => TEXT_ESCAPES[c] ?? c);
}

function escapeAttr(value: string): string {
  return value.replace(ILLEGAL_CHARS, "").replace(/[&<>"'\r\n\t]/g, (c) => TEXT_ESCAPES[c] ?? c);
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
 * so they survive parsing); characters XML 1.0 forbids (e.g. U+0000–U+0008) are dropped.
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
 * Linear scan over the raw text, before fast-xml-parser sees it: refuses DTDs and other
 * markup declarations outright, enforces the depth and node limits, and checks there is
 * exactly one root element with nothing but whitespace, comments and processing instructions
 * around it. Structural errors it does not look for (mismatched tags, bad names, bad
 * attributes) are left to the validator.
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

/** Decodes the predefined entities and character references; anything else is an error. */
function decode(raw: string, where: string): string {
  let amp = raw.indexOf("&");
  if (amp === -1) return raw;
  let out = "";
  let from = 0;
  while (amp !== -1) {
    REFERENCE.lastIndex = amp;
    const m = REFERENCE.exec(raw);
    if (m === null) {
      throw fail(`malformed reference ${JSON.stringify(raw.slice(amp, amp + 10))} in ${where}`);
    }
    let value: string | undefined;
    if (m[3] !== undefined) {
      value = PREDEFINED.get(m[3]);
      if (value === undefined) throw fail(`unknown entity "&${m[3]};" in ${where}`);
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
 * fast-xml-parser does the tokenizing only: entities stay raw (we decode them ourselves, so
 * CDATA is kept apart via `cdataPropName`), text is not trimmed, values are not converted.
 * Tag names get a `~` in front (stripped again below) so names like `constructor` or
 * `toString` pass its prototype-pollution guard untouched; `~` cannot occur in an XML name,
 * and its empty-element path applies the transform twice, hence stripping all of them.
 */
function makeParser(maxDepth: number): XMLParser {
  return new XMLParser({
    preserveOrder: true,
    ignoreAttributes: false,
    attributeNamePrefix: "@_",
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: false,
    processEntities: false,
    htmlEntities: false,
    cdataPropName: "#cdata",
    ignoreDeclaration: true,
    ignorePiTags: true,
    transformTagName: (tag: string) => `~${tag}`,
    maxNestedTags: maxDepth + 1,
    jPath: false,
  });
}

/** Parsers by depth limit: building one costs more than parsing a small document. */
const parsers = new Map<number, XMLParser>();

function parserFor(maxDepth: number): XMLParser {
  let parser = parsers.get(maxDepth);
  if (!parser) {
    parser = makeParser(maxDepth);
    if (parsers.size < 8) parsers.set(maxDepth, parser);
  }
  return parser;
}

type Ordered = Readonly<Record<string, unknown>>;

type MutableNode = XmlNode & { children: XmlNode[]; text: string };

interface Frame {
  readonly items: readonly unknown[];
  index: number;
  readonly node: MutableNode;
  readonly scope: ReadonlyMap<string, string | undefined>;
  readonly text: string[];
}

function isRecord(value: unknown): value is Ordered {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function elementKey(item: Ordered): string | undefined {
  return Object.keys(item).find((k) => k !== ":@" && k !== "#text" && k !== "#cdata");
}

function makeNode(
  item: Ordered,
  key: string,
  parentScope: ReadonlyMap<string, string | undefined>,
): { node: MutableNode; scope: ReadonlyMap<string, string | undefined> } {
  const qname = key.replace(/^~+/, "");
  const rawAttrs = isRecord(item[":@"]) ? item[":@"] : {};
  let own: Map<string, string | undefined> | undefined; // copied on the first declaration
  const declare = (prefix: string, uri: string): void => {
    own ??= new Map(parentScope);
    own.set(prefix, uri === "" ? undefined : uri);
  };
  const attrs: Record<string, string> = {};
  const where = `element <${qname}>`;
  for (const [prefixed, value] of Object.entries(rawAttrs)) {
    const name = prefixed.startsWith("@_") ? prefixed.slice(2) : prefixed;
    if (typeof value !== "string") continue;
    if (value.includes("<")) throw fail(`"<" in an attribute value of ${where}`);
    const decoded = decode(value.replace(/[\t\n\r]/g, " "), where);
    if (name === "xmlns") declare("", decoded);
    else if (name.startsWith("xmlns:")) declare(name.slice(6), decoded);
    else {
      Object.defineProperty(attrs, name.slice(name.indexOf(":") + 1), {
        value: decoded,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
  }
  const scope = own ?? parentScope;
  const colon = qname.indexOf(":");
  const prefix = colon === -1 ? "" : qname.slice(0, colon);
  const node: MutableNode = {
    name: qname.slice(colon + 1),
    prefix,
    ns: scope.get(prefix),
    attrs,
    children: [],
    text: "",
  };
  return { node, scope };
}

/** Turns fast-xml-parser's ordered output into an XmlNode tree, iteratively (no recursion). */
function convert(rootItem: Ordered, rootKey: string): XmlNode {
  const top = new Map<string, string | undefined>([["xml", XML_NS], ["xmlns", XMLNS_NS]]);
  const { node: root, scope } = makeNode(rootItem, rootKey, top);
  const asArray = (v: unknown): readonly unknown[] => Array.isArray(v) ? v : [];
  const stack: Frame[] = [{
    items: asArray(rootItem[rootKey]),
    index: 0,
    node: root,
    scope,
    text: [],
  }];
  for (let frame = stack.at(-1); frame !== undefined; frame = stack.at(-1)) {
    if (frame.index >= frame.items.length) {
      const text = frame.text.join("");
      frame.node.text = frame.node.children.length > 0 && /^[ \t\r\n]*$/.test(text) ? "" : text;
      stack.pop();
      continue;
    }
    const item = frame.items[frame.index++];
    if (!isRecord(item)) continue;
    if (typeof item["#text"] === "string") {
      frame.text.push(decode(item["#text"], `the text of <${frame.node.name}>`));
    } else if (item["#cdata"] !== undefined) {
      for (const part of asArray(item["#cdata"])) {
        if (isRecord(part) && typeof part["#text"] === "string") frame.text.push(part["#text"]);
      }
    } else {
      const key = elementKey(item);
      if (key === undefined) continue;
      const made = makeNode(item, key, frame.scope);
      frame.node.children.push(made.node);
      stack.push({
        items: asArray(item[key]),
        index: 0,
        node: made.node,
        scope: made.scope,
        text: [],
      });
    }
  }
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
  preScan(body, maxDepth, maxNodes);
  const valid = XMLValidator.validate(body);
  if (valid !== true) {
    throw fail(`${valid.err.msg} (line ${valid.err.line}, column ${valid.err.col})`);
  }
  let items: unknown;
  try {
    items = parserFor(maxDepth).parse(body);
  } catch (e) {
    throw fail(e instanceof Error ? e.message : String(e), e);
  }
  const roots: { item: Ordered; key: string }[] = [];
  for (const item of Array.isArray(items) ? items : []) {
    const key = isRecord(item) ? elementKey(item) : undefined;
    if (isRecord(item) && key !== undefined) roots.push({ item, key });
  }
  const [root, ...rest] = roots;
  if (root === undefined) throw fail("no root element");
  if (rest.length > 0) throw fail("several root elements");
  return convert(root.item, root.key);
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
