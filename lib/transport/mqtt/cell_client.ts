/**
 * @module The vCD cell's side over MQTT (`vcdext request --transport mqtt`, `vcdext check`,
 * tests): publishes an `API_REQUEST` on an extension's monitor topic and waits for the
 * `API_RESPONSE` with the same `requestId` on its respond topic (wire-format document, sections
 * 12.3 and 12.4). It takes bytes and topic names, not lib/sim/'s types, so the transport does
 * not depend on the simulator; lib/sim/mqtt_cell.ts builds and reads the messages.
 *
 * **Who the cell is.** On a real vCD the cell is the broker's own publisher: no external
 * client may publish on a monitor topic, so this client is for labs and tests. It logs in with
 * a user name of its own (default `vcdext-cell`), never the extension's triplet, and no
 * password unless given: a local anonymous Mosquitto takes any.
 */

import mqtt from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import { Buffer } from "node:buffer";
import { safeUrl, scrub } from "../../core/redact.ts";
import { type MqttTls, noDelay } from "./connection.ts";

/** Options of {@linkcode MqttCellClient.connect}. */
export interface MqttCellOptions {
  readonly tls?: MqttTls | undefined;
  /** The cell's user name; default `vcdext-cell`. */
  readonly username?: string;
  /** Its password, if the broker wants one (a credential, never logged). */
  readonly password?: string;
  /** Wait for CONNACK; default 10,000 ms. */
  readonly connectTimeoutMs?: number;
}

interface Pending {
  resolve(reply: Uint8Array): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const decoder = new TextDecoder();

/** The `headers.requestId` of an `API_RESPONSE`, or `undefined` for anything else. */
function responseId(payload: Uint8Array): string | undefined {
  try {
    const m = JSON.parse(decoder.decode(payload));
    const id = m?.type === "API_RESPONSE" ? m?.headers?.requestId : undefined;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Publishes requests as a cell does and matches responses to them by `requestId`. */
export class MqttCellClient {
  readonly #client: MqttClient;
  readonly #pending = new Map<string, Pending>();
  readonly #subscribed = new Set<string>();
  /** Responses that matched no request waiting for one: duplicates, late or stray. */
  unmatched = 0;

  private constructor(client: MqttClient) {
    this.#client = client;
    client.on("message", (_topic, payload) => {
      const id = responseId(payload);
      const p = id === undefined ? undefined : this.#pending.get(id);
      if (p === undefined) {
        this.unmatched++;
        return;
      }
      this.#pending.delete(id!);
      clearTimeout(p.timer);
      p.resolve(new Uint8Array(payload));
    });
    client.on("close", () => {
      for (const [id, p] of [...this.#pending]) {
        this.#pending.delete(id);
        clearTimeout(p.timer);
        p.reject(new Error("the cell's connection to the MQTT broker closed"));
      }
    });
  }

  /** Connects (MQTT 3.1.1, clean session, a client id of its own); rejects when refused. */
  static async connect(url: string, options: MqttCellOptions = {}): Promise<MqttCellClient> {
    const bytes = crypto.getRandomValues(new Uint8Array(6));
    const config: IClientOptions = {
      protocolVersion: 4,
      clean: true,
      clientId: `vcdext-cell-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`,
      username: options.username ?? "vcdext-cell",
      ...(options.password === undefined ? {} : { password: options.password }),
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      reconnectPeriod: 0,
      ...(options.tls?.ca === undefined ? {} : { ca: [options.tls.ca] }),
      ...(options.tls?.insecure ? { rejectUnauthorized: false } : {}),
    };
    try {
      const client = await mqtt.connectAsync(url, config);
      noDelay(client);
      client.on("error", () => {});
      return new MqttCellClient(client);
    } catch (e) {
      const secrets = options.password === undefined ? [] : [options.password];
      throw new Error(
        `Cannot connect to ${safeUrl(url)} as the cell: ${scrub((e as Error).message, secrets)}`,
      );
    }
  }

  /** Requests waiting for a response. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Publishes `body` (an `API_REQUEST`) on `monitor` (QoS 1) and resolves with the raw
   * `API_RESPONSE` naming `requestId` on `respond`, or rejects after `timeoutMs` (default
   * 10,000, vCD's own timeout). Subscribes to `respond` first, once per topic.
   */
  async send(
    topics: { readonly monitor: string; readonly respond: string },
    requestId: string,
    body: Uint8Array,
    timeoutMs = 10_000,
  ): Promise<Uint8Array> {
    if (!this.#subscribed.has(topics.respond)) {
      const granted = await this.#client.subscribeAsync(topics.respond, { qos: 1 });
      if (granted.some((g) => g.qos === 128)) {
        throw new Error(`the MQTT broker refused the cell a subscription to ${topics.respond}`);
      }
      this.#subscribed.add(topics.respond);
    }
    const reply = new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        reject(
          new Error(
            `no API_RESPONSE on ${topics.respond} within ${timeoutMs} ms (vCD would answer 504): is vcdext serving it over MQTT?`,
          ),
        );
      }, timeoutMs);
      this.#pending.set(requestId, { resolve, reject, timer });
    });
    try {
      await this.#client.publishAsync(topics.monitor, Buffer.from(body), { qos: 1 });
    } catch (e) {
      const p = this.#pending.get(requestId);
      if (p) {
        this.#pending.delete(requestId);
        clearTimeout(p.timer);
      }
      throw new Error(`Cannot publish on ${topics.monitor}: ${(e as Error).message}`);
    }
    return await reply;
  }

  /** Disconnects; pending requests fail. */
  async close(): Promise<void> {
    await this.#client.endAsync(true).catch(() => {});
  }
}
