/**
 * @module The fast-xml-parser based `parseXml` that `lib/core/xml.ts` used before its own
 * single-pass parser, kept as the reference of a differential test (`xml_diff_test.ts`):
 * both must accept and refuse the same documents and build the same trees. Test-only code;
 * fast-xml-parser is a dev dependency for it alone. It keeps its own copies of the pre-scan
 * and the entity decoder as they were, rather than importing `lib/core/xml.ts`'s: an oracle that
 * shares code with what it checks cannot catch a change to that code.
 */

import { XMLParser, XMLValidator } from "fast-xml-parser";
import { type ParseXmlOptions, XmlError, type XmlNode } from "../lib/core/xml.ts";

function fail(detail: string, cause?: unknown): XmlError {
  return new XmlError(`Cannot parse XML: ${detail}`, cause === undefined ? undefined : { cause });
}

// deno-lint-ignore no-control-regex
const ILLEGAL_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDFFF]/gu;

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

/** The former `parseXml`: validate with fast-xml-parser, parse with it, convert its output. */
export function parseXmlReference(text: string, options: ParseXmlOptions = {}): XmlNode {
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
