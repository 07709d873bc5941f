import assert from "node:assert/strict";
import { createLogger } from "../lib/observability/log.ts";
import {
  backoffDelay,
  blockingTaskGateway,
  parseVcdError,
  VcdClient,
  type VcdClientOptions,
  VcdError,
} from "../lib/vcd/client.ts";
import { childrenNamed, el, parseXml, renderXml } from "../lib/core/xml.ts";
import { FAKE_TLS } from "./fixtures/tls.ts";
import {
  FAKE_USER,
  type FakeVcd,
  type FakeVcdOptions,
  MEDIA,
  startFakeVcd,
  VMEXT_NS,
} from "../lib/sim/fake_vcd.ts";

const TASK_PATH = "/api/admin/extension/blockingTask/bt-1";
/** The password the tests' fakes accept (the fake makes one up per start when given none). */
const FAKE_PASSWORD = "test-only-vcd-Passw0rd";

/** Runs `fn` against a fresh fake with one blocking task, then closes both. */
async function withFake(
  fakeOptions: FakeVcdOptions,
  clientOptions: Partial<VcdClientOptions>,
  fn: (fake: FakeVcd, vcd: VcdClient, sleeps: number[]) => Promise<void>,
): Promise<void> {
  const fake = await startFakeVcd({ password: FAKE_PASSWORD, ...fakeOptions });
  const sleeps: number[] = [];
  const vcd = new VcdClient({
    baseUrl: fake.url,
    allowHttp: true,
    credentials: { user: FAKE_USER, password: FAKE_PASSWORD },
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
    ...clientOptions,
  });
  try {
    fake.addBlockingTask("bt-1", { operation: "vdcComposeVapp" });
    await fn(fake, vcd, sleeps);
  } finally {
    vcd.close();
    await fake.close();
  }
}

/** A throwaway server with a custom handler; `release()` ends handlers still waiting. */
function serveWith(
  handler: (req: Request, release: Promise<void>) => Promise<Response> | Response,
) {
  const { promise: release, resolve } = Promise.withResolvers<void>();
  const hits: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    hits.push(`${req.method} ${new URL(req.url).pathname}`);
    return handler(req, release);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    hits,
    close: async () => {
      resolve();
      await server.shutdown();
    },
  };
}

function operationParams(message: string): string {
  return renderXml(el(
    "vmext:BlockingTaskOperationParams",
    { "xmlns:vmext": VMEXT_NS },
    el("vmext:Message", {}, message),
  ));
}

function sessionPosts(fake: FakeVcd): number {
  return fake.calls.filter((c) => c.method === "POST" && c.path === "/api/sessions").length;
}

async function rejectsWith(promise: Promise<unknown>): Promise<VcdError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof VcdError, `expected a VcdError, got ${e}`);
    return e;
  }
  assert.fail("expected a rejection");
}

// ---------------------------------------------------------------------------------------------
// Login and session header
// ---------------------------------------------------------------------------------------------

Deno.test("VcdClient logs in lazily and sends the session token with the next request", async () => {
  await withFake({}, {}, async (fake, vcd) => {
    const res = await vcd.request("GET", TASK_PATH);
    assert.equal(res.status, 200);
    assert.match(res.text, /<vmext:BlockingTask /);
    assert.deepEqual(fake.calls.map((c) => `${c.method} ${c.path}`), [
      "POST /api/sessions",
      `GET ${TASK_PATH}`,
    ]);
    const [login, get] = fake.calls;
    assert.equal(login?.headers.authorization, `Basic ${btoa(`${FAKE_USER}:${FAKE_PASSWORD}`)}`);
    assert.equal(login?.headers.accept, "application/*+xml;version=36.0");
    assert.equal(get?.headers["x-vcloud-authorization"], fake.issuedTokens[0]);
    assert.equal(get?.headers.accept, "application/*+xml;version=36.0");
    assert.equal(get?.headers.authorization, undefined);
  });
});

Deno.test("VcdClient.login() logs in once and later requests reuse the token", async () => {
  await withFake({}, { apiVersion: "38.1" }, async (fake, vcd) => {
    await vcd.login();
    await vcd.request("GET", TASK_PATH);
    await vcd.request("GET", "api/session");
    assert.equal(sessionPosts(fake), 1);
    assert.equal(fake.calls[0]?.headers.accept, "application/*+xml;version=38.1");
    assert.equal(fake.calls[2]?.path, "/api/session", "a path without a leading slash is rooted");
  });
});

