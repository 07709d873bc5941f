/**
 * Testing an extension with the kit (lib/testing.ts): the example extensions in handlers/,
 * called as vCD would call them, with no broker, no vCD and no permission. Runs with plain
 * `deno test tests/kit_example_test.ts`: copy it next to your own extension.
 */

import assert from "node:assert/strict";
import { decide, notify, request, TEST_ORG } from "../lib/testing.ts";
import { ticketing } from "../handlers/ticketing.ts";
import vappPolicy from "../handlers/vapp_policy.ts";

const tickets = `/api/org/${TEST_ORG.id}/ticketing`;

Deno.test("ticketing: a ticket filed in JSON is listed in XML", async () => {
  const ext = ticketing(); // a fresh in-memory store per test
  const filed = await request(ext, {
    method: "POST",
    path: tickets,
    accept: "application/json",
    body: { message: "disk is full" },
  });
  assert.equal(filed.status, 201);
  const ticket = filed.json() as { id: string; message: string; status: string };
  assert.equal(ticket.message, "disk is full");
  assert.equal(ticket.status, "open");
  assert.equal(filed.headers.get("location"), `${tickets}/${ticket.id}`);

  const list = await request(ext, { path: tickets, accept: "application/*+xml;version=39.0" });
  assert.equal(list.status, 200);
  assert.match(list.headers.get("content-type") ?? "", /xml/);
  const root = list.xml();
  assert.equal(root.name, "Tickets");
  assert.equal(root.attrs.total, "1");
  assert.equal(root.children.find((c) => c.name === "Ticket")?.attrs.id, ticket.id);
});

Deno.test("ticketing: XML in, 400 for a bad body, 404 for an unknown ticket", async () => {
  const ext = ticketing();
  const xml = await request(ext, {
    method: "POST",
    path: tickets,
    contentType: "application/xml",
    accept: "application/json",
    body: "<Ticket><Message>printer on fire</Message></Ticket>",
  });
  assert.equal(xml.status, 201, xml.text);
  const bad = await request(ext, { method: "POST", path: tickets, body: { message: "" } });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /message must be a non-empty string/);
  assert.equal((await request(ext, { path: `${tickets}/nope` })).status, 404);
});

Deno.test("ticketing: a caller of another organisation gets 403", async () => {
  const other = "urn:vcloud:org:9f8e7d6c-0000-4b5a-9c8d-7e6f5a4b3c2d";
  const res = await request(ticketing(), { path: tickets, org: other });
  assert.equal(res.status, 403);
});

Deno.test("vapp-policy: a vApp creation is audited, a VM creation is not its business", async () => {
  const created = await notify(vappPolicy, {
    type: "vapp/create",
    entity: "urn:vcloud:vapp:0b1c2d3e-0000-4f5a-8b9c-1d2e3f4a5b6c",
  });
  assert.equal(created.outcome, "handled");
  const audit = created.logs.find((l) => l.audit === "vapp");
  assert.equal(audit?.vapp, "urn:vcloud:vapp:0b1c2d3e-0000-4f5a-8b9c-1d2e3f4a5b6c");
  assert.equal(audit?.org, TEST_ORG.urn);
  assert.equal((await notify(vappPolicy, { type: "vm/create" })).outcome, "ignored");
});

Deno.test("vapp-policy: blocked compositions are resumed or aborted by the vApp's name", async () => {
  const good = await decide(vappPolicy, {
    operation: "vdcComposeVapp",
    owner: { name: "prod-billing-api" },
  });
  assert.equal(good.decision?.action, "resume");
  const bad = await decide(vappPolicy, {
    operation: "vdcInstantiateVapp",
    owner: { name: "My vApp" },
  });
  assert.equal(bad.decision?.action, "abort");
  assert.match(bad.decision?.message ?? "", /breaks the naming policy/);
  const other = await decide(vappPolicy, { operation: "vdcDeleteVapp" });
  assert.equal(other.decision, undefined);
});
