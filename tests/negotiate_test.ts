import assert from "node:assert/strict";
import {
  MAX_ACCEPT_LENGTH,
  MAX_RANGES,
  negotiate,
  type Negotiated,
  type Offer,
  parseAccept,
} from "../lib/core/negotiate.ts";

const TICKET: Offer = { base: "application/vnd.example.ticket", formats: ["xml", "json"] };
const PLAIN: Offer = { formats: ["xml", "json"] };
const JSON_FIRST: Offer = { formats: ["json", "xml"] };
const JSON_ONLY: Offer = { base: "application/vnd.example.ticket", formats: ["json"] };

const B = "application/vnd.example.ticket";

interface Case {
  readonly accept: string | undefined | null;
  readonly offer: Offer;
  /** Where the route is not TICKET, says which, for the test name. */
  readonly on?: string;
  /** Replaces the Accept value in the test name (for huge or blank headers). */
  readonly label?: string;
  readonly want: Negotiated | undefined;
}

const xml = (contentType: string): Negotiated => ({ format: "xml", contentType });
const json = (contentType: string): Negotiated => ({ format: "json", contentType });

const CASES: readonly Case[] = [
  // The forms vCD clients send, first.
  {
    accept: "application/*+xml;version=36.0",
    offer: TICKET,
    want: xml(`${B}+xml;version=36.0`),
  },
  {
    accept: "application/*+json;version=36.0",
    offer: TICKET,
    want: json(`${B}+json;version=36.0`),
  },
  {
    accept: "application/json;version=33.0",
    offer: TICKET,
    want: json("application/json;version=33.0"),
  },
  {
    accept: "application/vnd.vmware.vcloud.task+xml;version=36.0",
    offer: TICKET,
    want: undefined,
  },
  { accept: "*/*", offer: TICKET, want: xml(`${B}+xml`) },
  { accept: undefined, offer: TICKET, label: "a missing header", want: xml(`${B}+xml`) },
  {
    accept: "application/json;q=0.5, application/xml",
    offer: TICKET,
    want: xml("application/xml"),
  },
  // Routes without a vendor base type.
  {
    accept: "application/*+xml;version=36.0",
    offer: PLAIN,
    on: "a route without base",
    want: xml("application/xml;version=36.0"),
  },
  {
    accept: "application/*+json;version=36.0",
    offer: PLAIN,
    on: "a route without base",
    want: json("application/json;version=36.0"),
  },
  { accept: "*/*", offer: JSON_FIRST, on: "a json-first route", want: json("application/json") },
  // Concrete types match only themselves.
  {
    accept: "application/json;version=36.0",
    offer: TICKET,
    want: json("application/json;version=36.0"),
  },
  { accept: "application/xml", offer: TICKET, want: xml("application/xml") },
  { accept: "text/xml;version=36.0", offer: TICKET, want: xml("text/xml;version=36.0") },
  { accept: `${B}+json`, offer: TICKET, want: json(`${B}+json`) },
  {
    accept: `${B}+xml;version=37.0.0-alpha`,
    offer: TICKET,
    want: xml(`${B}+xml;version=37.0.0-alpha`),
  },
  { accept: "image/png", offer: TICKET, want: undefined },
  { accept: "text/html, application/xhtml+xml", offer: TICKET, want: undefined },
  { accept: "*/json, application/xml", offer: TICKET, want: xml("application/xml") },
  // Missing, empty and wildcard headers.
  { accept: null, offer: TICKET, label: "a null header", want: xml(`${B}+xml`) },
  { accept: "", offer: TICKET, label: "an empty header", want: xml(`${B}+xml`) },
  { accept: " \t ", offer: TICKET, label: "a blank header", want: xml(`${B}+xml`) },
  { accept: "*/*;version=36.0", offer: TICKET, want: xml(`${B}+xml;version=36.0`) },
  { accept: "application/*", offer: TICKET, want: xml(`${B}+xml`) },
  {
    accept: "application/*;version=35.0",
    offer: JSON_ONLY,
    on: "a json-only route",
    want: json(`${B}+json;version=35.0`),
  },
  { accept: "text/*", offer: TICKET, want: xml("text/xml") },
  // q-values and specificity.
  { accept: "application/json;q=0, */*", offer: TICKET, want: xml(`${B}+xml`) },
  {
    accept: "application/json;q=0, */*",
    offer: { formats: ["json"] },
    on: "a json-only route without base",
    want: undefined,
  },
  { accept: "*/*;q=0", offer: TICKET, want: undefined },
  {
    accept: "application/*+xml;q=0, application/*+json;q=0.1",
    offer: TICKET,
    want: json(`${B}+json`),
  },
  { accept: "*/*, application/json", offer: TICKET, want: json("application/json") },
  {
    accept: "application/*+xml;version=36.0, application/*+json;version=36.0",
    offer: TICKET,
    want: xml(`${B}+xml;version=36.0`),
  },
  {
    accept: "application/*+json;version=36.0, application/*+xml;version=36.0",
    offer: TICKET,
    want: json(`${B}+json;version=36.0`),
  },
  {
    accept: "application/xml, application/json",
    offer: JSON_FIRST,
    on: "a json-first route",
    want: xml("application/xml"),
  },
  {
    accept: "application/xml;q=0.001, application/json;q=0.002",
    offer: TICKET,
    want: json("application/json"),
  },
  {
    accept: "application/*+xml;version=36.0;q=0.9, application/json;version=36.0",
    offer: TICKET,
    want: json("application/json;version=36.0"),
  },
  {
    accept: "application/json;q=0.5, application/json;version=36.0",
    offer: TICKET,
    want: json("application/json;version=36.0"),
  },
  {
    accept: "application/*+xml;version=36.0",
    offer: JSON_ONLY,
    on: "a json-only route",
    want: undefined,
  },
  // Parameters: quoted, other names, odd values.
  {
    accept: 'application/*+json; version="36.0"',
    offer: TICKET,
    want: json(`${B}+json;version=36.0`),
  },
  {
    accept: 'application/json;foo="a,b";version=36.0, application/xml;q=0.1',
    offer: TICKET,
    want: json("application/json;version=36.0"),
  },
  {
    accept: "application/json;charset=utf-8;version=36.0;q=0.9",
    offer: TICKET,
    want: json("application/json;version=36.0"),
  },
  {
    accept: 'application/json;version="36 beta"',
    offer: TICKET,
    want: json('application/json;version="36 beta"'),
  },
  { accept: 'application/json;version=""', offer: TICKET, want: json("application/json") },
  // Case and whitespace.
  {
    accept: "APPLICATION/*+XML;Version=36.0",
    offer: TICKET,
    want: xml(`${B}+xml;version=36.0`),
  },
  {
    accept: "application/xml;Q=0, Application/JSON",
    offer: TICKET,
    want: json("application/json"),
  },
  {
    accept: "  application/xml ;\tq=0.2 ,application/json ; q=0.3  ",
    offer: TICKET,
    want: json("application/json"),
  },
  // Junk and invalid q-values.
  { accept: "garbage", offer: TICKET, want: xml(`${B}+xml`) },
  {
    accept: ";;;, /json, application/, application/json",
    offer: TICKET,
    want: json("application/json"),
  },
  {
    accept: "application/xml;q=2, application/json;q=0.5",
    offer: TICKET,
    want: json("application/json"),
  },
  { accept: "application/json;q=0.1234", offer: TICKET, want: xml(`${B}+xml`) },
  { accept: 'application/json;q="0.5", text/xml', offer: TICKET, want: xml("text/xml") },
  // Bounded work.
  {
    accept: "text/plain;q=0.1, ".repeat(100) + "application/json",
    offer: TICKET,
    label: "101 ranges ending in application/json",
    want: undefined,
  },
  {
    accept: ",".repeat(100_000) + "application/json",
    offer: TICKET,
    label: "a 100 KB header ending in application/json",
    want: xml(`${B}+xml`),
  },
  // Nothing to offer.
  { accept: "*/*", offer: { formats: [] }, on: "a route with no formats", want: undefined },
];

