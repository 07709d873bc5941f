/**
 * Rights declared by name: `register` creates them through the service's rights link (once),
 * `serve` resolves them to ids at start and refuses to start when one is missing or no
 * `--vcd-url` is given; dispatch then compares ids with the caller's security context as
 * before, and ids declared as URNs keep working.
 */

import assert from "node:assert/strict";
import { type ServeOptions, UsageError } from "../lib/app/config.ts";
import { registryWithRightIds, resolveRights, RightsError } from "../lib/app/rights.ts";
import { serve } from "../lib/app/serve.ts";
import { compile, dispatch } from "../lib/core/dispatch.ts";
import { defineExtension, type Extension, route } from "../lib/core/extension.ts";
import { UnknownRightError } from "../lib/core/rights.ts";
import { createLogger } from "../lib/observability/log.ts";
import { FAKE_USER, type FakeVcd, startFakeVcd } from "../lib/sim/fake_vcd.ts";
import { VcdClient } from "../lib/vcd/client.ts";
import { describeResult, register, type RestClient } from "../lib/vcd/registrar.ts";
import { RIGHTS, security, vcdRequest } from "./fixtures.ts";

const NS = "com.example.quota";
const URN = RIGHTS.admin;

/** An extension whose routes declare rights by short name, by qualified name and by id. */
function quota(rights: { put?: string[]; del?: string[] } = {}): Extension {
  return defineExtension({
    name: "quota",
    namespace: NS,
    routingKey: "quota",
    routes: [
      route({
        method: "GET",
        path: "/api/quota",
        produces: { json: (n: number) => ({ n }) },
        handle: () => ({ body: 1 }),
      }),
      route({
        method: "PUT",
        path: "/api/quota",
        rights: rights.put ?? ["Quota Admin"],
        produces: { json: (n: number) => ({ n }) },
        handle: () => ({ body: 2 }),
      }),
      route({
        method: "DELETE",
        path: "/api/quota",
        rights: rights.del ?? [`${NS}:Quota Admin`, URN],
        handle: () => ({}),
      }),
    ],
  });
}

const silent = createLogger("error", { write: () => {} });

async function withFake(fn: (fake: FakeVcd, client: VcdClient) => Promise<void>): Promise<void> {
  const fake = await startFakeVcd();
  const client = new VcdClient({
    baseUrl: fake.url,
    credentials: { user: FAKE_USER, password: fake.password },
    allowHttp: true,
    retries: 1,
    sleep: () => Promise.resolve(),
  });
  try {
    await fn(fake, client);
  } finally {
    client.close();
    await fake.close();
  }
}

/** The vCD flags of `serve` pointing at the fake (the rest is not read before the refusal). */
function serveOptions(fake: FakeVcd | undefined): ServeOptions {
  return {
    handlerTimeoutMs: 1000,
    vcdTimeoutMs: 5000,
    amqpUrl: "amqp://127.0.0.1:1",
    transport: "amqp",
    ...(fake === undefined ? {} : {
      vcdUrl: fake.url,
      vcdUser: FAKE_USER,
      vcdPassword: fake.password,
      vcdAllowHttp: true,
    }),
  } as unknown as ServeOptions;
}

function rightPosts(fake: FakeVcd): number {
  return fake.calls.filter((c) => c.method === "POST" && c.path.endsWith("/rights")).length;
}

Deno.test("register creates the rights declared by name once, through the rights link", async () => {
  await withFake(async (fake, client) => {
    const first = await register(client, quota(), { exchange: "vcdext" });
    assert.equal(first.action, "created");
    // Short and qualified spellings of one right make one right.
    assert.deepEqual(first.rightsCreated, [`${NS}:Quota Admin`]);
    assert.match(describeResult(first), /, 1 right created$/);
    assert.equal(rightPosts(fake), 1);
    const again = await register(client, quota(), { exchange: "vcdext" });
    assert.equal(again.action, "updated");
    assert.deepEqual(again.rightsCreated, []);
    assert.equal(rightPosts(fake), 1, "a second register creates no right");
    // A new right declared later is added by the next register.
    const more = await register(client, quota({ put: ["Quota Admin", "Quota Audit"] }), {
      exchange: "vcdext",
    });
    assert.deepEqual(more.rightsCreated, [`${NS}:Quota Audit`]);
    assert.equal(rightPosts(fake), 2);
  });
});

