import assert from "node:assert/strict";
import ticketing from "../handlers/ticketing.ts";
import { defineExtension } from "../lib/core/extension.ts";
import {
  apiFilters,
  linkHref,
  linksOf,
  parseServiceList,
  renderServiceDocument,
  SERVICE_MEDIA_TYPE,
  serviceDocument,
  serviceHref,
  urlPattern,
} from "../lib/core/register.ts";
import { Router } from "../lib/core/router.ts";
import { child, childrenNamed, childText, parseXml, type XmlElement } from "../lib/core/xml.ts";

const VCLOUD = "http://www.vmware.com/vcloud/v1.5";
const VMEXT = "http://www.vmware.com/vcloud/extension/v1.5";

/** Full-match semantics, as vCD applies the pattern with Java's `Matcher.matches()`. */
function fullMatch(pattern: string, path: string): boolean {
  return new RegExp(`^(?:${pattern})$`).test(path);
}

// --- urlPattern: one case table ----------------------------------------------------------------

interface PatternCase {
  readonly template: string;
  readonly pattern: string;
  readonly match: readonly string[];
  /** Near misses, each with the reason it must not match. */
  readonly miss: readonly (readonly [path: string, why: string])[];
}

const CASES: readonly PatternCase[] = [
  {
    template: "/api/org/{org}/ticketing",
    pattern: "/api/org/[^/]+/ticketing/?",
    match: [
      "/api/org/1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b/ticketing",
      "/api/org/x/ticketing/",
      "/api/org/a%2Fb/ticketing",
      "/api/org/x.y/ticketing",
    ],
    miss: [
      ["/api/org/x/ticketingX", "a suffix on the last segment"],
      ["/api/org/x/Xticketing", "a prefix on the last segment"],
      ["/api/org/x/ticketing/1", "an extra segment"],
      ["/api/org/x/ticketing//", "two trailing slashes"],
      ["/api/org//ticketing", "an empty parameter"],
      ["/api/org/ticketing", "a missing segment"],
      ["/api/org/x/y/ticketing", "a parameter spanning two segments"],
      ["/api/admin/org/x/ticketing", "another prefix"],
      ["/cloudapi/api/org/x/ticketing", "a longer prefix"],
      ["api/org/x/ticketing", "no leading slash"],
      ["/API/org/x/ticketing", "other case"],
      ["/api/org/x/ticketing?x=1", "a query string (vCD matches the path only)"],
    ],
  },
  {
    template: "/api/org/{org}/ticketing/{id}",
    pattern: "/api/org/[^/]+/ticketing/[^/]+/?",
    match: ["/api/org/o1/ticketing/42", "/api/org/o1/ticketing/42/", "/api/org/o/ticketing/a b"],
    miss: [
      ["/api/org/x/ticketing/1/extra", "an extra segment"],
      ["/api/org/x/ticketing", "a missing segment"],
      ["/api/org/x/ticketing/", "an empty last parameter"],
      ["/api/org/x/ticketingX/1", "a suffix on a literal"],
      ["/api/org/x/ticketing/1//", "two trailing slashes"],
      ["/api/orgs/x/ticketing/1", "another literal"],
    ],
  },
  {
    template: "/api/v1.0/a+b(c)$*/{id}",
    pattern: "/api/v1\\.0/a\\+b\\(c\\)\\$\\*/[^/]+/?",
    match: ["/api/v1.0/a+b(c)$*/7"],
    miss: [
      ["/api/v1x0/a+b(c)$*/7", "`.` is a literal dot"],
      ["/api/v1.0/aab(c)$*/7", "`+` is a literal plus"],
      ["/api/v1.0/a+bc$*/7", "the parentheses are literal"],
      ["/api/v1.0/a+b(c)/7", "`$*` are literal"],
    ],
  },
  {
    template: "/",
    pattern: "//?",
    match: ["/"],
    miss: [["/x", "a segment"], ["", "the empty path"]],
  },
];

for (const c of CASES) {
  Deno.test(`urlPattern() turns ${c.template} into ${c.pattern}`, () => {
    assert.equal(urlPattern(c.template), c.pattern);
  });
  for (const path of c.match) {
    Deno.test(`urlPattern(${c.template}) matches ${JSON.stringify(path)}`, () => {
      assert.ok(fullMatch(urlPattern(c.template), path));
    });
  }
  for (const [path, why] of c.miss) {
    Deno.test(`urlPattern(${c.template}) rejects ${JSON.stringify(path)}: ${why}`, () => {
      assert.ok(!fullMatch(urlPattern(c.template), path));
    });
  }
}

