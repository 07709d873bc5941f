/**
 * Where the admin session may go: the vCD client refuses plain HTTP unless told otherwise, and
 * the blocking-task gateway follows a task's action link only to that task's own action
 * endpoint on the cell.
 */

import assert from "node:assert/strict";
import { createLogger } from "../lib/observability/log.ts";
import { blockingTaskGateway, VcdClient } from "../lib/vcd/client.ts";
import { FAKE_USER, startFakeVcd } from "../lib/sim/fake_vcd.ts";

Deno.test("new VcdClient() refuses an http:// base URL unless allowHttp is set", () => {
  for (const baseUrl of ["http://vcd.example.com", "http://127.0.0.1:8080", "HTTP://[::1]/"]) {
    assert.throws(
      () => new VcdClient({ baseUrl, credentials: { user: FAKE_USER, password: "pw" } }),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message ===
          "Cannot create the vCD client: an http:// URL would send the password and session " +
            "tokens in clear; use https://, or allow plain HTTP explicitly (allowHttp, " +
            "--vcd-allow-http)",
      baseUrl,
    );
  }
  assert.throws(
    () => new VcdClient({ baseUrl: "http://vcd.example.com", token: "t", allowHttp: false }),
    TypeError,
  );
  new VcdClient({ baseUrl: "https://vcd.example.com", token: "t" }).close();
});

Deno.test("VcdClient with allowHttp talks plain HTTP, and says so once in the log", async () => {
  const fake = await startFakeVcd();
  const lines: string[] = [];
  const log = createLogger("info", { write: (line) => lines.push(line) });
  const vcd = new VcdClient({
    baseUrl: fake.url,
    credentials: { user: FAKE_USER, password: fake.password },
    allowHttp: true,
    log,
  });
  try {
    await vcd.login();
    assert.equal(fake.calls[0]?.status, 200);
    const warnings = lines.filter((l) => l.includes("vcd over plain http"));
    assert.equal(warnings.length, 1, lines.join("\n"));
    assert.match(warnings[0]!, /"level":"warn".*"host":"127\.0\.0\.1"/);
    assert.ok(!lines.join("\n").includes(fake.password));
  } finally {
    vcd.close();
    await fake.close();
  }
});

/**
 * A cell that serves one blocking task whose `resume` link is `link` (a path on its own
 * origin), and records every request with the header the admin session travels in.
 */
function cellWithLink(link: string) {
  const hits: { method: string; path: string; session: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    hits.push({
      method: req.method,
      path: url.pathname,
      session: req.headers.get("authorization"),
    });
    if (req.method === "GET") {
      const doc = `<BlockingTask xmlns="http://www.vmware.com/vcloud/v1.5" status="active"` +
        ` id="urn:vcloud:blockingTask:bt-1"><Link rel="resume" href="${url.origin}${link}"/>` +
        "</BlockingTask>";
      return new Response(doc, { headers: { "content-type": "application/xml" } });
    }
    return new Response(null, { status: 204 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    hits,
    close: () => server.shutdown(),
  };
}

async function decideThrough(link: string) {
  const cell = cellWithLink(link);
  const lines: string[] = [];
  const log = createLogger("info", { write: (line) => lines.push(line) });
  const client = new VcdClient({ baseUrl: cell.url, token: "admin-session", allowHttp: true });
  try {
    const gateway = blockingTaskGateway(client, cell.url, log);
    const task = await gateway.fetch("bt-1");
    await gateway.act(task, { action: "resume", message: "ok" });
    return { hits: cell.hits, lines };
  } finally {
    client.close();
    await cell.close();
  }
}

Deno.test("blockingTaskGateway follows the task's own action link, even under a path prefix", async () => {
  const own = "/cloud/api/admin/extension/blockingTask/bt-1/action/resume";
  const { hits, lines } = await decideThrough(own);
  assert.deepEqual(hits.map((h) => `${h.method} ${h.path}`), [
    "GET /api/admin/extension/blockingTask/bt-1",
    `POST ${own}`,
  ]);
  assert.equal(hits[1]?.session, "Bearer admin-session");
  assert.equal(lines.filter((l) => l.includes("not followed")).length, 0);
});

Deno.test("blockingTaskGateway does not take the admin session to another path on the cell", async () => {
  for (
    const link of [
      "/api/admin/user/1234/action/unlock",
      "/api/admin/extension/blockingTask/other-task/action/resume",
      "/api/admin/extension/blockingTask/bt-1/action/resume?then=/api/admin/user",
    ]
  ) {
    const { hits, lines } = await decideThrough(link);
    assert.deepEqual(hits.map((h) => `${h.method} ${h.path}`), [
      "GET /api/admin/extension/blockingTask/bt-1",
      "POST /api/admin/extension/blockingTask/bt-1/action/resume",
    ], link);
    const warned = lines.filter((l) => l.includes("blocking task link not followed"));
    assert.equal(warned.length, 1, link);
    assert.match(warned[0]!, /"level":"warn"/);
    assert.match(warned[0]!, /"task":"bt-1","action":"resume"/);
    assert.doesNotMatch(warned[0]!, /then=/, "the query is not logged");
  }
});
