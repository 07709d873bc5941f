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
import { buildRequest, decodeReply } from "../../lib/sim/cell.ts";
import { cellRequest } from "./workload.ts";
import {
  argValue as argOf,
  CLK_TCK,
  f,
  measure,
  nproc as nprocOf,
  pairs,
  pidOf,
  plan,
  printHeader,
  printRssTable,
  printRun,
  REPLY_TIMEOUT_MS,
  type Responder as Spawned,
  responder,
  type RunResult,
  sleep,
  spawn,
  startTaskV8Flags,
  stopChild,
  summarize,
  ticketIdOf,
  vmMB,
} from "./ab.ts";

// ---------------------------------------------------------------------------------------------
// Settings

const args = Deno.args;
const QUICK = args.includes("--quick");
const CONFIRM_BASELINE = args.includes("--confirm-baseline");
/** Diagnostic: the baseline runs vcdext's pure path behind its bare AMQP loop. */
const ENDPOINT_BASELINE = args.includes("--endpoint-baseline");
const argValue = (name: string) => argOf(args, name);
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
/** vcdext's log level: `warn` by default (no access log); `info` measures the access log too. */
const LOG_LEVEL = argValue("--log-level") ?? "warn";
/** Only these levels (e.g. `128` or `1,128`), for profiling one regime. */
const ONLY_LEVELS = argValue("--levels")?.split(",").map(Number);
/** Print the last lines of the responders' output at the end (e.g. with `--trace-gc`). */
const MEMORY_REPORT = args.includes("--memory-report");
const SHOW_STDERR = args.includes("--show-stderr") || MEMORY_REPORT;
const STDERR_LINES = SHOW_STDERR ? 400 : 40;

const PLAN = plan(QUICK, ONLY_LEVELS);
const { levels: LEVELS, pairs: PAIRS, runCapMs: RUN_CAP_MS, warmup: WARMUP } = PLAN;
const FLAT = { small: 10_000, large: 100_000, capMs: 90_000, tolerance: 1.15 };

// ---------------------------------------------------------------------------------------------
// Responders

/** A responder on its own exchange and queue. */
interface Responder extends Spawned {
  readonly exchange: string;
  readonly queue: string;
  readonly routingKey: string;
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

// ---------------------------------------------------------------------------------------------
// One run

/** The broker's pid (beam.smp), only to read its CPU time; undefined when not found. */
const BROKER_PID = pidOf("beam.smp");
let runSeq = 0;

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
  const cell = await CellClient.connect(URL_, { replyExchange: cellExchange });
  // The baseline's fixed reply carries neither the id nor the status (except in --endpoint mode).
  const strict = r.name === "vcdext" || ENDPOINT_BASELINE;
  try {
    const result = await measure(r, {
      send: ({ id, body }) =>
        cell.send(r.exchange, r.routingKey, { id, body }, {
          correlationId: id,
          timeoutMs: REPLY_TIMEOUT_MS,
        }),
      decode: decodeReply,
      get unmatched() {
        return cell.unmatched;
      },
    }, {
      inFlight,
      count,
      capMs,
      strictId: strict,
      strictStatus: strict,
      brokerPid: BROKER_PID,
      prefix,
    });
    if (!quiet) printRun(result);
    return result;
  } finally {
    await cell.close();
  }
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
  const nproc = await nprocOf();
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
      const started = spawn([...cmdArgs], name, {
        showStdout: SHOW_STDERR,
        keepLines: STDERR_LINES,
      });
      responders.push({ ...responder(name, started), ...names[name] });
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
      results.push(
        ...await pairs(
          vcdext,
          minimal,
          PAIRS,
          (r) => run(r as Responder, names.cell, level.inFlight, level.count, RUN_CAP_MS),
        ),
      );
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
    const summary = summarize(results, PAIRS);
    const { med, pairRatio, peak } = summary;
    const errors = warmupErrors + summary.errors;
    failed = errors > 0;

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
    printRssTable(summary, responders);

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
