import assert from "node:assert/strict";
import { prng } from "./fixtures.ts";
import {
  child,
  childrenNamed,
  childText,
  el,
  parseXml,
  renderXml,
  type XmlChild,
  type XmlElement,
  XmlError,
  type XmlNode,
} from "../lib/core/xml.ts";

const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';
const VCLOUD = "http://www.vmware.com/vcloud/v1.5";
const VMEXT = "http://www.vmware.com/vcloud/extension/v1.5";

/** Asserts parseXml() throws an XmlError whose message matches `detail`. */
function assertRefused(text: string, detail: RegExp = /./): XmlError {
  let caught: unknown;
  try {
    parseXml(text);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof XmlError, `expected XmlError, got ${String(caught)}`);
  assert.match(caught.message, /^Cannot parse XML: /);
  assert.match(caught.message, detail);
  return caught;
}

/** The fastest of three runs of `fn`, in ms: one GC pause or preemption does not count. */
function bestOfThree(fn: () => void): number {
  let best = Infinity;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    fn();
    best = Math.min(best, performance.now() - start);
  }
  return best;
}

/** A benign document of about `bytes` bytes: flat `<a>x</a>` children, parsed without limits. */
function parseBenign(bytes: number): () => void {
  const doc = `<r>${"<a>x</a>".repeat(Math.max(1, Math.ceil(bytes / 8)))}</r>`;
  return () => void parseXml(doc, { maxNodes: 10_000_000 });
}

/**
 * Asserts `fn` takes at most 10× as long as `baseline` (best of three each, measured in the same
 * run, plus 50 ms for timer granularity on tiny inputs). A loaded machine slows both sides alike;
 * an entity expansion or a quadratic scan shows as 100× and more. No absolute time limit.
 */
function assertNotSlowerThan(baseline: () => void, fn: () => void): void {
  const base = bestOfThree(baseline);
  const took = bestOfThree(fn);
  assert.ok(
    took <= 10 * base + 50,
    `took ${took.toFixed(1)} ms, more than 10× the ${base.toFixed(1)} ms of the baseline`,
  );
}

// --- renderXml ---------------------------------------------------------------------------------

Deno.test("renderXml() escapes & < > \" ' in attributes and text", () => {
  const xml = renderXml(el("a", { v: `1 & 2 < 3 > 0 "q" 'a'` }, `1 & 2 < 3 > 0 "q" 'a'`));
  assert.equal(
    xml,
    PROLOG +
      '<a v="1 &amp; 2 &lt; 3 &gt; 0 &quot;q&quot; &apos;a&apos;">' +
      "1 &amp; 2 &lt; 3 &gt; 0 &quot;q&quot; &apos;a&apos;</a>",
  );
});

Deno.test("renderXml() does not double-escape text that looks like an entity", () => {
  assert.equal(renderXml(el("a", {}, "&amp;")), `${PROLOG}<a>&amp;amp;</a>`);
  assert.equal(parseXml(renderXml(el("a", {}, "&amp;"))).text, "&amp;");
});

Deno.test("renderXml() writes CR, LF and tab in attributes, and CR in text, as references", () => {
  const xml = renderXml(el("a", { v: "x\r\ny\tz" }, "p\r\nq\tr"));
  assert.equal(xml, `${PROLOG}<a v="x&#13;&#10;y&#9;z">p&#13;\nq\tr</a>`);
  const back = parseXml(xml);
  assert.equal(back.attrs.v, "x\r\ny\tz");
  assert.equal(back.text, "p\r\nq\tr");
});

Deno.test("renderXml() drops characters XML 1.0 forbids, turns lone surrogates into U+FFFD and keeps the rest of Unicode", () => {
  const xml = renderXml(
    el("a", { v: "a\u0000b\u0008c\uFFFEd\uDBFF" }, "x\u0001\uD800y\uDC00z 😀 é\u0085"),
  );
  assert.equal(xml, `${PROLOG}<a v="abcd\uFFFD">x\uFFFDy\uFFFDz 😀 é\u0085</a>`);
  assert.equal(parseXml(xml).text, "x\uFFFDy\uFFFDz 😀 é\u0085");
  assert.equal(parseXml(xml).attrs.v, "abcd\uFFFD");
});

