import assert from "node:assert/strict";
import { type App, compile, dispatch } from "../lib/core/dispatch.ts";
import type { Reply } from "../lib/core/envelope.ts";
import { MemoryTicketStore, ticketing } from "../handlers/ticketing.ts";
import { ORG, OTHER_ORG, type RequestSpec, security, vcdRequest } from "./fixtures.ts";

const NOW = "2026-01-02T03:04:05.000Z";
const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';
const NS = "urn:example:ticketing";
const HOST = "vcd.example.com";
const BASE = `/api/org/${ORG.id}/ticketing`;
const HREF = `https://${HOST}${BASE}`;

const XML_36 = "application/*+xml;version=36.0";
const JSON_37 = "application/*+json;version=37.0";

/** A fresh app over an empty store with a fixed clock. */
function fresh(): App {
  return compile(ticketing(new MemoryTicketStore(() => new Date(NOW))));
}

const text = (reply: Reply) =>
  typeof reply.body === "string" ? reply.body : new TextDecoder().decode(reply.body);

/** Sends a request as a caller of ORG through `Host: vcd.example.com`. */
async function send(app: App, spec: RequestSpec): Promise<Reply> {
  const req = vcdRequest({ ...spec, headers: { Host: HOST, ...spec.headers } });
  return (await dispatch(app, req)).reply;
}

function ticketXml(id: string, status: string, message: string, xmlns = true): string {
  return `<Ticket${xmlns ? ` xmlns="${NS}"` : ""} id="${id}" status="${status}"` +
    ` href="${HREF}/${id}"><Message>${message}</Message><Created>${NOW}</Created></Ticket>`;
}

function ticketJson(id: string, status: string, message: string) {
  return { id, org: ORG.id, message, status, created: NOW, href: `${HREF}/${id}` };
}

const LIST_TYPE = "application/vnd.example.tickets";

/** The URL of a page of the list. */
function pageUrl(page: number, pageSize = 25, filter = ""): string {
  return `${HREF}?page=${page}&pageSize=${pageSize}${filter}`;
}

/** The page links vCD puts on a `QueryResultRecords`, as `[rel, page]` pairs. */
type Links = ReadonlyArray<readonly [string, number]>;

/** The expected XML list document (tickets already rendered, without xmlns). */
function listXml(
  total: number,
  tickets: string,
  links: Links = [["firstPage", 1], ["lastPage", 1]],
  page = 1,
  pageSize = 25,
): string {
  const url = (n: number) => pageUrl(n, pageSize).replace("&", "&amp;");
  const rendered = links.map(([rel, n]) =>
    `<Link rel="${rel}" href="${url(n)}" type="${LIST_TYPE}+xml"/>`
  ).join("");
  return `${PROLOG}<Tickets xmlns="${NS}" total="${total}" pageSize="${pageSize}" page="${page}"` +
    ` href="${url(page)}">${rendered}${tickets}</Tickets>`;
}

/** The expected JSON list document. */
function listJson(
  total: number,
  tickets: unknown[],
  links: Links = [["firstPage", 1], ["lastPage", 1]],
  page = 1,
  pageSize = 25,
  filter = "",
) {
  return {
    page,
    pageSize,
    total,
    href: pageUrl(page, pageSize, filter),
    link: links.map(([rel, n]) => ({
      rel,
      href: pageUrl(n, pageSize, filter),
      type: `${LIST_TYPE}+json`,
    })),
    tickets,
  };
}

// ---------------------------------------------------------------------------------------------
// The whole flow, in XML and in JSON
// ---------------------------------------------------------------------------------------------

