/**
 * @module Renders the XML documents vcdext sends (vCloud `Error`, extension registration,
 * blocking task parameters) and parses the XML bodies it receives into a small, safe tree:
 * no DTDs, no entity expansion beyond the five predefined entities and character
 * references, and hard limits on depth and size checked before any recursive work.
 *
 * The parser is vcdext's own single pass over the text. It replaced a fast-xml-parser based
 * one (validate, parse, convert), which took 23 µs for a ticket body where this takes 2.7;
 * `tests/xml_diff_test.ts` holds the two to the same answers on generated documents. It lives
 * in xml_parse.ts (the tree) and xml_lexical.ts (names, references, the pre-scan, `XmlError`);
 * this module re-exports it, so importers need only xml.ts.
 */

import { ILLEGAL_CHARS, NAME_CHAR, NAME_START } from "./xml_lexical.ts";
import type { XmlNode } from "./xml_parse.ts";

export { parseXml, type ParseXmlOptions, type XmlNode } from "./xml_parse.ts";
export { XmlError } from "./xml_lexical.ts";

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
