/**
 * @module A batching log sink: whole lines gathered per event-loop turn (or 64 KiB) into one
 * write, so an access line per request costs no syscall of its own. `main.ts` decides to use it
 * (over stderr); {@linkcode BatchingSink.flush} must run before every exit.
 */

import type { LogSink } from "./log.ts";

/** A {@linkcode LogSink} that buffers lines until the turn ends, 64 KiB gather, or `flush()`. */
export interface BatchingSink extends LogSink {
  /** Buffers one whole line (with its newline). */
  write(line: string): void;
  /** Writes what is buffered now, synchronously. */
  flush(): void;
}

/** Buffered characters that trigger a write without waiting for the turn to end. */
const FLUSH_AT = 65_536;

/**
 * A sink that writes batches with `writeSync` (a whole buffer, looping on short writes);
 * default: stderr.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { batchingSink } from "./sink.ts";
 * const writes: string[] = [];
 * const sink = batchingSink({
 *   writeSync: (b) => (writes.push(new TextDecoder().decode(b)), b.length),
 * });
 * sink.write("a\n");
 * sink.write("b\n");
 * assert.deepEqual(writes, []); // not yet: at the end of this turn
 * await new Promise((r) => setTimeout(r, 0));
 * assert.deepEqual(writes, ["a\nb\n"]); // one write for both lines
 * ```
 */
export function batchingSink(
  out: { writeSync(bytes: Uint8Array): number } = Deno.stderr,
): BatchingSink {
  const encoder = new TextEncoder();
  let lines: string[] = [];
  let size = 0;
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (lines.length === 0) return;
    const bytes = encoder.encode(lines.join(""));
    lines = [];
    size = 0;
    let off = 0;
    while (off < bytes.length) off += out.writeSync(bytes.subarray(off));
  };
  return {
    write(line: string): void {
      lines.push(line);
      size += line.length;
      if (size >= FLUSH_AT) flush();
      else if (!scheduled) {
        scheduled = true;
        setTimeout(flush, 0);
      }
    },
    flush,
  };
}
