/**
 * `main.ts serve`'s flag defaults, through the real entrypoint: every default read back from the
 * start-up settings line, and the ones that decide behaviour also shown by behaviour (the broker
 * URL it connects to, the prefetch the broker holds for its consumer, the listener bound to
 * loopback, the size limits, the timeout ordering).
 */

import assert from "node:assert/strict";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { buildRequest, SAMPLE } from "../lib/sim/cell.ts";
import { AMQP_URL, uniqueName } from "./broker.ts";
import { MAIN, RawCell, replyJson, Serve, settingsOf, waitForLine } from "./entrypoint.ts";
import { Proc } from "./proc.ts";

const TICKETS = `/api/org/${SAMPLE.orgId}/ticketing`;
/** A URL nothing listens on: serve logs its settings, then fails to connect (exit 1). */
const NOWHERE = "amqp://guest:guest@127.0.0.1:1";

/** Runs `serve` against {@linkcode NOWHERE} with `flags`; the exit code and the process. */
async function serveNowhere(flags: string[]): Promise<{ code: number; proc: Proc }> {
  const proc = new Proc([MAIN, "serve", "--amqp-url", NOWHERE, ...flags]);
  const status = await proc.wait();
  return { code: status.code, proc };
}

Deno.test("serve without flags runs with the documented defaults (start-up settings line)", async () => {
  const { code, proc } = await serveNowhere([]);
  assert.equal(code, 1, proc.log);
  assert.deepEqual(settingsOf(proc), {
    transport: "amqp",
    amqpUrl: ["amqp://guest:[redacted]@127.0.0.1:1"],
    heartbeat: 5,
    connectTimeoutMs: 5000,
    exchange: "vcdext",
    prefetch: 128,
    queueType: "classic",
    notificationsExchange: "vcd.notifications20",
    notificationsQueue: "vcdext.notifications",
    vcdApiVersion: "36.0",
    handlerTimeoutMs: 8000,
    vcdTimeoutMs: 10_000,
    maxInFlight: 100,
    drainMs: 5000,
    maxEnvelopeBytes: 1_048_576,
    maxBodyBytes: 524_288,
    httpHost: "127.0.0.1",
    configDir: "/etc/vcdext",
    logLevel: "info",
  });
});

Deno.test("the settings line shows the flags given, and no password or token", async () => {
  const proc = new Proc(
    [MAIN, "serve", "--amqp-url", "amqp://u:hunter2secret@127.0.0.1:1", "--drain-ms", "0"],
    { VCDEXT_VCD_TOKEN: "tok-secret-value" },
  );
  assert.equal((await proc.wait()).code, 1);
  const settings = settingsOf(proc);
  assert.equal(settings.drainMs, 0);
  assert.equal(settings.vcdToken, "[set]");
  assert.doesNotMatch(proc.log, /hunter2secret|tok-secret-value/);
});

Deno.test("the default handler timeout (8 s) must stay below the default vCD timeout (10 s)", async () => {
  // Below the other side's default passes validation and fails later, on the broker (exit 1);
  // equal to it is a usage error (exit 2). Both defaults are thereby pinned by behaviour.
  const [belowVcd, atVcd, aboveHandler, atHandler] = await Promise.all([
    serveNowhere(["--handler-timeout-ms", "9999"]),
    serveNowhere(["--handler-timeout-ms", "10000"]),
    serveNowhere(["--vcd-timeout-ms", "8001"]),
    serveNowhere(["--vcd-timeout-ms", "8000"]),
  ]);
  assert.equal(belowVcd.code, 1, belowVcd.proc.log);
  assert.equal(atVcd.code, 2, atVcd.proc.log);
  assert.match(
    atVcd.proc.log,
    /--handler-timeout-ms \(10000\) must stay below --vcd-timeout-ms \(10000\)/,
  );
  assert.equal(aboveHandler.code, 1, aboveHandler.proc.log);
  assert.equal(atHandler.code, 2, atHandler.proc.log);
});

/** Non-loopback IPv4 addresses of this machine. */
function otherAddresses(): string[] {
  return Deno.networkInterfaces()
    .filter((i) => i.family === "IPv4" && !i.address.startsWith("127."))
    .map((i) => i.address);
}

