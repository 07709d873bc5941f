/**
 * @module A private, throw-away RabbitMQ node for fault tests: one that a test may stop,
 * restart and kill without touching the shared broker on 127.0.0.1:5672.
 *
 * The node runs the real start script (`/usr/lib/rabbitmq/bin/rabbitmq-server`, not the
 * Debian wrapper, which switches to the `rabbitmq` user) with its own node name, ports,
 * data, logs, configuration and `HOME` (hence its own Erlang cookie), all under one
 * temporary directory. It reads neither `/etc/rabbitmq/rabbitmq.conf` nor
 * `/etc/rabbitmq/rabbitmq-env.conf`: the shared broker's `listeners.tcp.local = …:5672`
 * would otherwise make it bind the shared port.
 *
 * Always stop it, also when the test fails: `await using` does that at the end of the block.
 *
 * ```ts ignore
 * await using broker = await startPrivateBroker();
 * const admin = await BrokerAdmin.connect(broker.url);
 * // … await broker.killBeam(); await broker.restart(); …
 * ```
 *
 * or, equivalently, `const broker = await startPrivateBroker(); try { … } finally { await
 * broker.stop(); }`. As a last resort, a node still running when the Deno process unloads
 * normally is killed (SIGKILL) synchronously; a Deno process killed by a signal cannot do
 * that.
 *
 * With `{ tls: true }` the node also speaks AMQP over TLS on a second port of 127.0.0.1. A
 * throw-away CA, a server certificate for 127.0.0.1 and localhost and a client certificate are
 * generated with `openssl` in the node's directory at start; the PEM strings are exposed:
 *
 * ```ts ignore
 * await using broker = await startPrivateBroker({ tls: true });
 * const admin = await BrokerAdmin.connect(broker.tlsUrl, { ca: broker.caPem });
 * ```
 *
 * The node verifies a client certificate when one is presented (`verify_peer`) but does not
 * require one (`fail_if_no_peer_cert = false`).
 *
 * Erlang's port mapper (epmd) is shared by every node on the machine and is never killed
 * here. When none was running, the node (or `rabbitmqctl`) starts an `epmd -daemon` that
 * outlives it, as epmd always does.
 */

import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";

const BIN = "/usr/lib/rabbitmq/bin";
const SERVER = `${BIN}/rabbitmq-server`;
const CTL = `${BIN}/rabbitmqctl`;

/** RabbitMQ's command line tools that {@linkcode PrivateNode.cli} runs. */
export type CliTool = "rabbitmqctl" | "rabbitmq-queues" | "rabbitmq-diagnostics";
/** How long start-up (and a restart) may take before it counts as failed. */
const READY_MS = 60_000;
/** How long one `rabbitmqctl` call may take. */
const CTL_MS = 60_000;
/** Ports are picked below Linux's default ephemeral range (32768–60999), so that no outgoing
 * connection takes one between a stop and a restart. */
const PORT_MIN = 20_000;
const PORT_MAX = 32_000;

/** A private RabbitMQ node; see the module documentation. */
export interface PrivateBroker {
  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may connect from loopback). */
  readonly url: string;
  /** The AMQP port. */
  readonly port: number;
  /** The Erlang distribution port. */
  readonly distPort: number;
  /** `vcdextt<random>@localhost`. */
  readonly nodeName: string;
  /** The temporary directory holding everything of the node; removed by {@linkcode stop}. */
  readonly dir: string;
  /** The OS pid of the node's `beam.smp` now, `undefined` when it is not running. */
  beamPid(): number | undefined;
  /** `rabbitmqctl stop_app`: the broker is down (connections dropped, port closed), the
   * Erlang node stays up. */
  stopApp(): Promise<void>;
  /** `rabbitmqctl start_app`, then waits until the port accepts AMQP again. */
  startApp(): Promise<void>;
  /** `rabbitmqctl close_all_connections`: every client connection is closed by the broker. */
  closeAllConnections(reason?: string): Promise<void>;
  /** Kills (SIGKILL) this node's `beam.smp`, found in the process tree of the script started
   * here, to simulate a crash; resolves once it and its helper processes are gone. */
  killBeam(): Promise<void>;
  /** Starts the same node again (same directory, name and ports) and waits until it is
   * ready. A node still running is first stopped with `rabbitmqctl stop`. */
  restart(): Promise<void>;
  /** Runs `rabbitmqctl -n <node> …args` and resolves with its standard output; rejects when
   * it fails or takes longer than 60 s. */
  rabbitmqctl(...args: string[]): Promise<string>;
  /** Stops the node (`rabbitmqctl stop`, then SIGKILL by pid if needed), makes sure none of
   * its processes is left, and removes the directory. Idempotent. */
  stop(): Promise<void>;
  /** Same as {@linkcode stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** What a node started with `{ tls: true }` has besides {@linkcode PrivateBroker}. */
