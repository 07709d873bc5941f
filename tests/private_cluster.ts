/**
 * @module A private, throw-away RabbitMQ **cluster** for failover tests: three nodes (by default)
 * on loopback ports of their own, none of them the shared broker on 127.0.0.1:5672. Each node is
 * a {@linkcode PrivateNode} of tests/private_broker.ts (the real start script, its own name,
 * ports, data, logs, configuration and `HOME`), all under one temporary directory, with one
 * Erlang cookie shared by all. Nodes 2..n join node 1 (`stop_app`, `reset`, `join_cluster`,
 * `start_app`); the start resolves once `cluster_status` shows every node running.
 *
 * ```ts ignore
 * await using cluster = await startPrivateCluster();
 * await cluster.addVhost("t1");
 * // … declare a quorum queue through cluster.urls[0] + "/t1" …
 * const leader = await cluster.quorumLeader("t1", "q");
 * const node = cluster.nodes[cluster.nodeIndexOf(leader!)]!;
 * await node.killBeam(); // kill -9: a crash
 * await node.restart(); // back, and a member of the cluster again
 * ```
 *
 * `await using` (or `try … finally { await cluster.stop() }`) stops every node by pid and removes
 * the directory, also when a test fails; a start that fails halfway cleans up the same way
 * before it rejects. A node still running when the Deno process unloads normally is killed
 * (SIGKILL) synchronously.
 *
 * Each node's `rabbitmq.conf` lowers the disk alarm's limit (`disk_free_limit.absolute = 1MB`)
 * and the quorum-queue write-ahead log (`raft.wal_max_size_bytes = 32 MiB`, default 512 MiB):
 * a full `/tmp` should not block publishers, and three nodes stay small (about 150 MB each).
 */

import {
  deadline,
  freePort,
  privateBrokerAvailable,
  PrivateNode,
  sleep,
} from "./private_broker.ts";
import type { CliTool } from "./private_broker.ts";

/** How long the whole start (nodes up, joined, all running) may take. */
const START_MS = 150_000;
/** How long a restarted node may take to be running in the cluster again. */
const REJOIN_MS = 60_000;

/** Whether a private cluster can be started here, and if not, why (the same checks as for one
 * private node). */
export const privateClusterAvailable = (): { ok: true } | { ok: false; reason: string } =>
  privateBrokerAvailable();

/** One node of a {@linkcode PrivateCluster}. */
export interface ClusterNode {
  /** Its position in {@linkcode PrivateCluster.nodes}. */
  readonly index: number;
  /** The Erlang node name, `c<random><letter>@localhost`. */
  readonly name: string;
  /** The AMQP port. */
  readonly port: number;
  /** The Erlang distribution port. */
  readonly distPort: number;
  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may connect from loopback); append `/<vhost>`. */
  readonly url: string;
  /** The node's own directory (its `HOME`) inside the cluster's. */
  readonly dir: string;
  /** The OS pid of the node's `beam.smp`, `undefined` when it is not running. */
  beamPid(): number | undefined;
  /** Whether the node's Erlang VM (`beam.smp`) runs: false after {@linkcode killBeam}, true
   * again after {@linkcode restart}. Says nothing about the RabbitMQ application inside it
   * ({@linkcode stopApp}). */
  running(): boolean;
  /** SIGKILL of this node's `beam.smp` (found from the pid the fixture started): a crash.
   * Resolves once it and its helper processes are gone. */
  killBeam(): Promise<void>;
  /** Starts the node again (same name, ports and data; a running one is stopped first) and
   * resolves once it accepts AMQP and `cluster_status` on it shows it running with every other
   * running node: it is a member of the cluster again. Bounded (60 s). */
  restart(): Promise<void>;
  /** `rabbitmqctl stop_app`: its broker down (connections dropped, port closed), VM up. */
  stopApp(): Promise<void>;
  /** `rabbitmqctl start_app`, then waits until the port accepts AMQP again. */
  startApp(): Promise<void>;
  /** `rabbitmqctl close_all_connections`. */
  closeAllConnections(reason?: string): Promise<void>;
  /** `rabbitmqctl -n <this node> …args`; see {@linkcode PrivateCluster.ctl}. */
  ctl(...args: string[]): Promise<string>;
}