for (const c of CASES) {
  const what = c.want === undefined
    ? "finds nothing acceptable"
    : `picks ${c.want.format} (${c.want.contentType})`;
  const label = c.label ?? JSON.stringify(c.accept);
  const on = c.on === undefined ? "" : ` on ${c.on}`;
  Deno.test(`negotiate() ${what} for ${label}${on}`, () => {
    assert.deepEqual(negotiate(c.accept, c.offer), c.want);
  });
}

Deno.test("negotiate() case table covers at least 30 Accept values", () => {
  assert.ok(new Set(CASES.map((c) => c.accept)).size >= 30);
});

Deno.test("negotiate() never answers a Content-Type with a wildcard", () => {
  const offers = [TICKET, PLAIN, JSON_FIRST, JSON_ONLY];
  const accepts = [...CASES.map((c) => c.accept), "*/*;q=0.5", "application/*;q=1", "*/*+xml"];
  let answered = 0;
  for (const offer of offers) {
    for (const accept of accepts) {
      const n = negotiate(accept, offer);
      if (n === undefined) continue;
      answered++;
      assert.ok(!n.contentType.includes("*"), `${accept} gave ${n.contentType}`);
      assert.ok(offer.formats.includes(n.format), `${accept} gave ${n.format}`);
    }
  }
  assert.ok(answered > 50);
});

