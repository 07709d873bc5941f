/**
 * @module The AMQP transport, the only place that imports amqplib. vCD talks to extensions over
 * RabbitMQ; this folder carries the core's decisions out there:
 *
 * | file             | job                                                                                   |
 * | ---------------- | ------------------------------------------------------------------------------------- |
 * | `delivery.ts`    | reads an AMQP message's reply coordinates into the core's `Delivery` (no amqplib)     |
 * | `connection.ts`  | connect (with recovery for the service), TLS socket options, URL and error redaction  |
 * | `topology.ts`    | the one declaration of a consumer's queue, exchanges and bindings (serve and check)   |
 * | `ttl_policy.ts`  | the policy that gives existing request queues vCD's timeout as message TTL            |
 * | `session.ts`     | one connection's channels and what it knows about reply exchanges                     |
 * | `exchanges.ts`   | the bounded memory of reply exchanges (no amqplib)                                    |
 * | `acks.ts`        | acks batched per event-loop turn                                                      |
 * | `replies.ts`     | replies published with a publisher confirm and a timeout                              |
 * | `consumer.ts`    | one delivery: handler, then its decision carried out                                  |
 * | `service.ts`     | `startService`: declare, consume, drain and stop                                      |
 * | `cell_client.ts` | the simulated vCD cell's client                                                       |
 * | `admin.ts`       | broker housekeeping for tests, the demo and `vcdext check`                            |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { amqpDelivery, extensionBinding, safeUrl } from "./mod.ts";
 * assert.equal(safeUrl("amqp://u:p@h/"), "amqp://u:[redacted]@h/");
 * assert.equal(extensionBinding("vcdext", "k").type, "direct");
 * const reply = amqpDelivery({ content: new Uint8Array(), headers: {} }).reply;
 * assert.deepEqual(reply, { missing: "replyToExchange header" });
 * ```
 */

export { BrokerAdmin } from "./admin.ts";
export {
  CellClient,
  type CellOptions,
  type RequestEnvelope,
  type SendOptions,
} from "./cell_client.ts";
export { type AmqpTls, connectError } from "./connection.ts";
export { safeUrl } from "../../core/redact.ts";
export type { ConsumerSpec } from "./consumer.ts";
export { type AmqpAddress, amqpDelivery } from "./delivery.ts";
export type { Disposition } from "./replies.ts";
export { type RunningService, type ServiceConfig, startService } from "./service.ts";
export {
  type Binding,
  EXCHANGE_OPTIONS,
  extensionBinding,
  extensionExchange,
  type QueueState,
  type QueueTopology,
} from "./topology.ts";
export { ttlAdvice, ttlPolicyCommand, vhostOf } from "./ttl_policy.ts";