Deno.test("parseXml() quotes at most a short prefix of a long element name in its messages", () => {
  const name = `a${"-a".repeat(50_000)}`;
  for (const doc of [`<${name}></b>`, `<${name}>`, `<a></${name}>`, `<${name} x></${name}>`]) {
    let e: XmlError | undefined;
    try {
      parseXml(doc);
    } catch (caught) {
      e = caught as XmlError;
    }
    assert.ok(e instanceof XmlError, doc.slice(0, 40));
    assert.ok(e.message.length < 400, `${e.message.length} characters: ${e.message.slice(0, 200)}`);
    assert.match(e.message, /a-a-a-a[-a]*…/);
  }
});

Deno.test("renderXml() renders prefixed names and namespace declarations", () => {
  const service = el(
    "vmext:Service",
    { xmlns: VCLOUD, "xmlns:vmext": VMEXT, name: "gcp-ticketing" },
    el("Description", {}, "Ticketing extension"),
    el("vmext:Enabled", {}, true),
    el("vmext:Priority", {}, 50),
  );
  assert.equal(
    renderXml(service),
    PROLOG +
      `<vmext:Service xmlns="${VCLOUD}" xmlns:vmext="${VMEXT}" name="gcp-ticketing">` +
      "<Description>Ticketing extension</Description><vmext:Enabled>true</vmext:Enabled>" +
      "<vmext:Priority>50</vmext:Priority></vmext:Service>",
  );
  const back = parseXml(renderXml(service));
  assert.deepEqual([back.name, back.prefix, back.ns], ["Service", "vmext", VMEXT]);
  assert.deepEqual(back.children.map((c) => [c.name, c.ns]), [
    ["Description", VCLOUD],
    ["Enabled", VMEXT],
    ["Priority", VMEXT],
  ]);
});

Deno.test("renderXml() self-closes elements without content", () => {
  assert.equal(renderXml(el("a")), `${PROLOG}<a/>`);
  assert.equal(renderXml(el("a", { x: 1 }, null, undefined, "")), `${PROLOG}<a x="1"/>`);
  assert.equal(renderXml(el("a", {}, el("b"), el("c", {}, 0))), `${PROLOG}<a><b/><c>0</c></a>`);
  assert.equal(renderXml({ name: "a" }), `${PROLOG}<a/>`);
});

Deno.test("renderXml() omits null and undefined attributes and stringifies numbers and booleans", () => {
  const xml = renderXml(el("a", { n: 0, t: true, f: false, u: undefined, z: null, s: "" }));
  assert.equal(xml, `${PROLOG}<a n="0" t="true" f="false" s=""/>`);
});

Deno.test("renderXml() renders the vCloud Error document", () => {
  const error = el("Error", {
    xmlns: VCLOUD,
    majorErrorCode: 404,
    minorErrorCode: "NOT_FOUND",
    message: "no ticket 42 in this organisation",
  });
  const xml = renderXml(error);
  assert.equal(
    xml,
    `${PROLOG}<Error xmlns="${VCLOUD}" majorErrorCode="404" minorErrorCode="NOT_FOUND"` +
      ' message="no ticket 42 in this organisation"/>',
  );
  const back = parseXml(xml);
  assert.equal(back.name, "Error");
  assert.equal(back.ns, VCLOUD);
  assert.deepEqual(back.attrs, {
    majorErrorCode: "404",
    minorErrorCode: "NOT_FOUND",
    message: "no ticket 42 in this organisation",
  });
});

Deno.test("renderXml() refuses element and attribute names that are not XML names", () => {
  for (const name of ["", "a b", "a><script", "1a", "a:b:c", ":a", "a/"]) {
    assert.throws(() => renderXml(el(name)), TypeError, `element ${JSON.stringify(name)}`);
    assert.throws(
      () => renderXml(el("a", { [name]: "v" })),
      TypeError,
      `attr ${JSON.stringify(name)}`,
    );
  }
  assert.throws(() => renderXml(el("a", {}, el("b c"))), /Cannot render XML: element name "b c"/);
});

// --- parseXml: documents -----------------------------------------------------------------------

Deno.test("parseXml() reads a Ticket and decodes &amp; in its text", () => {
  const t = parseXml("<Ticket><Message>disk &amp; full</Message><Status>open</Status></Ticket>");
  assert.deepEqual(t, {
    name: "Ticket",
    prefix: "",
    ns: undefined,
    attrs: {},
    text: "",
    children: [
      { name: "Message", prefix: "", ns: undefined, attrs: {}, children: [], text: "disk & full" },
      { name: "Status", prefix: "", ns: undefined, attrs: {}, children: [], text: "open" },
    ],
  });
  assert.equal(childText(t, "Message"), "disk & full");
  assert.equal(childText(t, "Status"), "open");
});

