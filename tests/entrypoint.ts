/**
 * @module Harness for tests of the real entrypoint: `main.ts serve` as a subprocess on the shared
 * broker with uniquely named exchange and queues, its log lines parsed, `/metrics` scraped, a
 * cell that sees the raw reply message (properties and headers, not only the body), and a TCP
 * proxy between the service and the broker that can withhold publisher confirms or cut the
 * connection. Everything a test creates on the broker is deleted by {@linkcode Serve.close}.
 */

import amqp from "amqplib";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { Buffer } from "node:buffer";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import type { CellEnvelope } from "../lib/sim/cell.ts";
import { AMQP_URL, eventually, uniqueName } from "./broker.ts";
import { Proc } from "./proc.ts";

export const MAIN = new URL("../main.ts", import.meta.url).pathname;
/** main.ts with the `fixture` extension (slow and crashing routes) added to its registry. */
export const MAIN_WITH_FIXTURE = new URL("./fixtures/main_with_fixture.ts", import.meta.url)
  .pathname;

/** One JSON log line. */
export type LogLine = Record<string, unknown> & { msg?: string };

/** The service's log lines, parsed (a line that is not JSON is kept as `{ msg: <text> }`). */
export function logLines(proc: Proc): LogLine[] {
  return proc.log.split("\n").filter((l) => l.trim() !== "").map((l) => {
    try {
      return JSON.parse(l) as LogLine;
    } catch {
      return { msg: l };
    }
  });
}

/** The `settings` of the start-up line "serve settings". */
export function settingsOf(proc: Proc): Record<string, unknown> {
  const line = logLines(proc).find((l) => l.msg === "serve settings");
  if (!line) throw new Error(`no "serve settings" line in:\n${proc.log.slice(-2000)}`);
  return line.settings as Record<string, unknown>;
}

/** Options of {@linkcode Serve.start}. */
export interface ServeStart {
  /** Extra flags after the ones naming exchange, queue, extension and HTTP port. */
  readonly flags?: readonly string[];
  /** Default `gcp-ticketing`. */
  readonly extension?: string | readonly string[];
  /** Extra environment variables of the process. */
  readonly env?: Record<string, string>;
  /** Default main.ts; {@linkcode MAIN_WITH_FIXTURE} for the fixture extension. */
  readonly entry?: string;
  /** Broker URL the service is given (a proxy's); default the shared broker. */
  readonly amqpUrl?: string;
  /** Queues and exchanges to delete besides the service's own. */
  readonly cleanup?: { queues?: string[]; exchanges?: string[] };
}

/** `main.ts serve` on a fresh exchange and queue, with the HTTP listener on a free port. */
export class Serve {
  private constructor(
    readonly proc: Proc,
    readonly exchange: string,
    readonly queue: string,
    readonly port: number,
    readonly cleanup: { queues: string[]; exchanges: string[] },
  ) {}

  static async start(options: ServeStart = {}): Promise<Serve> {
    const exchange = uniqueName("vcdext.test.serve");
    const queue = `${exchange}.q`;
    const proc = new Proc([
      options.entry ?? MAIN,
      "serve",
      "--amqp-url",
      options.amqpUrl ?? AMQP_URL,
      "--exchange",
      exchange,
      "--queue",
      queue,
      "--extension",
      ...[options.extension ?? "gcp-ticketing"].flat(),
      "--http-port",
      "0",
      ...(options.flags ?? []),
    ], options.env ?? {});
    const cleanup = {
      queues: [queue, ...(options.cleanup?.queues ?? [])],
      exchanges: [exchange, ...(options.cleanup?.exchanges ?? [])],
    };
    const serve = new Serve(proc, exchange, queue, 0, cleanup);
    try {
      await proc.waitFor('"msg":"consuming"');
      await proc.waitFor('"msg":"HTTP listener up"');
    } catch (e) {
      await serve.close();
      throw e;
    }
    const up = logLines(proc).find((l) => l.msg === "HTTP listener up")!;
    return new Serve(proc, exchange, queue, Number(up.port), cleanup);
  }