Deno.test("ticketing: create, list, read, update and delete a ticket in XML", async () => {
  const app = fresh();
  const xml = { Accept: XML_36, "Content-Type": "application/vnd.example.ticket+xml;version=36.0" };

  const created = await send(app, {
    method: "POST",
    path: BASE,
    headers: xml,
    body: "<Ticket><Message>disk &amp; &lt;full&gt;</Message><Status>open</Status></Ticket>",
  });
  assert.equal(created.status, 201);
  assert.equal(created.headers["Content-Type"], "application/vnd.example.ticket+xml;version=36.0");
  assert.equal(created.headers.Location, `${HREF}/1`);
  assert.equal(text(created), PROLOG + ticketXml("1", "open", "disk &amp; &lt;full&gt;"));

  const second = await send(app, {
    method: "POST",
    path: BASE,
    headers: { ...xml, "Content-Type": "application/xml" },
    body: "<Ticket><Message>cpu hot</Message><Status>closed</Status></Ticket>",
  });
  assert.equal(second.status, 201);
  assert.equal(second.headers.Location, `${HREF}/2`);

  const list = await send(app, { path: BASE, headers: { Accept: XML_36 } });
  assert.equal(list.status, 200);
  assert.equal(list.headers["Content-Type"], "application/vnd.example.tickets+xml;version=36.0");
  assert.equal(
    text(list),
    listXml(
      2,
      ticketXml("1", "open", "disk &amp; &lt;full&gt;", false) +
        ticketXml("2", "closed", "cpu hot", false),
    ),
  );

  const closed = await send(app, { path: `${BASE}?status=closed`, headers: { Accept: XML_36 } });
  assert.equal(
    text(closed),
    listXml(1, ticketXml("2", "closed", "cpu hot", false)).replaceAll(
      "pageSize=25",
      "pageSize=25&amp;status=closed",
    ),
  );

  const one = await send(app, { path: `${BASE}/1`, headers: { Accept: XML_36 } });
  assert.equal(one.status, 200);
  assert.equal(one.headers["Content-Type"], "application/vnd.example.ticket+xml;version=36.0");
  assert.equal(text(one), PROLOG + ticketXml("1", "open", "disk &amp; &lt;full&gt;"));

  const updated = await send(app, {
    method: "PUT",
    path: `${BASE}/1`,
    headers: xml,
    body: "<Ticket><Status>closed</Status></Ticket>",
  });
  assert.equal(updated.status, 200);
  assert.equal(text(updated), PROLOG + ticketXml("1", "closed", "disk &amp; &lt;full&gt;"));

  const deleted = await send(app, {
    method: "DELETE",
    path: `${BASE}/1`,
    headers: { Accept: XML_36 },
  });
  assert.equal(deleted.status, 204);
  assert.equal(text(deleted), "");

  const gone = await send(app, { path: `${BASE}/1`, headers: { Accept: XML_36 } });
  assert.equal(gone.status, 404);
  assert.equal(
    gone.headers["Content-Type"],
    "application/vnd.vmware.vcloud.error+xml;version=36.0",
  );
  assert.equal(
    text(gone),
    `${PROLOG}<Error xmlns="http://www.vmware.com/vcloud/v1.5" majorErrorCode="404"` +
      ' minorErrorCode="NOT_FOUND" message="No ticket 1 in this organisation"/>',
  );
  const again = await send(app, {
    method: "DELETE",
    path: `${BASE}/1`,
    headers: { Accept: XML_36 },
  });
  assert.equal(again.status, 404);
});

Deno.test("ticketing: create, list, read, update and delete a ticket in JSON", async () => {
  const app = fresh();
  const json = { Accept: JSON_37, "Content-Type": "application/json" };

  const created = await send(app, {
    method: "POST",
    path: BASE,
    headers: json,
    body: JSON.stringify({ message: "disk is full" }),
  });
  assert.equal(created.status, 201);
  assert.equal(created.headers["Content-Type"], "application/vnd.example.ticket+json;version=37.0");
  assert.equal(created.headers.Location, `${HREF}/1`);
  const body = JSON.parse(text(created));
  assert.deepEqual(Object.keys(body), ["id", "org", "message", "status", "created", "href"]);
  assert.deepEqual(body, ticketJson("1", "open", "disk is full"));

  const list = await send(app, { path: BASE, headers: { Accept: JSON_37 } });
  assert.equal(list.status, 200);
  assert.equal(list.headers["Content-Type"], "application/vnd.example.tickets+json;version=37.0");
  assert.deepEqual(
    JSON.parse(text(list)),
    listJson(1, [ticketJson("1", "open", "disk is full")]),
  );

  const one = await send(app, { path: `${BASE}/1`, headers: { Accept: JSON_37 } });
  assert.deepEqual(JSON.parse(text(one)), ticketJson("1", "open", "disk is full"));

  const updated = await send(app, {
    method: "PUT",
    path: `${BASE}/1`,
    headers: { ...json, "Content-Type": "application/vnd.example.ticket+json" },
    body: JSON.stringify({ message: "disk is fuller", status: "closed" }),
  });
  assert.equal(updated.status, 200);
  assert.deepEqual(JSON.parse(text(updated)), ticketJson("1", "closed", "disk is fuller"));

  const deleted = await send(app, {
    method: "DELETE",
    path: `${BASE}/1`,
    headers: { Accept: JSON_37 },
  });
  assert.equal(deleted.status, 204);
  assert.equal(text(deleted), "");

  const gone = await send(app, { path: `${BASE}/1`, headers: { Accept: JSON_37 } });
  assert.equal(
    gone.headers["Content-Type"],
    "application/vnd.vmware.vcloud.error+json;version=37.0",
  );
  assert.deepEqual(JSON.parse(text(gone)), {
    majorErrorCode: 404,
    minorErrorCode: "NOT_FOUND",
    message: "No ticket 1 in this organisation",
  });
  const empty = await send(app, { path: BASE, headers: { Accept: JSON_37 } });
  assert.deepEqual(JSON.parse(text(empty)), listJson(0, []));
});

