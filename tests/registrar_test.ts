import assert from "node:assert/strict";
import ticketing from "../handlers/ticketing.ts";
import vappPolicy from "../handlers/vapp_policy.ts";
import {
  FAKE_USER,
  type FakeVcd,
  type FakeVcdOptions,
  type RecordedCall,
  startFakeVcd,
  VMEXT_NS,
} from "../lib/sim/fake_vcd.ts";
import { SERVICE_MEDIA_TYPE, urlPattern } from "../lib/core/register.ts";
import { describeResult, register, type RestClient } from "../lib/vcd/registrar.ts";
import { VcdClient, VcdError } from "../lib/vcd/client.ts";
import { childrenNamed, childText, parseXml } from "../lib/core/xml.ts";

const SERVICES = "/api/admin/extension/service";
const QUERY = `${SERVICES}/query`;

/** Runs `fn` against a fresh fake vCD and a real client logged in to it, then closes both. */
async function withFake(
  fn: (fake: FakeVcd, client: VcdClient) => Promise<void>,
  fakeOptions: FakeVcdOptions = {},
): Promise<void> {
  const fake = await startFakeVcd(fakeOptions);
  // `satisfies` checks at compile time that the real client is a RestClient.
  const client = new VcdClient({
    baseUrl: fake.url,
    credentials: { user: FAKE_USER, password: fake.password },
    allowHttp: true,
    retries: 1,
    sleep: () => Promise.resolve(),
  }) satisfies RestClient;
  try {
    await fn(fake, client);
  } finally {
    client.close();
    await fake.close();
  }
}

/** The REST calls after `from`, logins left out, as `METHOD path`. */
function restCalls(fake: FakeVcd, from = 0): string[] {
  return fake.calls.slice(from).filter((c) => c.path !== "/api/sessions").map((c) =>
    `${c.method} ${c.path}`
  );
}

function only<T>(items: readonly T[], what: string): T {
  assert.equal(items.length, 1, `expected exactly one ${what}`);
  return items[0]!;
}

function callsOf(fake: FakeVcd, method: string): RecordedCall[] {
  return fake.calls.filter((c) => c.method === method);
}

const OPTIONS = { exchange: "vcdext" } as const;

Deno.test("register() creates a new service with one POST of the schema-ordered document", async () => {
  await withFake(async (fake, client) => {
    const result = await register(client, ticketing, OPTIONS);
    const service = only([...fake.services.values()], "service");
    assert.deepEqual(result, {
      extension: "gcp-ticketing",
      action: "created",
      href: `${fake.url}${SERVICES}/${service.id}`,
      filters: ["/api/org/[^/]+/ticketing/?", "/api/org/[^/]+/ticketing/[^/]+/?"],
    });
    assert.deepEqual(restCalls(fake), [`GET ${QUERY}`, `POST ${SERVICES}`]);
    const query = only(callsOf(fake, "GET"), "query");
    assert.equal(new URLSearchParams(query.search).get("filter"), "name==gcp-ticketing");

    const post = only(callsOf(fake, "POST").filter((c) => c.path === SERVICES), "POST");
    assert.equal(post.headers["content-type"], SERVICE_MEDIA_TYPE);
    const doc = parseXml(post.body);
    assert.equal(doc.name, "Service");
    assert.equal(doc.ns, VMEXT_NS);
    assert.equal(doc.attrs.name, "gcp-ticketing");
    assert.deepEqual(doc.children.map((c) => c.name), [
      "Description",
      "Namespace",
      "Enabled",
      "AuthorizationEnabled",
      "RoutingKey",
      "Priority",
      "Exchange",
      "Vendor",
      "ApiFilters",
    ]);
    assert.equal(childText(doc, "Enabled"), "true");
    assert.equal(childText(doc, "Exchange"), "vcdext");
    assert.equal(childText(doc, "RoutingKey"), "gcp-ticketing");
    assert.equal(service.enabled, true);
    assert.equal(service.namespace, "com.example.ticketing");
  });
});

