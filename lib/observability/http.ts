/**
 * @module The optional HTTP listener, one of the few network adapters: `/healthz` (the process
 * is alive; `serve` starts the listener before connecting, so it answers from the start),
 * `/readyz` (connected to the broker and consuming) and `/metrics` (Prometheus text).
 * Bound to 127.0.0.1 unless told otherwise: it is for the local agent and the load balancer's
 * health check, not for the world.
 */

import type { Logger } from "./log.ts";
import { METRICS_CONTENT_TYPE } from "./metrics.ts";

/** What the listener serves. */
export interface HttpOptions {
  readonly hostname: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly ready: () => boolean;
  readonly metrics: () => string;
  readonly log: Logger;
}

/** A running listener. */
export interface HttpListener {
  /** The port it listens on (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Answers one request; exported so it is tested without a socket.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { answer } from "./http.ts";
 * const r = answer(new Request("http://x/readyz"), { ready: () => false, metrics: () => "" });
 * assert.equal(r.status, 503);
 * ```
 */
export function answer(
  request: Request,
  options: Pick<HttpOptions, "ready" | "metrics">,
): Response {
  const { pathname } = new URL(request.url);
  if (request.method !== "GET" && request.method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: { Allow: "GET, HEAD" } });
  }
  switch (pathname) {
    case "/healthz":
      return new Response("ok\n", { headers: { "Content-Type": "text/plain" } });
    case "/readyz":
      return options.ready()
        ? new Response("ready\n", { headers: { "Content-Type": "text/plain" } })
        : new Response("not ready: not consuming\n", { status: 503 });
    case "/metrics":
      return new Response(options.metrics(), { headers: { "Content-Type": METRICS_CONTENT_TYPE } });
    default:
      return new Response("not found: try /healthz, /readyz or /metrics\n", { status: 404 });
  }
}

/**
 * Starts the listener; resolves once it listens. A port in use (or any failure to bind) throws
 * one line naming the address, e.g. `HTTP listener (--http-port): cannot listen on
 * 127.0.0.1:9090: address in use`.
 */
export async function startHttp(options: HttpOptions): Promise<HttpListener> {
  try {
    return await listen(options);
  } catch (e) {
    const reason = e instanceof Deno.errors.AddrInUse
      ? "address in use"
      : String((e as Error)?.message ?? e);
    throw new Error(
      `HTTP listener (--http-port): cannot listen on ${options.hostname}:${options.port}: ${reason}`,
    );
  }
}

async function listen(options: HttpOptions): Promise<HttpListener> {
  let port = options.port;
  const listening = Promise.withResolvers<void>();
  const server = Deno.serve({
    hostname: options.hostname,
    port: options.port,
    onListen: (addr) => {
      port = addr.port;
      options.log.info({ hostname: addr.hostname, port: addr.port }, "HTTP listener up");
      listening.resolve();
    },
    onError: (e) => {
      options.log.error({ err: String(e) }, "HTTP listener error");
      return new Response("internal error\n", { status: 500 });
    },
  }, (request) => answer(request, options));
  await listening.promise;
  return {
    get port() {
      return port;
    },
    close: () => server.shutdown(),
  };
}
