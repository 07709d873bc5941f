/**
 * The "quota" extension of issue 15 (tests/fixtures/quota_extension.ts) tested the way an author
 * would, with the kit (lib/testing.ts): no broker, no vCD, no permission. `deno test
 * tests/quota_kit_test.ts` runs it.
 */

import assert from "node:assert/strict";
import { configure, notify, request, TEST_ORG, withRightIds } from "../lib/testing.ts";
import { quota } from "./fixtures/quota_extension.ts";

const PATH = `/api/org/${TEST_ORG.id}/quota`;
const ADMIN = "urn:vcloud:right:0a1b2c3d-0000-4e5f-8a9b-0c1d2e3f4a5b";

/** The extension as `serve` would run it once vCD named the right's id. */
function served(values: Record<string, number> = {}) {
  return withRightIds(configure(quota(), values), { "com.example.quota:Quota Admin": ADMIN });
}

Deno.test("quota: the configured default in JSON and XML, then a PUT by an admin in XML", async () => {
  const ext = served({ defaultVms: 4 });
  const json = await request(ext, { path: PATH, accept: "application/json" });
  assert.equal(json.status, 200);
  assert.deepEqual(json.json(), { org: TEST_ORG.id, vms: 4 });
  const put = await request(ext, {
    method: "PUT",
    path: PATH,
    contentType: "application/xml",
    accept: "application/*+xml",
    body: "<Quota><Vms>12</Vms></Quota>",
    rights: [ADMIN],
  });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.xml().name, "Quota");
  const after = await request(ext, { path: PATH, accept: "application/*+xml" });
  assert.match(after.text, /<Vms>12<\/Vms>/);
});

Deno.test("quota: PUT without the right is 403 and changes nothing; a bad number is 400", async () => {
  const ext = served();
  const denied = await request(ext, { method: "PUT", path: PATH, body: { vms: 50 } });
  assert.equal(denied.status, 403);
  const unchanged = await request(ext, { path: PATH, accept: "application/json" });
  assert.deepEqual(unchanged.json(), { org: TEST_ORG.id, vms: 10 });
  const bad = await request(ext, { method: "PUT", path: PATH, body: { vms: -1 }, rights: [ADMIN] });
  assert.equal(bad.status, 400);
  assert.match(bad.text, /vms must be a whole number/);
  const other = "urn:vcloud:org:9f8e7d6c-0000-4b5a-9c8d-7e6f5a4b3c2d";
  assert.equal((await request(ext, { path: PATH, org: other })).status, 403);
});

Deno.test("quota: a deleted vApp is audited; a created one is not its business", async () => {
  const ext = served();
  const deleted = await notify(ext, { type: "vapp/delete", entity: "urn:vcloud:vapp:1" });
  assert.equal(deleted.outcome, "handled");
  assert.equal(deleted.logs.some((l) => l.audit === "quota"), true);
  const created = await notify(ext, { type: "vapp/create", entity: "urn:vcloud:vapp:2" });
  assert.equal(created.outcome, "ignored");
});
