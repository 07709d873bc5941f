/**
 * @module The standard `process_*` metrics of a Prometheus exporter (CPU seconds, resident
 * memory, start time, open file descriptors), read from Linux's `/proc` at scrape time, and
 * `vcdext_build_info`. The files are read here, through a {@linkcode ProcReader} that tests
 * replace; where `/proc` cannot be read (another OS, no read permission) the values stay 0.
 */

import type { Metrics, VcdextMetrics } from "./metrics.ts";

/** What the process metrics read: `/proc` files as text and the count of open fds. */
export interface ProcReader {
  /** A file's text, e.g. `/proc/self/stat`. */
  readText(path: string): string;
  /** How many file descriptors the process has open (entries of `/proc/self/fd`). */
  openFds(): number;
}

/** The process facts one scrape reports. */
export interface ProcessStats {
  readonly cpuSeconds: number;
  readonly residentBytes: number;
  /** Seconds since the epoch. */
  readonly startTimeSeconds: number;
  readonly openFds: number;
}

/** Linux's USER_HZ: the unit of the times in `/proc/<pid>/stat` (100 on every architecture). */
const TICKS_PER_SECOND = 100;

/** The live `/proc` of this process. */
export const procFiles: ProcReader = {
  readText: (path) => Deno.readTextFileSync(path),
  openFds: () => {
    let n = 0;
    for (const _ of Deno.readDirSync("/proc/self/fd")) n++;
    return n;
  },
};

/**
 * Parses `/proc/self/stat`, `/proc/self/status` and `/proc/stat` (for the boot time) into
 * {@linkcode ProcessStats}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { processStats } from "./process_metrics.ts";
 * const files: Record<string, string> = {
 *   "/proc/self/stat": "42 (deno x) S 1 42 42 0 -1 0 0 0 0 0 250 50 0 0 20 0 9 0 12000 0 0",
 *   "/proc/self/status": "Name:\tdeno\nVmRSS:\t  2048 kB\n",
 *   "/proc/stat": "cpu 1 2 3\nbtime 1700000000\n",
 * };
 * const stats = processStats({ readText: (p) => files[p]!, openFds: () => 7 });
 * assert.deepEqual(stats, { cpuSeconds: 3, residentBytes: 2097152, startTimeSeconds: 1700000120, openFds: 7 });
 * ```
 */
export function processStats(proc: ProcReader): ProcessStats {
  const stat = proc.readText("/proc/self/stat");
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).trim().split(/\s+/);
  const field = (n: number) => Number(fields[n - 3]);
  const rss = /^VmRSS:\s+(\d+)\s*kB/m.exec(proc.readText("/proc/self/status"));
  const btime = /^btime\s+(\d+)/m.exec(proc.readText("/proc/stat"));
  return {
    cpuSeconds: (field(14) + field(15)) / TICKS_PER_SECOND,
    residentBytes: rss ? Number(rss[1]) * 1024 : 0,
    startTimeSeconds: Number(btime?.[1] ?? 0) + field(22) / TICKS_PER_SECOND,
    openFds: proc.openFds(),
  };
}

/**
 * Registers `process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `process_start_time_seconds` and `process_open_fds` on `registry`, read from `proc` each
 * time it renders.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Metrics } from "./prometheus.ts";
 * import { processMetrics } from "./process_metrics.ts";
 * const m = new Metrics();
 * let ticks = 100;
 * processMetrics(m, {
 *   readText: (p) => p === "/proc/self/stat"
 *     ? `1 (x) S 1 1 1 0 -1 0 0 0 0 0 ${ticks} 0 0 0 20 0 1 0 0 0 0`
 *     : p === "/proc/stat" ? "btime 5\n" : "VmRSS: 1 kB\n",
 *   openFds: () => 3,
 * });
 * assert.match(m.render(), /^process_cpu_seconds_total 1$/m);
 * ticks = 250;
 * assert.match(m.render(), /^process_cpu_seconds_total 2.5$/m);
 * assert.match(m.render(), /^process_open_fds 3$/m);
 * ```
 */
export function processMetrics(registry: Metrics, proc: ProcReader = procFiles): void {
  const cpu = registry.counter(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent in seconds.",
  );
  const rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const start = registry.gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
  );
  const fds = registry.gauge("process_open_fds", "Number of open file descriptors.");
  let cpuSeen = 0;
  registry.onCollect(() => {
    const s = processStats(proc);
    // A counter only goes up: add what was spent since the last scrape.
    if (s.cpuSeconds > cpuSeen) cpu.inc({}, s.cpuSeconds - cpuSeen);
    cpuSeen = Math.max(cpuSeen, s.cpuSeconds);
    rss.set({}, s.residentBytes);
    start.set({}, s.startTimeSeconds);
    fds.set({}, s.openFds);
  });
}

/** Sets `vcdext_build_info{version,deno}` to 1: this vcdext `version` on this Deno. */
export function buildInfo(metrics: VcdextMetrics, version: string): void {
  metrics.buildInfo.set({ version, deno: Deno.version.deno }, 1);
}
