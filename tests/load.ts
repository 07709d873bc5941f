/**
 * @module Load from a simulated cell for the fault and cluster tests: ticket-creating POSTs with
 * a bounded number in flight, each reply checked against its own request, and the time until a
 * service answers again after a fault.
 */

import { buildRequest, type CellRequest, decodeReply, SAMPLE } from "../lib/sim/cell.ts";
import { CellClient } from "../lib/transport/amqp/mod.ts";

const TICKETS = `/api/org/${SAMPLE.orgId}/ticketing`;

/** What {@linkcode load} saw. */
export interface LoadResult {
  answered: number;
  failed: number;
  mismatched: number;
}

/**
 * The org of POST number `n`: the load spreads over 100 organisations, because the ticketing
 * example keeps at most 1,000 tickets per organisation (and serves 128) and answers 409 beyond.
 */
function orgOf(n: number): { org: string; path: string } {
  const id = `00000000-0000-4000-8000-${String(n % 100).padStart(12, "0")}`;
  return { org: `urn:vcloud:org:${id}`, path: `/api/org/${id}/ticketing` };
}

/**
 * Sends `total` POSTs with `inFlight` at a time; each reply must carry its own message back.
 * `latencies`, when given, receives each answered request's round trip in ms.
 */
export async function load(
  cell: CellClient,
  exchange: string,
  total: number,
  inFlight: number,
  onAnswered?: (answered: number) => void,
  stopOnFailure = false,
  latencies?: number[],
): Promise<LoadResult> {
  const result = { answered: 0, failed: 0, mismatched: 0 };
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const n = next++;
      const { org, path } = orgOf(n);
      const request: CellRequest = {
        method: "POST",
        path,
        org,
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify({ message: `m${n}` }),
      };
      const env = buildRequest(request);
      const sent = performance.now();
      try {
        const reply = decodeReply(
          await cell.send(exchange, "gcp-ticketing", env, { timeoutMs: 30_000 }),
        );
        if (
          reply.id !== env.id || reply.status !== 201 || JSON.parse(reply.text).message !== `m${n}`
        ) {
          result.mismatched++;
        }
        result.answered++;
        latencies?.push(performance.now() - sent);
        onAnswered?.(result.answered);
      } catch {
        result.failed++;
        if (stopOnFailure) next = total; // the cell's own connection is gone: stop sending
      }
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  return result;
}

/** Resolves once `load()`'s `onAnswered` has seen `n` answers. */
export function answeredAtLeast(
  n: number,
): { onAnswered: (answered: number) => void; reached: Promise<void> } {
  let resolve!: () => void;
  const reached = new Promise<void>((r) => (resolve = r));
  return { onAnswered: (answered) => void (answered >= n && resolve()), reached };
}

/** Time until a fresh cell gets a 200 from the service, polling with short timeouts. */
export async function timeToFirstAnswer(
  url: string,
  exchange: string,
  limitMs: number,
): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < limitMs) {
    let cell: CellClient | undefined;
    try {
      cell = await CellClient.connect(url);
      const reply = decodeReply(
        await cell.send(exchange, "gcp-ticketing", buildRequest({ method: "GET", path: TICKETS }), {
          timeoutMs: 500,
        }),
      );
      if (reply.status === 200) return performance.now() - started;
    } catch {
      /* not yet */
    } finally {
      await cell?.close();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the service did not answer within ${limitMs} ms of the broker's return`);
}
