/**
 * @module The A/B benchmark driver of issue 6: vcdext (`main.ts serve`, ticketing extension)
 * against the minimal responder (`tests/bench/minimal_responder.ts`), both live on the local
 * broker at once, driven by the cell simulator (`CellClient`) in alternating runs at 1, 16 and
 * 128 requests in flight.
 *
 * ```
 * deno run -A tests/bench/run.ts [--quick] [--confirm-baseline] [--cpu-prof DIR]
 *   [--endpoint-baseline] [--levels 1,16,128] [--v8-flags FLAGS] [--vcdext-v8-flags FLAGS]
 *   [--log-level info] [--show-stderr] [--memory-report] [--url amqp://guest:guest@127.0.0.1:5672]
 * ```
 *
 * - Both responders are subprocesses started (and killed, by pid, in `finally`) here, each on
 *   its own uniquely named exchange and queue, deleted afterwards.
 * - Warm-up first; then for each level, pairs of runs, the order alternating (AB, BA, …) so a
 *   drift of the shared broker does not favour one side.
 * - Per run: req/s, p50/p90/p99 latency (cell side), CPU µs per request of the responder
 *   process (`/proc/<pid>/stat` utime+stime; also the driver's and the broker's for context),
 *   peak RSS in the run (`VmHWM`, reset before each run through `clear_refs`), and lost
 *   (no reply within 10 s), duplicated (`CellClient.unmatched`) and mismatched (reply id ≠
 *   request id, wrong status, undecodable) replies.
 * - Summary: ratios vcdext/minimal as the median of the per-pair ratios, absolute CPU and RSS,
 *   the targets of issue 6, and (full run only) CPU per request of a 10,000- against a
 *   100,000-request run.
 *
 * `--confirm-baseline` makes the baseline publish on a confirm channel and ack after the
 * confirm, like vcdext (the default baseline is the issue's: no confirms).
 * `--endpoint-baseline` (diagnostic, not the issue's baseline) makes it run vcdext's pure path
 * (decode, dispatch, encode) behind its bare AMQP loop, so the ratio isolates `lib/transport/amqp/`. `--cpu-prof DIR`
 * runs vcdext under V8's sampling profiler and writes its profile to DIR at the end
 * (`tests/bench/profile_summary.ts` reads it). `--levels` runs only some levels (profiling);
 * `--v8-flags` passes V8 flags to both responders (e.g. `--max-semi-space-size=2`); vcdext
 * runs with the V8 flags of `deno task start` (as shipped), or `--vcdext-v8-flags` instead;
 * `--show-stderr` prints the tail of their output at the end; `--memory-report` runs vcdext
 * through `serve_with_memory.ts` and prints its JS heap against its RSS after the load.
 *
 * Exit status: 1 when a run lost, duplicated or mismatched a reply; targets are reported only.
 */

import { BrokerAdmin, CellClient } from "../../lib/transport/amqp/mod.ts";
import { decodeReply } from "../../lib/sim/cell.ts";
import { cellRequest, EXPECTED_STATUS, mix } from "./workload.ts";
import { buildRequest } from "../../lib/sim/cell.ts";

// ---------------------------------------------------------------------------------------------
// Settings

const args = Deno.args;
const QUICK = args.includes("--quick");
const CONFIRM_BASELINE = args.includes("--confirm-baseline");
/** Diagnostic: the baseline runs vcdext's pure path behind its bare AMQP loop. */
const ENDPOINT_BASELINE = args.includes("--endpoint-baseline");
/** The value of `--name value` or `--name=value`. */
const argValue = (name: string): string | undefined => {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
};
const URL_ = argValue("--url") ?? Deno.env.get("VCDEXT_BENCH_AMQP_URL") ??
  "amqp://guest:guest@127.0.0.1:5672";
const CPU_PROF_DIR = argValue("--cpu-prof");
/** V8 flags for both responders (same runtime settings on both sides), e.g. heap sizes. */
const V8_FLAGS = argValue("--v8-flags");
/**
 * V8 flags of vcdext: those `deno task start` (and the compiled binary) run it with, unless
 * `--vcdext-v8-flags` replaces them (experiments; `--vcdext-v8-flags=` for none).
 */
const VCDEXT_V8_FLAGS = argValue("--vcdext-v8-flags") ?? await startTaskV8Flags();