Deno.test("parseXml() resolves prefixed namespaces in a vmext:Notification", () => {
  const n = parseXml(
    `<vmext:Notification xmlns:vmext="${VMEXT}" xmlns:vcloud="${VCLOUD}" type="x" eventId="e1">` +
      '<vcloud:Link rel="entityResolver" href="https://cell/api/entity/"/>' +
      '<vmext:EntityLink rel="entity" id="urn:vcloud:vapp:1" type="vcloud:vapp" name="v1"/>' +
      '<vmext:EntityLink rel="up" id="urn:vcloud:org:2" type="vcloud:org" name="o"/>' +
      "<vmext:Timestamp>2024-01-01T00:00:00Z</vmext:Timestamp>" +
      "<vmext:OperationSuccess>true</vmext:OperationSuccess>" +
      "</vmext:Notification>",
  );
  assert.deepEqual([n.name, n.prefix, n.ns], ["Notification", "vmext", VMEXT]);
  assert.deepEqual(n.attrs, { type: "x", eventId: "e1" });
  const link = child(n, "Link");
  assert.deepEqual([link?.ns, link?.attrs.href], [VCLOUD, "https://cell/api/entity/"]);
  assert.deepEqual(childrenNamed(n, "EntityLink", VMEXT).map((l) => l.attrs.rel), ["entity", "up"]);
  assert.equal(childText(n, "OperationSuccess", VMEXT), "true");
  assert.equal(childText(n, "OperationSuccess", VCLOUD), undefined);
});

Deno.test("parseXml() applies default namespaces by scope and leaves unbound names without one", () => {
  const root = parseXml(
    `<a xmlns="${VCLOUD}"><b/><c xmlns="urn:c"><d/></c><e xmlns=""><f/></e><p:g/><xml:h/></a>`,
  );
  assert.equal(root.ns, VCLOUD);
  assert.deepEqual(root.children.map((c) => [c.name, c.ns]), [
    ["b", VCLOUD],
    ["c", "urn:c"],
    ["e", undefined],
    ["g", undefined],
    ["h", "http://www.w3.org/XML/1998/namespace"],
  ]);
  assert.equal(root.children[1]?.children[0]?.ns, "urn:c");
  assert.equal(root.children[2]?.children[0]?.ns, undefined);
  assert.equal(parseXml("<a/>").ns, undefined);
  const siblings = parseXml('<a><b xmlns:p="urn:p" xmlns="urn:b"/><p:c/><d/></a>');
  assert.deepEqual(siblings.children.map((c) => c.ns), ["urn:b", undefined, undefined]);
});

Deno.test("parseXml() keys attributes by local name and leaves out namespace declarations", () => {
  const a = parseXml('<a xmlns="urn:d" xmlns:p="urn:p" p:x="1" y="2" xml:lang="en"/>');
  assert.deepEqual(a.attrs, { x: "1", y: "2", lang: "en" });
});

// --- parseXml: references and entities -------------------------------------------------------

Deno.test("parseXml() decodes the predefined entities and character references in text and attributes", () => {
  const a = parseXml(
    `<a v="&amp;&lt;&gt;&quot;&apos;&#38;&#x26;&#x41;&#x1F600;">&amp;&lt;&gt;&quot;&apos;&#38;&#x26;&#65;&#128512;</a>`,
  );
  assert.equal(a.attrs.v, `&<>"'&&A😀`);
  assert.equal(a.text, `&<>"'&&A😀`);
});

Deno.test("parseXml() refuses an unknown entity such as &foo; in text or attributes", () => {
  assertRefused("<a>&foo;</a>", /unknown entity "&foo;"/);
  assertRefused('<a v="&foo;"/>', /unknown entity "&foo;"/);
  assertRefused("<a>&nbsp;</a>", /unknown entity/);
});

Deno.test("parseXml() refuses malformed references and references to illegal characters", () => {
  for (
    const text of [
      "<a>&</a>",
      "<a>& b</a>",
      "<a>&#;</a>",
      "<a>&#xZZ;</a>",
      '<a v="&"/>',
      '<a v="&amp"/>',
      "<a>&#X41;</a>",
    ]
  ) {
    assertRefused(text);
  }
  assertRefused("<a>&#0;</a>", /illegal character/);
  assertRefused("<a>&#x110000;</a>");
  assertRefused('<a v="&#xFFFE;"/>', /illegal character/);
});

