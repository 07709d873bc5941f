/**
 * @module The MQTT A/B benchmark of issue 13: `vcdext serve --transport mqtt` (ticketing
 * extension, through tests/fixtures/main_mqtt.ts so its triplet's vendor is this run's own)
 * against the minimal MQTT responder (`tests/bench/minimal_mqtt_responder.ts`), both live on
 * the local Mosquitto at once, each on its own triplet and topics, driven by a cell on MQTT
 * (`MqttCellClient`: `API_REQUEST` on the monitor topic, QoS 1; `API_RESPONSE` matched by
 * `requestId` on the respond topic) in alternating runs at 1, 16 and 128 requests in flight.
 *
 * ```
 * deno run -A tests/bench/run_mqtt.ts [--quick] [--levels 1,16,128] [--v8-flags FLAGS]
 *   [--vcdext-v8-flags FLAGS] [--log-level info] [--cpu-prof DIR] [--show-stderr]
 *   [--url mqtt://127.0.0.1:1883] [--broker-pid PID]
 * ```
 *
 * The method is `run.ts`'s (shared through `ab.ts`): the same request mix (`workload.ts`: JSON
 * and XML bodies, 12 rights, a bearer token), each AMQP envelope carried as the `API_REQUEST`
 * a cell publishes (`buildApiRequest` of lib/sim/mqtt_cell.ts, with the bearer token as
 * `apiAccessToken`); warm-up, then pairs of runs per level in alternating order; per run
 * req/s, p50/p90/p99, CPU µs per request of the responder, the driver and Mosquitto (the
 * oldest `mosquitto` process, the shared broker), peak RSS, lost, duplicated and mismatched
 * replies (every reply is decoded strictly as vCD would, `decodeApiResponse`; vcdext's status
 * is checked too, the baseline's fixed 201 is not). Summary: medians and the median of the
 * per-pair ratios vcdext/minimal. No issue-6 targets and no flatness run here.
 *
 * Exit status: 1 when a run lost, duplicated or mismatched a reply.
 */

import { MqttCellClient } from "../../lib/transport/mqtt/cell_client.ts";
import { buildApiRequest, decodeApiResponse } from "../../lib/sim/mqtt_cell.ts";
import { cellRequest, TOKEN, type WireFormat } from "./workload.ts";
import {
  argValue,
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
  type Summary,
  ticketIdOf,
  vmMB,
} from "./ab.ts";

const args = Deno.args;
const QUICK = args.includes("--quick");
const URL_ = argValue(args, "--url") ?? Deno.env.get("VCDEXT_BENCH_MQTT_URL") ??
  "mqtt://127.0.0.1:1883";
const V8_FLAGS = argValue(args, "--v8-flags");
const VCDEXT_V8_FLAGS = argValue(args, "--vcdext-v8-flags") ?? await startTaskV8Flags();
const LOG_LEVEL = argValue(args, "--log-level") ?? "warn";
const CPU_PROF_DIR = argValue(args, "--cpu-prof");
const SHOW_STDERR = args.includes("--show-stderr");
const PLAN = plan(QUICK, argValue(args, "--levels")?.split(",").map(Number));
/** The broker's pid for its CPU time: `--broker-pid`, else the oldest `mosquitto` (the shared one). */
const BROKER_PID = Number(argValue(args, "--broker-pid")) || pidOf("mosquitto");

/** Requests as a cell publishes them on MQTT; the id is matched by `headers.requestId`. */
const MQTT_FORMAT: WireFormat = {
  build: (request) => buildApiRequest(request, { apiAccessToken: TOKEN }).body,
  idField: "requestId",
};

/** A responder on its own triplet, with the cell that talks to it. */
interface Responder extends Spawned {
  readonly topics: { readonly monitor: string; readonly respond: string };
  cell?: MqttCellClient;
}

function topicsOf(triplet: string) {
  return { monitor: `topic/extension/${triplet}/ext`, respond: `topic/extension/${triplet}/vcd` };
}

