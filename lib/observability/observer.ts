/**
 * @module The per-request observer of a running service: what `serve` hands the transport as
 * `onReply`/`onReject`/`onState`. Per reply it counts the request, its duration and a failed
 * publish, and writes the access line (info) straight to the sink; a handler failure behind a
 * 500 is logged at error level whatever the level. Per rejected message it counts the reject
 * code; per reconnect, the reconnect.
 */

import type { RejectCode, ReplyDecision } from "../core/seam.ts";
import { accessLine, errorFields, type Logger, type LogSink } from "./log.ts";
import type { VcdextMetrics } from "./metrics.ts";

/**
 * The rejected-messages metric's `reason` label per reject code (labels predate the codes,
 * dashboards read them: never rename one).
 */
export const REJECT_LABEL: Readonly<Record<RejectCode, string>> = {
  "no-reply-address": "no-reply-coordinates",
  undecodable: "undecodable",
  "handler-failed": "handler-failed",
};

/** The callbacks a transport calls; spread them into its config. */
export interface ServiceObserver<A extends { readonly correlationId?: string | undefined }> {
  /** One reply carried out, how it ended (`acked`, `requeued`, …) and its time from delivery. */
  onReply(decision: ReplyDecision<A>, disposition: string, ms: number): void;
  /** One message rejected without a reply, with the reason's code. */
  onReject(consumer: string, code: RejectCode): void;
  /** Consuming after a (re)connect, or disconnected. */
  onState(state: "consuming" | "disconnected"): void;
}

/**
 * The observer over `metrics`, logging to `log` (errors) and `sink` (access lines, bypassing
 * pino: see {@linkcode accessLine}). The first `consuming` is the start, each later one a
 * reconnect.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger } from "./log.ts";
 * import { vcdextMetrics } from "./metrics.ts";
 * import { requestObserver } from "./observer.ts";
 * const lines: string[] = [];
 * const sink = { write: (l: string) => lines.push(l) };
 * const metrics = vcdextMetrics();
 * const observe = requestObserver(metrics, createLogger("info", sink), sink);
 * observe.onReply({
 *   kind: "reply",
 *   to: { correlationId: "c1" },
 *   body: new Uint8Array(),
 *   extension: "x",
 *   requestId: "r1",
 *   method: "GET",
 *   outcome: { reply: { id: "r1", status: 200, headers: {}, body: "" }, route: "GET /api/x" },
 * }, "acked", 1.234);
 * observe.onReject("x", "no-reply-address");
 * assert.equal(JSON.parse(lines[0]!).correlationId, "c1");
 * const text = metrics.registry.render();
 * assert.match(text, /^vcdext_requests_total\{extension="x",route="GET \/api\/x",status="200"\} 1$/m);
 * assert.match(text, /reason="no-reply-coordinates"\} 1$/m);
 * ```
 */
export function requestObserver<A extends { readonly correlationId?: string | undefined }>(
  metrics: VcdextMetrics,
  log: Logger,
  sink: LogSink,
): ServiceObserver<A> {
  let connects = 0;
  const accessLog = log.isLevelEnabled("info");
  return {
    onReply(decision, disposition, ms) {
      const { extension, outcome } = decision;
      const status = outcome.reply.status;
      metrics.requests.inc({ extension, route: outcome.route ?? "unmatched", status });
      metrics.requestDuration.observe({ extension }, ms / 1000);
      if (disposition !== "acked") metrics.repliesFailed.inc({ extension, reason: disposition });
      // The access line (info); a handler failure behind a 500 is logged at error level always.
      if (!accessLog && outcome.error === undefined) return;
      const fields = {
        extension,
        correlationId: decision.to.correlationId,
        requestId: decision.requestId,
        method: decision.method,
        route: outcome.route,
        status,
        ...(decision.shortcut ? { shortcut: decision.shortcut } : {}),
        disposition,
        ms: Math.round(ms * 100) / 100,
      };
      if (outcome.error !== undefined) {
        log.error({ ...fields, err: errorFields(outcome.error) }, "request");
      } else if (accessLog) sink.write(accessLine(fields, Date.now()));
    },
    onReject: (consumer, code) =>
      metrics.messagesRejected.inc({ extension: consumer, reason: REJECT_LABEL[code] }),
    onState(state) {
      if (state === "consuming" && connects++ > 0) metrics.reconnects.inc();
    },
  };
}