async function startTaskV8Flags(): Promise<string | undefined> {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const command: string = config.tasks.start.command;
  return /--v8-flags=(\S+)/.exec(command)?.[1];
}
/** vcdext's log level: `warn` by default (no access log); `info` measures the access log too. */
const LOG_LEVEL = argValue("--log-level") ?? "warn";
/** Only these levels (e.g. `128` or `1,128`), for profiling one regime. */
const ONLY_LEVELS = argValue("--levels")?.split(",").map(Number);
/** Print the last lines of the responders' output at the end (e.g. with `--trace-gc`). */
const MEMORY_REPORT = args.includes("--memory-report");
const SHOW_STDERR = args.includes("--show-stderr") || MEMORY_REPORT;
const STDERR_LINES = SHOW_STDERR ? 400 : 40;

interface Level {
  readonly inFlight: number;
  /** Requests per run. */
  readonly count: number;
}

const ALL_LEVELS: readonly Level[] = QUICK
  ? [{ inFlight: 1, count: 1_000 }, { inFlight: 16, count: 4_000 }, {
    inFlight: 128,
    count: 10_000,
  }]
  : [{ inFlight: 1, count: 1_500 }, { inFlight: 16, count: 8_000 }, {
    inFlight: 128,
    count: 20_000,
  }];
const LEVELS = ALL_LEVELS.filter((l) => !ONLY_LEVELS || ONLY_LEVELS.includes(l.inFlight));
const PAIRS = QUICK ? 2 : 5;
/** A run stops issuing requests after this long, whatever its count. */
const RUN_CAP_MS = QUICK ? 6_000 : 25_000;
const WARMUP = QUICK ? { high: 2_000, low: 100 } : { high: 6_000, low: 300 };
const FLAT = { small: 10_000, large: 100_000, capMs: 90_000, tolerance: 1.15 };
const REPLY_TIMEOUT_MS = 10_000;

const ROOT = new URL("../../", import.meta.url).pathname;
const CLK_TCK = await (async () => {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

// ---------------------------------------------------------------------------------------------
// /proc readings

/** utime+stime of a process in µs (all its threads), or NaN when it cannot be read. */
function cpuMicros(pid: number | "self"): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the command name (which may contain spaces) start after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]); // fields 14 and 15 of stat(5)
    return (ticks * 1e6) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** A `Vm…` line of /proc/<pid>/status in MB. */
function vmMB(pid: number, key: "VmRSS" | "VmHWM"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resets the peak RSS (`VmHWM`) to the current RSS; false when the kernel refuses. */
function resetPeak(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** The broker's pid (beam.smp), only to read its CPU time; undefined when not found. */
function brokerPid(): number | undefined {
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        if (Deno.readTextFileSync(`/proc/${e.name}/comm`).trim() === "beam.smp") {
          return Number(e.name);
        }
      } catch { /* gone */ }
    }
  } catch { /* no /proc */ }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Responders

interface Responder {
  readonly name: "vcdext" | "minimal";
  readonly exchange: string;
  readonly queue: string;
  readonly routingKey: string;
  readonly child: Deno.ChildProcess;
  readonly pid: number;
  /** Last lines of its stderr, to show when something fails. */
  readonly stderr: string[];
  /** Ticket ids its POSTs returned, not deleted yet. */
  readonly live: string[];
  /** The ticket the GETs read. */
  seed: string;
  idleRssStart: number;
  idleRssEnd: number;
  /** False when the peak could not be reset per run (then it is the process's peak). */
  peakResettable: boolean;
}

function spawn(cmdArgs: string[], name: Responder["name"]): {
  child: Deno.ChildProcess;
  stderr: string[];
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: cmdArgs,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).spawn();
  const stderr: string[] = [];
  const drain = async (stream: ReadableStream<Uint8Array>, keep: boolean) => {
    const lines = stream.pipeThrough(new TextDecoderStream());
    for await (const chunk of lines) {
      if (!keep) continue;
      for (const line of chunk.split("\n")) {
        if (line.trim() === "") continue;
        stderr.push(`[${name}] ${line}`);
        if (stderr.length > STDERR_LINES) stderr.shift();
      }
    }
  };
  drain(child.stdout, SHOW_STDERR).catch(() => {});
  drain(child.stderr, true).catch(() => {});
  return { child, stderr };
}

async function stopChild(r: { child: Deno.ChildProcess; pid: number; name: string }) {
  try {
    r.child.kill("SIGTERM");
  } catch { /* already gone */ }
  const exited = await Promise.race([
    r.child.status.then(() => true),
    new Promise<false>((res) => setTimeout(() => res(false), 8_000)),
  ]);
  if (!exited) {
    try {
      r.child.kill("SIGKILL");
    } catch { /* already gone */ }
    await r.child.status.catch(() => {});
  }
}

