/**
 * @module `--mqtt-ha`: several instances serve the same extensions over MQTT, and exactly one
 * answers each extension's requests. vCD's MQTT broker gives every subscriber a copy of every
 * request, so two plain instances would both answer and both run side effects. Here each
 * instance connects to MQTT with its own client id and stays connected, **paused** (not
 * subscribed, dropping whatever arrives), and competes on RabbitMQ (`--amqp-url`) for one lease
 * per extension triplet (lib/transport/amqp/lease.ts: an exclusive queue
 * `vcdext.mqtt-ha.<vendor>.<name>.<version>`). The winner resumes (subscribes); a loser keeps
 * trying every second, and takes over within about a second of the holder's connection going
 * (kill -9 included). A holder that loses its lease — its RabbitMQ connection drops, or a lease
 * check goes unanswered, even while MQTT still works — pauses in that same turn, before the
 * broker can give the lease to anyone else; each request is also checked against the lease's
 * clock before it is handled. Requests it took before the loss still get their replies: no other
 * instance was subscribed when they were published, so none can answer them twice.
 */

import type { Logger } from "../core/logger.ts";
import type { Decision, Delivery } from "../core/seam.ts";
import { type AmqpTls } from "../transport/amqp/connection.ts";
import {
  acquireLeases,
  type LeaseHolder,
  leaseQueueName,
  type LeaseTiming,
} from "../transport/amqp/lease.ts";
import {
  type MqttAddress,
  type MqttExtensionSpec,
  type MqttServiceConfig,
  startMqttService,
} from "../transport/mqtt/service.ts";
import type { RunningTransport } from "../transport/transport.ts";

/** Settings of {@linkcode startMqttHa}. */
export interface MqttHaConfig {
  /** The RabbitMQ brokers that hold the leases (`--amqp-url`, one per cluster node). */
  readonly amqpUrl: readonly string[];
  readonly amqpTls?: AmqpTls;
  /** The MQTT service as without HA; it is started paused. */
  readonly mqtt: MqttServiceConfig;
  readonly log: Logger;
  /** Lease timing (tests); defaults in lib/transport/amqp/lease.ts. */
  readonly leaseTiming?: Partial<LeaseTiming>;
  /** Called when this instance becomes active (`true`) or stops being so for an extension. */
  readonly onLease?: (extension: string, active: boolean) => void;
}

/** A running `--mqtt-ha` transport. */
export interface RunningMqttHa extends RunningTransport {
  /** Active (holding the lease and subscribed) for at least one extension. */
  active(): boolean;
  /** Active for extension `label`. */
  activeFor(label: string): boolean;
}

/**
 * Starts the MQTT service paused and the lease holder; resumes an extension when its lease is
 * won, pauses it when lost. Resolves once MQTT is connected and the first lease round is done
 * (this instance may be standby); rejects when either broker cannot be reached.
 *
 * `ready()` is true when both connections are up, active or standby (a standby is healthy: it
 * is there to take over). `stop(drainMs)` pauses, gives the leases up (another instance takes
 * over at once), then drains.
 */
export async function startMqttHa(config: MqttHaConfig): Promise<RunningMqttHa> {
  const log = config.log.child({ component: "mqtt-ha" });
  const leaseOf = new Map<string, string>();
  const labelOf = new Map<string, string>();
  for (const spec of config.mqtt.extensions) {
    const name = leaseQueueName(spec.triplet);
    leaseOf.set(spec.label, name);
    labelOf.set(name, spec.label);
  }
  let holder: LeaseHolder | undefined;
  const active = (label: string) => holder?.held(leaseOf.get(label)!) ?? false;
  const extensions: MqttExtensionSpec[] = config.mqtt.extensions.map((spec) => ({
    ...spec,
    // The lease is read again per request, against its clock: a stalled instance whose lease
    // ran out drops what its socket delivered meanwhile.
    handle: (
      delivery: Delivery<MqttAddress>,
      signal: AbortSignal,
    ): Promise<Decision<MqttAddress>> => {
      if (active(spec.label)) return spec.handle(delivery, signal);
      log.debug({ extension: spec.label }, "request dropped: not the active instance");
      return Promise.resolve({ kind: "ack" });
    },
  }));
  const service = await startMqttService({ ...config.mqtt, extensions, startPaused: true });
  try {
    holder = await acquireLeases({
      urls: config.amqpUrl,
      tls: config.amqpTls,
      names: [...labelOf.keys()],
      log,
      ...(config.leaseTiming ? { timing: config.leaseTiming } : {}),
    }, {
      won(name) {
        const label = labelOf.get(name)!;
        service.resume(label).catch(() => {});
        config.onLease?.(label, true);
      },
      lost(name) {
        const label = labelOf.get(name)!;
        service.pause(label).catch(() => {}); // drops from this turn on; unsubscribes after
        config.onLease?.(label, false);
      },
    });
  } catch (e) {
    await service.stop(0);
    throw e;
  }
  const leases = holder;
  return {
    inFlight: service.inFlight,
    ready: () => service.connected() && leases.connected(),
    active: () => config.mqtt.extensions.some((s) => active(s.label)),
    activeFor: active,
    async stop(drainMs: number) {
      const paused = service.pause();
      await leases.close();
      await paused;
      await service.stop(drainMs);
    },
  };
}
