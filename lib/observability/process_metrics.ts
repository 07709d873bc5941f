/**
 * @module The standard `process_*` metrics of a Prometheus exporter (CPU seconds, resident
 * memory, start time, open file descriptors), read at scrape time, and `vcdext_build_info`.
 * The process is read here, through a {@linkcode ProcessSource} that tests replace.
 *
 * Deno refuses every read under `/proc` without `--allow-all`, whatever `--allow-read` says, so
 * CPU, memory and start time come from the runtime (the same kernel counters, no permission
 * needed), and `process_open_fds` from `/proc/self/fd` only where it may be read: without the
 * permission it is left out of `/metrics` rather than shown as 0.
 */

import process from "node:process";
import type { Metrics, VcdextMetrics } from "./metrics.ts";

/** What one scrape reads about the process. */
export interface ProcessSource {
  /** User plus system CPU time spent, in seconds. */
  cpuSeconds(): number;
  /** Resident set size, in bytes. */
  residentBytes(): number;
  /** When the process started, in seconds since the epoch. */
  startTimeSeconds(): number;
  /** Open file descriptors; `undefined` when they cannot be counted. */
  openFds(): number | undefined;
}

/** This process, as the runtime and (for the fds) `/proc/self/fd` report it. */
export const thisProcess: ProcessSource = {
  cpuSeconds: () => {
    const { user, system } = process.cpuUsage();
    return (user + system) / 1e6;
  },
  residentBytes: () => Deno.memoryUsage().rss,
  startTimeSeconds: () => performance.timeOrigin / 1000,
  openFds: () => {
    // Ask first: reading it unpermitted would prompt on a terminal.
    const query = { name: "read", path: "/proc/self/fd" } as const;
    if (Deno.permissions.querySync(query).state !== "granted") return undefined;
    try {
      let n = 0;
      for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
      return n;
    } catch {
      return undefined; // not Linux, or no --allow-all
    }
  },
};

/**
 * Registers `process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `process_start_time_seconds` and (when `source` can count them) `process_open_fds` on
 * `registry`, read from `source` each time it renders.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Metrics } from "./prometheus.ts";
 * import { processMetrics } from "./process_metrics.ts";
 * const m = new Metrics();
 * let cpu = 1;
 * processMetrics(m, {
 *   cpuSeconds: () => cpu,
 *   residentBytes: () => 2048,
 *   startTimeSeconds: () => 1700000000,
 *   openFds: () => 7,
 * });
 * assert.match(m.render(), /^process_cpu_seconds_total 1$/m);
 * cpu = 2.5;
 * const text = m.render();
 * assert.match(text, /^process_cpu_seconds_total 2.5$/m);
 * assert.match(text, /^process_resident_memory_bytes 2048$/m);
 * assert.match(text, /^process_start_time_seconds 1700000000$/m);
 * assert.match(text, /^process_open_fds 7$/m);
 * ```
 */
export function processMetrics(registry: Metrics, source: ProcessSource = thisProcess): void {
  const cpu = registry.counter(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
  );
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const start = registry.gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
  );
  const fds = source.openFds() === undefined
    ? undefined
    : registry.gauge("process_open_fds", "Number of open file descriptors.");
  let cpuSeen = 0;
  registry.onCollect(() => {
    // A counter only goes up: add what was spent since the last scrape.
    const spent = source.cpuSeconds();
    if (spent > cpuSeen) cpu.inc({}, spent - cpuSeen);
    cpuSeen = Math.max(cpuSeen, spent);
    rss.set({}, source.residentBytes());
    start.set({}, source.startTimeSeconds());
    const open = fds && source.openFds();
    if (fds && open !== undefined) fds.set({}, open);
  });
}

/** Sets `vcdext_build_info{version,deno}` to 1: this vcdext `version` on this Deno. */
export function buildInfo(metrics: VcdextMetrics, version: string): void {
  metrics.buildInfo.set({ version, deno: Deno.version.deno }, 1);
}