// ---------------------------------------------------------------------------------------------
// Media types
// ---------------------------------------------------------------------------------------------

Deno.test("ticketing: plain application/json and application/xml are answered as themselves", async () => {
  const app = fresh();
  const list = await send(app, { path: BASE, headers: { Accept: "application/json" } });
  assert.equal(list.headers["Content-Type"], "application/json");
  const xml = await send(app, { path: BASE, headers: { Accept: "application/xml;version=38.0" } });
  assert.equal(xml.headers["Content-Type"], "application/xml;version=38.0");
  assert.equal(text(xml), listXml(0, ""));
});

Deno.test("ticketing: the vendor types are answered with the client's version", async () => {
  const app = fresh();
  const accept = "application/vnd.example.tickets+json;version=39.0";
  const list = await send(app, { path: BASE, headers: { Accept: accept } });
  assert.equal(list.headers["Content-Type"], accept);
});

Deno.test("ticketing: a Host header that is not a plain host name leaves href relative", async () => {
  const app = fresh();
  const created = await send(app, {
    method: "POST",
    path: BASE,
    headers: { Host: "evil.example/x?", Accept: JSON_37, "Content-Type": "application/json" },
    body: '{"message":"m"}',
  });
  assert.equal(created.headers.Location, `${BASE}/1`);
  assert.equal(JSON.parse(text(created)).href, `${BASE}/1`);
});

// ---------------------------------------------------------------------------------------------
// Validation and access
// ---------------------------------------------------------------------------------------------

/** Posts `body` as JSON and returns the reply. */
function postJson(app: App, body: string): Promise<Reply> {
  return send(app, {
    method: "POST",
    path: BASE,
    headers: { Accept: JSON_37, "Content-Type": "application/json" },
    body,
  });
}

/** Asserts a 400 JSON error and returns its message. */
function badRequest(reply: Reply): string {
  assert.equal(reply.status, 400);
  const doc = JSON.parse(text(reply));
  assert.equal(doc.majorErrorCode, 400);
  assert.equal(doc.minorErrorCode, "BAD_REQUEST");
  return doc.message;
}

Deno.test("ticketing: an empty message is refused with 400", async () => {
  const app = fresh();
  assert.equal(
    badRequest(await postJson(app, '{"message":""}')),
    "message must be a non-empty string",
  );
  assert.equal(
    badRequest(await postJson(app, '{"message":"   "}')),
    "message must be a non-empty string",
  );
  const xml = await send(app, {
    method: "POST",
    path: BASE,
    headers: { Accept: JSON_37, "Content-Type": "application/xml" },
    body: "<Ticket><Message></Message></Ticket>",
  });
  assert.equal(badRequest(xml), "message must be a non-empty string");
  const list = await send(app, { path: BASE, headers: { Accept: JSON_37 } });
  assert.equal(JSON.parse(text(list)).total, 0, "nothing was stored");
});

Deno.test("ticketing: a missing message is refused with 400", async () => {
  const app = fresh();
  assert.equal(badRequest(await postJson(app, '{"status":"open"}')), "message is required");
});

Deno.test("ticketing: an unknown status is refused with 400", async () => {
  const app = fresh();
  assert.equal(
    badRequest(await postJson(app, '{"message":"m","status":"pending"}')),
    "status must be one of open, closed",
  );
  const list = await send(app, { path: `${BASE}?status=pending`, headers: { Accept: JSON_37 } });
  assert.equal(badRequest(list), "status must be one of open, closed");
});

Deno.test("ticketing: a body that is not a ticket is refused with 400", async () => {
  const app = fresh();
  assert.equal(badRequest(await postJson(app, '["m"]')), "The ticket must be a JSON object");
  const xml = await send(app, {
    method: "POST",
    path: BASE,
    headers: { Accept: JSON_37, "Content-Type": "application/xml" },
    body: "<Note><Message>m</Message></Note>",
  });
  assert.equal(badRequest(xml), "The root element must be Ticket");
});