export interface PrivateBrokerTls {
  /** `amqps://guest:guest@127.0.0.1:<tlsPort>`; the server certificate names IP 127.0.0.1. */
  readonly tlsUrl: string;
  /** The AMQPS port, on 127.0.0.1 only. */
  readonly tlsPort: number;
  /** PEM of the test CA that signed the server and the client certificate. */
  readonly caPem: string;
  /** PEM client certificate (CN `vcdext-test-client`) signed by the test CA, and its key. */
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
}

/** A private node that also listens for AMQP over TLS. */
export interface TlsPrivateBroker extends PrivateBroker, PrivateBrokerTls {}

/** Options of {@linkcode startPrivateBroker}. */
export interface PrivateBrokerOptions {
  /** AMQP port; a free one is picked when omitted. */
  readonly port?: number;
  /** Also listen for AMQP over TLS on a free port (needs `openssl`); see the module docs. */
  readonly tls?: boolean;
}

/** Where `openssl` is on PATH, `undefined` when it is not. */
function findOpenssl(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "/usr/bin:/bin").split(":")) {
    if (!dir) continue;
    try {
      const info = Deno.statSync(`${dir}/openssl`);
      if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) return `${dir}/openssl`;
    } catch { /* not here */ }
  }
  return undefined;
}

/** Whether a private node (with `{ tls: true }`: one with TLS) can be started here, and if
 * not, why. */
export function privateBrokerAvailable(
  options: { readonly tls?: boolean } = {},
): { ok: true } | { ok: false; reason: string } {
  if (Deno.build.os !== "linux") {
    return { ok: false, reason: `needs Linux (/proc), not ${Deno.build.os}` };
  }
  for (const name of ["run", "read", "write", "env", "net"] as const) {
    if (Deno.permissions.querySync({ name }).state !== "granted") {
      return { ok: false, reason: `needs --allow-${name}` };
    }
  }
  for (const file of [SERVER, CTL]) {
    try {
      Deno.statSync(file);
    } catch {
      return { ok: false, reason: `${file} is missing (apt-get install rabbitmq-server)` };
    }
  }
  if (options.tls && findOpenssl() === undefined) {
    return { ok: false, reason: "openssl is not on PATH (apt-get install openssl)" };
  }
  return { ok: true };
}

/** Starts a private node on free ports and resolves once it accepts AMQP connections (and,
 * with `{ tls: true }`, TLS handshakes on its AMQPS port). */
export function startPrivateBroker(
  options: PrivateBrokerOptions & { readonly tls: true },
): Promise<TlsPrivateBroker>;
export function startPrivateBroker(options?: PrivateBrokerOptions): Promise<PrivateBroker>;
export async function startPrivateBroker(
  options: PrivateBrokerOptions = {},
): Promise<PrivateBroker> {
  const available = privateBrokerAvailable({ tls: options.tls ?? false });
  if (!available.ok) throw new Error(`Cannot start a private RabbitMQ node: ${available.reason}`);
  const port = options.port ?? freePort();
  if (options.port !== undefined && !isFree(port)) throw new Error(`port ${port} is in use`);
  const distPort = freePort(port);
  const tlsPort = options.tls ? freePort(port, distPort) : undefined;
  const nodeName = `vcdextt${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}@localhost`;
  const dir = await Deno.makeTempDir({ prefix: "vcdext-rabbitmq-" });
  const broker = new PrivateNode({ nodeName, port, distPort, dir, tlsPort });
  try {
    await broker.init();
    await broker.launch();
  } catch (e) {
    await broker.stop().catch(() => {});
    throw e;
  }
  return broker;
}

