/**
 * @module What the fake vCD knows and remembers: its options, the session tokens it issued and
 * still accepts, the blocking tasks and their state, the registered extension services, and
 * every call and task action it received. The routes read and change it; tests read it
 * through `FakeVcd`.
 */

import type { VcdAmqpSettings } from "../core/amqp_settings.ts";
import type { FakeAmqpOptions } from "./fake_vcd_amqp.ts";
import { renderTask } from "./fake_vcd_documents.ts";

/** The user the fake accepts by default. */
export const FAKE_USER = "administrator@System";

/** Options of `startFakeVcd`. */
export interface FakeVcdOptions {
  /** Answer the first request with a valid token 401 once and revoke that token. */
  readonly failFirst401?: boolean;
  /** Answer the first n requests other than `POST /api/sessions` 503. Default 0. */
  readonly fail5xxTimes?: number;
  /** The accepted user, `name@org`. Default {@linkcode FAKE_USER}. */
  readonly user?: string;
  /**
   * The accepted password. Default: a random one per start (read it from
   * `FakeVcd.password`), so no fixed password is built into the product.
   */
  readonly password?: string;
  /** Return the token only as `X-VMWARE-VCLOUD-ACCESS-TOKEN` (then it must come as Bearer). */
  readonly accessTokenOnly?: boolean;
  /**
   * Serve HTTPS with this certificate and key. The product has none: tests pass the test CA's
   * (`tests/fixtures/tls.ts`), so no private key ships in `lib/`.
   */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** The AMQP broker settings it serves and how their test answers (`fake_vcd_amqp.ts`). */
  readonly amqp?: FakeAmqpOptions;
}

/** One request the fake received. */
export interface RecordedCall {
  readonly method: string;
  /** The URL path, without the query. */
  readonly path: string;
  /** The query string, `""` or starting with `?`. */
  readonly search: string;
  /** Request headers, names lower-case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
  /** The status the fake answered. */
  status: number;
}

/** A decision or progress update received for a blocking task. */
export interface TaskAction {
  readonly id: string;
  readonly action: "resume" | "abort" | "fail" | "updateProgress";
  readonly message: string;
  readonly timeoutMs?: number;
}

/** A registered extension service, as the fake keeps it. */
export interface FakeService {
  readonly id: string;
  name: string;
  description: string | undefined;
  namespace: string;
  enabled: boolean;
  authorizationEnabled: boolean;
  routingKey: string;
  priority: number | undefined;
  exchange: string;
  vendor: string | undefined;
  apiFilters: string[];
  /** Right ids (`urn:vcloud:right:<uuid>`) by full name (`<namespace>:<name>`). */
  readonly rights: Map<string, string>;
}

/** What a test gives to add a blocking task. */
export interface BlockingTaskSpec {
  operation: string;
  /** The owning task's href (rendered as `Link rel="up"`). */
  owner?: string;
  /** The object the blocked operation works on (rendered as `TaskOwner`). */
  target?: { name: string; href: string; type?: string };
}

/** A blocking task as the fake keeps it. */
export interface TaskState {
  operation: string;
  owner: string | undefined;
  /** The object the blocked operation works on (rendered as `TaskOwner`). */
  target: { name: string; href: string; type?: string } | undefined;
  status: "active" | "resumed" | "aborted" | "failed";
  readonly createdTime: string;
  timeoutMs: number;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "x");
}

/** The fake's state: one per `startFakeVcd`. */
export class FakeVcdState {
  /** The accepted user, `name@org`. */
  readonly user: string;
  /** The accepted password. */
  readonly password: string;
  /** Whether tokens are issued and accepted only as bearer tokens. */
  readonly accessTokenOnly: boolean;
  /** The base URL (`http(s)://127.0.0.1:<port>`), known once the server listens. */
  base = "";
  /** How many more requests are answered 503. */
  fail5xx: number;
  /** Whether the next authenticated request is answered 401 (and its token revoked). */
  fail401: boolean;
  /** Tokens that are accepted now. */
  readonly valid = new Set<string>();
  /** Every request received, in order. */
  readonly calls: RecordedCall[] = [];
  /** BlockingTask XML by id; the entry follows the task's status. */
  readonly tasks = new Map<string, string>();
  /** Blocking tasks by id. */
  readonly taskState = new Map<string, TaskState>();
  /** Decisions and progress updates received, in order. */
  readonly taskActions: TaskAction[] = [];
  /** Registered services by id. */
  readonly services = new Map<string, FakeService>();
  /** Tokens issued so far (including revoked ones). */
  readonly issuedTokens: string[] = [];
  /** The AMQP settings and their test's rule. */
  readonly amqp: FakeAmqpOptions;
  /** Every set of AMQP settings posted to the test, in order. */
  readonly amqpTests: VcdAmqpSettings[] = [];

  constructor(options: FakeVcdOptions) {
    this.user = options.user ?? FAKE_USER;
    this.password = options.password ?? crypto.randomUUID();
    this.accessTokenOnly = options.accessTokenOnly ?? false;
    this.fail5xx = options.fail5xxTimes ?? 0;
    this.fail401 = options.failFirst401 ?? false;
    this.amqp = options.amqp ?? {};
  }

  /** Issues a valid token. */
  issueToken(): string {
    const token = randomToken();
    this.valid.add(token);
    this.issuedTokens.push(token);
    return token;
  }

  /** Adds an active blocking task. */
  addBlockingTask(id: string, task: BlockingTaskSpec): void {
    const state: TaskState = {
      operation: task.operation,
      owner: task.owner,
      target: task.target,
      status: "active",
      createdTime: new Date().toISOString(),
      timeoutMs: 3_600_000,
    };
    this.taskState.set(id, state);
    this.updateTask(id, state);
  }

  /** Renders task `id` again after a change, and returns its XML. */
  updateTask(id: string, state: TaskState): string {
    const xml = renderTask(this.base, id, state);
    this.tasks.set(id, xml);
    return xml;
  }
}