Deno.test("VcdClient shares one login between concurrent first requests", async () => {
  await withFake({}, {}, async (fake, vcd) => {
    await Promise.all([1, 2, 3].map(() => vcd.request("GET", TASK_PATH)));
    assert.equal(sessionPosts(fake), 1);
  });
});

Deno.test("VcdClient appends @System to a user given without an organisation", async () => {
  await withFake(
    {},
    { credentials: { user: "administrator", password: FAKE_PASSWORD } },
    async (fake, vcd) => {
      await vcd.login();
      assert.equal(fake.calls[0]?.status, 200);
    },
  );
});

Deno.test("VcdClient re-logs in exactly once when vCD answers 401 to an expired token", async () => {
  await withFake({ failFirst401: true }, {}, async (fake, vcd) => {
    const res = await vcd.request("GET", TASK_PATH);
    assert.equal(res.status, 200);
    assert.equal(sessionPosts(fake), 2);
    assert.deepEqual(fake.calls.map((c) => `${c.method} ${c.path} ${c.status}`), [
      "POST /api/sessions 200",
      `GET ${TASK_PATH} 401`,
      "POST /api/sessions 200",
      `GET ${TASK_PATH} 200`,
    ]);
    assert.equal(fake.calls[3]?.headers["x-vcloud-authorization"], fake.issuedTokens[1]);
  });
});

Deno.test("VcdClient gives up with VcdError 401 when the fresh token is refused too", async () => {
  const server = serveWith((req) =>
    new URL(req.url).pathname === "/api/sessions"
      ? new Response(null, { headers: { "x-vcloud-authorization": "tok-always-refused" } })
      : new Response("", { status: 401 })
  );
  const vcd = new VcdClient({
    baseUrl: server.url,
    allowHttp: true,
    credentials: { user: FAKE_USER, password: FAKE_PASSWORD },
  });
  try {
    const error = await rejectsWith(vcd.request("GET", "/api/org"));
    assert.equal(error.status, 401);
    assert.deepEqual(server.hits, [
      "POST /api/sessions",
      "GET /api/org",
      "POST /api/sessions",
      "GET /api/org",
    ]);
  } finally {
    vcd.close();
    await server.close();
  }
});

Deno.test("VcdClient throws VcdError 401 on a wrong password and keeps the password out of it", async () => {
  const password = "Wr0ng-Secret-Value";
  await withFake({}, { credentials: { user: FAKE_USER, password } }, async (fake, vcd) => {
    const error = await rejectsWith(vcd.request("GET", TASK_PATH));
    assert.equal(error.status, 401);
    assert.equal(error.minorErrorCode, "UNAUTHORIZED");
    assert.match(error.message, /^Cannot log in to vCD: vCD answered 401: Invalid user name/);
    const basic = btoa(`${FAKE_USER}:${password}`);
    for (const text of [error.message, String(error), error.stack ?? ""]) {
      assert.ok(!text.includes(password) && !text.includes(basic), text);
    }
    assert.equal(fake.calls.length, 1, "no request is sent without a session");
  });
});

Deno.test("VcdClient sends a bearer token as Authorization: Bearer and never logs in", async () => {
  const fake = await startFakeVcd();
  const token = fake.issueToken();
  const vcd = new VcdClient({ baseUrl: `${fake.url}/api/`, token, allowHttp: true });
  try {
    fake.addBlockingTask("bt-1", { operation: "vdcComposeVapp" });
    const res = await vcd.request("GET", TASK_PATH);
    assert.equal(res.status, 200);
    assert.equal(sessionPosts(fake), 0);
    assert.equal(fake.calls[0]?.headers.authorization, `Bearer ${token}`);
    assert.equal(fake.calls[0]?.path, TASK_PATH, "a trailing /api/ in baseUrl is dropped");
  } finally {
    vcd.close();
    await fake.close();
  }
});

