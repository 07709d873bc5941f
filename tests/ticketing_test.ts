import assert from "node:assert/strict";
import { type App, compile, dispatch } from "../lib/dispatch.ts";
import type { Reply } from "../lib/envelope.ts";
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
    `${PROLOG}<Tickets xmlns="${NS}" total="2">` +
      ticketXml("1", "open", "disk &amp; &lt;full&gt;", false) +
      ticketXml("2", "closed", "cpu hot", false) + "</Tickets>",
  );

  const closed = await send(app, { path: `${BASE}?status=closed`, headers: { Accept: XML_36 } });
  assert.equal(
    text(closed),
    `${PROLOG}<Tickets xmlns="${NS}" total="1">${
      ticketXml("2", "closed", "cpu hot", false)
    }</Tickets>`,
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
  assert.deepEqual(JSON.parse(text(list)), {
    tickets: [ticketJson("1", "open", "disk is full")],
    total: 1,
  });

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
  assert.deepEqual(JSON.parse(text(empty)), { tickets: [], total: 0 });
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
  assert.equal(text(xml), `${PROLOG}<Tickets xmlns="${NS}" total="0"/>`);
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
