/**
 * @module What the A/B benchmark drivers share (`run.ts` on AMQP, `run_mqtt.ts` on MQTT): the
 * run plan (levels, pairs, caps; `--quick`), `/proc` readings (CPU time, RSS, peak reset), the
 * responder subprocesses, one measured run of the workload mix against a responder (req/s,
 * p50/p90/p99, CPU µs per request of the responder, the driver and the broker, peak RSS, lost,
 * duplicated and mismatched replies), the per-run line and the summary of pairs (medians and
 * median-of-pair ratios vcdext/minimal). The bus is the caller's: a run gets a `send` function
 * and a reply decoder.
 */

import { EXPECTED_STATUS, mix, type MixRequest, type WireFormat } from "./workload.ts";

// ---------------------------------------------------------------------------------------------
// Settings

/** The value of `--name value` or `--name=value` in `args`. */
export function argValue(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i >= 0) return args[i + 1];
  return args.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
}

/** A load level: requests in flight and requests per run. */
export interface Level {
  readonly inFlight: number;
  /** Requests per run. */
  readonly count: number;
}

/** How many runs of what size: the same for both drivers. */
export interface Plan {
  readonly quick: boolean;
  readonly levels: readonly Level[];
  readonly pairs: number;
  /** A run stops issuing requests after this long, whatever its count. */
  readonly runCapMs: number;
  readonly warmup: { readonly high: number; readonly low: number };
}

/** The plan for `--quick` or not, keeping only `onlyLevels` when given (`--levels 1,128`). */
export function plan(quick: boolean, onlyLevels?: readonly number[]): Plan {
  const all: readonly Level[] = quick
    ? [{ inFlight: 1, count: 1_000 }, { inFlight: 16, count: 4_000 }, {
      inFlight: 128,
      count: 10_000,
    }]
    : [{ inFlight: 1, count: 1_500 }, { inFlight: 16, count: 8_000 }, {
      inFlight: 128,
      count: 20_000,
    }];
  return {
    quick,
    levels: all.filter((l) => !onlyLevels || onlyLevels.includes(l.inFlight)),
    pairs: quick ? 2 : 5,
    runCapMs: quick ? 6_000 : 25_000,
    warmup: quick ? { high: 2_000, low: 100 } : { high: 6_000, low: 300 },
  };
}

/** No reply within this long counts as lost. */
export const REPLY_TIMEOUT_MS = 10_000;

/** The repository root (subprocesses run there). */
export const ROOT = new URL("../../", import.meta.url).pathname;