Deno.test("VcdClient with only a bearer token fails with 401 instead of logging in", async () => {
  const fake = await startFakeVcd();
  const vcd = new VcdClient({ baseUrl: fake.url, token: "not-a-valid-token", allowHttp: true });
  try {
    const error = await rejectsWith(vcd.request("GET", TASK_PATH));
    assert.equal(error.status, 401);
    assert.ok(!error.message.includes("not-a-valid-token"));
    assert.equal(fake.calls.length, 1);
  } finally {
    vcd.close();
    await fake.close();
  }
});

Deno.test("VcdClient uses Authorization: Bearer after a login that returns X-VMWARE-VCLOUD-ACCESS-TOKEN", async () => {
  await withFake({ accessTokenOnly: true }, {}, async (fake, vcd) => {
    const res = await vcd.request("GET", TASK_PATH);
    assert.equal(res.status, 200);
    assert.equal(fake.calls[1]?.headers.authorization, `Bearer ${fake.issuedTokens[0]}`);
    assert.equal(fake.calls[1]?.headers["x-vcloud-authorization"], undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// Retries, timeouts, errors
// ---------------------------------------------------------------------------------------------

Deno.test("VcdClient retries 503 with growing backoff and then succeeds", async () => {
  await withFake({ fail5xxTimes: 2 }, {}, async (fake, vcd, sleeps) => {
    const res = await vcd.request("GET", TASK_PATH);
    assert.equal(res.status, 200);
    assert.deepEqual(fake.calls.map((c) => c.status), [200, 503, 503, 200]);
    assert.equal(sleeps.length, 2);
    assert.ok(sleeps[0]! >= 100 && sleeps[0]! <= 200, `first wait ${sleeps[0]}`);
    assert.ok(sleeps[1]! >= 200 && sleeps[1]! <= 400, `second wait ${sleeps[1]}`);
  });
});

Deno.test("VcdClient throws VcdError 503 with vCD's message once retries are exhausted", async () => {
  await withFake({ fail5xxTimes: 10 }, { retries: 2 }, async (fake, vcd, sleeps) => {
    const error = await rejectsWith(vcd.request("GET", TASK_PATH));
    assert.equal(error.status, 503);
    assert.equal(
      error.message,
      `Cannot GET ${TASK_PATH}: vCD answered 503: The cell is starting up`,
    );
    assert.equal(fake.calls.filter((c) => c.path === TASK_PATH).length, 3);
    assert.equal(sleeps.length, 2);
  });
});

Deno.test("VcdClient retries a 5xx on login too", async () => {
  let failures = 1;
  const server = serveWith((req) => {
    if (new URL(req.url).pathname !== "/api/sessions") return new Response("ok");
    if (failures-- > 0) return new Response("", { status: 502 });
    return new Response(null, { headers: { "x-vcloud-authorization": "tok-after-retry" } });
  });
  const vcd = new VcdClient({
    baseUrl: server.url,
    allowHttp: true,
    credentials: { user: FAKE_USER, password: FAKE_PASSWORD },
    sleep: () => Promise.resolve(),
  });
  try {
    assert.equal((await vcd.request("GET", "/api/org")).text, "ok");
    assert.deepEqual(server.hits, ["POST /api/sessions", "POST /api/sessions", "GET /api/org"]);
  } finally {
    vcd.close();
    await server.close();
  }
});

Deno.test("VcdClient throws VcdError without a status when vCD does not answer within timeoutMs", async () => {
  const server = serveWith(async (_req, release) => {
    await release;
    return new Response("too late");
  });
  const vcd = new VcdClient({
    baseUrl: server.url,
    allowHttp: true,
    token: "tok-timeout-test",
    timeoutMs: 50,
    retries: 1,
    sleep: () => Promise.resolve(),
  });
  try {
    const error = await rejectsWith(vcd.request("GET", "/api/org"));
    assert.equal(error.status, undefined);
    assert.equal(error.message, "Cannot GET /api/org: vCD did not answer within 50 ms");
    assert.equal(server.hits.length, 2, "a timeout is retried like a network error");
  } finally {
    vcd.close();
    await server.close();
  }
});

Deno.test("VcdClient throws VcdError without a status when nothing listens", async () => {
  const server = serveWith(() => new Response("unused"));
  await server.close();
  const sleeps: number[] = [];
  const vcd = new VcdClient({
    baseUrl: server.url,
    allowHttp: true,
    token: "tok-refused-test",
    retries: 2,
    sleep: (ms) => {
      sleeps.push(ms);
      return Promise.resolve();
    },
  });
  try {
    const error = await rejectsWith(vcd.request("GET", "/api/org"));
    assert.equal(error.status, undefined);
    assert.match(error.message, /^Cannot GET \/api\/org: /);
    assert.equal(sleeps.length, 2);
  } finally {
    vcd.close();
  }
});

Deno.test("VcdClient throws VcdError with vCD's message and minor code on an unexpected status", async () => {
  await withFake({}, {}, async (_fake, vcd) => {
    const error = await rejectsWith(vcd.request("GET", "/api/no/such/thing"));
    assert.equal(error.status, 404);
    assert.equal(error.minorErrorCode, "NOT_FOUND");
    assert.equal(
      error.message,
      "Cannot GET /api/no/such/thing: vCD answered 404: No resource at /api/no/such/thing",
    );
  });
});

Deno.test("VcdClient treats a 2xx outside expect as an error", async () => {
  await withFake({}, {}, async (_fake, vcd) => {
    const error = await rejectsWith(vcd.request("GET", TASK_PATH, { expect: [204] }));
    assert.equal(error.status, 200);
  });
});

Deno.test("VcdClient refuses an absolute URL on another origin without sending anything", async () => {
  await withFake({}, {}, async (fake, vcd) => {
    const error = await rejectsWith(vcd.request("GET", "https://attacker.example/api/task/1"));
    assert.equal(error.status, undefined);
    assert.match(error.message, /not on the vCD origin/);
    assert.equal(fake.calls.length, 0);
  });
});

Deno.test("VcdClient does not follow a redirect", async () => {
  const server = serveWith((req) =>
    new URL(req.url).pathname === "/api/org"
      ? new Response(null, { status: 302, headers: { location: "/api/elsewhere" } })
      : new Response("followed")
  );
  const vcd = new VcdClient({ baseUrl: server.url, token: "tok-redirect-test", allowHttp: true });
  try {
    const error = await rejectsWith(vcd.request("GET", "/api/org"));
    assert.equal(error.status, 302);
    assert.deepEqual(server.hits, ["GET /api/org"]);
  } finally {
    vcd.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Blocking tasks and services against the fake
// ---------------------------------------------------------------------------------------------

Deno.test("VcdClient follows the absolute resume Link href of a blocking task", async () => {
  await withFake({}, {}, async (fake, vcd) => {
    const task = parseXml((await vcd.request("GET", TASK_PATH)).text);
    const resume = childrenNamed(task, "Link").find((l) => l.attrs.rel === "resume")?.attrs.href;
    assert.equal(resume, `${fake.url}${TASK_PATH}/action/resume`);
    const res = await vcd.request("POST", resume!, {
      body: operationParams("approved by policy"),
      contentType: MEDIA.taskOperation,
      expect: [204],
    });
    assert.equal(res.status, 204);
    assert.deepEqual(fake.taskActions, [{
      id: "bt-1",
      action: "resume",
      message: "approved by policy",
    }]);
    assert.match(fake.tasks.get("bt-1") ?? "", /status="resumed"/);
    assert.equal(fake.calls.at(-1)?.headers["content-type"], MEDIA.taskOperation);
  });
});

Deno.test("blockingTaskGateway() fetches a task and posts updateProgress with its message and timeout", async () => {
  await withFake({}, {}, async (fake, vcd) => {
    const gateway = blockingTaskGateway(vcd, fake.url);
    const task = await gateway.fetch("bt-1");
    assert.equal(task.id, "bt-1");
    await gateway.act(task, {
      action: "updateProgress",
      message: "still checking",
      timeoutMs: 60000,
    });
    assert.deepEqual(fake.taskActions, [
      { id: "bt-1", action: "updateProgress", message: "still checking", timeoutMs: 60000 },
    ]);
    assert.equal(fake.calls.at(-1)?.headers["content-type"], MEDIA.taskProgress);
  });
});

Deno.test("blockingTaskGateway() refuses a second decision on a task vCD already resumed", async () => {
  await withFake({}, {}, async (fake, vcd) => {
    const gateway = blockingTaskGateway(vcd, fake.url);
    const task = await gateway.fetch("bt-1");
    await gateway.act(task, { action: "resume", message: "go" });
    const error = await rejectsWith(gateway.act(task, { action: "abort", message: "stop" }));
    assert.equal(error.status, 400);
    assert.deepEqual(fake.taskActions.map((a) => a.action), ["resume"]);
  });
});

// ---------------------------------------------------------------------------------------------
// Logging, TLS, helpers
// ---------------------------------------------------------------------------------------------

Deno.test("VcdClient log lines never contain the password or a token", async () => {
  const lines: string[] = [];
  const log = createLogger("debug", { write: (line) => lines.push(line) });
  const fake = await startFakeVcd({ failFirst401: true, fail5xxTimes: 1, password: FAKE_PASSWORD });
  const good = new VcdClient({
    baseUrl: fake.url,
    allowHttp: true,
    credentials: { user: FAKE_USER, password: FAKE_PASSWORD },
    log,
    sleep: () => Promise.resolve(),
  });
  const bad = new VcdClient({
    baseUrl: fake.url,
    allowHttp: true,
    credentials: { user: FAKE_USER, password: "An0ther-Wrong-Pass" },
    log,
  });
  try {
    fake.addBlockingTask("bt-1", { operation: "vdcComposeVapp" });
    await good.request("GET", TASK_PATH);
    await rejectsWith(bad.login());
  } finally {
    good.close();
    bad.close();
    await fake.close();
  }
  const all = lines.join("\n");
  assert.ok(lines.length >= 5, `expected request lines, got ${lines.length}`);
  assert.match(all, /"path":"\/api\/admin\/extension\/blockingTask\/bt-1"/);
  assert.equal(fake.issuedTokens.length, 2);
  for (const secret of [FAKE_PASSWORD, "An0ther-Wrong-Pass", ...fake.issuedTokens]) {
    assert.ok(!all.includes(secret), `log contains ${secret}`);
  }
  assert.doesNotMatch(all, /Basic |Bearer |authorization/i);
});

Deno.test("VcdClient trusts a cell certificate signed by caCertPem", async () => {
  const fake = await startFakeVcd({ tls: FAKE_TLS, password: FAKE_PASSWORD });
  const trusting = new VcdClient({
    baseUrl: fake.url,
    credentials: { user: FAKE_USER, password: FAKE_PASSWORD },
    caCertPem: FAKE_TLS.caCert,
  });
  const plain = new VcdClient({
    baseUrl: fake.url,
    credentials: { user: FAKE_USER, password: FAKE_PASSWORD },
    retries: 0,
  });
  try {
    assert.match(fake.url, /^https:/);
    await trusting.login();
    const error = await rejectsWith(plain.login());
    assert.equal(error.status, undefined);
    assert.match(error.message, /certificate.*caCertPem/);
    assert.equal(sessionPosts(fake), 1);
  } finally {
    trusting.close();
    plain.close();
    await fake.close();
  }
});

Deno.test("new VcdClient() refuses a base URL with credentials in it", () => {
  assert.throws(
    () => new VcdClient({ baseUrl: "https://admin:pw@vcd.example.com", token: "t0k3n-value" }),
    TypeError,
  );
  assert.throws(
    () => new VcdClient({ baseUrl: "https://vcd.example.com" }),
    /credentials or a token/,
  );
});

Deno.test("backoffDelay() doubles from 200 ms, stays within its jitter band and caps at 5 s", () => {
  for (let attempt = 0; attempt < 8; attempt++) {
    const ceiling = Math.min(5000, 200 * 2 ** attempt);
    assert.equal(backoffDelay(attempt, () => 0), ceiling / 2);
    assert.equal(backoffDelay(attempt, () => 1), ceiling);
  }
  const spread = new Set(Array.from({ length: 20 }, () => backoffDelay(3)));
  assert.ok(spread.size > 1, "the delay is jittered");
});

Deno.test("parseVcdError() reads the JSON form of a vCloud Error", () => {
  assert.deepEqual(
    parseVcdError('{"majorErrorCode":400,"minorErrorCode":"BAD_REQUEST","message":"bad"}'),
    { message: "bad", minorErrorCode: "BAD_REQUEST" },
  );
  assert.equal(parseVcdError('{"message":"not an error document"}'), undefined);
});