// --- parseXml: hostile input -------------------------------------------------------------------

Deno.test("parseXml() refuses a billion laughs document", () => {
  const lol = '<!DOCTYPE lolz [<!ENTITY lol "lol">' +
    Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i || ""};`.repeat(10)}">`)
      .join("") +
    "]><lolz>&lol9;</lolz>";
  assertNotSlowerThan(
    parseBenign(lol.length),
    () => assertRefused(lol, /DOCTYPE declarations are not allowed/),
  );
});

Deno.test("parseXml() refuses an XXE document and any other DOCTYPE or declaration", () => {
  assertRefused(
    '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
    /DOCTYPE declarations are not allowed/,
  );
  assertRefused(
    '<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://example.com/x.dtd"><x/>',
    /DOCTYPE/,
  );
  assertRefused("<!DOCTYPE x><x/>", /DOCTYPE/);
  assertRefused('<x><!ENTITY e "v"></x>', /declarations are not allowed/);
  assertRefused('<!ENTITY e "v"><x/>', /declarations are not allowed/);
});

Deno.test("parseXml() refuses 100,000 nested elements with XmlError, not RangeError", () => {
  const deep = "<a>".repeat(100_000) + "</a>".repeat(100_000);
  assertNotSlowerThan(parseBenign(deep.length), () => assertRefused(deep, /nested deeper than 64/));
});

Deno.test("parseXml() parses 100,000 nested elements without recursion when the limits allow it", () => {
  const depth = 100_000;
  const deep = "<a>".repeat(depth - 1) + "<a>x</a>" + "</a>".repeat(depth - 1);
  const root = parseXml(deep, { maxDepth: depth, maxNodes: depth });
  let levels = 1;
  let node: XmlNode | undefined = root;
  while (node.children[0] !== undefined) {
    node = node.children[0];
    levels++;
  }
  assert.equal(levels, depth);
  assert.equal(node.text, "x");
  assertRefused(deep, /nested deeper/);
});

Deno.test("parseXml() refuses 1 MB of <a> tags quickly", () => {
  const tags = "<a>".repeat(350_000);
  assertNotSlowerThan(parseBenign(tags.length), () => assertRefused(tags, /nested deeper than 64/));
  const wide = `<r>${"<a/>".repeat(250_000)}</r>`;
  assertNotSlowerThan(parseBenign(wide.length), () => assertRefused(wide, /more than 10000 nodes/));
});

Deno.test("parseXml() enforces maxDepth and maxNodes exactly at their bounds", () => {
  const three = "<a><b><c/></b></a>";
  assert.equal(parseXml(three, { maxDepth: 3 }).children[0]?.children[0]?.name, "c");
  assert.throws(() => parseXml(three, { maxDepth: 2 }), XmlError);
  assert.equal(parseXml(three, { maxNodes: 3 }).name, "a");
  assert.throws(() => parseXml(three, { maxNodes: 2 }), /more than 2 nodes/);
  const wide = `<r>${"<a/>".repeat(9_999)}</r>`;
  assert.equal(parseXml(wide).children.length, 9_999);
  assert.throws(() => parseXml(`<r>${"<a/>".repeat(10_000)}</r>`), XmlError);
});

Deno.test("parseXml() does not copy namespace declarations per element (many prefixes, many children)", () => {
  // 291 KiB: 5,000 prefixes on the root, 9,000 children declaring one more each. Copying the
  // scope per declaring element (as the fast-xml-parser based version did) took about 3 s.
  const decls = Array.from({ length: 5_000 }, (_, i) => ` xmlns:p${i}="urn:p${i}"`).join("");
  const doc = `<r${decls}>${'<c xmlns:q="urn:q"/>'.repeat(9_000)}<p4999:d/></r>`;
  // The baseline: the same shape and size with plain attributes instead of declarations.
  const plain = doc.replaceAll("xmlns:", "xmlns-").replace("<p4999:d/>", "<p4999-d/>");
  assertNotSlowerThan(() => void parseXml(plain), () => {
    const root = parseXml(doc);
    assert.equal(root.children.length, 9_001);
    assert.equal(root.children.at(-1)?.ns, "urn:p4999");
  });
});

Deno.test("parseXml() refuses limits below 1 or NaN instead of ignoring them", () => {
  for (const bad of [{ maxDepth: 0 }, { maxNodes: -1 }, { maxDepth: NaN }, { maxNodes: NaN }]) {
    assert.throws(() => parseXml("<a/>", bad), RangeError, JSON.stringify(bad));
  }
});