/** Connects the responder's cell and POSTs the ticket the GETs read, retrying until answered. */
async function connectAndSeed(r: Responder): Promise<void> {
  const cell = await MqttCellClient.connect(URL_, { username: "vcdext-bench-cell" });
  r.cell = cell;
  let exited = false;
  r.child.status.then(() => (exited = true));
  const deadline = Date.now() + 30_000;
  let lastError = "";
  while (Date.now() < deadline && !exited) {
    const { requestId, body } = buildApiRequest(
      cellRequest("post-json", "", crypto.randomUUID()),
      { apiAccessToken: TOKEN },
    );
    try {
      const reply = decodeApiResponse(await cell.send(r.topics, requestId, body, 2_000));
      r.seed = ticketIdOf(reply.headers["Location"]) ?? "1";
      await sleep(2_500); // a probe's late answer is not counted as a duplicate of a run
      cell.unmatched = 0;
      return;
    } catch (e) {
      lastError = (e as Error).message;
    }
  }
  throw new Error(
    `${r.name} (pid ${r.pid}) does not answer on ${r.topics.monitor}${
      exited ? ": it exited" : ""
    } (${lastError})\n${r.stderr.join("\n")}`,
  );
}

let runSeq = 0;

async function run(
  r: Responder,
  inFlight: number,
  count: number,
  quiet = false,
): Promise<RunResult> {
  const cell = r.cell!;
  const base = cell.unmatched;
  const result = await measure(r, {
    send: ({ id, body }) => cell.send(r.topics, id, body, REPLY_TIMEOUT_MS),
    decode: decodeApiResponse,
    get unmatched() {
      return cell.unmatched - base;
    },
  }, {
    inFlight,
    count,
    capMs: PLAN.runCapMs,
    strictId: true,
    strictStatus: r.name === "vcdext",
    brokerPid: BROKER_PID,
    prefix: (++runSeq).toString(16).padStart(4, "0") + crypto.randomUUID().slice(0, 4),
    format: MQTT_FORMAT,
  });
  if (!quiet) printRun(result);
  return result;
}

function printSummary(s: Summary, command: string, nproc: string): void {
  console.log(
    `\n## MQTT summary (${new Date().toISOString().slice(0, 10)}, nproc ${nproc}, ${
      QUICK ? "quick, " : ""
    }${PLAN.pairs} pairs per level, median of pairs)\n\n\`${command}\`\n`,
  );
  console.log(
    "| in flight | vcdext req/s | minimal req/s | ratio req/s | vcdext p50 ms | minimal p50 ms | ratio p50 | vcdext p99 ms | minimal p99 ms | ratio p99 | vcdext CPU µs/req | minimal CPU µs/req | ratio CPU | mosquitto µs/req (vcdext / minimal) |",
  );
  console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const { inFlight } of PLAN.levels) {
    const both = (pick: (x: RunResult) => number, digits: number) =>
      `${f(s.med("vcdext", inFlight, pick), digits, 0)} | ${
        f(s.med("minimal", inFlight, pick), digits, 0)
      } | ${f(s.pairRatio(inFlight, pick), 2, 0)}×`;
    console.log(
      `| ${inFlight} | ${both((x) => x.rps, 0)} | ${both((x) => x.p50, 2)} | ${
        both((x) => x.p99, 2)
      } | ${both((x) => x.cpu, 1)} | ${f(s.med("vcdext", inFlight, (x) => x.brokerCpu), 1, 0)} / ${
        f(s.med("minimal", inFlight, (x) => x.brokerCpu), 1, 0)
      } |`,
    );
  }
}

function vcdextArgs(): string[] {
  const v8 = [V8_FLAGS, VCDEXT_V8_FLAGS].filter(Boolean).join(",");
  return [
    "run",
    // As run.ts: broader than `deno task start`; permissions cost nothing per request.
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    "--allow-read",
    ...(v8 ? [`--v8-flags=${v8}`] : []),
    ...(CPU_PROF_DIR ? ["--cpu-prof", `--cpu-prof-dir=${CPU_PROF_DIR}`] : []),
    "tests/fixtures/main_mqtt.ts",
    "serve",
    "--transport",
    "mqtt",
    "--mqtt-url",
    URL_,
    "--extension",
    "gcp-ticketing",
    "--log-level",
    LOG_LEVEL,
  ];
}

