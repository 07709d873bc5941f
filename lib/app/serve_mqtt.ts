/**
 * @module `serve`'s MQTT side (vCD 10.2+; `--transport mqtt|both`): one connection per extension
 * with routes, logging in with its triplet and token, each request run by an endpoint of its own
 * built with the MQTT codec and the same limits as on AMQP. lib/app/serve.ts loads this module
 * with `import()` only when MQTT is asked for, so an AMQP-only service never loads the `mqtt`
 * client (about 100 ms and 20 MiB at start-up).
 *
 * **One endpoint per bus.** With `--transport both` an extension has an AMQP endpoint and an
 * MQTT one; they share nothing. Their recent-reply memories must not be shared: each holds
 * replies encoded for its own bus (an AMQP envelope cannot answer an MQTT requestId), and vCD
 * sends a given request on one bus only (the service registered for it), so the other bus's
 * memory could only ever match an unrelated request that happens to reuse an id. The in-flight
 * cap (`--max-in-flight`) is per endpoint, as it already was per extension: with `both`, each
 * extension may run that many handlers on each bus.
 */

import type { Extension } from "../core/extension.ts";
import { tripletOf } from "../core/extension.ts";
import { endpoint, type EndpointOptions } from "../core/service.ts";
import type { Logger, LogSink } from "../observability/log.ts";
import type { VcdextMetrics } from "../observability/metrics.ts";
import { mqttObserver } from "../observability/observer.ts";
import { MQTT_CODEC } from "../transport/mqtt/codec.ts";
import {
  type MqttAddress,
  type MqttExtensionSpec,
  startMqttService,
} from "../transport/mqtt/service.ts";
import { parseTriplet } from "../transport/mqtt/topics.ts";
import type { RunningTransport } from "../transport/transport.ts";
import type { MqttSettings } from "./mqtt_config.ts";
import { startMqttHa } from "./mqtt_ha.ts";
import type { AmqpTls } from "../transport/amqp/mod.ts";

/**
 * The MQTT spec of each extension: its triplet (`vendor/name/version`, validated as topic
 * levels), its token from `settings`, and an endpoint of its own over the MQTT codec.
 */
export function mqttSpecs(
  extensions: readonly Extension[],
  settings: Pick<MqttSettings, "tokens">,
  limits: EndpointOptions,
): MqttExtensionSpec[] {
  return extensions.map((extension) => {
    const name = tripletOf(extension);
    const token = settings.tokens.get(name);
    if (token === undefined) throw new Error(`no MQTT token for ${name}`);
    return {
      label: extension.name,
      triplet: parseTriplet(name),
      token,
      limits: {
        ...(limits.maxEnvelopeBytes === undefined
          ? {}
          : { maxEnvelopeBytes: limits.maxEnvelopeBytes }),
        ...(limits.maxBodyBytes === undefined ? {} : { maxBodyBytes: limits.maxBodyBytes }),
      },
      handle: endpoint(extension, { ...limits, codec: MQTT_CODEC }).handle,
    };
  });
}

/** What {@linkcode startMqtt} observes and logs with. */
export interface MqttDeps {
  readonly log: Logger;
  readonly sink: LogSink;
  readonly metrics: VcdextMetrics;
}

/**
 * Connects each extension to the MQTT broker of `settings` and serves it (metrics and access
 * lines labelled `mqtt`). Resolves once each is subscribed or was refused (a wrong token: one
 * error line, then a slow retry); rejects when the broker cannot be reached at all.
 */
export function startMqtt(
  extensions: readonly Extension[],
  settings: MqttSettings,
  limits: EndpointOptions,
  deps: MqttDeps,
  ha?: { readonly amqpUrl: readonly string[]; readonly amqpTls?: AmqpTls },
): Promise<RunningTransport> {
  const config = {
    url: settings.url,
    ...(settings.tls ? { tls: settings.tls } : {}),
    extensions: mqttSpecs(extensions, settings, limits),
    log: deps.log.child({ transport: "mqtt" }),
    ...mqttObserver<MqttAddress>(deps.metrics, deps.log, deps.sink),
  };
  if (!ha) return startMqttService(config);
  // --mqtt-ha: started paused; an extension is served only while this instance holds its lease.
  return startMqttHa({ ...ha, mqtt: config, log: deps.log });
}
