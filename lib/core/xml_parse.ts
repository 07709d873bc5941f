/**
 * @module vcdext's XML parser: one pass over the text that builds a small, safe tree of
 * {@linkcode XmlNode}s (namespaces resolved, references decoded), after the lexical layer's
 * pre-scan (xml_lexical.ts) has refused DTDs and enforced the limits. Import it from xml.ts,
 * which re-exports it.
 */

import {
  closing,
  decode,
  elementOf,
  fail,
  ILLEGAL_CHARS,
  nameAt,
  position,
  preScan,
  q,
  skipSpace,
} from "./xml_lexical.ts";

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
      i = closing(text, lt + 4, "-->", "comment") + 3;
    } else if (text.startsWith("<![CDATA[", lt)) {
      const closeAt = closing(text, lt + 9, "]]>", "CDATA section");
      if (!top) throw fail("CDATA section outside the root element");
      top.text += text.slice(lt + 9, closeAt);
      i = closeAt + 3;
    } else if (text.startsWith("<?", lt)) {
      if (nameAt(text, lt + 2) === undefined) throw fail("processing instruction has no target");
      const closeAt = closing(text, lt + 2, "?>", "processing instruction");
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