Deno.test("register() sends filters that match exactly the ticketing route templates", async () => {
  await withFake(async (fake, client) => {
    await register(client, ticketing, OPTIONS);
    const post = only(callsOf(fake, "POST").filter((c) => c.path === SERVICES), "POST");
    const filters = childrenNamed(parseXml(post.body), "ApiFilters")
      .flatMap((f) => childrenNamed(f, "ApiFilter"))
      .map((f) => childText(f, "UrlPattern"));
    const templates = [...new Set(ticketing.routes.map((r) => r.path))];
    assert.deepEqual(filters, templates.map(urlPattern));
    const matches = (path: string) =>
      filters.filter((f) => new RegExp(`^(?:${f})$`).test(path)).length;
    assert.equal(matches("/api/org/1a2b/ticketing"), 1);
    assert.equal(matches("/api/org/1a2b/ticketing/42"), 1);
    assert.equal(matches("/api/org/1a2b/ticketing/42/comments"), 0);
    assert.equal(matches("/api/org/1a2b/ticketingX"), 0);
    assert.deepEqual(only([...fake.services.values()], "service").apiFilters, filters);
  });
});

Deno.test("register() a second time updates the service with a PUT and no second POST", async () => {
  await withFake(async (fake, client) => {
    const first = await register(client, ticketing, OPTIONS);
    const mark = fake.calls.length;
    const second = await register(client, ticketing, { ...OPTIONS, priority: 10 });
    assert.equal(second.action, "updated");
    assert.equal(second.href, first.href);
    assert.deepEqual(restCalls(fake, mark), [
      `GET ${QUERY}`,
      `PUT ${new URL(first.href!).pathname}`,
    ]);
    const put = only(callsOf(fake, "PUT"), "PUT");
    assert.equal(put.headers["content-type"], SERVICE_MEDIA_TYPE);
    assert.equal(childText(parseXml(put.body), "Priority"), "10");
    assert.equal(only([...fake.services.values()], "service").priority, 10);
  });
});

Deno.test("register() passes the routing key, priority and authorization flag to vCD", async () => {
  await withFake(async (fake, client) => {
    await register(client, ticketing, {
      exchange: "vcd-ext",
      routingKey: "tickets-v2",
      priority: 7,
      authorizationEnabled: true,
    });
    const service = only([...fake.services.values()], "service");
    assert.equal(service.exchange, "vcd-ext");
    assert.equal(service.routingKey, "tickets-v2");
    assert.equal(service.priority, 7);
    assert.equal(service.authorizationEnabled, true);
  });
});

Deno.test("register() re-enables a disabled service with its update", async () => {
  await withFake(async (fake, client) => {
    await register(client, ticketing, OPTIONS);
    await register(client, ticketing, { ...OPTIONS, action: "disable" });
    const result = await register(client, ticketing, OPTIONS);
    assert.equal(result.action, "updated");
    assert.equal(only([...fake.services.values()], "service").enabled, true);
  });
});

Deno.test("register() with action disable PUTs the document with Enabled false", async () => {
  await withFake(async (fake, client) => {
    const created = await register(client, ticketing, OPTIONS);
    const mark = fake.calls.length;
    const result = await register(client, ticketing, { ...OPTIONS, action: "disable" });
    assert.deepEqual(result, { ...created, action: "disabled" });
    assert.deepEqual(restCalls(fake, mark), [
      `GET ${QUERY}`,
      `PUT ${new URL(created.href!).pathname}`,
    ]);
    assert.equal(childText(parseXml(only(callsOf(fake, "PUT"), "PUT").body), "Enabled"), "false");
    assert.equal(only([...fake.services.values()], "service").enabled, false);
  });
});

Deno.test("register() with action unregister disables the service, then deletes it", async () => {
  await withFake(async (fake, client) => {
    const created = await register(client, ticketing, OPTIONS);
    const path = new URL(created.href!).pathname;
    const mark = fake.calls.length;
    const result = await register(client, ticketing, { ...OPTIONS, action: "unregister" });
    assert.deepEqual(result, { ...created, action: "deleted" });
    assert.deepEqual(restCalls(fake, mark), [`GET ${QUERY}`, `PUT ${path}`, `DELETE ${path}`]);
    assert.equal(childText(parseXml(only(callsOf(fake, "PUT"), "PUT").body), "Enabled"), "false");
    assert.equal(only(callsOf(fake, "DELETE"), "DELETE").status, 204);
    assert.equal(fake.services.size, 0);
  });
});

Deno.test("register() unregisters an already disabled service without another PUT", async () => {
  await withFake(async (fake, client) => {
    const created = await register(client, ticketing, OPTIONS);
    await register(client, ticketing, { ...OPTIONS, action: "disable" });
    const mark = fake.calls.length;
    const result = await register(client, ticketing, { ...OPTIONS, action: "unregister" });
    assert.equal(result.action, "deleted");
    const path = new URL(created.href!).pathname;
    assert.deepEqual(restCalls(fake, mark), [`GET ${QUERY}`, `DELETE ${path}`]);
    assert.equal(fake.services.size, 0);
  });
});