/** A private RabbitMQ cluster; see the module documentation. */
export interface PrivateCluster extends AsyncDisposable {
  /** Each node's {@linkcode ClusterNode.url}, in node order. */
  readonly urls: readonly string[];
  /** The nodes; node 0 is the one the others joined. */
  readonly nodes: readonly ClusterNode[];
  /** The temporary directory holding every node's; removed by {@linkcode stop}. */
  readonly dir: string;
  /** How long the start took, in ms (nodes started, joined, all running). */
  readonly startMs: number;
  /** Runs `rabbitmqctl -n <node> …args` with that node's `HOME` (hence the cookie) and resolves
   * with its standard output; rejects when it fails or takes longer than 60 s. */
  ctl(nodeIndex: number, ...args: string[]): Promise<string>;
  /** The names of the running nodes, as `cluster_status` on the first node that answers sees
   * them (sorted); rejects when none does. */
  runningNodes(): Promise<string[]>;
  /** Adds a vhost (default queue type classic) and gives `guest` every permission on it. */
  addVhost(name: string): Promise<void>;
  /** Deletes a vhost (missing: fine). */
  deleteVhost(name: string): Promise<void>;
  /** Each member of a quorum queue with its Raft state, from `rabbitmq-queues quorum_status`
   * (which asks every member); `undefined` when the queue does not exist. */
  quorumStatus(vhost: string, queue: string): Promise<QuorumMember[] | undefined>;
  /** The node whose member leads the quorum queue, as the members report it (Raft state
   * `leader`, the highest term if two claim it); `undefined` when none does (an election under
   * way, the queue missing). */
  quorumLeader(vhost: string, queue: string): Promise<string | undefined>;
  /** The nodes (sorted) whose member of the quorum queue is `leader` or `follower` now: a killed
   * node's member is not, a restarted node's is again once it has caught up. */
  quorumOnline(vhost: string, queue: string): Promise<string[]>;
  /** The quorum queue's members (node names, sorted) as the queue's record lists them
   * (`list_queues … members`): membership, which a node's crash does not change; `[]` when the
   * queue is missing. */
  quorumMembers(vhost: string, queue: string): Promise<string[]>;
  /** The index in {@linkcode nodes} of the node named `name`; throws for a name not in it. */
  nodeIndexOf(name: string): number;
  /** Stops every node (SIGKILL by pid if it does not stop in time), makes sure none of their
   * processes is left, and removes the directory. Idempotent. */
  stop(): Promise<void>;
}

/** Options of {@linkcode startPrivateCluster}. */
export interface PrivateClusterOptions {
  /** How many nodes (1–26); default 3. */
  readonly nodes?: number;
}

const LETTERS = "abcdefghijklmnopqrstuvwxyz";

/** Starts a private cluster on free ports and resolves once every node runs in it; rejects
 * (after cleaning up) when that takes longer than 150 s. */
export async function startPrivateCluster(
  options: PrivateClusterOptions = {},
): Promise<PrivateCluster> {
  const available = privateClusterAvailable();
  if (!available.ok) {
    throw new Error(`Cannot start a private RabbitMQ cluster: ${available.reason}`);
  }
  const n = options.nodes ?? 3;
  if (!Number.isInteger(n) || n < 1 || n > LETTERS.length) {
    throw new RangeError(`nodes must be 1–${LETTERS.length}, not ${n}`);
  }
  const started = performance.now();
  const dir = await Deno.makeTempDir({ prefix: "vcdext-cluster-" });
  const id = crypto.randomUUID().replaceAll("-", "").slice(0, 8);
  const cookie = crypto.randomUUID().replaceAll("-", "").toUpperCase();
  const ports: number[] = [];
  const members: Member[] = [];
  for (let i = 0; i < n; i++) {
    const port = freePort(...ports);
    const distPort = freePort(...ports, port);
    ports.push(port, distPort);
    const nodeDir = `${dir}/${LETTERS[i]}`;
    await Deno.mkdir(nodeDir);
    const node = new PrivateNode({
      nodeName: `c${id}${LETTERS[i]}@localhost`,
      port,
      distPort,
      dir: nodeDir,
      cookie,
      conf: ["disk_free_limit.absolute = 1MB", "raft.wal_max_size_bytes = 33554432"],
    });
    members.push(new Member(i, node, () => cluster));
  }
  const cluster: Cluster = new Cluster(dir, members);
  try {
    await deadline(
      cluster.form(),
      START_MS,
      `the private cluster did not form within ${START_MS} ms`,
    );
  } catch (e) {
    cluster.abort();
    await cluster.stop().catch(() => {});
    throw e;
  }
  cluster.startMs = Math.round(performance.now() - started);
  return cluster;
}