Deno.test("ticketing: a caller from another organisation gets 403 and changes nothing", async () => {
  const app = fresh();
  await postJson(app, '{"message":"mine"}');
  const stranger = security([], OTHER_ORG.urn);
  for (
    const spec of [
      { path: BASE },
      { path: `${BASE}/1` },
      { method: "DELETE", path: `${BASE}/1` },
      { method: "POST", path: BASE, body: '{"message":"theirs"}' },
      { method: "PUT", path: `${BASE}/1`, body: '{"status":"closed"}' },
    ]
  ) {
    const reply = await send(app, {
      ...spec,
      headers: { Accept: JSON_37, "Content-Type": "application/json" },
      security: stranger,
    });
    assert.equal(reply.status, 403, `${spec.method ?? "GET"} ${spec.path}`);
    assert.equal(JSON.parse(text(reply)).minorErrorCode, "ACCESS_TO_RESOURCE_IS_FORBIDDEN");
  }
  const list = await send(app, { path: BASE, headers: { Accept: JSON_37 } });
  assert.deepEqual(JSON.parse(text(list)).tickets, [ticketJson("1", "open", "mine")]);
});

Deno.test("ticketing: another organisation's ticket is not found through its own URL", async () => {
  const app = fresh();
  await postJson(app, '{"message":"mine"}');
  const reply = await send(app, {
    path: `/api/org/${OTHER_ORG.id}/ticketing/1`,
    headers: { Accept: JSON_37 },
    security: security([], OTHER_ORG.urn),
  });
  assert.equal(reply.status, 404);
});

Deno.test("ticketing: the org in the URL matches the caller's org whatever its case", async () => {
  const app = fresh();
  const reply = await send(app, {
    path: `/api/org/${ORG.id.toUpperCase()}/ticketing`,
    headers: { Accept: JSON_37 },
  });
  assert.equal(reply.status, 200);
});

// ---------------------------------------------------------------------------------------------
// Pagination, as vCD pages QueryResultRecords
// ---------------------------------------------------------------------------------------------

/** Posts `n` tickets `m1`…`mn` as ORG (or `org`) and asserts each was created. */
async function fill(app: App, n: number, org = security()): Promise<void> {
  for (let i = 1; i <= n; i++) {
    const reply = await send(app, {
      method: "POST",
      path: `/api/org/${org.org.replace("urn:vcloud:org:", "")}/ticketing`,
      headers: { Accept: JSON_37, "Content-Type": "application/json" },
      body: JSON.stringify({ message: `m${i}` }),
      security: org,
    });
    assert.equal(reply.status, 201, text(reply));
  }
}

/** GETs a list page as JSON and returns the document. */
async function listPage(app: App, query: string) {
  const reply = await send(app, { path: `${BASE}${query}`, headers: { Accept: JSON_37 } });
  assert.equal(reply.status, 200, text(reply));
  return JSON.parse(text(reply));
}

const ids = (doc: { tickets: { id: string }[] }) => doc.tickets.map((t) => Number(t.id));
const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test("ticketing: the list is paged 25 at a time with firstPage, previousPage, nextPage and lastPage", async () => {
  const app = fresh();
  await fill(app, 60);
  const first = await listPage(app, "");
  assert.deepEqual(ids(first), range(1, 25));
  assert.deepEqual(
    first,
    listJson(60, first.tickets, [["firstPage", 1], ["nextPage", 2], ["lastPage", 3]]),
  );
  const second = await listPage(app, "?page=2");
  assert.deepEqual(ids(second), range(26, 50));
  assert.deepEqual(
    second,
    listJson(
      60,
      second.tickets,
      [["firstPage", 1], ["previousPage", 1], ["nextPage", 3], ["lastPage", 3]],
      2,
    ),
  );
  const last = await listPage(app, "?page=3&pageSize=25");
  assert.deepEqual(ids(last), range(51, 60));
  assert.deepEqual(
    last,
    listJson(60, last.tickets, [["firstPage", 1], ["previousPage", 2], ["lastPage", 3]], 3),
  );
  // Past the end: an empty page whose previousPage is the last one, not a 4xx (a ticket deleted
  // between two page fetches must not break a client walking the pages).
  const past = await listPage(app, "?page=9");
  assert.deepEqual(
    past,
    listJson(60, [], [["firstPage", 1], ["previousPage", 3], ["lastPage", 3]], 9),
  );
});