Deno.test("register() answers absent for unregister or disable of a service vCD does not have", async () => {
  await withFake(async (fake, client) => {
    for (const action of ["unregister", "disable"] as const) {
      const result = await register(client, ticketing, { ...OPTIONS, action });
      assert.deepEqual(result, {
        extension: "gcp-ticketing",
        action: "absent",
        filters: ["/api/org/[^/]+/ticketing/?", "/api/org/[^/]+/ticketing/[^/]+/?"],
      });
    }
    assert.deepEqual(restCalls(fake), [`GET ${QUERY}`, `GET ${QUERY}`]);
  });
});

Deno.test("register() skips an extension without routes and sends nothing", async () => {
  await withFake(async (fake, client) => {
    const result = await register(client, vappPolicy, OPTIONS);
    assert.equal(result.action, "skipped");
    assert.deepEqual(result.filters, []);
    assert.match(result.reason ?? "", /no API routes/);
    assert.equal(fake.calls.length, 0);
    assert.match(describeResult(result), /^vapp-policy: skipped: no API routes/);
  });
});

Deno.test("register() still unregisters an extension without routes registered earlier", async () => {
  await withFake(async (fake, client) => {
    // An earlier version of vapp-policy had routes and was registered.
    const older = { ...vappPolicy, routes: ticketing.routes };
    await register(client, older, OPTIONS);
    const result = await register(client, vappPolicy, { ...OPTIONS, action: "unregister" });
    assert.equal(result.action, "deleted");
    assert.equal(fake.services.size, 0);
  });
});

Deno.test("register() leaves a same-named service of another namespace alone, and names the step vCD refused", async () => {
  await withFake(async (fake, client) => {
    fake.services.set("other", {
      id: "other",
      name: "gcp-ticketing",
      description: undefined,
      namespace: "com.other.vendor",
      enabled: true,
      authorizationEnabled: false,
      routingKey: "other",
      priority: undefined,
      exchange: "other",
      vendor: undefined,
      apiFilters: [],
      rights: new Map(),
    });
    const error = await register(client, ticketing, OPTIONS).then(
      () => assert.fail("register() should have failed"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof VcdError);
    assert.equal(error.status, 400);
    assert.equal(error.minorErrorCode, "DUPLICATE_NAME");
    assert.match(
      error.message,
      /^Cannot register extension gcp-ticketing \(create the service\): Cannot POST \/api\/admin\/extension\/service: vCD answered 400: /,
    );
    assert.ok(error.cause instanceof VcdError);
    assert.equal(callsOf(fake, "PUT").length, 0);
    assert.equal(fake.services.get("other")?.namespace, "com.other.vendor");
  });
});

Deno.test("register() gives a VcdError naming the extension and the lookup when vCD keeps failing", async () => {
  await withFake(async (fake, client) => {
    await assert.rejects(
      register(client, ticketing, { ...OPTIONS, action: "unregister" }),
      (e: unknown) => {
        assert.ok(e instanceof VcdError);
        assert.equal(e.status, 503);
        assert.match(
          e.message,
          /^Cannot unregister extension gcp-ticketing \(find the service\): Cannot GET \/api\/admin\/extension\/service\/query: vCD answered 503: The cell is starting up$/,
        );
        return true;
      },
    );
    // One attempt and one retry, then nothing else.
    assert.deepEqual(restCalls(fake), [`GET ${QUERY}`, `GET ${QUERY}`]);
  }, { fail5xxTimes: 10 });
});

Deno.test("register() checks its options before sending anything", async () => {
  await withFake(async (fake, client) => {
    await assert.rejects(register(client, ticketing, { exchange: " " }), TypeError);
    await assert.rejects(register(client, ticketing, { ...OPTIONS, priority: 1.5 }), RangeError);
    assert.equal(fake.calls.length, 0);
  });
});

// --- a stub client, for query shapes the fake does not produce --------------------------------

interface StubAnswer {
  readonly status?: number;
  readonly text?: string;
  readonly error?: VcdError;
}

/** A RestClient answering from a table keyed by `METHOD url`, recording every call. */
function stub(answers: Record<string, StubAnswer>): RestClient & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    request(method, pathOrUrl) {
      const key = `${method} ${pathOrUrl}`;
      sent.push(key);
      const a = answers[key];
      if (a === undefined) {
        return Promise.reject(new VcdError(`unexpected ${key}`, { status: 404 }));
      }
      if (a.error) return Promise.reject(a.error);
      return Promise.resolve({
        status: a.status ?? 200,
        headers: new Headers(),
        text: a.text ?? "",
      });
    },
  };
}