/** Whether nothing listens on `127.0.0.1:<port>` (a listen succeeds). */
export function isFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port, transport: "tcp" }).close();
    return true;
  } catch {
    return false;
  }
}

/** A free port in 20000–32000 (below the ephemeral range), none of `others`. */
export function freePort(...others: number[]): number {
  for (let i = 0; i < 200; i++) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN));
    if (!others.includes(port) && isFree(port)) return port;
  }
  throw new Error(`no free port in ${PORT_MIN}–${PORT_MAX} after 200 tries`);
}

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves with the promise's value, or rejects with `message` after `ms`. */
export async function deadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One process from `/proc`; `start` (clock ticks since boot) tells a reused pid apart. */
interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  readonly start: string;
}

function readProc(pid: number): Proc | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may contain spaces and parentheses.
  const close = stat.lastIndexOf(")");
  const comm = stat.slice(stat.indexOf("(") + 1, close);
  const rest = stat.slice(close + 2).split(" ");
  // rest[0] is field 3 (state), so field n is rest[n - 3]; ppid is 4, starttime 22.
  const state = rest[0];
  if (state === "Z" || state === "X") return undefined; // a zombie is as good as gone
  return { pid, ppid: Number(rest[1]), comm, start: rest[19] ?? "" };
}

function allProcs(): Proc[] {
  const out: Proc[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const p = readProc(Number(entry.name));
    if (p) out.push(p);
  }
  return out;
}

/** Every live descendant of `root` (not `root` itself). */
function descendants(root: number): Proc[] {
  const procs = allProcs();
  const children = new Map<number, Proc[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const out: Proc[] = [];
  const todo = [root];
  while (todo.length > 0) {
    for (const child of children.get(todo.pop()!) ?? []) {
      out.push(child);
      todo.push(child.pid);
    }
  }
  return out;
}

function alive(p: Proc): boolean {
  return readProc(p.pid)?.start === p.start;
}

function killIfSame(p: Proc): void {
  if (!alive(p)) return;
  try {
    Deno.kill(p.pid, "SIGKILL");
  } catch { /* already gone */ }
}

/** The script started by {@linkcode Node.launch} and what became of it. */
interface Launched {
  readonly child: Deno.ChildProcess;
  readonly self: Proc | undefined;
  readonly status: Promise<Deno.CommandStatus>;
  exited: boolean;
}

/** The files `openssl` writes for a TLS node, relative to the node's directory. */
const TLS_FILES = {
  caKey: "tls/ca.key",
  ca: "tls/ca.pem",
  serverKey: "tls/server.key",
  server: "tls/server.pem",
  clientKey: "tls/client.key",
  client: "tls/client.pem",
} as const;

/** Runs `openssl …args` in `cwd`; rejects with its output when it fails. */
async function openssl(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    env: { OPENSSL_CONF: "/dev/null" }, // no site configuration: the same certificates everywhere
  }).output();
  if (!out.success) {
    const dec = new TextDecoder();
    throw new Error(
      `openssl ${args.join(" ")} exited with ${out.code}: ${
        (dec.decode(out.stderr) + dec.decode(out.stdout)).trim()
      }`,
    );
  }
}

/** Generates the test CA, the server certificate (127.0.0.1, localhost) and the client
 * certificate in `dir/tls`, valid for two days. */