const JSON_OUT = ["--formatter", "json"] as const;

/** One member of a quorum queue as `rabbitmq-queues quorum_status` reports it. */
export interface QuorumMember {
  /** The node it lives on. */
  readonly node: string;
  /** Its Raft state: `leader`, `follower`, `candidate`, …, or `nodedown` (its node is down). */
  readonly state: string;
  /** Its Raft term; `undefined` when its node is down. */
  readonly term: number | undefined;
  /** Its commit index; `undefined` when its node is down. */
  readonly commitIndex: number | undefined;
}

/** Reads `rabbitmq-queues quorum_status --formatter json`. */
function quorumMembersOf(json: string): QuorumMember[] {
  const rows = JSON.parse(json) as Record<string, unknown>[];
  const num = (v: unknown) => (typeof v === "number" ? v : undefined);
  return rows.map((r) => {
    const raw = r["Raft State"];
    return {
      node: String(r["Node Name"]),
      // A down member's state is `["nodedown", "<node>"]`.
      state: Array.isArray(raw) ? String(raw[0]) : String(raw),
      term: num(r["Term"]),
      commitIndex: num(r["Commit Index"]),
    };
  });
}

/** `cluster_status --formatter json`'s running nodes, sorted. */
function runningOf(json: string): string[] {
  const status = JSON.parse(json) as { running_nodes?: string[] };
  return [...(status.running_nodes ?? [])].sort();
}

class Member implements ClusterNode {
  constructor(
    readonly index: number,
    readonly node: PrivateNode,
    readonly cluster: () => Cluster,
  ) {}

  get name(): string {
    return this.node.nodeName;
  }
  get port(): number {
    return this.node.port;
  }
  get distPort(): number {
    return this.node.distPort;
  }
  get url(): string {
    return this.node.url;
  }
  get dir(): string {
    return this.node.dir;
  }
  beamPid(): number | undefined {
    return this.node.beamPid();
  }
  running(): boolean {
    return this.node.beamPid() !== undefined;
  }
  killBeam(): Promise<void> {
    return this.node.killBeam();
  }
  stopApp(): Promise<void> {
    return this.node.stopApp();
  }
  startApp(): Promise<void> {
    return this.node.startApp();
  }
  closeAllConnections(reason?: string): Promise<void> {
    return this.node.closeAllConnections(reason);
  }
  ctl(...args: string[]): Promise<string> {
    return this.node.rabbitmqctl(...args);
  }

  async restart(): Promise<void> {
    await this.node.restart();
    await this.waitMember(REJOIN_MS);
  }