Deno.test("parseXml() keeps names that are Object.prototype properties as they are", () => {
  const a = parseXml(
    '<constructor __proto__="p" toString="t"><__proto__/><toString/><hasOwnProperty/></constructor>',
  );
  assert.equal(a.name, "constructor");
  assert.deepEqual(Object.keys(a.attrs), ["__proto__", "toString"]);
  assert.equal(Object.getPrototypeOf(a.attrs), Object.prototype);
  assert.equal(a.attrs.toString, "t");
  assert.deepEqual(a.children.map((c) => c.name), ["__proto__", "toString", "hasOwnProperty"]);
});

// --- parseXml: malformed and empty input ------------------------------------------------------

const MALFORMED: readonly [string, string][] = [
  ["an unclosed element", "<a>"],
  ["an unclosed nested element", "<a><b></a>"],
  ["mismatched tags", "<a></b>"],
  ["crossed tags", "<a><b></a></b>"],
  ["a tag without '>'", "<a"],
  ["an unclosed attribute value", '<a x="1>'],
  ["an unquoted attribute value", "<a x=1/>"],
  ["an attribute without value", "<a b/>"],
  ["a repeated attribute", '<a x="1" x="2"/>'],
  ["a closing tag that was never opened", "</a>"],
  ["a stray closing tag after the root", "<a></a></a>"],
  ["several roots", "<a/><b/>"],
  ["several roots with content", "<a>1</a><b>2</b>"],
  ["text before the root", "x<a/>"],
  ["text after the root", "<a/>x"],
  ["an invalid element name", "<1a/>"],
  ["a bare '<' in text", "<a>1 < 2</a>"],
  ["a '<' in an attribute value", '<a x="<"/>'],
  ["an unclosed comment", "<a><!-- x</a>"],
  ["an unclosed CDATA section", "<a><![CDATA[x</a>"],
  ["CDATA outside the root", "<![CDATA[x]]><a/>"],
  ["an XML declaration that is not first", "<a/><?xml version='1.0'?>"],
  ["a NUL character", "<a>\u0000</a>"],
  ["a control character in an attribute", '<a v="\u0001"/>'],
  ["only a comment", "<!-- nothing -->"],
  ["only a prolog", '<?xml version="1.0"?>'],
];

for (const [what, text] of MALFORMED) {
  Deno.test(`parseXml() refuses ${what}: ${JSON.stringify(text)}`, () => {
    assertRefused(text);
  });
}

Deno.test("parseXml() says which tag is wrong in its message", () => {
  assertRefused("<a><b></a>", /Expected closing tag 'b'/);
  assertRefused("<a>", /Unclosed tag 'a'/);
  assertRefused("<a/><b/>", /several root elements/);
});

Deno.test("parseXml() refuses an empty document", () => {
  assertRefused("", /the document is empty/);
  assertRefused(" \n\t ", /the document is empty/);
  assertRefused("\uFEFF", /the document is empty/);
});

// --- parseXml: what it tolerates and how text is kept ------------------------------------------

Deno.test("parseXml() accepts a BOM, the prolog, comments, processing instructions and CDATA", () => {
  const a = parseXml(
    '\uFEFF<?xml version="1.0" encoding="UTF-8"?>\n<!-- c --><?pi x?>\n' +
      "<a>x<!-- y -->z<?pi?><![CDATA[ <b>&amp; ]]>w</a>\n<!-- after -->\n",
  );
  assert.equal(a.name, "a");
  assert.equal(a.text, "xz <b>&amp; w");
  assert.deepEqual(a.children, []);
});

Deno.test("parseXml() keeps text exactly but drops whitespace-only text between child elements", () => {
  const doc = parseXml("<a>\n  <b>  padded  </b>\n  <c> </c>\n  <d/>\n</a>");
  assert.equal(doc.text, "");
  assert.equal(childText(doc, "b"), "  padded  ");
  assert.equal(childText(doc, "c"), " ");
  assert.equal(childText(doc, "d"), "");
  assert.equal(parseXml("<a> x <b/> y </a>").text, " x  y ");
});

Deno.test("parseXml() normalizes line ends, and literal whitespace in attribute values", () => {
  const a = parseXml('<a v="x\ty\r\nz">1\r\n2\r3</a>');
  assert.equal(a.attrs.v, "x y z");
  assert.equal(a.text, "1\n2\n3");
});

