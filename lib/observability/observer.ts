/**
 * @module The per-request observer of a running service: what `serve` hands each transport as
 * `onReply`/`onReject`/`onState`, one per bus ({@linkcode requestObserver} for AMQP,
 * {@linkcode mqttObserver} for MQTT), each labelling what it counts with its `transport`. Per
 * reply it counts the request, its duration by route template and a reply that did not reach
 * the broker, and writes the access line (info) straight to the sink, with the caller's user and
 * org ids and, at debug, a 4xx's reason; a handler failure behind a 500 is logged at error level
 * whatever the level. Per rejected message it counts the reject code; per state change it sets
 * `vcdext_broker_connected{transport}` and counts a reconnect.
 */

import type { RejectCode, ReplyDecision } from "../core/seam.ts";
import type { Reply } from "../core/envelope.ts";
import { parseXml } from "../core/xml.ts";
import { accessLine, errorFields, type Logger, type LogSink } from "./log.ts";
import type { TransportLabel, VcdextMetrics } from "./metrics.ts";

/**
 * The rejected-messages metric's `reason` label per reject code (labels predate the codes,
 * dashboards read them: never rename one).
 */
export const REJECT_LABEL: Readonly<Record<RejectCode, string>> = {
  "no-reply-address": "no-reply-coordinates",
  undecodable: "undecodable",
  "handler-failed": "handler-failed",
};

/**
 * The dispositions of a reply that reached the broker: AMQP's `acked` (confirmed, request
 * acked) and MQTT's `published` (acknowledged at QoS 1). Any other (`requeued`, `lost`, …) is
 * counted in `vcdext_replies_failed_total` with the disposition as its reason.
 */
export const DELIVERED: ReadonlySet<string> = new Set(["acked", "published"]);

/** The correlation id of a reply address: AMQP's has one, MQTT's (a topic and id) none. */
function correlationOf(to: object): string | undefined {
  const id = (to as { readonly correlationId?: unknown }).correlationId;
  return typeof id === "string" ? id : undefined;
}

/**
 * The message of an error reply (a vCloud `Error` document, JSON or XML), as the caller got it:
 * already scrubbed of credentials, cut short and quoted by the core. `undefined` when the body
 * is not an error document.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorMessageOf } from "./observer.ts";
 * const json = { id: "r", status: 404, headers: {}, body: '{"majorErrorCode":404,"message":"no ticket 42"}' };
 * assert.equal(errorMessageOf(json), "no ticket 42");
 * const xml = { ...json, body: '<Error xmlns="x" majorErrorCode="404" message="a &amp; b"/>' };
 * assert.equal(errorMessageOf(xml), "a & b");
 * ```
 */
export function errorMessageOf(reply: Reply): string | undefined {
  const body = typeof reply.body === "string" ? reply.body : new TextDecoder().decode(reply.body);
  try {
    if (body.trimStart().startsWith("<")) {
      return parseXml(body).attrs["message"];
    }
    const message = (JSON.parse(body) as { message?: unknown }).message;
    return typeof message === "string" ? message : undefined;
  } catch {
    return undefined;
  }
}

/** The reply and reject callbacks, the same on every bus. */
export interface ReplyObserver<A extends object> {
  /** One reply carried out, how it ended (`acked`, `requeued`, `published`, `lost`, …) and its time from delivery. */
  onReply(decision: ReplyDecision<A>, disposition: string, ms: number): void;
  /** One message rejected without a reply, with the reason's code. */
  onReject(consumer: string, code: RejectCode): void;
}

/** The callbacks the AMQP transport calls; spread them into its config. */
export interface ServiceObserver<A extends object> extends ReplyObserver<A> {
  /** Consuming after a (re)connect, or disconnected. */
  onState(state: "consuming" | "disconnected"): void;
}

/** The callbacks the MQTT transport calls (one connection per extension); spread them in. */
export interface MqttObserver<A extends object> extends ReplyObserver<A> {
  /** One extension's connection subscribed (after a connect or reconnect), lost, or refused. */
  onState(extension: string, state: "subscribed" | "disconnected" | "refused"): void;
}

