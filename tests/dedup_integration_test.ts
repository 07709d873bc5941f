/**
 * Through the shared broker: requests of two organisations that carry the same `id` at the same
 * time each get their own organisation's answer (they used to share the first one's reply).
 */

import assert from "node:assert/strict";
import { buildRequest, decodeReply } from "../lib/sim/cell.ts";
import { ticketing } from "../handlers/ticketing.ts";
import { withService } from "./broker.ts";
import { ORG, OTHER_ORG } from "./fixtures.ts";

const USER_B = "urn:vcloud:user:0b0b0b0b-0000-4000-8000-000000000000";
const ORGS = [
  { id: ORG.id, urn: ORG.urn, user: "urn:vcloud:user:8b7a6c5d-0000-4e3f-9a1b-2c3d4e5f6a7b" },
  { id: OTHER_ORG.id, urn: OTHER_ORG.urn, user: USER_B },
] as const;

Deno.test("two orgs sending the same id at once each get their own tickets", async () => {
  await withService(ticketing(), async (h) => {
    const ask = (org: (typeof ORGS)[number], method: string, id?: string, body?: string) =>
      h.cell.send(
        h.exchange,
        h.routingKey,
        buildRequest({
          method,
          path: `/api/org/${org.id}/ticketing`,
          org: org.urn,
          user: org.user,
          headers: { Accept: "application/json", "Content-Type": "application/json" },
          ...(id === undefined ? {} : { id }),
          ...(body === undefined ? {} : { body }),
        }),
        { timeoutMs: 10_000 },
      ).then(decodeReply);
    for (const org of ORGS) {
      const created = await ask(org, "POST", undefined, JSON.stringify({ message: org.urn }));
      assert.equal(created.status, 201);
    }
    const PAIRS = 100;
    let crossed = 0;
    await Promise.all(Array.from({ length: PAIRS }, async (_, i) => {
      const id = `shared-${i}-${crypto.randomUUID()}`;
      const [a, b] = await Promise.all(ORGS.map((org) => ask(org, "GET", id)));
      for (const [org, reply] of [[ORGS[0], a!], [ORGS[1], b!]] as const) {
        assert.equal(reply.status, 200);
        assert.equal(reply.id, id);
        const { tickets } = JSON.parse(reply.text) as { tickets: { message: string }[] };
        if (tickets.some((t) => t.message !== org.urn)) crossed++;
        assert.ok(tickets.length > 0, "no ticket listed");
      }
    }));
    assert.equal(crossed, 0, `${crossed} of ${PAIRS * 2} replies listed another org's tickets`);
  });
});