  /** Log lines with this `msg`. */
  lines(msg: string): LogLine[] {
    return logLines(this.proc).filter((l) => l.msg === msg);
  }

  /** The status of `/readyz`. */
  async readyz(): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.port}/readyz`);
    await res.body?.cancel();
    return res.status;
  }

  /** The text of `/metrics`. */
  async metrics(): Promise<string> {
    const res = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    return await res.text();
  }

  /** Ends the process (SIGKILL if still running) and deletes its exchange and queues. */
  async close(): Promise<void> {
    await this.proc.end();
    const admin = await BrokerAdmin.connect(AMQP_URL);
    try {
      await admin.delete(this.cleanup);
    } finally {
      await admin.close();
    }
  }
}

/**
 * The value of one sample in Prometheus text: `name{labels}` exactly as rendered (labels in
 * declaration order), or `name` alone; 0 when absent.
 */
export function sample(text: string, series: string): number {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

/** A cell that sees whole reply messages: properties, headers and body. */
export class RawCell {
  readonly #waiting = new Map<string, (msg: ConsumeMessage) => void>();
  /** Every reply received, in order (duplicates too). */
  readonly replies: ConsumeMessage[] = [];

  private constructor(
    readonly model: ChannelModel,
    readonly channel: Channel,
    readonly replyExchange: string,
    readonly replyQueue: string,
  ) {}

  /** Connects; declares its own uniquely named reply exchange and an exclusive reply queue. */
  static async connect(): Promise<RawCell> {
    const model = await amqp.connect(AMQP_URL);
    model.on("error", () => {});
    const channel = await model.createChannel();
    const replyExchange = uniqueName("vcdext.test.rawcell");
    await channel.assertExchange(replyExchange, "direct", { durable: false, autoDelete: false });
    const { queue } = await channel.assertQueue("", { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, replyExchange, queue);
    const cell = new RawCell(model, channel, replyExchange, queue);
    await channel.consume(queue, (msg) => {
      if (!msg) return;
      cell.replies.push(msg);
      const id = String(msg.properties.correlationId);
      cell.#waiting.get(id)?.(msg);
      cell.#waiting.delete(id);
    }, { noAck: true });
    return cell;
  }

  /**
   * Publishes an envelope as vCD does; resolves with the whole reply message. `headers` and
   * `replyTo` override what a cell sends (`null` drops the property).
   */
  send(
    exchange: string,
    routingKey: string,
    envelope: CellEnvelope,
    options: { timeoutMs?: number; replyTo?: string | null; replyToExchange?: string } = {},
  ): Promise<ConsumeMessage> {
    const correlationId = crypto.randomUUID();
    const timeoutMs = options.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(correlationId);
        reject(new Error(`no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#waiting.set(correlationId, (msg) => {
        clearTimeout(timer);
        resolve(msg);
      });
      this.channel.publish(exchange, routingKey, Buffer.from(envelope.body), {
        correlationId,
        contentType: "application/json",
        headers: {
          messageType: "ProcessHttpRequest",
          replyToExchange: options.replyToExchange ?? this.replyExchange,
        },
        ...(options.replyTo === null ? {} : { replyTo: options.replyTo ?? this.replyQueue }),
      });
    });
  }

  /** Publishes without waiting for any reply. */
  publish(exchange: string, routingKey: string, body: Uint8Array, props: amqp.Options.Publish) {
    this.channel.publish(exchange, routingKey, Buffer.from(body), props);
  }

  async close(): Promise<void> {
    await this.channel.deleteExchange(this.replyExchange).catch(() => {});
    await this.model.close().catch(() => {});
  }
}