async function waitConsuming(admin: BrokerAdmin, r: Responder): Promise<void> {
  const deadline = Date.now() + 30_000;
  let exited = false;
  r.child.status.then(() => (exited = true));
  while (Date.now() < deadline) {
    if (exited) break;
    const info = await admin.queueInfo(r.queue).catch(() => undefined);
    if (info && info.consumers > 0) return;
    await sleep(100);
  }
  throw new Error(
    `${r.name} (pid ${r.pid}) is not consuming ${r.queue}${exited ? ": it exited" : ""}\n` +
      r.stderr.join("\n"),
  );
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

// ---------------------------------------------------------------------------------------------
// One run

interface RunResult {
  readonly responder: Responder["name"];
  readonly inFlight: number;
  readonly n: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  /** µs of CPU per request: responder, driver, broker. */
  readonly cpu: number;
  readonly driverCpu: number;
  readonly brokerCpu: number;
  readonly peakRss: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly mismatched: number;
  /** Unexpected statuses and failures, counted, for the report. */
  readonly problems: Map<string, number>;
}

const BROKER_PID = brokerPid();
let runSeq = 0;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function ticketIdOf(location: unknown): string | undefined {
  if (typeof location !== "string") return undefined;
  const id = location.slice(location.lastIndexOf("/") + 1);
  return /^\d+$/.test(id) ? id : undefined;
}

async function run(
  r: Responder,
  cellExchange: string,
  inFlight: number,
  count: number,
  capMs: number,
  quiet = false,
): Promise<RunResult> {
  const prefix = (++runSeq).toString(16).padStart(4, "0") +
    crypto.randomUUID().slice(0, 4);
  const nextRequest = mix(prefix, r.seed, r.live);
  const cell = await CellClient.connect(URL_, { replyExchange: cellExchange });
  const latencies = new Float64Array(count);
  const problems = new Map<string, number>();
  const problem = (what: string) => problems.set(what, (problems.get(what) ?? 0) + 1);
  let next = 0;
  let done = 0;
  let lost = 0;
  let mismatched = 0;
  // The baseline's fixed reply carries neither the id nor the status (except in --endpoint mode).
  const strict = r.name === "vcdext" || ENDPOINT_BASELINE;

  r.peakResettable = resetPeak(r.pid) && r.peakResettable;
  const cpu0 = cpuMicros(r.pid);
  const drv0 = cpuMicros("self");
  const brk0 = BROKER_PID === undefined ? NaN : cpuMicros(BROKER_PID);
  const t0 = performance.now();

  async function worker(): Promise<void> {
    while (next < count && performance.now() - t0 < capMs) {
      const { kind, id, body } = nextRequest(next++);
      const started = performance.now();
      let raw: Uint8Array;
      try {
        raw = await cell.send(r.exchange, r.routingKey, { id, body }, {
          correlationId: id,
          timeoutMs: REPLY_TIMEOUT_MS,
        });
      } catch (e) {
        lost++;
        problem(`lost: ${(e as Error).message.slice(0, 60)}`);
        continue;
      }
      latencies[done++] = performance.now() - started;
      try {
        const reply = decodeReply(raw);
        if (strict && reply.id !== id) {
          mismatched++;
          problem("reply id is not the request id");
        } else if (strict && reply.status !== EXPECTED_STATUS[kind]) {
          mismatched++;
          problem(`${kind} answered ${reply.status}`);
        } else if (kind.startsWith("post")) {
          const ticket = ticketIdOf(reply.headers["Location"]);
          if (ticket !== undefined) r.live.push(ticket);
        }
      } catch (e) {
        mismatched++;
        problem(`undecodable reply: ${(e as Error).message.slice(0, 60)}`);
      }
    }
  }

  try {
    await Promise.all(Array.from({ length: inFlight }, worker));
    const seconds = (performance.now() - t0) / 1000;
    const cpu1 = cpuMicros(r.pid);
    const drv1 = cpuMicros("self");
    const brk1 = BROKER_PID === undefined ? NaN : cpuMicros(BROKER_PID);
    const peakRss = vmMB(r.pid, "VmHWM");
    await sleep(150); // let a late duplicate arrive before counting
    const sorted = latencies.subarray(0, done).sort();
    const result: RunResult = {
      responder: r.name,
      inFlight,
      n: done,
      seconds,
      rps: done / seconds,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      cpu: (cpu1 - cpu0) / done,
      driverCpu: (drv1 - drv0) / done,
      brokerCpu: (brk1 - brk0) / done,
      peakRss,
      lost,
      duplicated: cell.unmatched,
      mismatched,
      problems,
    };
    if (!quiet) printRun(result);
    return result;
  } finally {
    await cell.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Output

const f = (n: number, digits = 0, width = 7) =>
  (Number.isFinite(n) ? n.toFixed(digits) : "n/a").padStart(width);

function printHeader(): void {
  console.log(
    "responder  in-flight      n     s    req/s  p50 ms  p90 ms  p99 ms  cpu µs/req" +
      "  drv µs  brk µs  peak MB  lost dup bad",
  );
}

function printRun(x: RunResult): void {
  console.log(
    `${x.responder.padEnd(9)} ${f(x.inFlight, 0, 10)} ${f(x.n, 0, 6)} ${f(x.seconds, 1, 5)} ` +
      `${f(x.rps, 0, 8)} ${f(x.p50, 2)} ${f(x.p90, 2)} ${f(x.p99, 2)} ${f(x.cpu, 1, 11)} ` +
      `${f(x.driverCpu, 1)} ${f(x.brokerCpu, 1)} ${f(x.peakRss, 1, 8)} ${f(x.lost, 0, 5)} ` +
      `${f(x.duplicated, 0, 3)} ${f(x.mismatched, 0, 3)}`,
  );
  for (const [what, n] of x.problems) console.log(`    ! ${n} × ${what}`);
}

function median(values: readonly number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// ---------------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const tag = `vcdext.bench.${crypto.randomUUID().slice(0, 8)}`;
  const names = {
    vcdext: { exchange: `${tag}.x`, queue: `${tag}.q`, routingKey: "gcp-ticketing" },
    minimal: { exchange: `${tag}.min.x`, queue: `${tag}.min.q`, routingKey: "minimal" },
    cell: `${tag}.cell`,
  };
  const started = Date.now();
  const nproc = await new Deno.Command("nproc", { stdout: "piped" }).output().then(
    (o) => new TextDecoder().decode(o.stdout).trim(),
    () => String(navigator.hardwareConcurrency),
  );
  const command = `deno run -A tests/bench/run.ts${args.length ? " " + args.join(" ") : ""}`;
  console.log(
    `vcdext benchmark ${QUICK ? "(quick) " : ""}— ${
      new Date().toISOString()
    }, nproc ${nproc}, deno ${Deno.version.deno}, CLK_TCK ${CLK_TCK}, broker pid ${
      BROKER_PID ?? "not found"
    }\n${command}\nbaseline: minimal responder, ${
      CONFIRM_BASELINE ? "confirm channel, ack after confirm" : "no confirms, ack at once"
    }${
      ENDPOINT_BASELINE ? ", DIAGNOSTIC --endpoint mode (vcdext's pure path, bare AMQP loop)" : ""
    }; both prefetch 128, noDelay; vcdext V8 flags: ${
      [V8_FLAGS, VCDEXT_V8_FLAGS].filter(Boolean).join(",") || "none"
    }; exchanges ${tag}.*\n`,
  );

  const admin = await BrokerAdmin.connect(URL_);
  const responders: Responder[] = [];
  let failed = false;
  try {
    const vcdextArgs = [
      "run",
      // Broader than `deno task start` so that a new env var or file the service reads does
      // not break the benchmark; permissions cost nothing per request.
      "--allow-net",
      "--allow-env",
      "--allow-sys",
      "--allow-read",
      ...(V8_FLAGS || VCDEXT_V8_FLAGS
        ? [`--v8-flags=${[V8_FLAGS, VCDEXT_V8_FLAGS].filter(Boolean).join(",")}`]
        : []),
      ...(CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`] : []),
      // --memory-report: the same main.ts behind a wrapper that prints the JS heap on SIGUSR2.
      MEMORY_REPORT ? "tests/bench/serve_with_memory.ts" : "main.ts",
      "serve",
      "--amqp-url",
      URL_,
      "--exchange",
      names.vcdext.exchange,
      "--queue",
      names.vcdext.queue,
      "--extension",
      "gcp-ticketing",
      "--log-level",
      LOG_LEVEL,
      "--prefetch",
      "128",
    ];
    const minimalArgs = [
      "run",
      "--allow-net",
      ...(V8_FLAGS ? [`--v8-flags=${V8_FLAGS}`] : []),
      "tests/bench/minimal_responder.ts",
      "--url",
      URL_,
      "--exchange",
      names.minimal.exchange,
      "--queue",
      names.minimal.queue,
      "--routing-key",
      names.minimal.routingKey,
      "--prefetch",
      "128",
      ...(CONFIRM_BASELINE ? ["--confirm"] : []),
      ...(ENDPOINT_BASELINE ? ["--endpoint"] : []),
    ];
    for (
      const [name, cmdArgs] of [["vcdext", vcdextArgs], ["minimal", minimalArgs]] as const
    ) {
      const { child, stderr } = spawn([...cmdArgs], name);
      responders.push({
        name,
        ...names[name],
        child,
        pid: child.pid,
        stderr,
        live: [],
        seed: "1",
        idleRssStart: NaN,
        idleRssEnd: NaN,
        peakResettable: true,
      });
    }
    console.log(
      `started ${responders.map((r) => `${r.name} pid ${r.pid}`).join(", ")}: ` +
        `${Deno.execPath()} ${vcdextArgs.join(" ")}`,
    );
    for (const r of responders) await waitConsuming(admin, r);
    await sleep(1_000);
    for (const r of responders) r.idleRssStart = vmMB(r.pid, "VmRSS");

    // Seed the ticket every GET reads (POST once; ids are per process).
    for (const r of responders) {
      const cell = await CellClient.connect(URL_, { replyExchange: names.cell });
      try {
        const reply = decodeReply(
          await cell.send(
            r.exchange,
            r.routingKey,
            buildRequest(cellRequest("post-json", "", crypto.randomUUID())),
          ),
        );
        r.seed = ticketIdOf(reply.headers["Location"]) ?? "1";
      } finally {
        await cell.close();
      }
    }

    // Warm-up: JIT and connection buffers of both, not reported.
    let warmupErrors = 0;
    for (const r of responders) {
      for (const [inFlight, n] of [[128, WARMUP.high], [1, WARMUP.low]] as const) {
        const w = await run(r, names.cell, inFlight, n, RUN_CAP_MS, true);
        warmupErrors += w.lost + w.duplicated + w.mismatched;
        if (w.problems.size > 0) printRun(w);
      }
    }
    console.log("warm-up done\n");

    printHeader();
    const results: RunResult[] = [];
    const [vcdext, minimal] = responders as [Responder, Responder];
    for (const level of LEVELS) {
      for (let pair = 0; pair < PAIRS; pair++) {
        const order = pair % 2 === 0 ? [vcdext, minimal] : [minimal, vcdext];
        for (const r of order) {
          results.push(await run(r, names.cell, level.inFlight, level.count, RUN_CAP_MS));
        }
      }
    }

    // CPU per request, short against long run (vcdext only; full run only).
    let flat: { small: RunResult; large: RunResult } | undefined;
    if (!QUICK) {
      console.log(`\nflatness: vcdext at 128 in flight, ${FLAT.small} then ${FLAT.large} requests`);
      printHeader();
      const small = await run(vcdext, names.cell, 128, FLAT.small, FLAT.capMs);
      const large = await run(vcdext, names.cell, 128, FLAT.large, FLAT.capMs);
      flat = { small, large };
      results.push(small, large);
    }

    await sleep(2_000);
    for (const r of responders) r.idleRssEnd = vmMB(r.pid, "VmRSS");
    if (MEMORY_REPORT) {
      Deno.kill(vcdext.pid, "SIGUSR2");
      await sleep(200);
    }

    // Summary.
    const of = (name: Responder["name"], inFlight: number) =>
      results.filter((x) => x.responder === name && x.inFlight === inFlight).slice(0, PAIRS);
    const pairRatio = (inFlight: number, pick: (x: RunResult) => number) => {
      const a = of("vcdext", inFlight);
      const b = of("minimal", inFlight);
      return median(a.map((x, i) => pick(x) / pick(b[i]!)));
    };
    const med = (name: Responder["name"], inFlight: number, pick: (x: RunResult) => number) =>
      median(of(name, inFlight).map(pick));
    const errors = warmupErrors +
      results.reduce((s, x) => s + x.lost + x.duplicated + x.mismatched, 0);
    failed = errors > 0;
    const peak = (name: Responder["name"]) =>
      Math.max(...results.filter((x) => x.responder === name).map((x) => x.peakRss));

    console.log(
      `\n## Summary (${new Date().toISOString().slice(0, 10)}, nproc ${nproc}, ${
        QUICK ? "quick, " : ""
      }${PAIRS} pairs per level, median of pairs)\n\n\`${command}\`\n`,
    );
    console.log(
      "| in flight | vcdext req/s | minimal req/s | ratio req/s | vcdext p99 ms | minimal p99 ms | ratio p99 | vcdext CPU µs/req | minimal CPU µs/req |",
    );
    console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (const { inFlight } of LEVELS) {
      console.log(
        `| ${inFlight} | ${f(med("vcdext", inFlight, (x) => x.rps), 0, 0)} | ${
          f(med("minimal", inFlight, (x) => x.rps), 0, 0)
        } | ${f(pairRatio(inFlight, (x) => x.rps), 2, 0)}× | ${
          f(med("vcdext", inFlight, (x) => x.p99), 2, 0)
        } | ${f(med("minimal", inFlight, (x) => x.p99), 2, 0)} | ${
          f(pairRatio(inFlight, (x) => x.p99), 2, 0)
        }× | ${f(med("vcdext", inFlight, (x) => x.cpu), 1, 0)} | ${
          f(med("minimal", inFlight, (x) => x.cpu), 1, 0)
        } |`,
      );
    }
    console.log(
      `\n| RSS MB | idle at start | idle at end | peak (VmHWM${
        vcdext.peakResettable ? ", per run" : ", process"
      }) |\n|---|---:|---:|---:|`,
    );
    for (const r of responders) {
      console.log(
        `| ${r.name} | ${f(r.idleRssStart, 1, 0)} | ${f(r.idleRssEnd, 1, 0)} | ${
          f(peak(r.name), 1, 0)
        } |`,
      );
    }

    if (LEVELS.length < 3) console.log("\n(some levels skipped: targets below may be n/a)");
    const rps128 = pairRatio(128, (x) => x.rps);
    const p99at1 = pairRatio(1, (x) => x.p99);
    const cpu128 = med("vcdext", 128, (x) => x.cpu);
    const check = (ok: boolean) => (ok ? "met" : "NOT met");
    console.log(`\nTargets (issue 6):`);
    console.log(
      `- req/s at 128 in flight ≥ 0.90× minimal: ${f(rps128, 2, 0)}× — ${check(rps128 >= 0.9)}`,
    );
    console.log(
      `- p99 at 1 in flight ≤ 1.25× minimal: ${f(p99at1, 2, 0)}× — ${check(p99at1 <= 1.25)}`,
    );
    console.log(
      `- CPU ≤ 50 µs/request at 128 in flight: ${f(cpu128, 1, 0)} µs — ${check(cpu128 <= 50)}`,
    );
    console.log(
      `- peak RSS ≤ 100 MB: ${f(peak("vcdext"), 1, 0)} MB — ${check(peak("vcdext") <= 100)}; ` +
        `idle RSS ≤ 60 MB: at start ${f(vcdext.idleRssStart, 1, 0)} MB — ${
          check(vcdext.idleRssStart <= 60)
        }, after the load ${f(vcdext.idleRssEnd, 1, 0)} MB — ${check(vcdext.idleRssEnd <= 60)}`,
    );
    console.log(
      `- lost + duplicated + mismatched in all runs (warm-up included): ${errors} — ${
        check(errors === 0)
      }`,
    );
    if (flat) {
      const ratio = flat.large.cpu / flat.small.cpu;
      console.log(
        `- CPU per request flat, ${flat.small.n} vs ${flat.large.n} requests: ${
          f(flat.small.cpu, 1, 0)
        } vs ${f(flat.large.cpu, 1, 0)} µs (${f(ratio, 2, 0)}×, flat if ≤ ${FLAT.tolerance}×) — ${
          check(ratio <= FLAT.tolerance && flat.large.n === FLAT.large)
        }`,
      );
    } else console.log("- CPU per request flat: not checked with --quick");
    console.log(`\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (e) {
    failed = true;
    console.error(`benchmark failed: ${(e as Error).stack ?? e}`);
    for (const r of responders) for (const line of r.stderr) console.error(line);
  } finally {
    await Promise.all(responders.map(stopChild));
    if (SHOW_STDERR) { for (const r of responders) for (const l of r.stderr) console.log(l); }
    await admin.delete({
      queues: [names.vcdext.queue, names.minimal.queue],
      exchanges: [names.vcdext.exchange, names.minimal.exchange, names.cell],
    });
    await admin.close();
    if (CPU_PROF_DIR) console.log(`vcdext CPU profile in ${CPU_PROF_DIR}`);
  }
  return failed ? 1 : 0;
}

Deno.exit(await main());