// --- child, childText, childrenNamed ---------------------------------------------------------------

Deno.test("child(), childText() and childrenNamed() match local names, optionally a namespace", () => {
  const n = parseXml('<r xmlns:p="urn:p"><p:x>1</p:x><x>2</x><y/><x>3</x></r>');
  assert.equal(child(n, "x")?.text, "1");
  assert.equal(child(n, "x", "urn:p")?.text, "1");
  assert.equal(child(n, "z"), undefined);
  assert.equal(childText(n, "y"), "");
  assert.equal(childText(n, "z"), undefined);
  assert.deepEqual(childrenNamed(n, "x").map((c) => c.text), ["1", "2", "3"]);
  assert.deepEqual(childrenNamed(n, "x", "urn:p").map((c) => c.text), ["1"]);
  assert.deepEqual(childrenNamed(n, "z"), []);
});

// --- round trip --------------------------------------------------------------------------------

const PIECES = ["a", "Z", "0", " ", "  ", "&", "<", ">", '"', "'", "\n", "\t", "\r", "\r\n", "é"];
const MORE_PIECES = ["😀", ";", "#", "]]>", "&amp;", "&#38;", "<b>", "<!--", "?>", "\u00A0", "ü"];
const ELEMENT_NAMES = ["Ticket", "vmext:Service", "vcloud:Link", "x-y.z", "Ünï", "_a", "a1"];
const ATTR_NAMES = ["id", "name", "href", "rel", "data-x", "vmext:type", "é"];

interface Expected {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: Expected[];
  readonly text: string;
}

function generate(next: () => number, depth: number): XmlElement {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)] as T;
  const str = (): string => {
    let s = "";
    for (let i = Math.floor(next() * 6); i > 0; i--) {
      s += pick(next() < 0.7 ? PIECES : MORE_PIECES);
    }
    return s;
  };
  const attrs: Record<string, string | number | boolean | null | undefined> = {};
  for (const name of ATTR_NAMES) {
    if (next() < 0.35) {
      attrs[name] = pick([str(), Math.floor(next() * 1000), next() < 0.5, null, undefined]);
    }
  }
  const children: XmlChild[] = [];
  for (let i = Math.floor(next() * 5); i > 0; i--) {
    const r = next();
    if (depth > 0 && r < 0.4) children.push(generate(next, depth - 1));
    else if (r < 0.8) children.push(str());
    else children.push(pick([1.5, true, null, undefined, ""]));
  }
  return el(pick(ELEMENT_NAMES), attrs, ...children);
}

function expected(e: XmlElement): Expected {
  const attrs: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.attrs ?? {})) {
    if (v !== null && v !== undefined && k !== "xmlns" && !k.startsWith("xmlns:")) {
      attrs[k.slice(k.indexOf(":") + 1)] = String(v);
    }
  }
  const children: Expected[] = [];
  let text = "";
  for (const c of e.children ?? []) {
    if (c === null || c === undefined) continue;
    if (typeof c === "object") children.push(expected(c));
    else text += String(c);
  }
  if (children.length > 0 && /^[ \t\r\n]*$/.test(text)) text = "";
  return { name: e.name.slice(e.name.indexOf(":") + 1), attrs, children, text };
}

function project(n: XmlNode): Expected {
  return { name: n.name, attrs: { ...n.attrs }, children: n.children.map(project), text: n.text };
}

Deno.test("parseXml(renderXml(x)) gives back the names, attributes and text of generated elements", () => {
  for (let seed = 1; seed <= 300; seed++) {
    const generated = generate(prng(seed), 3);
    const root = el(generated.name, {
      "xmlns:vmext": VMEXT,
      "xmlns:vcloud": VCLOUD,
      ...generated.attrs,
    }, ...(generated.children ?? []));
    const xml = renderXml(root);
    assert.deepEqual(project(parseXml(xml)), expected(root), `seed ${seed}: ${xml}`);
  }
});

Deno.test("parseXml(renderXml(x)) resolves the prefixes the rendered document declares", () => {
  const root = el(
    "vmext:BlockingTaskOperationParams",
    { "xmlns:vmext": VMEXT },
    el("vmext:Message", {}, "approved & done"),
  );
  const back = parseXml(renderXml(root));
  assert.equal(back.ns, VMEXT);
  assert.equal(childText(back, "Message", VMEXT), "approved & done");
});