/** The reply's body as JSON (`{id, statusCode, headers, body}`, body base64). */
export function replyJson(msg: ConsumeMessage): {
  id: string;
  statusCode: number;
  headers: Record<string, string>;
  body: string;
} {
  return JSON.parse(new TextDecoder().decode(msg.content));
}

/**
 * A TCP proxy in front of the shared broker. `dropConfirms(n)` withholds the next `n`
 * publisher confirms (AMQP `basic.ack` from the broker, class 60 method 80) from the client:
 * the broker has the message, the client never hears so, exactly what a confirm that never
 * comes looks like. `cut()` closes every proxied connection, as a broker restart would; with
 * `refuse` set, reconnecting fails until it is cleared.
 */
export class BrokerProxy {
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  #drop = 0;
  /** While set, new connections are closed at once (the broker looks down). */
  refuse = false;
  /** Confirms withheld so far. */
  dropped = 0;
  readonly #accepting: Promise<void>;

  constructor() {
    const target = new URL(AMQP_URL);
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.#accepting = (async () => {
      for await (const client of listener) {
        if (this.refuse) {
          client.close();
          continue;
        }
        this.#pipe(client, target.hostname, Number(target.port || 5672)).catch(() => {});
      }
    })().catch(() => {});
  }

  /** The broker URL through the proxy. */
  get url(): string {
    const u = new URL(AMQP_URL);
    u.port = String((this.#listener.addr as Deno.NetAddr).port);
    return u.toString().replace(/\/$/, "");
  }

  dropConfirms(n: number): void {
    this.#drop += n;
  }

  cut(): void {
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed already */ }
    }
    this.#conns.clear();
  }

  async #pipe(client: Deno.Conn, hostname: string, port: number): Promise<void> {
    const broker = await Deno.connect({ hostname, port });
    this.#conns.add(client);
    this.#conns.add(broker);
    const end = () => {
      for (const c of [client, broker]) {
        try {
          c.close();
        } catch { /* closed already */ }
        this.#conns.delete(c);
      }
    };
    const up = client.readable.pipeTo(broker.writable).catch(() => {}).finally(end);
    const down = (async () => {
      const writer = client.writable.getWriter();
      let buf = new Uint8Array(0);
      for await (const chunk of broker.readable) {
        const joined = new Uint8Array(buf.length + chunk.length);
        joined.set(buf);
        joined.set(chunk, buf.length);
        buf = joined;
        const out: Uint8Array[] = [];
        let off = 0;
        // Frames: type (1), channel (2), size (4), payload (size), end marker 0xCE.
        while (buf.length - off >= 7) {
          const size = new DataView(buf.buffer, buf.byteOffset + off + 3, 4).getUint32(0);
          if (buf.length - off < size + 8) break;
          const frame = buf.subarray(off, off + size + 8);
          off += size + 8;
          const isConfirm = frame[0] === 1 && size >= 4 &&
            ((frame[7]! << 8) | frame[8]!) === 60 && ((frame[9]! << 8) | frame[10]!) === 80;
          if (isConfirm && this.#drop > 0) {
            this.#drop--;
            this.dropped++;
            continue;
          }
          out.push(frame);
        }
        buf = buf.slice(off);
        for (const f of out) await writer.write(f);
      }
    })().catch(() => {}).finally(end);
    await Promise.all([up, down]);
  }

  async close(): Promise<void> {
    this.cut();
    this.#listener.close();
    await this.#accepting;
  }
}

/** Waits until `proc`'s log has a line with `msg` for which `match` holds. */
export async function waitForLine(
  proc: Proc,
  msg: string,
  match: (l: LogLine) => boolean = () => true,
  ms = 20_000,
): Promise<LogLine> {
  let found: LogLine | undefined;
  await eventually(() => {
    found = logLines(proc).find((l) => l.msg === msg && match(l));
    return found !== undefined;
  }, ms).catch(() => {
    throw new Error(`no matching "${msg}" line within ${ms} ms:\n${proc.log.slice(-2000)}`);
  });
  return found!;
}
