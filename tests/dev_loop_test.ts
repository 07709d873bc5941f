/**
 * The dev loop, as a user runs it against the real broker (issue 15, item 5): `vcdext notify`
 * publishes what a cell publishes; `vcdext request` expires what nobody answered and says why;
 * connection attempts are logged with the node and a refused vhost is named; `/healthz`
 * answers while the broker is still being tried; a busy `--http-port` fails first; SIGTERM to
 * the command the README says to run reaches the service.
 */

import assert from "node:assert/strict";
import { decodeNotification } from "../lib/core/notification.ts";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { AMQP_URL, eventually, uniqueName } from "./broker.ts";
import { Proc } from "./proc.ts";

const DENO = Deno.execPath();
const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const env = { RUST_BACKTRACE: "0", NO_COLOR: "1", VCDEXT_AMQP_URL: AMQP_URL };

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", MAIN, ...args],
    env,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A port nothing listens on (just freed). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("vcdext notify publishes a notification as vCD does, in JSON and legacy XML", async () => {
  const exchange = uniqueName("vcdext.test.notify");
  const queue = `${exchange}.q`;
  const admin = await BrokerAdmin.connect(AMQP_URL);
  try {
    await admin.declareExchange(exchange, "topic", true);
    await admin.declareQueue(queue, { exchange, keys: ["#"] });
    const type = "com/vmware/vcloud/event/vm/create";
    const flags = [
      "--notifications-exchange",
      exchange,
      "--entity",
      "urn:vcloud:vm:3f2e",
      "--org",
      "urn:vcloud:org:1a2b",
      "--user",
      "urn:vcloud:user:8b7a",
    ];
    const json = await run(["notify", type, ...flags, "--operation-success", "false"]);
    assert.equal(json.code, 0, json.stderr);
    assert.match(json.stdout, /false\.3f2e\.1a2b\.8b7a\.com\.vmware\.vcloud\.event\.vm\.create/);
    const xml = await run(["notify", type, ...flags, "--xml"]);
    assert.equal(xml.code, 0, xml.stderr);

    const got: Awaited<ReturnType<BrokerAdmin["take"]>> = [];
    await eventually(async () => (got.push(...await admin.take(queue)), got.length >= 2), 10_000);
    const [first, second] = got.map((m) =>
      decodeNotification({
        body: m.content,
        routingKey: m.fields.routingKey,
        headers: m.properties.headers as Record<string, string>,
      })
    );
    assert.equal(first?.format, "json");
    assert.equal(first?.type, type);
    assert.equal(first?.entity, "urn:vcloud:vm:3f2e");
    assert.equal(first?.org, "urn:vcloud:org:1a2b");
    assert.equal(first?.operationSuccess, false);
    assert.equal(second?.format, "xml");
    assert.equal(second?.entityKind, "vm");
    assert.equal(second?.operationSuccess, true);

    const bad = await run(["notify", type, "--entity", "not-a-urn"]);
    assert.equal(bad.code, 2, bad.stderr);
  } finally {
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
});

Deno.test("vcdext request: an unanswered request expires with its timeout and names the idle queue", async () => {
  const exchange = uniqueName("vcdext.test.expire");
  const queue = `${exchange}.q`;
  const admin = await BrokerAdmin.connect(AMQP_URL);
  try {
    await admin.declareExchange(exchange, "direct", true);
    await admin.declareQueue(queue, { exchange, keys: [queue] });
    const sent = await run([
      "request",
      "GET",
      "/api/anything",
      "--exchange",
      exchange,
      "--routing-key",
      queue,
      "--timeout",
      "300",
    ]);
    assert.equal(sent.code, 1, sent.stderr);
    assert.match(sent.stderr, new RegExp(`queue ${queue} has 0 consumers: is serve running\\?`));
    // Nobody took it: the broker drops it rather than hand it to the next `serve`.
    await eventually(async () => (await admin.queueInfo(queue))?.messages === 0, 10_000);
  } finally {
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
});

Deno.test("serve: /healthz answers while the broker is tried; attempts logged with the node; the refused vhost named", async () => {
  const port = freePort();
  const vhost = uniqueName("vcdext-no-such-vhost");
  const url = AMQP_URL.replace(/\/*$/, `/${vhost}`);
  const svc = new Proc(
    [MAIN, "serve", "--extension", "gcp-ticketing", "--http-port", String(port)],
    { ...env, VCDEXT_AMQP_URL: url },
  );
  try {
    await svc.waitFor('"msg":"connecting to the broker"', 1, 20_000);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(ready.status, 503);
    await ready.body?.cancel();
    const status = await svc.wait();
    assert.equal(status.code, 1, svc.log);
    const node = new URL(AMQP_URL).host;
    assert.match(
      svc.log,
      new RegExp(`"level":"info".*"node":"${node}".*"connecting to the broker"`),
    );
    assert.match(
      svc.log,
      new RegExp(
        `"level":"info".*"node":"${node}".*virtual host .{1,2}${vhost}.*"reconnect scheduled"`,
      ),
    );
    assert.match(svc.log, new RegExp(`vcdext: Cannot connect .*virtual host "${vhost}"`));
    const password = new URL(AMQP_URL).password;
    if (password.length > 3) assert.doesNotMatch(svc.log, new RegExp(`:${password}@`));
  } finally {
    svc.kill("SIGKILL");
    await svc.wait().catch(() => {});
  }
});

Deno.test("serve: --http-port in use fails before consuming, naming the port, in one line", async () => {
  const held = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (held.addr as Deno.NetAddr).port;
  const queue = uniqueName("vcdext.test.port");
  try {
    const out = await run([
      "serve",
      "--extension",
      "gcp-ticketing",
      "--queue",
      queue,
      "--http-port",
      String(port),
    ]);
    assert.equal(out.code, 1, out.stderr);
    const lines = out.stderr.split("\n").filter((l) => l.startsWith("vcdext:"));
    assert.equal(lines.length, 1, out.stderr);
    assert.match(lines[0]!, new RegExp(`127\\.0\\.0\\.1:${port}: address in use`));
    assert.doesNotMatch(out.stderr, /"msg":"(consuming|connecting to the broker)"/);
  } finally {
    held.close();
    const admin = await BrokerAdmin.connect(AMQP_URL);
    await admin.delete({ queues: [queue] });
    await admin.close();
  }
});

/** The README's command to run the service in the background (the `… task start &` line). */
async function readmeStartCommand(): Promise<string[]> {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const line = readme.split("\n").find((l) => /^[^`\s][^`]* task start &/.test(l));
  assert.ok(line, "the README shows how to start the service in the background");
  return line.slice(0, line.indexOf(" &")).trim().split(/\s+/);
}

/** Pids of processes whose command line names `marker` (ours: a unique queue name). */
async function pidsNaming(marker: string): Promise<number[]> {
  const out = await new Deno.Command("ps", { args: ["-eo", "pid=,args="] }).output();
  return new TextDecoder().decode(out.stdout).split("\n")
    .filter((l) => l.includes(marker) && !l.includes("ps -eo"))
    .map((l) => Number(l.trim().split(/\s+/)[0]));
}

Deno.test("SIGTERM to the README's start command reaches the service", async () => {
  const [command, ...args] = await readmeStartCommand();
  const exchange = uniqueName("vcdext.test.sigterm");
  const queue = `${exchange}.q`;
  const names = [
    "--exchange",
    exchange,
    "--queue",
    queue,
    "--notifications-queue",
    `${exchange}.n`,
    "--extension",
    "gcp-ticketing",
  ];
  const child = new Deno.Command(command!, {
    args: [...args, ...names],
    cwd: ROOT,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const admin = await BrokerAdmin.connect(AMQP_URL);
  try {
    await eventually(async () => (await admin.queueInfo(queue))?.consumers === 1, 60_000);
    child.kill("SIGTERM");
    await child.status;
    // The service drains and goes: nothing consumes the queue any more.
    await eventually(async () => (await admin.queueInfo(queue))?.consumers === 0, 15_000);
  } finally {
    for (const pid of await pidsNaming(queue)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await child.status;
    await admin.delete({ queues: [queue, `${exchange}.n`], exchanges: [exchange] });
    await admin.close();
  }
});