const CELL = "https://vcd.example.com";

Deno.test("register() lists every page of services when vCD refuses the name filter", async () => {
  const client = stub({
    [`GET ${QUERY}?filter=name==gcp-ticketing`]: {
      error: new VcdError("Cannot GET query: vCD answered 400: bad filter", { status: 400 }),
    },
    [`GET ${QUERY}`]: {
      text: '<QueryResultReferences xmlns="http://www.vmware.com/vcloud/v1.5">' +
        `<Link rel="nextPage" href="${CELL}${QUERY}?page=2"/>` +
        `<AdminServiceReference name="other" href="${CELL}${SERVICES}/1"/>` +
        "</QueryResultReferences>",
    },
    [`GET ${CELL}${QUERY}?page=2`]: {
      text: '<QueryResultReferences xmlns="http://www.vmware.com/vcloud/v1.5">' +
        `<Link rel="previousPage" href="${CELL}${QUERY}"/>` +
        `<AdminServiceReference name="gcp-ticketing" href="${CELL}${SERVICES}/2"/>` +
        "</QueryResultReferences>",
    },
    [`PUT ${CELL}${SERVICES}/2`]: { status: 200 },
  });
  const result = await register(client, ticketing, OPTIONS);
  assert.equal(result.action, "updated");
  assert.equal(result.href, `${CELL}${SERVICES}/2`);
  assert.deepEqual(client.sent, [
    `GET ${QUERY}?filter=name==gcp-ticketing`,
    `GET ${QUERY}`,
    `GET ${CELL}${QUERY}?page=2`,
    `PUT ${CELL}${SERVICES}/2`,
  ]);
});

Deno.test("register() matches the name itself when the filter lets other services through", async () => {
  const client = stub({
    [`GET ${QUERY}?filter=name==gcp-ticketing`]: {
      text: "<QueryResultRecords>" +
        `<AdminServiceRecord name="gcp-ticketing-old" href="${CELL}${SERVICES}/1"/>` +
        "</QueryResultRecords>",
    },
    [`POST ${SERVICES}`]: { status: 201, text: "" },
  });
  const result = await register(client, ticketing, OPTIONS);
  assert.deepEqual(result.action, "created");
  assert.equal(result.href, undefined);
  assert.deepEqual(client.sent.at(-1), `POST ${SERVICES}`);
});

Deno.test("register() reports a query answer that is not XML as a VcdError of the lookup", async () => {
  const client = stub({ [`GET ${QUERY}?filter=name==gcp-ticketing`]: { text: "<html>" } });
  await assert.rejects(
    register(client, ticketing, OPTIONS),
    (e: unknown) =>
      e instanceof VcdError &&
      /^Cannot register extension gcp-ticketing \(find the service\): vCD's answer is not XML: /
        .test(e.message),
  );
});

Deno.test("register() names the delete step when vCD refuses the DELETE", async () => {
  const client = stub({
    [`GET ${QUERY}?filter=name==gcp-ticketing`]: {
      text: `<QueryResultRecords><AdminServiceRecord name="gcp-ticketing" enabled="false"` +
        ` href="${CELL}${SERVICES}/9"/></QueryResultRecords>`,
    },
    [`DELETE ${CELL}${SERVICES}/9`]: {
      error: new VcdError("Cannot DELETE /x: vCD answered 403: no", {
        status: 403,
        minorErrorCode: "ACCESS_TO_RESOURCE_IS_FORBIDDEN",
      }),
    },
  });
  await assert.rejects(
    register(client, ticketing, { ...OPTIONS, action: "unregister" }),
    (e: unknown) =>
      e instanceof VcdError && e.status === 403 &&
      e.minorErrorCode === "ACCESS_TO_RESOURCE_IS_FORBIDDEN" &&
      e.message.startsWith("Cannot unregister extension gcp-ticketing (delete the service): "),
  );
});

Deno.test("describeResult() says what register() did in one line", () => {
  assert.equal(
    describeResult({
      extension: "t",
      action: "updated",
      href: "https://c/s/1",
      filters: ["a", "b"],
    }),
    "t: updated https://c/s/1 (2 API filters)",
  );
  assert.equal(
    describeResult({ extension: "t", action: "deleted", href: "https://c/s/1", filters: ["a"] }),
    "t: deleted https://c/s/1",
  );
  assert.equal(
    describeResult({ extension: "t", action: "absent", filters: [] }),
    "t: absent (not registered in vCD)",
  );
});