Deno.test("ticketing: pageSize may be 1 to 128, and the links keep it and the status filter", async () => {
  const app = fresh();
  await fill(app, 130);
  const big = await listPage(app, "?pageSize=128");
  assert.deepEqual(ids(big), range(1, 128));
  assert.equal(big.total, 130);
  const tail = await listPage(app, "?page=2&pageSize=128");
  assert.deepEqual(ids(tail), [129, 130]);

  for (const id of ["2", "4", "6"]) {
    await send(app, {
      method: "PUT",
      path: `${BASE}/${id}`,
      headers: { Accept: JSON_37, "Content-Type": "application/json" },
      body: '{"status":"closed"}',
    });
  }
  const closed = await listPage(app, "?status=closed&pageSize=2&page=2");
  assert.deepEqual(ids(closed), [6]);
  assert.deepEqual(
    closed,
    listJson(
      3,
      closed.tickets,
      [["firstPage", 1], ["previousPage", 1], ["lastPage", 2]],
      2,
      2,
      "&status=closed",
    ),
  );
});

Deno.test("ticketing: the XML list carries the page links as Link elements", async () => {
  const app = fresh();
  await fill(app, 3);
  const reply = await send(app, { path: `${BASE}?page=2&pageSize=1`, headers: { Accept: XML_36 } });
  assert.equal(reply.status, 200);
  const url = (n: number) => `${HREF}?page=${n}&amp;pageSize=1`;
  assert.equal(
    text(reply),
    `${PROLOG}<Tickets xmlns="${NS}" total="3" pageSize="1" page="2" href="${url(2)}">` +
      `<Link rel="firstPage" href="${url(1)}" type="${LIST_TYPE}+xml"/>` +
      `<Link rel="previousPage" href="${url(1)}" type="${LIST_TYPE}+xml"/>` +
      `<Link rel="nextPage" href="${url(3)}" type="${LIST_TYPE}+xml"/>` +
      `<Link rel="lastPage" href="${url(3)}" type="${LIST_TYPE}+xml"/>` +
      `${ticketXml("2", "open", "m2", false)}</Tickets>`,
  );
});

Deno.test("ticketing: a page or pageSize that is not an integer in range is a 400 that quotes nothing", async () => {
  const app = fresh();
  for (
    const [query, message] of <[string, string][]> [
      ["pageSize=129", "pageSize must be an integer from 1 to 128"],
      ["pageSize=0", "pageSize must be an integer from 1 to 128"],
      ["pageSize=-1", "pageSize must be an integer from 1 to 128"],
      ["pageSize=1e2", "pageSize must be an integer from 1 to 128"],
      ["pageSize=", "pageSize must be an integer from 1 to 128"],
      ["pageSize=%3Cscript%3E", "pageSize must be an integer from 1 to 128"],
      ["page=0", "page must be an integer from 1 to 999999999"],
      ["page=1.5", "page must be an integer from 1 to 999999999"],
      ["page=1000000000", "page must be an integer from 1 to 999999999"],
      [`page=${"9".repeat(10_000)}`, "page must be an integer from 1 to 999999999"],
    ]
  ) {
    const reply = await send(app, { path: `${BASE}?${query}`, headers: { Accept: JSON_37 } });
    assert.equal(badRequest(reply), message, query.slice(0, 40));
  }
});

// ---------------------------------------------------------------------------------------------
// Bounds: per-org ids, per-org and per-store caps, one Host lookup per request
// ---------------------------------------------------------------------------------------------

Deno.test("ticketing: ticket ids count per organisation", async () => {
  const app = fresh();
  await fill(app, 2);
  const other = security([], OTHER_ORG.urn);
  await fill(app, 1, other);
  const theirs = await send(app, {
    path: `/api/org/${OTHER_ORG.id}/ticketing/1`,
    headers: { Accept: JSON_37, Host: HOST },
    security: other,
  });
  assert.equal(theirs.status, 200);
  assert.deepEqual(JSON.parse(text(theirs)), {
    id: "1",
    org: OTHER_ORG.id,
    message: "m1",
    status: "open",
    created: NOW,
    href: `https://${HOST}/api/org/${OTHER_ORG.id}/ticketing/1`,
  });
  const mine = await send(app, { path: `${BASE}/1`, headers: { Accept: JSON_37 } });
  assert.deepEqual(JSON.parse(text(mine)), ticketJson("1", "open", "m1"));
  assert.equal((await listPage(app, "")).total, 2, "the other org's ticket is not in my list");
});

