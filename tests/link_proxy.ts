/**
 * @module A TCP proxy for network-fault tests: put it between a client and a broker (or any TCP
 * server), then **cut** the link (every connection closed, both ends, as a reset would) or
 * **freeze** it (a silent partition: no byte forwarded in either direction and nothing closed,
 * as when a firewall drops state, a VM is paused or a link fails without RST).
 *
 * ```ts ignore
 * await using proxy = LinkProxy.to("amqp://guest:guest@127.0.0.1:5672/vh");
 * const admin = await BrokerAdmin.connect(proxy.url); // amqp://guest:guest@127.0.0.1:<port>/vh
 * proxy.frozen = true; // the connection hangs: no answer, no close
 * proxy.cut(); // now it closes
 * ```
 *
 * What freezing does, exactly:
 *
 * - Every connection open at that moment is **blackholed** for good: what either side sends is
 *   read and dropped, so neither ever hears from the other again (bytes lost in between would
 *   leave the protocol's stream broken anyway). When one side closes its socket, the proxy
 *   closes its own end towards that side only: the close does not cross the partition, and the
 *   other side keeps a silent open connection until it gives up itself (a heartbeat timeout),
 *   or {@linkcode LinkProxy.cut} or {@linkcode LinkProxy.close} is called.
 * - A connection accepted while frozen is accepted (the TCP handshake is the proxy's) and
 *   blackholed from the start: the proxy does not connect to the target for it.
 * - `frozen = false` heals the link for connections accepted from then on; blackholed ones stay
 *   silent.
 */

/** Default ports of the URL schemes {@linkcode LinkProxy.to} knows. */
const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  "amqp:": 5672,
  "amqps:": 5671,
  "mqtt:": 1883,
  "mqtts:": 8883,
  "http:": 80,
  "https:": 443,
  "ws:": 80,
  "wss:": 443,
};

/** One proxied connection: the client's socket, the target's (none when blackholed from the
 * start), and whether it is blackholed. */
interface Link {
  readonly client: Deno.TcpConn;
  target: Deno.TcpConn | undefined;
  blackholed: boolean;
}

/** A TCP proxy on 127.0.0.1 that can cut or freeze its connections; see the module docs. */
export class LinkProxy implements AsyncDisposable {
  /** The port the proxy listens on (127.0.0.1). */
  readonly port: number;
  /** Connections accepted so far, frozen or not. */
  accepted = 0;
  readonly #listener: Deno.TcpListener;
  readonly #links = new Set<Link>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  readonly #baseUrl: string | undefined;
  #frozen = false;
  #closed = false;

  /** Listens on a free port of 127.0.0.1 and forwards each connection to
   * `targetHost:targetPort`. */
  constructor(
    readonly targetHost: string,
    readonly targetPort: number,
    options: { readonly baseUrl?: string } = {},
  ) {
    this.#baseUrl = options.baseUrl;
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#accepting = (async () => {
      for await (const client of listener) this.#track(this.#serve(client));
    })().catch(() => {});
  }

  /** A proxy to the host and port of `url` (the scheme's default port when it names none);
   * {@linkcode url} is then `url` through the proxy. */
  static to(url: string): LinkProxy {
    const u = new URL(url);
    const port = u.port ? Number(u.port) : DEFAULT_PORTS[u.protocol];
    if (port === undefined) throw new Error(`no port in ${u.protocol} URL and no default known`);
    return new LinkProxy(u.hostname.replace(/^\[(.*)\]$/, "$1"), port, { baseUrl: url });
  }

  /** The URL given to {@linkcode LinkProxy.to}, through the proxy; for a proxy made with the
   * constructor, `amqp://guest:guest@127.0.0.1:<port>`. */
  get url(): string {
    return this.urlFor(this.#baseUrl ?? "amqp://guest:guest@127.0.0.1");
  }

  /** `url` with its host and port replaced by the proxy's (`127.0.0.1:<port>`); credentials,
   * path and query kept. */
  urlFor(url: string): string {
    const u = new URL(url);
    const auth = u.username || u.password
      ? `${u.username}${u.password ? `:${u.password}` : ""}@`
      : "";
    return `${u.protocol}//${auth}127.0.0.1:${this.port}${u.pathname}${u.search}${u.hash}`;
  }

  /** Connections open now (their client side). */
  get open(): number {
    return this.#links.size;
  }

  /** Whether the link is frozen; see the module documentation for what setting it does. */
  get frozen(): boolean {
    return this.#frozen;
  }
  set frozen(value: boolean) {
    this.#frozen = value;
    if (value) { for (const link of this.#links) link.blackholed = true; }
  }

  #track(task: Promise<void>): void {
    const t = task.catch(() => {}).finally(() => this.#tasks.delete(t));
    this.#tasks.add(t);
  }

  async #serve(client: Deno.TcpConn): Promise<void> {
    this.accepted++;
    const link: Link = { client, target: undefined, blackholed: this.#frozen };
    this.#links.add(link);
    if (!link.blackholed) {
      try {
        link.target = await Deno.connect({ hostname: this.targetHost, port: this.targetPort });
      } catch {
        this.#end(link);
        return;
      }
      if (this.#closed || !this.#links.has(link)) {
        this.#end(link); // cut or closed while connecting
        return;
      }
      link.target.setNoDelay(true);
      client.setNoDelay(true);
    }
    const target = link.target;
    await Promise.all([
      this.#pump(link, client, target),
      target ? this.#pump(link, target, client) : Promise.resolve(),
    ]);
  }

  /** Copies `from` to `to` until `from` ends; drops what it reads once the link is blackholed.
   * When `from` ends on a live link, both ends are closed (the close crosses); on a blackholed
   * one only `from` is (it does not). */
  async #pump(link: Link, from: Deno.TcpConn, to: Deno.TcpConn | undefined): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        if (link.blackholed || !to) continue; // read and dropped: the other side hears nothing
        let off = 0;
        while (off < n) off += await to.write(buf.subarray(off, n));
      }
    } catch { /* reset or closed here */ }
    if (!link.blackholed) return this.#end(link);
    close(from);
    const other = from === link.client ? link.target : link.client;
    if (other === undefined || closedConns.has(other)) this.#end(link);
  }

  #end(link: Link): void {
    close(link.client);
    if (link.target) close(link.target);
    this.#links.delete(link);
  }

  /** Closes every connection, both ends, frozen or not (the clients see the connection
   * closed). */
  cut(): void {
    for (const link of [...this.#links]) this.#end(link);
  }

  /** Cuts every connection and stops listening; resolves once nothing of the proxy runs.
   * Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    try {
      this.#listener.close();
    } catch { /* closed already */ }
    await this.#accepting;
    this.cut();
    while (this.#tasks.size > 0) await Promise.all([...this.#tasks]);
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** Sockets {@linkcode close} has closed. */
const closedConns = new WeakSet<Deno.TcpConn>();

function close(conn: Deno.TcpConn): void {
  closedConns.add(conn);
  try {
    conn.close();
  } catch { /* closed already */ }
}
