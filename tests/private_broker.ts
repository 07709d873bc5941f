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
 * Erlang's port mapper (epmd) is shared by every node on the machine and is never killed
 * here. When none was running, the node (or `rabbitmqctl`) starts an `epmd -daemon` that
 * outlives it, as epmd always does.
 */

import { BrokerAdmin } from "../lib/amqp.ts";

const SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server";
const CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl";
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

/** Options of {@linkcode startPrivateBroker}. */
export interface PrivateBrokerOptions {
  /** AMQP port; a free one is picked when omitted. */
  readonly port?: number;
}

/** Whether a private node can be started here, and if not, why. */
export function privateBrokerAvailable(): { ok: true } | { ok: false; reason: string } {
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
  return { ok: true };
}

/** Starts a private node on free ports and resolves once it accepts AMQP connections. */
export async function startPrivateBroker(
  options: PrivateBrokerOptions = {},
): Promise<PrivateBroker> {
  const available = privateBrokerAvailable();
  if (!available.ok) throw new Error(`Cannot start a private RabbitMQ node: ${available.reason}`);
  const port = options.port ?? freePort();
  if (options.port !== undefined && !isFree(port)) throw new Error(`port ${port} is in use`);
  const distPort = freePort(port);
  const nodeName = `vcdextt${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}@localhost`;
  const dir = await Deno.makeTempDir({ prefix: "vcdext-rabbitmq-" });
  const broker = new Node(nodeName, port, distPort, dir);
  try {
    await broker.init();
    await broker.launch();
  } catch (e) {
    await broker.stop().catch(() => {});
    throw e;
  }
  return broker;
}

function isFree(port: number): boolean {
  try {
    Deno.listen({ hostname: "127.0.0.1", port, transport: "tcp" }).close();
    return true;
  } catch {
    return false;
  }
}

function freePort(other?: number): number {
  for (let i = 0; i < 200; i++) {
    const port = PORT_MIN + Math.floor(Math.random() * (PORT_MAX - PORT_MIN));
    if (port !== other && isFree(port)) return port;
  }
  throw new Error(`no free port in ${PORT_MIN}–${PORT_MAX} after 200 tries`);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Resolves with the promise's value, or rejects with `message` after `ms`. */
async function deadline<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
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

class Node implements PrivateBroker {
  readonly url: string;
  #proc: Launched | undefined;
  #stopping: Promise<void> | undefined;
  readonly #onUnload = () => this.#killSync();

  constructor(
    readonly nodeName: string,
    readonly port: number,
    readonly distPort: number,
    readonly dir: string,
  ) {
    this.url = `amqp://guest:guest@127.0.0.1:${port}`;
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

  async init(): Promise<void> {
    const d = this.dir;
    await Deno.mkdir(`${d}/log`);
    await Deno.mkdir(`${d}/mnesia`);
    await Deno.writeTextFile(`${d}/enabled_plugins`, "[].\n");
    await Deno.writeTextFile(`${d}/rabbitmq.conf`, "log.file.level = info\n");
    await Deno.writeTextFile(`${d}/advanced.config`, "[].\n");
    await Deno.writeTextFile(`${d}/rabbitmq-env.conf`, "# private test node: no settings\n");
  }

  /** Starts the script (output appended to `console.log` in the directory) and waits. */
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
          return;
        } catch (e) {
          // A handshake that completes after the deadline must not leak its connection.
          connecting.then((a) => a.close(), () => {});
          throw e;
        }
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(250);
    }
    throw new Error(
      `private RabbitMQ node ${this.nodeName} not ready on port ${this.port} within ${READY_MS} ms (last: ${last})\n${this.#logTail()}`,
    );
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

  async rabbitmqctl(...args: string[]): Promise<string> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), CTL_MS);
    try {
      const out = await new Deno.Command(CTL, {
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
        throw new Error(`rabbitmqctl ${args.join(" ")} took longer than ${CTL_MS} ms`);
      }
      if (!out.success) {
        throw new Error(
          `rabbitmqctl ${args.join(" ")} exited with ${out.code}: ${
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