/** Asserts a 409 CONFLICT JSON error and returns its message. */
function conflict(reply: Reply): string {
  assert.equal(reply.status, 409, text(reply));
  const doc = JSON.parse(text(reply));
  assert.equal(doc.minorErrorCode, "CONFLICT");
  return doc.message;
}

Deno.test("ticketing: the default store keeps 1,000 tickets per organisation, then answers 409", async () => {
  const app = fresh();
  await fill(app, 1_000);
  assert.equal(
    conflict(await postJson(app, '{"message":"one more"}')),
    "This organisation has 1000 tickets, the most it may keep; delete some first",
  );
  // Another organisation is not affected by this one being full.
  await fill(app, 1, security([], OTHER_ORG.urn));
  // Deleting one makes room; ids are not reused.
  await send(app, { method: "DELETE", path: `${BASE}/7`, headers: { Accept: JSON_37 } });
  const again = await postJson(app, '{"message":"one more"}');
  assert.equal(again.status, 201);
  assert.equal(JSON.parse(text(again)).id, "1001");
  assert.equal((await listPage(app, "")).total, 1_000);
});

Deno.test("ticketing: message bytes per organisation are capped on POST and on PUT", async () => {
  const app = compile(
    ticketing(new MemoryTicketStore(() => new Date(NOW), { maxBytesPerOrg: 10 })),
  );
  assert.equal((await postJson(app, '{"message":"ééé"}')).status, 201, "6 bytes");
  const refused =
    "This organisation's tickets would exceed 10 bytes of message text; delete some first";
  assert.equal(conflict(await postJson(app, '{"message":"abcde"}')), refused);
  assert.equal((await postJson(app, '{"message":"abcd"}')).status, 201, "10 bytes in all");
  const grow = await send(app, {
    method: "PUT",
    path: `${BASE}/2`,
    headers: { Accept: JSON_37, "Content-Type": "application/json" },
    body: '{"message":"abcde"}',
  });
  assert.equal(conflict(grow), refused);
  const unchanged = await send(app, { path: `${BASE}/2`, headers: { Accept: JSON_37 } });
  assert.equal(JSON.parse(text(unchanged)).message, "abcd");
  await send(app, { method: "DELETE", path: `${BASE}/1`, headers: { Accept: JSON_37 } });
  assert.equal((await postJson(app, '{"message":"abcdef"}')).status, 201, "room again");
});

Deno.test("ticketing: the store serves a bounded number of organisations; an emptied one gives up its slot", async () => {
  const app = compile(ticketing(new MemoryTicketStore(() => new Date(NOW), { maxOrgs: 1 })));
  await fill(app, 1);
  const other = security([], OTHER_ORG.urn);
  const post = () =>
    send(app, {
      method: "POST",
      path: `/api/org/${OTHER_ORG.id}/ticketing`,
      headers: { Accept: JSON_37, "Content-Type": "application/json" },
      body: '{"message":"theirs"}',
      security: other,
    });
  assert.equal(conflict(await post()), "The ticket store serves 1 organisations, the most it may");
  await send(app, { method: "DELETE", path: `${BASE}/1`, headers: { Accept: JSON_37 } });
  const admitted = await post();
  assert.equal(admitted.status, 201);
  assert.equal(JSON.parse(text(admitted)).id, "1");
});

Deno.test("ticketing: a list reads the Host header once, whatever the number of tickets", async () => {
  const app = fresh();
  await fill(app, 100);
  const req = vcdRequest({
    path: `${BASE}?pageSize=100`,
    headers: { Host: HOST, Accept: JSON_37 },
  });
  let hostLookups = 0;
  const headers = req.headers;
  const counting = {
    get(name: string) {
      if (name === "host") hostLookups++;
      return headers.get(name);
    },
  } as ReadonlyMap<string, string>;
  const { reply } = await dispatch(app, { ...req, headers: counting });
  assert.equal(JSON.parse(text(reply)).tickets.length, 100);
  assert.equal(hostLookups, 1);
});

Deno.test("ticketing: a Host header longer than a host name and port leaves href relative", async () => {
  const app = fresh();
  const long = `${"a".repeat(300)}.example`;
  const created = await send(app, {
    method: "POST",
    path: BASE,
    headers: { Host: long, Accept: JSON_37, "Content-Type": "application/json" },
    body: '{"message":"m"}',
  });
  assert.equal(created.headers.Location, `${BASE}/1`);
});
