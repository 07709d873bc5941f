/**
 * @module Diagnostic wrapper for the benchmark (`run.ts --memory-report`): runs `main.ts`
 * unchanged, and on SIGUSR2 prints `Deno.memoryUsage()` (JS heap against RSS) to stderr, to
 * tell whether vcdext's resident memory is V8 heap or something else. Not product code.
 */

import { getHeapSpaceStatistics } from "node:v8";

Deno.addSignalListener("SIGUSR2", () => {
  const mb = (n: number) => Math.round(n / 1048576);
  const m = Deno.memoryUsage();
  console.error(
    `memory: rss ${mb(m.rss)} MB, heapTotal ${mb(m.heapTotal)} MB, heapUsed ${
      mb(m.heapUsed)
    } MB, external ${mb(m.external)} MB; by space (size/used MB): ${
      getHeapSpaceStatistics().filter((s) => s.space_size > 0).map((s) =>
        `${s.space_name} ${mb(s.space_size)}/${mb(s.space_used_size)}`
      ).join(", ")
    }`,
  );
});

await import("../../main.ts");