Deno.test("urlPattern() matches exactly the paths the router routes to the template", () => {
  const paths = CASES.flatMap((c) => [...c.match, ...c.miss.map(([p]) => p)]);
  let compared = 0;
  for (const { template } of CASES) {
    const router = new Router([{ method: "GET", path: template }]);
    for (const path of paths) {
      if (path.includes("?") || !path.startsWith("/")) continue; // not paths the router sees
      assert.equal(
        fullMatch(urlPattern(template), path),
        router.match("GET", path).kind === "found",
        `${template} vs ${path}`,
      );
      compared++;
    }
  }
  assert.ok(compared > 50);
});

Deno.test("urlPattern() uses only constructs that mean the same in Java and JavaScript", () => {
  const templates = [
    ...CASES.map((c) => c.template),
    "/api/x/{a}/~!&'=,;:@%-_/{b}",
    "/api/{weird[name]}/x",
  ];
  for (const t of templates) {
    const rest = urlPattern(t)
      .replace(/\/\?$/, "") // the one optional trailing slash
      .replaceAll("[^/]+", "") // a parameter
      .replace(/\\[.$()*+?[\]{}|^\\]/g, ""); // an escaped metacharacter
    assert.match(rest, /^[A-Za-z0-9/_~!&'=,;:@%-]*$/, `${t} leaves ${rest}`);
  }
});

Deno.test("urlPattern() treats a brace that is not a whole segment as a literal, as the router does", () => {
  const p = urlPattern("/api/x{id}");
  assert.equal(p, "/api/x\\{id\\}/?");
  assert.ok(fullMatch(p, "/api/x{id}"));
  assert.ok(!fullMatch(p, "/api/x42"));
});

Deno.test("urlPattern() ignores one trailing slash in the template, as the router does", () => {
  assert.equal(urlPattern("/api/x/"), urlPattern("/api/x"));
});

Deno.test("urlPattern() refuses a template without a leading slash", () => {
  assert.throws(() => urlPattern("api/x"), TypeError);
});

// --- apiFilters ---------------------------------------------------------------------------------

Deno.test("apiFilters() gives the ticketing extension one filter per path template", () => {
  assert.deepEqual(apiFilters(ticketing), [
    "/api/org/[^/]+/ticketing/?",
    "/api/org/[^/]+/ticketing/[^/]+/?",
  ]);
});

Deno.test("apiFilters() of the ticketing extension cover every path it routes, and no other", () => {
  const filters = apiFilters(ticketing);
  const routed = (path: string) => filters.some((p) => fullMatch(p, path));
  assert.ok(routed("/api/org/o1/ticketing"));
  assert.ok(routed("/api/org/o1/ticketing/7/"));
  assert.ok(!routed("/api/org/o1/ticketing/7/comments"));
  assert.ok(!routed("/api/org/o1/tickets"));
});

Deno.test("apiFilters() deduplicates by pattern and keeps declaration order", () => {
  const handle = () => ({});
  const ext = defineExtension({
    name: "x",
    namespace: "x",
    routingKey: "x",
    routes: [
      { method: "GET", path: "/api/b/{id}", handle },
      { method: "GET", path: "/api/a", handle },
      { method: "PUT", path: "/api/b/{key}", handle },
      { method: "POST", path: "/api/a", handle },
    ],
  });
  assert.deepEqual(apiFilters(ext), ["/api/b/[^/]+/?", "/api/a/?"]);
});

// --- serviceDocument ---------------------------------------------------------------------------

const SCHEMA_ORDER = [
  "Description",
  "vmext:Namespace",
  "vmext:Enabled",
  "vmext:AuthorizationEnabled",
  "vmext:RoutingKey",
  "vmext:Priority",
  "vmext:Exchange",
  "vmext:Vendor",
  "vmext:ApiFilters",
];

function childNames(e: XmlElement): string[] {
  return (e.children ?? []).flatMap((c) => (typeof c === "object" && c !== null ? [c.name] : []));
}

Deno.test("serviceDocument() lists its children in schema order", () => {
  assert.deepEqual(childNames(serviceDocument(ticketing, { exchange: "vcdext" })), SCHEMA_ORDER);
});

Deno.test("renderServiceDocument() renders the ticketing registration of section 8", () => {
  assert.equal(SERVICE_MEDIA_TYPE, "application/vnd.vmware.admin.service+xml");
  assert.equal(
    renderServiceDocument(ticketing, { exchange: "vcdext", description: "Ticketing extension" }),
    '<?xml version="1.0" encoding="UTF-8"?>' +
      `<vmext:Service xmlns="${VCLOUD}" xmlns:vmext="${VMEXT}" name="gcp-ticketing">` +
      "<Description>Ticketing extension</Description>" +
      "<vmext:Namespace>com.example.ticketing</vmext:Namespace>" +
      "<vmext:Enabled>true</vmext:Enabled>" +
      "<vmext:AuthorizationEnabled>false</vmext:AuthorizationEnabled>" +
      "<vmext:RoutingKey>gcp-ticketing</vmext:RoutingKey>" +
      "<vmext:Priority>50</vmext:Priority>" +
      "<vmext:Exchange>vcdext</vmext:Exchange>" +
      "<vmext:Vendor>example</vmext:Vendor>" +
      "<vmext:ApiFilters>" +
      "<vmext:ApiFilter><vmext:UrlPattern>/api/org/[^/]+/ticketing/?</vmext:UrlPattern></vmext:ApiFilter>" +
      "<vmext:ApiFilter><vmext:UrlPattern>/api/org/[^/]+/ticketing/[^/]+/?</vmext:UrlPattern></vmext:ApiFilter>" +
      "</vmext:ApiFilters></vmext:Service>",
  );
});

Deno.test("renderServiceDocument() parses back to the same values, in the right namespaces", () => {
  const xml = renderServiceDocument(ticketing, {
    exchange: "ext.x",
    routingKey: "rk",
    enabled: false,
    authorizationEnabled: true,
    priority: 7,
    description: "tickets & <more>",
  });
  assert.match(xml, /<Description>tickets &amp; &lt;more&gt;<\/Description>/);
  const root = parseXml(xml);
  assert.equal(root.name, "Service");
  assert.equal(root.ns, VMEXT);
  assert.equal(root.attrs.name, "gcp-ticketing");
  assert.deepEqual(
    root.children.map((c) => `${c.prefix ? `${c.prefix}:` : ""}${c.name}`),
    SCHEMA_ORDER,
  );
  assert.equal(child(root, "Description", VCLOUD)?.text, "tickets & <more>");
  const v = (name: string) => childText(root, name, VMEXT);
  assert.deepEqual(
    [
      v("Namespace"),
      v("Enabled"),
      v("AuthorizationEnabled"),
      v("RoutingKey"),
      v("Priority"),
      v("Exchange"),
      v("Vendor"),
    ],
    ["com.example.ticketing", "false", "true", "rk", "7", "ext.x", "example"],
  );
  const filters = child(root, "ApiFilters", VMEXT);
  assert.ok(filters);
  assert.deepEqual(
    childrenNamed(filters, "ApiFilter", VMEXT).map((f) => childText(f, "UrlPattern", VMEXT)),
    apiFilters(ticketing),
  );
});

Deno.test("serviceDocument() defaults vendor to vcdext and description to the extension's", () => {
  const ext = { name: "n", namespace: "ns", routingKey: "rk", routes: [] };
  const root = parseXml(renderServiceDocument(ext, { exchange: "e" }));
  assert.equal(childText(root, "Description"), "n");
  assert.equal(childText(root, "Vendor"), "vcdext");
  assert.equal(childText(root, "RoutingKey"), "rk");
  const described = parseXml(
    renderServiceDocument({ ...ext, description: "d" }, { exchange: "e" }),
  );
  assert.equal(childText(described, "Description"), "d");
});

Deno.test("serviceDocument() refuses an empty exchange and a fractional priority", () => {
  assert.throws(() => serviceDocument(ticketing, { exchange: " " }), TypeError);
  assert.throws(() => serviceDocument(ticketing, { exchange: "e", priority: 1.5 }), RangeError);
  assert.throws(() => serviceDocument(ticketing, { exchange: "e", priority: NaN }), RangeError);
});

// --- Reading what vCD answers ------------------------------------------------------------------

const REGISTERED = `<?xml version="1.0" encoding="UTF-8"?>
<vmext:Service xmlns="${VCLOUD}" xmlns:vmext="${VMEXT}" name="gcp-ticketing"
    id="urn:vcloud:service:5a1c" href="https://cell/api/admin/extension/service/5a1c"
    type="${SERVICE_MEDIA_TYPE}">
  <Link rel="rights" href="https://cell/api/admin/extension/service/5a1c/rights"
      type="application/vnd.vmware.vcloud.query.references+xml"/>
  <Link rel="edit" href="https://cell/api/admin/extension/service/5a1c" type="${SERVICE_MEDIA_TYPE}"/>
  <Link rel="remove" href="https://cell/api/admin/extension/service/5a1c"/>
  <Description>Ticketing extension</Description>
  <vmext:Namespace>com.example.ticketing</vmext:Namespace>
  <vmext:Enabled>true</vmext:Enabled>
</vmext:Service>`;

Deno.test("serviceHref() and linkHref() read a registered service's href and links", () => {
  const doc = parseXml(REGISTERED);
  assert.equal(serviceHref(doc), "https://cell/api/admin/extension/service/5a1c");
  assert.equal(linkHref(doc, "rights"), "https://cell/api/admin/extension/service/5a1c/rights");
  assert.equal(linkHref(doc, "remove"), "https://cell/api/admin/extension/service/5a1c");
  assert.equal(linkHref(doc, "edit", "application/other"), undefined);
  assert.equal(linkHref(doc, "up"), undefined);
  assert.equal(
    serviceHref(parseXml(renderServiceDocument(ticketing, { exchange: "e" }))),
    undefined,
  );
});

Deno.test("linksOf() lists rel, href and type in document order, type only when present", () => {
  assert.deepEqual(linksOf(parseXml(REGISTERED)), [
    {
      rel: "rights",
      href: "https://cell/api/admin/extension/service/5a1c/rights",
      type: "application/vnd.vmware.vcloud.query.references+xml",
    },
    {
      rel: "edit",
      href: "https://cell/api/admin/extension/service/5a1c",
      type: SERVICE_MEDIA_TYPE,
    },
    { rel: "remove", href: "https://cell/api/admin/extension/service/5a1c" },
  ]);
  assert.equal(Object.hasOwn(linksOf(parseXml(REGISTERED))[2] ?? {}, "type"), false);
});

Deno.test("linksOf() ignores links nested deeper than the element's own children", () => {
  assert.deepEqual(linksOf(parseXml('<a><b><Link rel="x" href="h"/></b></a>')), []);
});

Deno.test("parseServiceList() reads query records and references, and skips links", () => {
  const records = `<QueryResultRecords xmlns="${VCLOUD}" total="2">
    <Link rel="nextPage" href="https://cell/api/query?page=2"/>
    <AdminServiceRecord name="a" namespace="ns.a" vendor="v" enabled="false" href="https://cell/s/a"/>
    <AdminServiceRecord name="b" href="https://cell/s/b"/>
    <AdminServiceRecord name="no-href"/>
  </QueryResultRecords>`;
  assert.deepEqual(parseServiceList(records), [
    { name: "a", href: "https://cell/s/a", namespace: "ns.a", vendor: "v", enabled: false },
    { name: "b", href: "https://cell/s/b" },
  ]);
  const refs = `<QueryResultReferences xmlns="${VCLOUD}">
    <AdminServiceReference name="c" href="https://cell/s/c" type="${SERVICE_MEDIA_TYPE}"/>
  </QueryResultReferences>`;
  assert.deepEqual(parseServiceList(parseXml(refs)), [{ name: "c", href: "https://cell/s/c" }]);
});

Deno.test("parseServiceList() reads vmext:Service children from their elements", () => {
  const list = `<List xmlns:vmext="${VMEXT}">${REGISTERED.replace(/^<\?xml[^>]*>/, "")}</List>`;
  assert.deepEqual(parseServiceList(list), [{
    name: "gcp-ticketing",
    href: "https://cell/api/admin/extension/service/5a1c",
    namespace: "com.example.ticketing",
    enabled: true,
  }]);
});