/** Clock ticks per second of `/proc/<pid>/stat`. */
export const CLK_TCK = await (async () => {
  try {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    const n = Number(new TextDecoder().decode(out.stdout).trim());
    return Number.isFinite(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** `nproc`'s answer, for the report. */
export async function nproc(): Promise<string> {
  return await new Deno.Command("nproc", { stdout: "piped" }).output().then(
    (o) => new TextDecoder().decode(o.stdout).trim(),
    () => String(navigator.hardwareConcurrency),
  );
}

/** The V8 flags of `deno task start` (as shipped), or undefined. */
export async function startTaskV8Flags(): Promise<string | undefined> {
  const config = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  const command: string = config.tasks.start.command;
  return /--v8-flags=(\S+)/.exec(command)?.[1];
}

// ---------------------------------------------------------------------------------------------
// /proc readings

/** utime+stime of a process in µs (all its threads), or NaN when it cannot be read. */
export function cpuMicros(pid: number | "self"): number {
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
export function vmMB(pid: number, key: "VmRSS" | "VmHWM"): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** Resets the peak RSS (`VmHWM`) to the current RSS; false when the kernel refuses. */
export function resetPeak(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** The oldest process named `comm` (e.g. `beam.smp`, `mosquitto`), or undefined. */
export function pidOf(comm: string): number | undefined {
  let found: { pid: number; start: number } | undefined;
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      try {
        if (Deno.readTextFileSync(`/proc/${e.name}/comm`).trim() !== comm) continue;
        const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
        const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
        if (!found || start < found.start) found = { pid: Number(e.name), start };
      } catch { /* gone */ }
    }
  } catch { /* no /proc */ }
  return found?.pid;
}

// ---------------------------------------------------------------------------------------------
// Responders

/** Which side of the A/B. */
export type Side = "vcdext" | "minimal";

/** A responder subprocess as a run sees it. */
export interface Responder {
  readonly name: Side;
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

/** How {@linkcode spawn} keeps the children's output. */
export interface SpawnOptions {
  /** Keep stdout lines too (else only stderr). */
  readonly showStdout: boolean;
  /** Lines kept. */
  readonly keepLines: number;
  /** Environment added to the child's. */
  readonly env?: Record<string, string>;
}

/** Starts `deno <cmdArgs>` in the repository root, its output drained into `stderr`. */
export function spawn(cmdArgs: string[], name: Side, options: SpawnOptions): {
  child: Deno.ChildProcess;
  stderr: string[];
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: cmdArgs,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0", ...options.env },
  }).spawn();
  const stderr: string[] = [];
  const drain = async (stream: ReadableStream<Uint8Array>, keep: boolean) => {
    const lines = stream.pipeThrough(new TextDecoderStream());
    for await (const chunk of lines) {
      if (!keep) continue;
      for (const line of chunk.split("\n")) {
        if (line.trim() === "") continue;
        stderr.push(`[${name}] ${line}`);
        if (stderr.length > options.keepLines) stderr.shift();
      }
    }
  };
  drain(child.stdout, options.showStdout).catch(() => {});
  drain(child.stderr, true).catch(() => {});
  return { child, stderr };
}

/** A new {@linkcode Responder} record for a started child. */
export function responder(
  name: Side,
  started: { child: Deno.ChildProcess; stderr: string[] },
): Responder {
  return {
    name,
    child: started.child,
    pid: started.child.pid,
    stderr: started.stderr,
    live: [],
    seed: "1",
    idleRssStart: NaN,
    idleRssEnd: NaN,
    peakResettable: true,
  };
}

/** SIGTERM, then SIGKILL after 8 s; by pid, this child only. */
export async function stopChild(r: { child: Deno.ChildProcess; pid: number; name: string }) {
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

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

// ---------------------------------------------------------------------------------------------
// One run

/** The figures of one run. */
export interface RunResult {
  readonly responder: Side;
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

/** The `p`th percentile of sorted values (nearest rank). */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** The ticket id at the end of a `Location` header. */
export function ticketIdOf(location: unknown): string | undefined {
  if (typeof location !== "string") return undefined;
  const id = location.slice(location.lastIndexOf("/") + 1);
  return /^\d+$/.test(id) ? id : undefined;
}

/** What a run needs of the bus: a connected cell. */
export interface RunCell {
  /** Sends one request of the mix; resolves with the raw reply, rejects when none came. */
  send(request: MixRequest): Promise<Uint8Array>;
  /** The reply's id, status and headers; throws when undecodable. */
  decode(raw: Uint8Array): {
    readonly id: string;
    readonly status: number;
    readonly headers: Record<string, unknown>;
  };
  /** Replies that matched no request (duplicates), so far. */
  readonly unmatched: number;
}

/** One run's shape. */
export interface RunSpec {
  readonly inFlight: number;
  readonly count: number;
  readonly capMs: number;
  /** Check the reply's id and status (a fixed baseline reply carries neither). */
  readonly strictId: boolean;
  readonly strictStatus: boolean;
  /** The broker's pid, for its CPU per request. */
  readonly brokerPid: number | undefined;
  /** The mix's request id prefix, unique per run. */
  readonly prefix: string;
  /** How requests go on the wire; AMQP envelopes by default. */
  readonly format?: WireFormat;
}

/** Drives `spec.count` requests of the mix through `cell` at `spec.inFlight` and measures. */
export async function measure(r: Responder, cell: RunCell, spec: RunSpec): Promise<RunResult> {
  const { inFlight, count, capMs } = spec;
  const nextRequest = mix(spec.prefix, r.seed, r.live, spec.format);
  const latencies = new Float64Array(count);
  const problems = new Map<string, number>();
  const problem = (what: string) => problems.set(what, (problems.get(what) ?? 0) + 1);
  let next = 0;
  let done = 0;
  let lost = 0;
  let mismatched = 0;

  r.peakResettable = resetPeak(r.pid) && r.peakResettable;
  const cpu0 = cpuMicros(r.pid);
  const drv0 = cpuMicros("self");
  const brk0 = spec.brokerPid === undefined ? NaN : cpuMicros(spec.brokerPid);
  const t0 = performance.now();

  async function worker(): Promise<void> {
    while (next < count && performance.now() - t0 < capMs) {
      const request = nextRequest(next++);
      const { kind, id } = request;
      const started = performance.now();
      let raw: Uint8Array;
      try {
        raw = await cell.send(request);
      } catch (e) {
        lost++;
        problem(`lost: ${(e as Error).message.slice(0, 60)}`);
        continue;
      }
      latencies[done++] = performance.now() - started;
      try {
        const reply = cell.decode(raw);
        if (spec.strictId && reply.id !== id) {
          mismatched++;
          problem("reply id is not the request id");
        } else if (spec.strictStatus && reply.status !== EXPECTED_STATUS[kind]) {
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

  await Promise.all(Array.from({ length: inFlight }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = cpuMicros(r.pid);
  const drv1 = cpuMicros("self");
  const brk1 = spec.brokerPid === undefined ? NaN : cpuMicros(spec.brokerPid);
  const peakRss = vmMB(r.pid, "VmHWM");
  await sleep(150); // let a late duplicate arrive before counting
  const sorted = latencies.subarray(0, done).sort();
  return {
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
}

// ---------------------------------------------------------------------------------------------
// Output

/** A number right-aligned in `width`, `n/a` when not finite. */
export const f = (n: number, digits = 0, width = 7) =>
  (Number.isFinite(n) ? n.toFixed(digits) : "n/a").padStart(width);

/** The header of the per-run lines. */
export function printHeader(): void {
  console.log(
    "responder  in-flight      n     s    req/s  p50 ms  p90 ms  p99 ms  cpu µs/req" +
      "  drv µs  brk µs  peak MB  lost dup bad",
  );
}

/** One run's line, and its problems. */
export function printRun(x: RunResult): void {
  console.log(
    `${x.responder.padEnd(9)} ${f(x.inFlight, 0, 10)} ${f(x.n, 0, 6)} ${f(x.seconds, 1, 5)} ` +
      `${f(x.rps, 0, 8)} ${f(x.p50, 2)} ${f(x.p90, 2)} ${f(x.p99, 2)} ${f(x.cpu, 1, 11)} ` +
      `${f(x.driverCpu, 1)} ${f(x.brokerCpu, 1)} ${f(x.peakRss, 1, 8)} ${f(x.lost, 0, 5)} ` +
      `${f(x.duplicated, 0, 3)} ${f(x.mismatched, 0, 3)}`,
  );
  for (const [what, n] of x.problems) console.log(`    ! ${n} × ${what}`);
}

/** The median of the finite values, NaN when none. */
export function median(values: readonly number[]): number {
  const s = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The A/B runs of one level, in pairs, the order alternating (AB, BA, …). */
export async function pairs(
  vcdext: Responder,
  minimal: Responder,
  count: number,
  runOne: (r: Responder) => Promise<RunResult>,
): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (let pair = 0; pair < count; pair++) {
    const order = pair % 2 === 0 ? [vcdext, minimal] : [minimal, vcdext];
    for (const r of order) results.push(await runOne(r));
  }
  return results;
}

/** Medians and median-of-pair ratios over the results of the paired runs. */
export interface Summary {
  /** The median of `pick` over `side`'s runs at `inFlight`. */
  med(side: Side, inFlight: number, pick: (x: RunResult) => number): number;
  /** The median over pairs of vcdext's `pick` divided by the minimal's. */
  pairRatio(inFlight: number, pick: (x: RunResult) => number): number;
  /** The highest peak RSS of a side's runs. */
  peak(side: Side): number;
  /** Lost + duplicated + mismatched over all results. */
  errors: number;
}

/** Summarises `results` (the first `pairCount` runs of each side and level are the pairs). */
export function summarize(results: readonly RunResult[], pairCount: number): Summary {
  const of = (side: Side, inFlight: number) =>
    results.filter((x) => x.responder === side && x.inFlight === inFlight).slice(0, pairCount);
  return {
    med: (side, inFlight, pick) => median(of(side, inFlight).map(pick)),
    pairRatio: (inFlight, pick) => {
      const a = of("vcdext", inFlight);
      const b = of("minimal", inFlight);
      return median(a.map((x, i) => pick(x) / pick(b[i]!)));
    },
    peak: (side) => Math.max(...results.filter((x) => x.responder === side).map((x) => x.peakRss)),
    errors: results.reduce((s, x) => s + x.lost + x.duplicated + x.mismatched, 0),
  };
}

/** The RSS table: idle at start and end, peak. */
export function printRssTable(s: Summary, responders: readonly Responder[]): void {
  const perRun = responders.find((r) => r.name === "vcdext")?.peakResettable ?? true;
  console.log(
    `\n| RSS MB | idle at start | idle at end | peak (VmHWM${
      perRun ? ", per run" : ", process"
    }) |\n|---|---:|---:|---:|`,
  );
  for (const r of responders) {
    console.log(
      `| ${r.name} | ${f(r.idleRssStart, 1, 0)} | ${f(r.idleRssEnd, 1, 0)} | ${
        f(s.peak(r.name), 1, 0)
      } |`,
    );
  }
}