Deno.test("an extension with URN rights only registers without touching rights", async () => {
  await withFake(async (fake, client) => {
    const result = await register(client, quota({ put: [URN], del: [URN] }), {
      exchange: "vcdext",
    });
    assert.equal(result.rightsCreated, undefined);
    assert.ok(!fake.calls.some((c) => c.path.endsWith("/rights")));
  });
});

Deno.test("serve's resolution: the right's id gets 200, without it 403, the name is no id", async () => {
  await withFake(async (_fake, client) => {
    await register(client, quota(), { exchange: "vcdext" });
    const [resolved] = await resolveRights(client, [quota()]);
    const put = resolved!.routes.find((r) => r.method === "PUT")!;
    const id = put.rights![0]!;
    assert.match(id, /^urn:vcloud:right:[0-9a-f-]{36}$/);
    const del = resolved!.routes.find((r) => r.method === "DELETE")!;
    assert.deepEqual(del.rights, [id, URN], "the qualified name is the same right; URNs stay");

    const app = compile(resolved!);
    const call = async (method: string, rights: string[]) =>
      (await dispatch(app, vcdRequest({ method, path: "/api/quota", security: security(rights) })))
        .reply.status;
    assert.equal(await call("PUT", [id]), 200);
    assert.equal(await call("PUT", [RIGHTS.view]), 403);
    assert.equal(await call("PUT", [`${NS}:Quota Admin`, "Quota Admin"]), 403);
    assert.equal(await call("DELETE", [id]), 403, "the URN is still required");
    assert.equal(await call("DELETE", [id, URN]), 204);
    assert.equal(await call("GET", []), 200);
  });
});

Deno.test("URN rights resolve without any vCD request", async () => {
  const ext = quota({ put: [URN], del: [URN] });
  const client: RestClient = { request: () => Promise.reject(new Error("no request expected")) };
  const [same] = await resolveRights(client, [ext]);
  assert.equal(same, ext);
  const registry = [ext];
  assert.equal(await registryWithRightIds(serveOptions(undefined), registry, silent), registry);
});

Deno.test("a right missing in vCD: resolution names the extension, the route and the right", async () => {
  await withFake(async (_fake, client) => {
    await register(client, quota(), { exchange: "vcdext" });
    await assert.rejects(
      resolveRights(client, [quota({ put: ["Quota Admin", "Quota Owner"] })]),
      (e: Error) => {
        assert.ok(e instanceof UnknownRightError);
        assert.equal(
          e.message,
          `extension quota: route PUT /api/quota declares right "${NS}:Quota Owner", which vCD ` +
            "does not have: run register for this extension, or fix the name",
        );
        return true;
      },
    );
  });
  await withFake(async (_fake, client) => {
    await assert.rejects(
      resolveRights(client, [quota()]),
      (e: Error) =>
        e instanceof RightsError &&
        e.message.startsWith(
          `extension quota: route PUT /api/quota declares right "${NS}:Quota Admin", but the extension is not registered`,
        ),
    );
  });
});

Deno.test("serve refuses to start on a missing right, or named rights without --vcd-url", async () => {
  await withFake(async (fake, client) => {
    await register(client, quota({ put: [URN], del: [URN] }), { exchange: "vcdext" });
    const deps = { registry: [quota()], log: silent, sink: { write: () => {} } };
    await assert.rejects(
      serve(serveOptions(fake), deps),
      (e: Error) => e instanceof UnknownRightError && /route PUT \/api\/quota/.test(e.message),
    );
    await assert.rejects(
      serve(serveOptions(undefined), deps),
      (e: Error) =>
        e instanceof UsageError &&
        e.message.startsWith(
          `extension quota: route PUT /api/quota declares right "${NS}:Quota Admin" by name; serve needs --vcd-url`,
        ),
    );
  });
});