async function generateCertificates(dir: string): Promise<void> {
  await Deno.mkdir(`${dir}/tls`);
  const f = TLS_FILES;
  const newKey = ["-newkey", "rsa:2048", "-nodes"];
  await openssl(
    dir,
    "req",
    "-x509",
    ...newKey,
    "-keyout",
    f.caKey,
    "-out",
    f.ca,
    "-days",
    "2",
    "-subj",
    "/O=vcdext tests/CN=vcdext test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
  const leaves = [
    {
      key: f.serverKey,
      cert: f.server,
      cn: "localhost",
      ext: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth",
    },
    {
      key: f.clientKey,
      cert: f.client,
      cn: "vcdext-test-client",
      ext: "extendedKeyUsage=clientAuth",
    },
  ];
  for (const leaf of leaves) {
    const csr = `${leaf.cert}.csr`;
    const ext = `${leaf.cert}.ext`;
    await Deno.writeTextFile(
      `${dir}/${ext}`,
      `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n${leaf.ext}\n`,
    );
    await openssl(
      dir,
      "req",
      ...newKey,
      "-keyout",
      leaf.key,
      "-out",
      csr,
      "-subj",
      `/O=vcdext tests/CN=${leaf.cn}`,
    );
    const serial = `0x${crypto.randomUUID().replaceAll("-", "").slice(0, 16)}`;
    await openssl(
      dir,
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      f.ca,
      "-CAkey",
      f.caKey,
      "-set_serial",
      serial,
      "-days",
      "2",
      "-sha256",
      "-extfile",
      ext,
      "-out",
      leaf.cert,
    );
  }
}

/** The TLS settings of a node: port and PEMs. */
interface TlsMaterial {
  readonly port: number;
  readonly caPem: string;
  readonly clientCertPem: string;
  readonly clientKeyPem: string;
}

/** What {@linkcode PrivateNode} is made of: name, ports, directory, and for a cluster member
 * the Erlang cookie it shares with the others and extra `rabbitmq.conf` lines. */
export interface NodeSettings {
  /** `name@localhost`. */
  readonly nodeName: string;
  /** The AMQP port. */
  readonly port: number;
  /** The Erlang distribution port. */
  readonly distPort: number;
  /** An existing, empty directory: the node's `HOME`, data, logs and configuration. */
  readonly dir: string;
  /** Also listen for AMQP over TLS on this port. */
  readonly tlsPort?: number | undefined;
  /** Written to `<dir>/.erlang.cookie` (mode 0400) before the first start; by default the node
   * makes a random one of its own. Nodes that form a cluster need the same. */
  readonly cookie?: string;
  /** Extra lines of `rabbitmq.conf`. */
  readonly conf?: readonly string[];
}

/**
 * One private node: the building block of {@linkcode startPrivateBroker} and of
 * tests/private_cluster.ts. {@linkcode init} writes its files, {@linkcode launch} starts it and
 * waits until it accepts AMQP; the rest is {@linkcode PrivateBroker}.
 */
export class PrivateNode implements PrivateBroker {
  readonly url: string;
  readonly nodeName: string;
  readonly port: number;
  readonly distPort: number;
  readonly dir: string;
  /** Set by {@linkcode init} when the node was asked for TLS. */
  #tls: TlsMaterial | undefined;
  readonly #tlsPort: number | undefined;
  readonly #cookie: string | undefined;
  readonly #conf: readonly string[];
  #proc: Launched | undefined;
  #stopping: Promise<void> | undefined;
  readonly #onUnload = () => this.#killSync();

  /** A node not started yet; see {@linkcode NodeSettings}. */
  constructor(settings: NodeSettings) {
    this.nodeName = settings.nodeName;
    this.port = settings.port;
    this.distPort = settings.distPort;
    this.dir = settings.dir;
    this.url = `amqp://guest:guest@127.0.0.1:${settings.port}`;
    this.#tlsPort = settings.tlsPort;
    this.#cookie = settings.cookie;
    this.#conf = settings.conf ?? [];
  }

  #tlsOnly(): TlsMaterial {
    if (!this.#tls) throw new Error(`private RabbitMQ node ${this.nodeName} has no TLS listener`);
    return this.#tls;
  }

  get tlsPort(): number {
    return this.#tlsOnly().port;
  }
  get tlsUrl(): string {
    return `amqps://guest:guest@127.0.0.1:${this.#tlsOnly().port}`;
  }
  get caPem(): string {
    return this.#tlsOnly().caPem;
  }
  get clientCertPem(): string {
    return this.#tlsOnly().clientCertPem;
  }
  get clientKeyPem(): string {
    return this.#tlsOnly().clientKeyPem;
  }

  /** Everything the node and `rabbitmqctl` see: nothing inherited but PATH. */
  get #env(): Record<string, string> {
    const d = this.dir;
    return {
      PATH: Deno.env.get("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      LANG: "C.UTF-8",
      LC_ALL: "C.UTF-8",
      HOME: d,
      RABBITMQ_NODENAME: this.nodeName,
      RABBITMQ_NODE_IP_ADDRESS: "127.0.0.1",
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      RABBITMQ_MNESIA_BASE: `${d}/mnesia`,
      RABBITMQ_LOG_BASE: `${d}/log`,
      RABBITMQ_ENABLED_PLUGINS_FILE: `${d}/enabled_plugins`,
      RABBITMQ_CONFIG_FILE: `${d}/rabbitmq.conf`,
      RABBITMQ_ADVANCED_CONFIG_FILE: `${d}/advanced.config`,
      RABBITMQ_CONF_ENV_FILE: `${d}/rabbitmq-env.conf`,
      RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: "-kernel inet_dist_use_interface {127,0,0,1}",
      ERL_EPMD_ADDRESS: "127.0.0.1",
    };
  }

  /** Writes the node's files (configuration, cookie, TLS material) into its directory. */
  async init(): Promise<void> {
    const d = this.dir;
    await Deno.mkdir(`${d}/log`);
    await Deno.mkdir(`${d}/mnesia`);
    await Deno.writeTextFile(`${d}/enabled_plugins`, "[].\n");
    if (this.#cookie !== undefined) {
      await Deno.writeTextFile(`${d}/.erlang.cookie`, this.#cookie, { mode: 0o400 });
    }
    let conf = ["log.file.level = info", ...this.#conf, ""].join("\n");
    if (this.#tlsPort !== undefined) {
      await generateCertificates(d);
      const f = TLS_FILES;
      conf += [
        `listeners.ssl.default = 127.0.0.1:${this.#tlsPort}`,
        `ssl_options.cacertfile = ${d}/${f.ca}`,
        `ssl_options.certfile = ${d}/${f.server}`,
        `ssl_options.keyfile = ${d}/${f.serverKey}`,
        "ssl_options.verify = verify_peer",
        "ssl_options.fail_if_no_peer_cert = false",
        "",
      ].join("\n");
      this.#tls = {
        port: this.#tlsPort,
        caPem: await Deno.readTextFile(`${d}/${f.ca}`),
        clientCertPem: await Deno.readTextFile(`${d}/${f.client}`),
        clientKeyPem: await Deno.readTextFile(`${d}/${f.clientKey}`),
      };
    }
    await Deno.writeTextFile(`${d}/rabbitmq.conf`, conf);
    await Deno.writeTextFile(`${d}/advanced.config`, "[].\n");
    await Deno.writeTextFile(`${d}/rabbitmq-env.conf`, "# private test node: no settings\n");
  }

  /** Starts the script (output appended to `console.log` in the directory) and waits until
   * the node accepts AMQP. */
  async launch(): Promise<void> {
    const started = performance.now();
    const child = new Deno.Command("/bin/sh", {
      args: ["-c", 'exec "$0" >>"$1" 2>&1', SERVER, `${this.dir}/console.log`],
      env: this.#env,
      clearEnv: true,
      cwd: this.dir,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const launched: Launched = {
      child,
      self: readProc(child.pid),
      status: child.status,
      exited: false,
    };
    launched.status.finally(() => (launched.exited = true)).catch(() => {});
    this.#proc = launched;
    globalThis.addEventListener("unload", this.#onUnload);
    await this.#waitReady(started);
  }

  beamPid(): number | undefined {
    return this.#beam()?.pid;
  }

  #beam(): Proc | undefined {
    const proc = this.#proc;
    if (!proc || proc.exited) return undefined;
    return descendants(proc.child.pid).find((p) => p.comm === "beam.smp" && this.#ours(p));
  }

  /** Whether a beam.smp is this node's: its command line has `-home <our dir>`. */
  #ours(p: Proc): boolean {
    try {
      const args = Deno.readTextFileSync(`/proc/${p.pid}/cmdline`).split("\0");
      return args.some((a, i) => a === "-home" && args[i + 1] === this.dir);
    } catch {
      return false;
    }
  }

  /** Polls TCP, then an AMQP handshake, until both work; fails early if the node exits. */
  async #waitReady(since = performance.now()): Promise<void> {
    const end = since + READY_MS;
    let last = "nothing tried yet";
    while (performance.now() < end) {
      if (!this.#proc || this.#proc.exited) {
        throw new Error(
          `private RabbitMQ node ${this.nodeName} exited while starting\n${this.#logTail()}`,
        );
      }
      try {
        const conn = await deadline(
          Deno.connect({ hostname: "127.0.0.1", port: this.port }),
          2_000,
          "TCP connect timed out",
        );
        conn.close();
        const connecting = BrokerAdmin.connect(this.url);
        try {
          const admin = await deadline(connecting, 5_000, "AMQP handshake timed out");
          await admin.close();
        } catch (e) {
          // A handshake that completes after the deadline must not leak its connection.
          connecting.then((a) => a.close(), () => {});
          throw e;
        }
        if (this.#tls) await this.#tlsHandshake(this.#tls);
        return;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(250);
    }
    throw new Error(
      `private RabbitMQ node ${this.nodeName} not ready on port ${this.port} within ${READY_MS} ms (last: ${last})\n${this.#logTail()}`,
    );
  }

  /** One TLS handshake with the AMQPS port, verifying the server against the test CA (Deno's
   * own TLS, not amqplib's, so that a bad node configuration is told apart from a client
   * problem). */
  async #tlsHandshake(tls: TlsMaterial): Promise<void> {
    const connecting = Deno.connectTls({
      hostname: "127.0.0.1",
      port: tls.port,
      caCerts: [tls.caPem],
    });
    let conn: Deno.TlsConn | undefined;
    try {
      conn = await deadline(connecting, 2_000, `TLS connect to port ${tls.port} timed out`);
      await deadline(conn.handshake(), 5_000, `TLS handshake on port ${tls.port} timed out`);
    } catch (e) {
      // A connection that completes after the deadline must not leak.
      if (!conn) connecting.then((c) => c.close(), () => {}).catch(() => {});
      throw new Error(`TLS port ${tls.port}: ${(e as Error).message}`);
    } finally {
      try {
        conn?.close();
      } catch { /* already closed */ }
    }
  }

  /** Waits until nothing accepts TCP on the port, for at most `ms`. */
  async #waitPortClosed(ms: number): Promise<void> {
    const end = performance.now() + ms;
    while (performance.now() < end) {
      try {
        const conn = await deadline(
          Deno.connect({ hostname: "127.0.0.1", port: this.port }),
          1_000,
          "timeout",
        );
        conn.close();
      } catch {
        return;
      }
      await sleep(100);
    }
    throw new Error(`port ${this.port} still accepts connections after ${ms} ms`);
  }

  /** The last lines of the node's log and console output, for error messages. */
  #logTail(lines = 40): string {
    const files: string[] = [`${this.dir}/console.log`];
    try {
      for (const e of Deno.readDirSync(`${this.dir}/log`)) {
        if (e.isFile) files.push(`${this.dir}/log/${e.name}`);
      }
    } catch { /* no log directory yet */ }
    const parts: string[] = [];
    for (const file of files) {
      try {
        const text = Deno.readTextFileSync(file).trimEnd();
        if (text) parts.push(`--- ${file} (tail)\n${text.split("\n").slice(-lines).join("\n")}`);
      } catch { /* unreadable */ }
    }
    return parts.join("\n") || "(no log output)";
  }

  rabbitmqctl(...args: string[]): Promise<string> {
    return this.cli("rabbitmqctl", ...args);
  }

  /** Runs one of RabbitMQ's command line tools against this node (`<tool> -n <node> …args`,
   * with the node's environment) and resolves with its standard output; rejects when it fails
   * or takes longer than 60 s. */
  async cli(tool: CliTool, ...args: string[]): Promise<string> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), CTL_MS);
    try {
      const out = await new Deno.Command(`${BIN}/${tool}`, {
        args: ["-n", this.nodeName, ...args],
        env: this.#env,
        clearEnv: true,
        cwd: this.dir,
        stdin: "null",
        signal: abort.signal,
      }).output();
      const dec = new TextDecoder();
      const stdout = dec.decode(out.stdout);
      if (abort.signal.aborted) {
        throw new Error(`${tool} ${args.join(" ")} took longer than ${CTL_MS} ms`);
      }
      if (!out.success) {
        throw new Error(
          `${tool} ${args.join(" ")} exited with ${out.code}: ${
            (dec.decode(out.stderr) + stdout).trim()
          }`,
        );
      }
      return stdout;
    } finally {
      clearTimeout(timer);
    }
  }

  async stopApp(): Promise<void> {
    await this.rabbitmqctl("stop_app");
    await this.#waitPortClosed(10_000);
  }

  async startApp(): Promise<void> {
    await this.rabbitmqctl("start_app");
    await this.#waitReady();
  }

  async closeAllConnections(reason = "closed by the test"): Promise<void> {
    await this.rabbitmqctl("close_all_connections", reason);
  }

  async killBeam(): Promise<void> {
    const proc = this.#proc;
    const beam = this.#beam();
    if (!proc || !beam) throw new Error(`private RabbitMQ node ${this.nodeName} is not running`);
    const tree = descendants(proc.child.pid).filter((p) => p.comm !== "epmd");
    killIfSame(beam);
    await this.#reap(proc, tree, 10_000);
  }

  /** Waits for the script to exit and its former descendants to go, killing stragglers. */
  async #reap(proc: Launched, tree: readonly Proc[], ms: number): Promise<void> {
    const status = await deadline(proc.status, ms, "timeout").catch(() => undefined);
    if (!status) {
      for (const p of tree) killIfSame(p);
      const self = proc.self ?? readProc(proc.child.pid);
      if (self) killIfSame(self);
      await deadline(proc.status, 5_000, `script pid ${proc.child.pid} does not exit`);
    }
    const end = performance.now() + 5_000;
    while (tree.some(alive) && performance.now() < end) await sleep(50);
    for (const p of tree) killIfSame(p);
    this.#proc = undefined;
    globalThis.removeEventListener("unload", this.#onUnload);
  }

  /** Stops the node gracefully, SIGKILL after `ms`; keeps the directory. */
  async #stopNode(ms: number): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    if (proc.exited) return await this.#reap(proc, [], 1_000);
    const tree = descendants(proc.child.pid).filter((p) => p.comm !== "epmd");
    await deadline(this.rabbitmqctl("stop"), ms, "rabbitmqctl stop timed out").catch(() => {});
    await this.#reap(proc, tree, ms);
  }

  async restart(): Promise<void> {
    if (this.#stopping) throw new Error(`private RabbitMQ node ${this.nodeName} was stopped`);
    await this.#stopNode(30_000);
    await this.launch();
  }

  stop(): Promise<void> {
    return (this.#stopping ??= (async () => {
      try {
        await this.#stopNode(30_000);
      } finally {
        await Deno.remove(this.dir, { recursive: true }).catch(() => {});
      }
    })());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  /** Last resort at unload: SIGKILL the node's processes; cannot wait or clean up. */
  #killSync(): void {
    const proc = this.#proc;
    if (!proc || proc.exited) return;
    for (const p of descendants(proc.child.pid)) if (p.comm !== "epmd") killIfSame(p);
    if (proc.self) killIfSame(proc.self);
  }
}