Deno.test("negotiate() cache keeps answers for different routes apart", () => {
  const accept = "application/*;version=36.0";
  assert.deepEqual(negotiate(accept, TICKET), xml(`${B}+xml;version=36.0`));
  assert.deepEqual(negotiate(accept, PLAIN), xml("application/xml;version=36.0"));
  assert.deepEqual(negotiate(accept, JSON_FIRST), json("application/json;version=36.0"));
  assert.deepEqual(negotiate(accept, { base: "application/vnd.other", formats: ["json"] }), {
    format: "json",
    contentType: "application/vnd.other+json;version=36.0",
  });
  // Asked again, from the cache, the answers are unchanged.
  assert.deepEqual(negotiate(accept, TICKET), xml(`${B}+xml;version=36.0`));
  assert.deepEqual(negotiate(accept, PLAIN), xml("application/xml;version=36.0"));
});

Deno.test("negotiate() stays correct after the cache overflows", () => {
  for (let i = 0; i < 1000; i++) {
    const accept = `application/json;version=${i}`;
    assert.deepEqual(negotiate(accept, TICKET), json(`application/json;version=${i}`));
  }
  assert.deepEqual(
    negotiate("application/json;version=0", TICKET),
    json("application/json;version=0"),
  );
  assert.equal(negotiate("image/png", TICKET), undefined);
});

Deno.test("negotiate() answers cannot be mutated to poison the cache", () => {
  const first = negotiate("application/json", TICKET);
  assert.ok(first !== undefined);
  assert.throws(() => {
    (first as { contentType: string }).contentType = "text/html";
  }, TypeError);
  assert.deepEqual(negotiate("application/json", TICKET), json("application/json"));
});

Deno.test("negotiate() rejects an offer whose base is not a concrete type", () => {
  assert.throws(
    () => negotiate("*/*", { base: "vnd.example.ticket", formats: ["xml"] }),
    TypeError,
  );
  assert.throws(() => negotiate("*/*", { base: "application/*", formats: ["xml"] }), TypeError);
});

Deno.test("negotiate() lower-cases the route's base type", () => {
  assert.deepEqual(
    negotiate("application/*+xml", { base: "Application/Vnd.Example.Ticket", formats: ["xml"] }),
    xml(`${B}+xml`),
  );
});

Deno.test("parseAccept() reads types, parameters and q-values", () => {
  assert.deepEqual(parseAccept("application/*+xml;version=36.0, application/json;q=0.5"), [
    { type: "application", subtype: "*+xml", params: { version: "36.0" }, q: 1 },
    { type: "application", subtype: "json", params: {}, q: 0.5 },
  ]);
});

