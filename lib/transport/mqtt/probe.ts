/**
 * @module `vcdext check`'s MQTT connection row: log in to the broker as the extension (its
 * triplet and token, as `serve` does) and subscribe to its monitor topic once, then leave. The
 * broker gives every subscriber its own copy, so the brief subscription takes nothing from
 * running instances; whatever it receives meanwhile is dropped unread.
 */

import mqtt from "mqtt";
import { safeUrl, scrub } from "../../core/redact.ts";
import type { MqttTls } from "./connection.ts";

/** What {@linkcode probeMqtt} needs. */
export interface ProbeOptions {
  readonly url: string;
  readonly tls?: MqttTls | undefined;
  /** The extension's triplet. */
  readonly username: string;
  /** The extension's token: a credential, never in a message. */
  readonly password: string;
  /** The monitor topic. */
  readonly topic: string;
  /** Default 5,000 ms. */
  readonly timeoutMs?: number;
}

/** CONNACK codes of MQTT 3.1.1 worth a sentence. */
const REFUSED: Readonly<Record<number, string>> = {
  4: "bad user name or password: check the extension's token and triplet",
  5: "not authorised: check the extension's token and triplet",
};

/**
 * Connects and subscribes as the extension; resolves with what happened in one line, `ok`
 * false when the broker could not be reached, refused the login or the subscription. The
 * message names the URL without its password, and never the token.
 */
export async function probeMqtt(options: ProbeOptions): Promise<{ ok: boolean; detail: string }> {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  const started = performance.now();
  let client: mqtt.MqttClient | undefined;
  try {
    client = await mqtt.connectAsync(options.url, {
      protocolVersion: 4,
      clean: true,
      clientId: `vcdext-check-${
        Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
      }`,
      username: options.username,
      password: options.password,
      connectTimeout: options.timeoutMs ?? 5_000,
      reconnectPeriod: 0,
      ...(options.tls?.ca === undefined ? {} : { ca: [options.tls.ca] }),
      ...(options.tls?.insecure ? { rejectUnauthorized: false } : {}),
    });
    client.on("error", () => {});
    const granted = await client.subscribeAsync(options.topic, { qos: 1 });
    if (granted.some((g) => g.qos === 128)) {
      return { ok: false, detail: `subscription to ${options.topic} refused` };
    }
    await client.unsubscribeAsync(options.topic);
    const ms = (performance.now() - started).toFixed(1);
    return { ok: true, detail: `subscribed to ${options.topic} in ${ms} ms` };
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const why = typeof code === "number" && REFUSED[code] !== undefined
      ? REFUSED[code]!
      : (e as Error).message;
    const secrets = [options.password];
    return { ok: false, detail: scrub(`${safeUrl(options.url)}: ${why}`, secrets) };
  } finally {
    await client?.endAsync(true).catch(() => {});
  }
}
