/**
 * @module `vcdext request`: play a vCD cell for one request. Builds the request envelope from
 * the flags (body from `--data` or `--data-file`, headers, security context), publishes it with
 * a {@linkcode CellClient} on the routing key of the extension that owns the path, waits for the
 * reply and describes the exchange. Also the flag parsers of `--header` and `--right`.
 */

import { compile } from "../core/dispatch.ts";
import type { Extension } from "../core/extension.ts";
import { buildRequest, type CellRequest, decodeReply, describeExchange } from "../sim/cell.ts";
import { CellClient } from "../transport/amqp/mod.ts";
import { UsageError } from "./config.ts";

/** The flags of `vcdext request` besides method and path. */
export interface RequestOptions {
  amqpUrl: string;
  exchange: string;
  routingKey?: string | undefined;
  accept: string;
  contentType: string;
  data?: string | undefined;
  dataFile?: string | undefined;
  header?: Record<string, string> | undefined;
  org: string;
  user: string;
  right?: string[] | undefined;
  timeout: number;
}

/**
 * Parses one `--header "Name: value"` into the headers so far.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHeader } from "./request.ts";
 * assert.deepEqual(parseHeader("X-A: 1", { "X-B": "2" }), { "X-B": "2", "X-A": "1" });
 * assert.throws(() => parseHeader("no colon"));
 * ```
 */
export function parseHeader(
  value: string,
  previous: Record<string, string> = {},
): Record<string, string> {
  const colon = value.indexOf(":");
  if (colon <= 0) {
    throw new UsageError(`--header takes "Name: value", got ${JSON.stringify(value)}`);
  }
  return { ...previous, [value.slice(0, colon).trim()]: value.slice(colon + 1).trim() };
}

/** Collects a repeatable flag's values in order. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** The routing key of the extension whose routes match the path, or of the only one loaded. */
export function routingKeyFor(registry: readonly Extension[], path: string): string {
  const pathOnly = path.split("?")[0] ?? path;
  // Any method will do: a path that exists answers "found" or "method", never "none".
  const owner = registry.find((ext) => compile(ext).router.match("GET", pathOnly).kind !== "none");
  if (owner) return owner.routingKey;
  if (registry.length === 1) return registry[0]!.routingKey;
  throw new UsageError(`no loaded extension has a route for ${path}; pass --routing-key`);
}

/** Sends one request as a cell would and resolves with the exchange described for a terminal. */
export async function sendRequest(
  registry: readonly Extension[],
  method: string,
  path: string,
  options: RequestOptions,
): Promise<string> {
  const body = options.dataFile !== undefined
    ? await Deno.readFile(options.dataFile)
    : options.data;
  const headers: Record<string, string> = { Accept: options.accept, ...(options.header ?? {}) };
  if (body !== undefined) headers["Content-Type"] = options.contentType;
  const request: CellRequest = {
    method,
    path,
    headers,
    ...(body === undefined ? {} : { body }),
    org: options.org,
    user: options.user,
    rights: options.right ?? [],
  };
  const cell = await CellClient.connect(options.amqpUrl);
  try {
    const started = performance.now();
    const raw = await cell.send(
      options.exchange,
      options.routingKey ?? routingKeyFor(registry, path),
      buildRequest(request),
      { timeoutMs: options.timeout },
    );
    return describeExchange(request, decodeReply(raw), performance.now() - started);
  } finally {
    await cell.close();
  }
}