Deno.test("parseAccept() keeps q=0 ranges, since they exclude what they match", () => {
  assert.deepEqual(parseAccept("application/json;q=0, */*;q=0.000"), [
    { type: "application", subtype: "json", params: {}, q: 0 },
    { type: "*", subtype: "*", params: {}, q: 0 },
  ]);
});

Deno.test("parseAccept() unquotes quoted strings and does not split inside them", () => {
  assert.deepEqual(parseAccept('text/plain; Title="a, \\"b\\";c" ;version=1'), [
    { type: "text", subtype: "plain", params: { title: 'a, "b";c', version: "1" }, q: 1 },
  ]);
});

Deno.test("parseAccept() lower-cases types and parameter names but not values", () => {
  assert.deepEqual(parseAccept("Text/HTML;Level=One;Q=1.000"), [
    { type: "text", subtype: "html", params: { level: "One" }, q: 1 },
  ]);
});

Deno.test("parseAccept() skips malformed ranges and invalid q-values", () => {
  const header = [
    "json",
    "/json",
    "application/",
    "*/json",
    "appl*/json",
    "application/json;q",
    "application/json;=1",
    "application/json;q=1.5",
    "application/json;q=-0",
    "application/json;q=.5",
    "text/plain garbage",
    "text/csv;q=0.25",
    'application/json;v="unterminated, text/html',
  ].join(", ");
  assert.deepEqual(parseAccept(header), [{ type: "text", subtype: "csv", params: {}, q: 0.25 }]);
});

Deno.test("parseAccept() keeps the first of repeated parameters", () => {
  assert.deepEqual(parseAccept("application/json;version=1;version=2;q=0.5;q=0.9"), [
    { type: "application", subtype: "json", params: { version: "1" }, q: 0.5 },
  ]);
});

Deno.test("parseAccept() stores a __proto__ parameter as plain data", () => {
  const [range] = parseAccept("application/json;__proto__=x");
  assert.ok(range !== undefined);
  assert.equal(Object.getPrototypeOf(range.params), Object.prototype);
  assert.deepEqual(Object.entries(range.params), [["__proto__", "x"]]);
});

Deno.test("parseAccept() takes at most MAX_RANGES ranges", () => {
  const ranges = parseAccept(Array.from({ length: 1000 }, (_, i) => `text/x${i}`).join(","));
  assert.equal(ranges.length, MAX_RANGES);
  assert.equal(ranges.at(-1)?.subtype, `x${MAX_RANGES - 1}`);
});

Deno.test("parseAccept() reads at most MAX_ACCEPT_LENGTH characters and drops a cut range", () => {
  const pad = " ".repeat(MAX_ACCEPT_LENGTH - "text/a,".length);
  assert.deepEqual(parseAccept(`${pad}text/a,text/b`).map((r) => r.subtype), ["a"]);
  assert.deepEqual(parseAccept(`${pad}text/a`).map((r) => r.subtype), ["a"]);
  assert.deepEqual(parseAccept(`${pad}text/abcd`), []);
});

Deno.test("parseAccept() never throws on arbitrary input", () => {
  // A small deterministic generator over pieces that matter to the grammar.
  const alphabet = [
    "application",
    "json",
    "xml",
    "/",
    "*",
    "+",
    ";",
    "q=",
    "version=",
    "0.5",
    "1",
    "=",
    ",",
    '"',
    "\\",
    " ",
    "\t",
    "\u0000",
    "\u00e9",
    "\r\n",
  ];
  let seed = 42;
  const next = () => {
    seed ^= seed << 13; // xorshift32
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  let parsed = 0;
  for (let n = 0; n < 2000; n++) {
    let s = "";
    const len = next() % 24;
    for (let i = 0; i < len; i++) s += alphabet[next() % alphabet.length];
    const ranges = parseAccept(s);
    parsed += ranges.length;
    for (const r of ranges) {
      assert.ok(r.q >= 0 && r.q <= 1);
      assert.ok(r.type.length > 0 && r.subtype.length > 0);
    }
    assert.doesNotThrow(() => negotiate(s, TICKET));
  }
  assert.ok(parsed > 0);
});