/** The reply and reject callbacks over `metrics` for requests that came on `transport`. */
function replyObserver<A extends object>(
  metrics: VcdextMetrics,
  log: Logger,
  sink: LogSink,
  transport: TransportLabel,
): ReplyObserver<A> {
  const accessLog = log.isLevelEnabled("info");
  const debug = log.isLevelEnabled("debug");
  return {
    onReply(decision, disposition, ms) {
      const { extension, outcome } = decision;
      const status = outcome.reply.status;
      const route = outcome.route ?? "unmatched";
      metrics.requests.inc({ extension, transport, route, status });
      metrics.requestDuration.observe({ extension, transport, route }, ms / 1000);
      if (!DELIVERED.has(disposition)) {
        metrics.repliesFailed.inc({ extension, transport, reason: disposition });
      }
      // The access line (info); a handler failure behind a 500 is logged at error level always.
      if (!accessLog && outcome.error === undefined) return;
      const fields = {
        extension,
        transport,
        correlationId: correlationOf(decision.to),
        requestId: decision.requestId,
        // Ids from the security context vCD vouches for; never a credential.
        user: decision.user || undefined,
        org: decision.org || undefined,
        method: decision.method,
        route: outcome.route,
        status,
        ...(decision.shortcut ? { shortcut: decision.shortcut } : {}),
        disposition,
        ms: Math.round(ms * 100) / 100,
        // At debug, why a 4xx was refused: the message the caller got (scrubbed and quoted).
        ...(debug && status >= 400 && status < 500
          ? { reason: errorMessageOf(outcome.reply) }
          : {}),
      };
      if (outcome.error !== undefined) {
        log.error({ ...fields, err: errorFields(outcome.error) }, "request");
      } else if (accessLog) sink.write(accessLine(fields, Date.now()));
    },
    onReject: (consumer, code) =>
      metrics.messagesRejected.inc({ extension: consumer, transport, reason: REJECT_LABEL[code] }),
  };
}

/**
 * The AMQP observer over `metrics`, logging to `log` (errors) and `sink` (access lines,
 * bypassing pino: see {@linkcode accessLine}). The first `consuming` is the start, each later
 * one a reconnect.
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
 * assert.equal(JSON.parse(lines[0]!).transport, "amqp");
 * const text = metrics.registry.render();
 * assert.match(text, /^vcdext_requests_total\{extension="x",transport="amqp",route="GET \/api\/x",status="200"\} 1$/m);
 * assert.match(text, /transport="amqp",reason="no-reply-coordinates"\} 1$/m);
 * ```
 */
export function requestObserver<A extends object>(
  metrics: VcdextMetrics,
  log: Logger,
  sink: LogSink,
): ServiceObserver<A> {
  let connects = 0;
  metrics.brokerConnected.set({ transport: "amqp" }, 0);
  return {
    ...replyObserver<A>(metrics, log, sink, "amqp"),
    onState(state) {
      metrics.brokerConnected.set({ transport: "amqp" }, state === "consuming" ? 1 : 0);
      if (state === "consuming" && connects++ > 0) metrics.reconnects.inc();
    },
  };
}

/**
 * The MQTT observer: as {@linkcode requestObserver}, labelled `mqtt`; a reply that is `lost`
 * (not acknowledged by the broker in time) counts as failed. Each extension has its own
 * connection: its first `subscribed` is its start, each later one a reconnect.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { createLogger } from "./log.ts";
 * import { vcdextMetrics } from "./metrics.ts";
 * import { mqttObserver } from "./observer.ts";
 * const sink = { write: (_: string) => {} };
 * const metrics = vcdextMetrics();
 * const observe = mqttObserver(metrics, createLogger("info", sink), sink);
 * observe.onReply({
 *   kind: "reply",
 *   to: { topic: "t", requestId: "r1" },
 *   body: new Uint8Array(),
 *   extension: "x",
 *   requestId: "r1",
 *   outcome: { reply: { id: "r1", status: 200, headers: {}, body: "" }, route: "GET /api/x" },
 * }, "lost", 5);
 * for (const s of ["subscribed", "disconnected", "subscribed"] as const) observe.onState("x", s);
 * observe.onState("y", "subscribed");
 * const text = metrics.registry.render();
 * assert.match(text, /^vcdext_replies_failed_total\{extension="x",transport="mqtt",reason="lost"\} 1$/m);
 * assert.match(text, /^vcdext_reconnects_total 1$/m);
 * ```
 */
export function mqttObserver<A extends object>(
  metrics: VcdextMetrics,
  log: Logger,
  sink: LogSink,
): MqttObserver<A> {
  const subscribed = new Set<string>();
  const up = new Set<string>();
  metrics.brokerConnected.set({ transport: "mqtt" }, 0);
  return {
    ...replyObserver<A>(metrics, log, sink, "mqtt"),
    onState(extension, state) {
      // Connected while at least one extension's connection is subscribed.
      if (state === "subscribed") up.add(extension);
      else up.delete(extension);
      metrics.brokerConnected.set({ transport: "mqtt" }, up.size > 0 ? 1 : 0);
      if (state !== "subscribed") return;
      if (subscribed.has(extension)) metrics.reconnects.inc();
      else subscribed.add(extension);
    },
  };
}
