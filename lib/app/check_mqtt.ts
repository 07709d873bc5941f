/**
 * @module `vcdext check`'s MQTT rows, per extension: the login as the extension (its triplet
 * and token, as `serve` connects) with a subscription to its monitor topic, and a round trip.
 * The round trip goes, by default, to an in-process MQTT service of the extension on a
 * temporary triplet version (`check-<random>`), so real requests are never seen by it; with
 * `live`, to the running instances on the real monitor topic. The cell side publishes as its
 * own MQTT user (lib/transport/mqtt/cell_client.ts): a lab broker, or a local anonymous
 * Mosquitto, takes it; a production vCD lets no one but its cells publish requests, so there
 * only the login row applies.
 */

import { type Extension, tripletOf } from "../core/extension.ts";
import { safeUrl } from "../core/redact.ts";
import { endpoint } from "../core/service.ts";
import { silentLogger } from "../observability/log.ts";
import { sampleRequest } from "../sim/cell.ts";
import { exchangeOverMqtt } from "../sim/mqtt_cell.ts";
import { MqttCellClient } from "../transport/mqtt/cell_client.ts";
import { MQTT_CODEC } from "../transport/mqtt/codec.ts";
import { probeMqtt } from "../transport/mqtt/probe.ts";
import { type RunningMqttService, startMqttService } from "../transport/mqtt/service.ts";
import {
  monitorTopic,
  parseTriplet,
  respondTopic,
  type Triplet,
  triplet,
} from "../transport/mqtt/topics.ts";
import { type CheckRow, roundTripRow } from "./check.ts";
import type { MqttSettings } from "./mqtt_config.ts";
import type { CellMqtt } from "./request.ts";

/** What the MQTT rows need. */
export interface MqttCheckInputs {
  /** URL, TLS and each extension's token, as `serve` reads them. */
  readonly settings: MqttSettings;
  /** The simulated cell's connection. */
  readonly cell: CellMqtt;
  /** Through the running instances rather than an in-process service. */
  readonly live?: boolean | undefined;
  /** How long to wait for each reply, ms. */
  readonly timeout: number;
}

/** The MQTT rows of every extension, in order: login, round trip. */
export async function mqttRows(
  extensions: readonly Extension[],
  inputs: MqttCheckInputs,
): Promise<CheckRow[]> {
  const rows: CheckRow[] = [];
  const { settings } = inputs;
  for (const ext of extensions) {
    const name = tripletOf(ext);
    const token = settings.tokens.get(name) ?? "";
    const probe = await probeMqtt({
      url: settings.url,
      tls: settings.tls,
      username: name,
      password: token,
      topic: monitorTopic(parseTriplet(name)),
      timeoutMs: inputs.timeout,
    });
    rows.push({ what: `connect ${safeUrl(settings.url)} as ${name}`, ...probe });
    rows.push(await roundTrip(ext, inputs, token));
  }
  return rows;
}

/** One round trip over MQTT; never throws. */
async function roundTrip(
  ext: Extension,
  inputs: MqttCheckInputs,
  token: string,
): Promise<CheckRow> {
  const what = `MQTT round trip ${ext.name} (${inputs.live ? "running instances" : "in-process"})`;
  const real = parseTriplet(tripletOf(ext));
  const t: Triplet = inputs.live
    ? real
    : triplet(real.vendor, real.name, `check-${crypto.randomUUID().slice(0, 8)}`);
  let service: RunningMqttService | undefined;
  let cell: MqttCellClient | undefined;
  const secrets = [token, ...(inputs.cell.password ? [inputs.cell.password] : [])];
  try {
    return await roundTripRow(what, sampleRequest(ext), async (request) => {
      if (!inputs.live) {
        service = await startMqttService({
          url: inputs.settings.url,
          ...(inputs.settings.tls ? { tls: inputs.settings.tls } : {}),
          log: silentLogger,
          clientIdPrefix: "vcdext-check",
          startupRetries: 1,
          refusedRetryMs: 60_000,
          extensions: [{
            label: ext.name,
            triplet: t,
            token,
            handle: endpoint(ext, { codec: MQTT_CODEC }).handle,
          }],
        });
        if (!service.ready()) {
          throw new Error(`the broker refused ${t.vendor}/${t.name}/${t.version}`);
        }
      }
      cell = await MqttCellClient.connect(inputs.cell.url, inputs.cell);
      const topics = { monitor: monitorTopic(t), respond: respondTopic(t) };
      const { reply, ms } = await exchangeOverMqtt(cell, topics, request, inputs.timeout);
      return { status: reply.status, ms };
    }, secrets);
  } finally {
    await cell?.close();
    await service?.stop(500);
  }
}
