/**
 * @module The MQTT benchmark's **baseline**: the cheapest possible API-extension responder on
 * vCD's MQTT bus, run by `tests/bench/run_mqtt.ts` side by side with `vcdext serve --transport
 * mqtt` on the same broker so that vcdext's cost is measured as a ratio against it. The MQTT
 * analogue of `minimal_responder.ts`. Not product code.
 *
 * Like `minimal_responder.ts`, it is a documented exception to "only lib/transport/mqtt/ imports
 * mqtt": a baseline must not go through the code it is the baseline for.
 *
 * It connects as vcdext does (MQTT 3.1.1, clean session, the triplet as user name), subscribes
 * to the monitor topic `topic/extension/<vendor>/<name>/<version>/ext` with QoS 1 and answers
 * every message with one **fixed** `API_RESPONSE` (a 201 ticket of the size vcdext sends),
 * published with QoS 1 on the respond topic (`…/vcd`). The only per-message work is finding
 * `headers.requestId` with a regular expression over the text (no JSON parse, no validation,
 * no handler) and writing it between the fixed response's two halves.
 *
 * ```
 * deno run -A tests/bench/minimal_mqtt_responder.ts --url mqtt://127.0.0.1:1883 \
 *   --triplet vendor/name/1.0.0 [--nagle]
 * ```
 *
 * It sets TCP_NODELAY on its socket, as vcdext does (the mqtt client does not);
 * `--nagle` (diagnostic) leaves Nagle's algorithm on.
 *
 * Prints `ready` on stdout once subscribed; stops on SIGTERM/SIGINT.
 */

import mqtt from "mqtt";
import { Buffer } from "node:buffer";

function flag(name: string): string | undefined {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : undefined;
}

const url = flag("url") ?? "mqtt://127.0.0.1:1883";
const triplet = flag("triplet") ?? "vcdext-bench/minimal/1.0.0";
const monitor = `topic/extension/${triplet}/ext`;
const respond = `topic/extension/${triplet}/vcd`;
/** Diagnostic: TCP_NODELAY on its socket (the mqtt client leaves Nagle's algorithm on). */
const noDelay = !Deno.args.includes("--nagle");

/** The fixed response around its requestId: `HEAD + requestId + TAIL`. */
const [HEAD, TAIL] = (() => {
  const href = "https://vcd.example.com/api/org/1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b/ticketing/1";
  const entity = new TextEncoder().encode(JSON.stringify({
    id: "1",
    org: "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
    message: "The storage policy of org VDC prod-01 is full; new VMs cannot be deployed",
    status: "open",
    created: "2026-11-22T10:00:00.000Z",
    href,
  }));
  const marker = "\u0000requestId\u0000";
  const text = JSON.stringify({
    type: "API_RESPONSE",
    headers: { requestId: marker },
    httpResponse: {
      statusCode: 201,
      headers: {
        "Content-Type": "application/vnd.example.ticket+json;version=36.0",
        Location: href,
        "Content-Length": entity.byteLength,
      },
      body: entity.toBase64(),
    },
  });
  const quoted = JSON.stringify(marker);
  const at = text.indexOf(quoted);
  return [
    Buffer.from(text.slice(0, at + 1)),
    Buffer.from(text.slice(at + quoted.length - 1)),
  ];
})();

const decoder = new TextDecoder();
/** A plain `"requestId":"…"` (vCD's ids are UUIDs: no escapes). */
const REQUEST_ID = /"requestId"\s*:\s*"([^"\\]{1,256})"/;

const client = await mqtt.connectAsync(url, {
  protocolVersion: 4,
  clean: true,
  clientId: `vcdext-bench-minimal-${crypto.randomUUID().slice(0, 8)}`,
  username: triplet,
  keepalive: 60,
  reconnectPeriod: 1_000,
});
client.on("error", () => {});
if (noDelay) (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
client.on("message", (_topic, payload) => {
  const m = REQUEST_ID.exec(decoder.decode(payload));
  if (!m) return;
  client.publish(respond, Buffer.concat([HEAD, Buffer.from(m[1]!), TAIL]), { qos: 1 });
});
await client.subscribeAsync(monitor, { qos: 1 });
console.log("ready");

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  const mb = (n: number) => Math.round(n / 1048576);
  const m = Deno.memoryUsage();
  console.error(
    `memory at exit: rss ${mb(m.rss)} MB, heapTotal ${mb(m.heapTotal)} MB, heapUsed ${
      mb(m.heapUsed)
    } MB, external ${mb(m.external)} MB`,
  );
  client.endAsync().catch(() => {}).finally(() => Deno.exit(0));
};
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
