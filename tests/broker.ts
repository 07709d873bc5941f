/**
 * @module Test harness for the real broker on 127.0.0.1:5672: a service on uniquely named
 * exchange and queue, a simulated cell, captured log lines, and cleanup afterwards.
 */

import {
  BrokerAdmin,
  CellClient,
  type RunningService,
  startService,
} from "../lib/transport/amqp/mod.ts";
import type { Extension } from "../lib/core/extension.ts";
import { createLogger } from "../lib/observability/log.ts";
import { endpoint, type EndpointSettings } from "../lib/core/service.ts";
import { systemClock } from "../lib/transport/clock.ts";

/** The shared broker (override with VCDEXT_TEST_AMQP_URL). */
export const AMQP_URL = Deno.env.get("VCDEXT_TEST_AMQP_URL") ?? "amqp://guest:guest@127.0.0.1:5672";

/** Everything a broker test gets. */
export interface Harness {
  readonly exchange: string;
  readonly queue: string;
  readonly routingKey: string;
  readonly cell: CellClient;
  readonly admin: BrokerAdmin;
  readonly service: RunningService;
  /** Every log line the service wrote. */
  readonly logs: string[];
}

/** Options of {@linkcode withService}. */
export interface HarnessOptions extends EndpointSettings {
  /** The handler time limit (on the host's clock). */
  readonly timeoutMs?: number;
  /** The broker (default {@linkcode AMQP_URL}); the leftover test gives a vhost of its own. */
  readonly url?: string;
  readonly prefetch?: number;
  readonly queueArguments?: Record<string, unknown>;
  /** Runs before the service starts (declare a dead-letter exchange, …). */
  readonly before?: (
    admin: BrokerAdmin,
    names: { exchange: string; queue: string },
  ) => Promise<void>;
}

/** A short unique name for this test's broker objects. */
export function uniqueName(prefix: string): string {
  return `${prefix}.${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Serves `extension` on a fresh exchange and queue, runs `fn`, then stops the service and
 * deletes what the test declared.
 */
export async function withService(
  extension: Extension,
  fn: (h: Harness) => Promise<void>,
  options: HarnessOptions = {},
): Promise<void> {
  const url = options.url ?? AMQP_URL;
  const exchange = uniqueName("vcdext.test");
  const queue = `${exchange}.q`;
  const logs: string[] = [];
  const admin = await BrokerAdmin.connect(url);
  try {
    await options.before?.(admin, { exchange, queue });
    const service = await startService({
      urls: [url],
      prefetch: options.prefetch ?? 128,
      log: createLogger("debug", { write: (line) => logs.push(line) }),
      consumers: [{
        label: extension.name,
        queue,
        bindings: [{ exchange, type: "direct", keys: [extension.routingKey], declare: true }],
        ...(options.queueArguments ? { queueArguments: options.queueArguments } : {}),
        handle: endpoint(
          extension,
          options.timeoutMs === undefined
            ? { ...options, timeoutMs: undefined }
            : { ...options, timeoutMs: options.timeoutMs, clock: systemClock },
        ).handle,
      }],
    });
    const cell = await CellClient.connect(url);
    try {
      await fn({ exchange, queue, routingKey: extension.routingKey, cell, admin, service, logs });
    } finally {
      await cell.close();
      await service.stop(2_000);
    }
  } finally {
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
}

/**
 * Resolves when `predicate` holds, polling every 20 ms, or rejects after `ms`. The default is
 * generous (30 s): it only bounds how long a test waits for an event that never comes, and a
 * loaded 2-core machine must not turn a late event into a failure.
 */
export async function eventually(
  predicate: () => boolean | Promise<boolean>,
  ms = 30_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