async function prefetchOf(queue: string): Promise<number[]> {
  const out = await new Deno.Command("rabbitmqctl", {
    args: ["list_consumers", "queue_name", "prefetch_count", "--formatter", "json", "-q"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const rows = JSON.parse(new TextDecoder().decode(out.stdout)) as Record<string, unknown>[];
  return rows.filter((r) => r.queue_name === queue).map((r) => Number(r.prefetch_count));
}

Deno.test("serve without --amqp-url connects to the local broker as guest, with prefetch 128 and /metrics on loopback only", async () => {
  assert.equal(
    AMQP_URL,
    "amqp://guest:guest@127.0.0.1:5672",
    "this test needs the shared broker at serve's default URL",
  );
  const exchange = uniqueName("vcdext.test.defaults");
  const queue = `${exchange}.q`;
  // No VCDEXT_AMQP_URL in its environment: the built-in default URL is the only one it has.
  const proc = new Proc(
    [
      MAIN,
      "serve",
      "--exchange",
      exchange,
      "--queue",
      queue,
      "--extension",
      "gcp-ticketing",
      "--http-port",
      "0",
    ],
    {},
    { clearEnv: true },
  );
  const admin = await BrokerAdmin.connect(AMQP_URL);
  try {
    const connected = await waitForLine(proc, "connected to the broker");
    assert.equal(connected.url, "amqp://guest:[redacted]@127.0.0.1:5672");
    const up = await waitForLine(proc, "HTTP listener up");
    assert.equal(up.hostname, "127.0.0.1");
    await waitForLine(proc, "consuming");
    assert.deepEqual(await prefetchOf(queue), [128]);

    const port = Number(up.port);
    const ok = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(ok.status, 200);
    await ok.body?.cancel();
    const others = otherAddresses();
    if (others.length === 0) console.log("no non-loopback address here: only the log line checked");
    for (const address of others) {
      await assert.rejects(
        fetch(`http://${address}:${port}/metrics`, { signal: AbortSignal.timeout(3000) }),
        `/metrics answered on ${address}`,
      );
    }
    // Log level info by default: each answered request writes an access line.
    const cell = await RawCell.connect();
    try {
      const reply = await cell.send(
        exchange,
        "gcp-ticketing",
        buildRequest({ method: "GET", path: TICKETS }),
      );
      assert.equal(replyJson(reply).statusCode, 200);
    } finally {
      await cell.close();
    }
    await waitForLine(proc, "request", (l) => l.status === 200);
  } finally {
    await proc.end();
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
});

/** A POST of a JSON ticket whose body is exactly `size` bytes. */
function postOfSize(size: number, pad: Record<string, string> = {}) {
  const head = '{"message":"';
  const body = head + "x".repeat(size - head.length - 2) + '"}';
  assert.equal(body.length, size);
  return buildRequest({
    method: "POST",
    path: TICKETS,
    headers: { "Content-Type": "application/json", Accept: "application/json", ...pad },
    body,
  });
}

Deno.test("serve's default size limits: 413 beyond 524,288 body bytes and beyond a 1 MiB envelope", async () => {
  const serve = await Serve.start();
  const cell = await RawCell.connect();
  try {
    const status = async (env: ReturnType<typeof buildRequest>) =>
      replyJson(await cell.send(serve.exchange, "gcp-ticketing", env)).statusCode;
    // At the limit the body is read (and refused by the handler: the message is too long).
    assert.equal(await status(postOfSize(524_288)), 400);
    assert.equal(await status(postOfSize(524_289)), 413);
    // The envelope: a small body, a header that brings the message to the limit and one past it.
    const base = postOfSize(100, { "X-Pad": "" }).body.byteLength;
    const padded = (n: number) => postOfSize(100, { "X-Pad": "p".repeat(n - base) });
    assert.equal(padded(1_048_576).body.byteLength, 1_048_576);
    assert.notEqual(await status(padded(1_048_576)), 413);
    assert.equal(await status(padded(1_048_577)), 413);
  } finally {
    await cell.close();
    await serve.close();
  }
});
