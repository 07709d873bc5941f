/**
 * @module Measures what echo-amplifying requests leave in the real service's memory: it runs
 * `main.ts serve --extension gcp-ticketing` (through tests/fixtures/serve_with_gc.ts, which
 * adds a GC-and-report hook on SIGUSR2) as a subprocess on the local broker (a fresh exchange
 * and queue, deleted afterwards), sends `--n` GETs whose `--path-kb` KB path of `'` characters
 * matches no route, so the 404 quotes it (and XML escapes each `'` as `&apos;`), and prints the
 * service's resident set size: idle (after a full GC), right after the requests (VmRSS, no GC),
 * after a full GC, and its peak (VmHWM).
 *
 * ```
 * ./node_modules/deno/deno run -A tests/bench/echo_memory.ts [--n 120] [--path-kb 700]
 *   [--in-flight 4]
 * ```
 *
 * Diagnostic, not a test (tests/memory_integration_test.ts holds the bound): Linux only, it
 * reads /proc/<pid>/status.
 */

import { parseArgs } from "node:util";
import { BrokerAdmin, CellClient } from "../../lib/transport/amqp/mod.ts";
import { buildRequest, decodeReply, SAMPLE } from "../../lib/sim/cell.ts";

const { values } = parseArgs({
  options: {
    n: { type: "string", default: "120" },
    "path-kb": { type: "string", default: "700" },
    "in-flight": { type: "string", default: "4" },
    url: { type: "string", default: "amqp://guest:guest@127.0.0.1:5672" },
  },
});
const N = Number(values.n);
const PATH_KB = Number(values["path-kb"]);
const IN_FLIGHT = Number(values["in-flight"]);
const URL_ = values.url!;
const SERVE = new URL("../fixtures/serve_with_gc.ts", import.meta.url).pathname;

/** What the service holds after a full GC, in MiB (its SIGUSR2 hook). */
async function collected(): Promise<{ rss: number; heapUsed: number }> {
  const seen = log.split('{"memory":').length;
  child.kill("SIGUSR2");
  const deadline = Date.now() + 10_000;
  while (log.split('{"memory":').length === seen) {
    if (Date.now() > deadline) throw new Error(`no memory report:\n${log.slice(-2000)}`);
    await sleep(20);
  }
  const line = log.slice(log.lastIndexOf('{"memory":')).split("\n")[0]!;
  const { memory } = JSON.parse(line) as { memory: { rss: number; heapUsed: number } };
  return { rss: memory.rss / 1_048_576, heapUsed: memory.heapUsed / 1_048_576 };
}

/** VmRSS or VmHWM of a process in MiB. */
async function vm(pid: number, key: "VmRSS" | "VmHWM"): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = status.match(new RegExp(`^${key}:\\s+(\\d+) kB$`, "m"));
  if (!m) throw new Error(`no ${key} in /proc/${pid}/status`);
  return Number(m[1]) / 1024;
}

const tag = crypto.randomUUID().slice(0, 8);
const exchange = `vcdext.bench.echo.${tag}`;
const queue = `${exchange}.q`;
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "--v8-flags=--max-semi-space-size=8",
    "-A",
    SERVE,
    "serve",
    "--exchange",
    exchange,
    "--queue",
    queue,
    "--extension",
    "gcp-ticketing",
    "--notifications-exchange",
    "",
  ],
  env: { RUST_BACKTRACE: "0", NO_COLOR: "1", VCDEXT_AMQP_URL: URL_ },
  stdin: "null",
  stdout: "null",
  stderr: "piped",
}).spawn();
let log = "";
const pump = (async () => {
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) log += chunk;
})();
const admin = await BrokerAdmin.connect(URL_);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  const deadline = Date.now() + 30_000;
  while (!log.includes('"msg":"consuming"')) {
    if (Date.now() > deadline) throw new Error(`the service did not start:\n${log}`);
    await sleep(100);
  }
  const idle = await collected();
  const cell = await CellClient.connect(URL_, { replyExchange: "vcdext.test.cell" });
  const path = `/api/org/${SAMPLE.orgId}/ticketing/x/${"'".repeat(PATH_KB * 1000)}`;
  let next = 0;
  let replyBytes = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < N) {
      next++;
      const bytes = await cell.send(
        exchange,
        "gcp-ticketing",
        buildRequest({ method: "GET", path, headers: { Accept: "application/*+xml" } }),
        { timeoutMs: 60_000 },
      );
      const reply = decodeReply(bytes);
      if (reply.status !== 404) throw new Error(`answered ${reply.status}, not 404`);
      replyBytes += reply.body.byteLength;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - started) / 1000;
  const after = await vm(child.pid, "VmRSS");
  const end = await collected();
  const peak = await vm(child.pid, "VmHWM");
  await cell.close();
  const f = (mib: number) => `${mib.toFixed(0)} MiB`;
  console.log(
    `${N} GETs with a ${PATH_KB} KB path of "'" (404 bodies ${
      (replyBytes / N / 1e6).toFixed(1)
    } MB each) in ${seconds.toFixed(1)} s, ${IN_FLIGHT} in flight\n` +
      `service RSS: idle ${f(idle.rss)}, right after ${f(after)} (+${f(after - idle.rss)}), ` +
      `after a full GC ${f(end.rss)} (+${f(end.rss - idle.rss)}); peak ${f(peak)}\n` +
      `service heap used after a full GC: idle ${f(idle.heapUsed)}, end ${f(end.heapUsed)} ` +
      `(+${f(end.heapUsed - idle.heapUsed)})`,
  );
} finally {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  await child.status;
  await pump;
  await admin.delete({ queues: [queue], exchanges: [exchange] });
  await admin.close();
}