async function main(): Promise<number> {
  const vendor = `vcdext-bench-${crypto.randomUUID().slice(0, 8)}`;
  const triplets = { vcdext: `${vendor}/gcp-ticketing/1.0.0`, minimal: `${vendor}/minimal/1.0.0` };
  const started = Date.now();
  const nproc = await nprocOf();
  const command = `deno run -A tests/bench/run_mqtt.ts${args.length ? " " + args.join(" ") : ""}`;
  console.log(
    `vcdext MQTT benchmark ${QUICK ? "(quick) " : ""}— ${
      new Date().toISOString()
    }, nproc ${nproc}, deno ${Deno.version.deno}, CLK_TCK ${CLK_TCK}, mosquitto pid ${
      BROKER_PID ?? "not found"
    }\n${command}\nbaseline: minimal MQTT responder (fixed API_RESPONSE, requestId by regex), ` +
      `QoS 1 both ways, MQTT 3.1.1 clean sessions; vcdext V8 flags: ${
        [V8_FLAGS, VCDEXT_V8_FLAGS].filter(Boolean).join(",") || "none"
      }; topics topic/extension/${vendor}/*\n`,
  );

  const responders: Responder[] = [];
  let failed = false;
  try {
    const minimalArgs = [
      "run",
      "--allow-net",
      "--allow-env",
      ...(V8_FLAGS ? [`--v8-flags=${V8_FLAGS}`] : []),
      "tests/bench/minimal_mqtt_responder.ts",
      "--url",
      URL_,
      "--triplet",
      triplets.minimal,
    ];
    const spawnOptions = { showStdout: SHOW_STDERR, keepLines: SHOW_STDERR ? 400 : 40 };
    for (const [name, cmdArgs] of [["vcdext", vcdextArgs()], ["minimal", minimalArgs]] as const) {
      const child = spawn([...cmdArgs], name, {
        ...spawnOptions,
        ...(name === "vcdext"
          ? { env: { VCDEXT_TEST_VENDOR: vendor, VCDEXT_MQTT_TOKEN: "bench" } }
          : {}),
      });
      responders.push({ ...responder(name, child), topics: topicsOf(triplets[name]) });
    }
    console.log(
      `started ${responders.map((r) => `${r.name} pid ${r.pid}`).join(", ")}: ` +
        `${Deno.execPath()} ${vcdextArgs().join(" ")}`,
    );
    for (const r of responders) await connectAndSeed(r);
    for (const r of responders) r.idleRssStart = vmMB(r.pid, "VmRSS");

    let warmupErrors = 0;
    for (const r of responders) {
      for (const [inFlight, n] of [[128, PLAN.warmup.high], [1, PLAN.warmup.low]] as const) {
        const w = await run(r, inFlight, n, true);
        warmupErrors += w.lost + w.duplicated + w.mismatched;
        if (w.problems.size > 0) printRun(w);
      }
    }
    console.log("warm-up done\n");

    printHeader();
    const results: RunResult[] = [];
    const [vcdext, minimal] = responders as [Responder, Responder];
    for (const level of PLAN.levels) {
      results.push(
        ...await pairs(
          vcdext,
          minimal,
          PLAN.pairs,
          (r) => run(r as Responder, level.inFlight, level.count),
        ),
      );
    }
    await sleep(2_000);
    for (const r of responders) r.idleRssEnd = vmMB(r.pid, "VmRSS");

    const summary = summarize(results, PLAN.pairs);
    const errors = warmupErrors + summary.errors;
    failed = errors > 0;
    printSummary(summary, command, nproc);
    printRssTable(summary, responders);
    console.log(
      `\nlost + duplicated + mismatched in all runs (warm-up included): ${errors}` +
        `\ntotal ${((Date.now() - started) / 1000).toFixed(0)} s`,
    );
  } catch (e) {
    failed = true;
    console.error(`benchmark failed: ${(e as Error).stack ?? e}`);
    for (const r of responders) for (const line of r.stderr) console.error(line);
  } finally {
    await Promise.all(responders.map((r) => r.cell?.close()));
    await Promise.all(responders.map(stopChild));
    if (SHOW_STDERR) { for (const r of responders) for (const l of r.stderr) console.log(l); }
    if (CPU_PROF_DIR) console.log(`vcdext CPU profile in ${CPU_PROF_DIR}`);
  }
  return failed ? 1 : 0;
}

Deno.exit(await main());