  /** Polls `cluster_status` on this node until it lists itself and every other node whose VM
   * runs as running. */
  async waitMember(ms: number): Promise<void> {
    const end = performance.now() + ms;
    let last = "nothing tried yet";
    while (performance.now() < end) {
      const want = this.cluster().nodes.filter((m) => m.running()).map((m) => m.name).sort();
      try {
        const seen = runningOf(await this.ctl("cluster_status", "--formatter", "json"));
        if (want.every((name) => seen.includes(name))) return;
        last = `running: ${seen.join(", ")}; want ${want.join(", ")}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(500);
    }
    throw new Error(`${this.name} not running in the cluster within ${ms} ms (last: ${last})`);
  }
}

class Cluster implements PrivateCluster {
  readonly urls: readonly string[];
  startMs = 0;
  #aborted = false;
  #stopping: Promise<void> | undefined;

  constructor(readonly dir: string, readonly nodes: readonly Member[]) {
    this.urls = nodes.map((m) => m.url);
  }

  /** Starts every node, joins nodes 2..n to node 1 one by one, waits until all run. */
  async form(): Promise<void> {
    for (const m of this.nodes) await m.node.init();
    this.#check();
    await Promise.all(this.nodes.map((m) => m.node.launch()));
    const first = this.nodes[0]!;
    for (const m of this.nodes.slice(1)) {
      for (const args of [["stop_app"], ["reset"], ["join_cluster", first.name]]) {
        this.#check();
        await m.ctl(...args);
      }
      this.#check();
      await m.startApp();
    }
    this.#check();
    await first.waitMember(30_000);
  }

  #check(): void {
    if (this.#aborted) throw new Error("the private cluster's start was given up");
  }

  /** Makes a start still under way give up at its next step. */
  abort(): void {
    this.#aborted = true;
  }

  #member(index: number): Member {
    const m = this.nodes[index];
    if (!m) throw new RangeError(`no node ${index} in a cluster of ${this.nodes.length}`);
    return m;
  }

  ctl(nodeIndex: number, ...args: string[]): Promise<string> {
    return this.#member(nodeIndex).ctl(...args);
  }

  /** Runs a command line tool on the first node whose VM runs and that answers. */
  async #cliAny(tool: CliTool, ...args: string[]): Promise<string> {
    let last: unknown = new Error("no node of the private cluster is running");
    for (const m of this.nodes) {
      if (!m.running()) continue;
      try {
        return await m.node.cli(tool, ...args);
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  #ctlAny(...args: string[]): Promise<string> {
    return this.#cliAny("rabbitmqctl", ...args);
  }

  async runningNodes(): Promise<string[]> {
    return runningOf(await this.#ctlAny("cluster_status", "--formatter", "json"));
  }

  async addVhost(name: string): Promise<void> {
    await this.#ctlAny("add_vhost", name);
    await this.#ctlAny("set_permissions", "-p", name, "guest", ".*", ".*", ".*");
  }

  async deleteVhost(name: string): Promise<void> {
    await this.#ctlAny("delete_vhost", name).catch((e: Error) => {
      if (!/does not exist|not_found/i.test(e.message)) throw e;
    });
  }

  async quorumStatus(vhost: string, queue: string): Promise<QuorumMember[] | undefined> {
    let out: string;
    try {
      out = await this.#cliAny("rabbitmq-queues", "quorum_status", "-p", vhost, queue, ...JSON_OUT);
    } catch (e) {
      if (/not_found|not found|does not exist/i.test((e as Error).message)) return undefined;
      throw e;
    }
    return quorumMembersOf(out);
  }

  async quorumLeader(vhost: string, queue: string): Promise<string | undefined> {
    const leaders = (await this.quorumStatus(vhost, queue) ?? [])
      .filter((m) => m.state === "leader")
      .sort((a, b) => (b.term ?? 0) - (a.term ?? 0));
    return leaders[0]?.node;
  }

  async quorumOnline(vhost: string, queue: string): Promise<string[]> {
    return (await this.quorumStatus(vhost, queue) ?? [])
      .filter((m) => m.state === "leader" || m.state === "follower")
      .map((m) => m.node)
      .sort();
  }

  async quorumMembers(vhost: string, queue: string): Promise<string[]> {
    const out = await this.#cliAny(
      "rabbitmqctl",
      "list_queues",
      "-p",
      vhost,
      "name",
      "members",
      ...JSON_OUT,
    );
    const rows = JSON.parse(out) as { name: string; members?: string[] | string }[];
    const row = rows.find((r) => r.name === queue);
    return Array.isArray(row?.members) ? [...row.members].sort() : [];
  }

  nodeIndexOf(name: string): number {
    const i = this.nodes.findIndex((m) => m.name === name);
    if (i < 0) throw new Error(`${name} is not a node of this private cluster`);
    return i;
  }

  stop(): Promise<void> {
    return (this.#stopping ??= (async () => {
      this.#aborted = true;
      try {
        const results = await Promise.allSettled(this.nodes.map((m) => m.node.stop()));
        const failed = results.find((r) => r.status === "rejected");
        if (failed) throw failed.reason;
      } finally {
        await Deno.remove(this.dir, { recursive: true }).catch(() => {});
      }
    })());
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}
