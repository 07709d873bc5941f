/**
 * @module The simulated cell's REST side, for `vcdext demo` and the tests: a local fake of vCD's
 * REST API (Deno.serve on 127.0.0.1, random port), one of the few network adapters in lib/:
 * sessions with Basic auth, the session token on every request, blocking tasks and their
 * actions, and a minimal extension-service registry. It checks what a real cell checks
 * (credentials, token, `Accept` version, `Content-Type`, required `Message`) and records
 * every call.
 *
 * Routes (anything else is 404 with a vCloud `Error` document):
 *
 * | route | answer |
 * |---|---|
 * | `POST /api/sessions` (Basic `user@org:password`) | 200 `Session`, token in `x-vcloud-authorization` (or only `X-VMWARE-VCLOUD-ACCESS-TOKEN` with `accessTokenOnly`) |
 * | `GET /api/session`, `DELETE /api/session` | 200 `Session`; 204 and the token is revoked |
 * | `GET /api/admin/extension/blockingTask/<id>` | 200 `BlockingTask` |
 * | `POST …/blockingTask/<id>/action/{resume,abort,fail}` | 204; 415 on another type; 400 without `Message` or when already decided |
 * | `POST …/blockingTask/<id>/action/updateProgress` | 200 `BlockingTask` |
 * | `POST /api/admin/extension/service` | 201 `Service` with `id`, `href` and `Link rel="edit\|remove\|rights"` |
 * | `GET /api/admin/extension/service/query[?filter=name==<name>]` | 200 `QueryResultRecords` of `AdminServiceRecord name namespace vendor enabled href id` |
 * | `GET\|PUT\|DELETE /api/admin/extension/service/<id>` | 200 / 200 / 204 (400 while enabled) |
 * | `POST\|GET /api/admin/extension/service/<id>/rights` | 201 `Right` named `<namespace>:<name>` / 200 `RightReferences` |
 */

import { child, childrenNamed, el, parseXml, renderXml, type XmlElement } from "../core/xml.ts";
import type { XmlNode } from "../core/xml.ts";

/** The vCloud namespace. */
export const VCLOUD_NS = "http://www.vmware.com/vcloud/v1.5";
/** The vCloud extension namespace (`vmext`). */
export const VMEXT_NS = "http://www.vmware.com/vcloud/extension/v1.5";

/** The user the fake accepts by default. */
export const FAKE_USER = "administrator@System";

/** Media types the fake serves and requires. */
export const MEDIA = {
  session: "application/vnd.vmware.vcloud.session+xml",
  error: "application/vnd.vmware.vcloud.error+xml",
  blockingTask: "application/vnd.vmware.admin.blockingTask+xml",
  taskOperation: "application/vnd.vmware.admin.blockingTaskOperationParams+xml",
  taskProgress: "application/vnd.vmware.admin.blockingTaskUpdateProgressOperationParams+xml",
  service: "application/vnd.vmware.admin.service+xml",
  right: "application/vnd.vmware.admin.right+xml",
  records: "application/vnd.vmware.vcloud.query.records+xml",
} as const;

/** Options of {@linkcode startFakeVcd}. */
export interface FakeVcdOptions {
  /** Answer the first request with a valid token 401 once and revoke that token. */
  readonly failFirst401?: boolean;
  /** Answer the first n requests other than `POST /api/sessions` 503. Default 0. */
  readonly fail5xxTimes?: number;
  /** The accepted user, `name@org`. Default {@linkcode FAKE_USER}. */
  readonly user?: string;
  /**
   * The accepted password. Default: a random one per start (read it from
   * {@linkcode FakeVcd.password}), so no fixed password is built into the product.
   */
  readonly password?: string;
  /** Return the token only as `X-VMWARE-VCLOUD-ACCESS-TOKEN` (then it must come as Bearer). */
  readonly accessTokenOnly?: boolean;
  /**
   * Serve HTTPS with this certificate and key. The product has none: tests pass the test CA's
   * (`tests/fixtures/tls.ts`), so no private key ships in `lib/`.
   */
  readonly tls?: { readonly cert: string; readonly key: string };
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

/** A running fake; close it at the end of the test. */
export interface FakeVcd {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash, no `/api`). */
  readonly url: string;
  /** The password it accepts for {@linkcode FAKE_USER} (or the configured user). */
  readonly password: string;
  /** Every request received, in order. */
  readonly calls: RecordedCall[];
  /** BlockingTask XML by id; the entry follows the task's status. */
  readonly tasks: Map<string, string>;
  /** Decisions and progress updates received, in order. */
  readonly taskActions: TaskAction[];
  /** Registered services by id. */
  readonly services: Map<string, FakeService>;
  /** Tokens issued so far (including revoked ones). */
  readonly issuedTokens: string[];
  /** Adds an active blocking task; `owner` is the owning task's href (rendered as `Link rel="up"`). */
  addBlockingTask(
    id: string,
    task: {
      operation: string;
      owner?: string;
      target?: { name: string; href: string; type?: string };
    },
  ): void;
  /** Issues a valid token without a login, for bearer-token clients. */
  issueToken(): string;
  close(): Promise<void>;
}

interface TaskState {
  operation: string;
  owner: string | undefined;
  /** The object the blocked operation works on (rendered as `TaskOwner`). */
  target: { name: string; href: string; type?: string } | undefined;
  status: "active" | "resumed" | "aborted" | "failed";
  readonly createdTime: string;
  timeoutMs: number;
}

const SERVICE_ORDER = [
  "Description",
  "Namespace",
  "Enabled",
  "AuthorizationEnabled",
  "RoutingKey",
  "Priority",
  "Exchange",
  "Vendor",
  "ApiFilters",
] as const;

class Reply extends Error {
  constructor(readonly status: number, readonly minor: string, message: string) {
    super(message);
  }
}

function mediaTypeOf(contentType: string | null): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** The `version` of the first acceptable XML range, or `undefined` when none is acceptable. */
function acceptedVersion(accept: string | null): string | undefined {
  for (const range of (accept ?? "").split(",")) {
    const [type = "", ...params] = range.split(";").map((p) => p.trim());
    if (!/^application\/(\*|vnd\.[a-z0-9.-]+)\+xml$/i.test(type)) continue;
    for (const p of params) {
      const m = /^version\s*=\s*"?([0-9][0-9.]*)"?$/i.exec(p);
      if (m) return m[1];
    }
  }
  return undefined;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "x");
}

function requireText(node: XmlNode, name: string, what: string): string {
  const text = child(node, name)?.text.trim() ?? "";
  if (text === "") throw new Reply(400, "BAD_REQUEST", `${what} requires a non-empty ${name}`);
  return text;
}

function parseBody(body: string, what: string): XmlNode {
  try {
    return parseXml(body);
  } catch (e) {
    throw new Reply(400, "BAD_REQUEST", `${what}: ${(e as Error).message}`);
  }
}

function parseBool(text: string | undefined, fallback: boolean): boolean {
  if (text === undefined) return fallback;
  const t = text.trim();
  if (t === "true" || t === "false") return t === "true";
  throw new Reply(400, "BAD_REQUEST", `not a boolean: ${t}`);
}

/** The fields of a `vmext:Service` document; children must come in schema order. */
function parseService(body: string): Omit<FakeService, "id" | "rights"> {
  const root = parseBody(body, "Bad Service document");
  if (root.name !== "Service" || root.ns !== VMEXT_NS) {
    throw new Reply(400, "BAD_REQUEST", "expected a vmext:Service document");
  }
  let last = -1;
  for (const c of root.children) {
    if (c.name === "Link") continue;
    const index = SERVICE_ORDER.indexOf(c.name as (typeof SERVICE_ORDER)[number]);
    if (index === -1) throw new Reply(400, "BAD_REQUEST", `unknown Service element ${c.name}`);
    if (index <= last) {
      throw new Reply(400, "BAD_REQUEST", `Service element ${c.name} is out of schema order`);
    }
    last = index;
  }
  const name = root.attrs.name?.trim() ?? "";
  if (name === "") throw new Reply(400, "BAD_REQUEST", "Service requires a name");
  const priorityText = child(root, "Priority")?.text.trim();
  const priority = priorityText === undefined ? undefined : Number(priorityText);
  if (priority !== undefined && !Number.isInteger(priority)) {
    throw new Reply(400, "BAD_REQUEST", "Priority must be an integer");
  }
  const filters = child(root, "ApiFilters");
  return {
    name,
    description: child(root, "Description")?.text,
    namespace: requireText(root, "Namespace", "Service"),
    enabled: parseBool(child(root, "Enabled")?.text, true),
    authorizationEnabled: parseBool(child(root, "AuthorizationEnabled")?.text, false),
    routingKey: requireText(root, "RoutingKey", "Service"),
    priority,
    exchange: requireText(root, "Exchange", "Service"),
    vendor: child(root, "Vendor")?.text,
    apiFilters: filters === undefined
      ? []
      : childrenNamed(filters, "ApiFilter").map((f) => requireText(f, "UrlPattern", "ApiFilter")),
  };
}

/**
 * Starts a fake vCD on 127.0.0.1 with a random port. Point a `VcdClient` at `url` with
 * {@linkcode FAKE_USER} and `password` (and `allowHttp`: the fake speaks plain HTTP unless
 * given `tls`), add blocking tasks with
 * `addBlockingTask`, inspect `calls`, `taskActions` and `services`, and `close()` it at the
 * end of the test.
 */
export async function startFakeVcd(options: FakeVcdOptions = {}): Promise<FakeVcd> {
  const user = options.user ?? FAKE_USER;
  const password = options.password ?? crypto.randomUUID();
  let fail5xx = options.fail5xxTimes ?? 0;
  let fail401 = options.failFirst401 ?? false;
  const valid = new Set<string>();
  const calls: RecordedCall[] = [];
  const tasks = new Map<string, string>();
  const taskState = new Map<string, TaskState>();
  const taskActions: TaskAction[] = [];
  const services = new Map<string, FakeService>();
  const issuedTokens: string[] = [];
  let base = "";

  const issueToken = (): string => {
    const token = randomToken();
    valid.add(token);
    issuedTokens.push(token);
    return token;
  };

  const taskHref = (id: string) => `${base}/api/admin/extension/blockingTask/${id}`;
  const renderTask = (id: string, t: TaskState): string => {
    const href = taskHref(id);
    const actions = t.status !== "active" ? [] : [
      el("Link", { rel: "resume", href: `${href}/action/resume`, type: MEDIA.taskOperation }),
      el("Link", { rel: "abort", href: `${href}/action/abort`, type: MEDIA.taskOperation }),
      el("Link", { rel: "fail", href: `${href}/action/fail`, type: MEDIA.taskOperation }),
      el("Link", {
        rel: "updateProgress",
        href: `${href}/action/updateProgress`,
        type: MEDIA.taskProgress,
      }),
    ];
    return renderXml(el(
      "vmext:BlockingTask",
      {
        xmlns: VCLOUD_NS,
        "xmlns:vmext": VMEXT_NS,
        status: t.status,
        timeoutAction: "abort",
        timeoutMs: t.timeoutMs,
        createdTime: t.createdTime,
        name: t.operation,
        id: `urn:vcloud:blockingTask:${id}`,
        href,
        type: MEDIA.blockingTask,
      },
      ...actions,
      t.target === undefined ? null : el("vmext:TaskOwner", {
        name: t.target.name,
        href: t.target.href,
        type: t.target.type ?? "application/vnd.vmware.vcloud.vApp+xml",
      }),
      t.owner === undefined
        ? null
        : el("Link", { rel: "up", href: t.owner, type: "application/vnd.vmware.vcloud.task+xml" }),
    ));
  };
  const addBlockingTask = (
    id: string,
    task: {
      operation: string;
      owner?: string;
      target?: { name: string; href: string; type?: string };
    },
  ): void => {
    const state: TaskState = {
      operation: task.operation,
      owner: task.owner,
      target: task.target,
      status: "active",
      createdTime: new Date().toISOString(),
      timeoutMs: 3_600_000,
    };
    taskState.set(id, state);
    tasks.set(id, renderTask(id, state));
  };

  const serviceHref = (id: string) => `${base}/api/admin/extension/service/${id}`;
  const renderService = (s: FakeService): string => {
    const href = serviceHref(s.id);
    const v = (name: string, value: string | number | boolean | undefined): XmlElement | null =>
      value === undefined ? null : el(`vmext:${name}`, {}, value);
    return renderXml(el(
      "vmext:Service",
      {
        xmlns: VCLOUD_NS,
        "xmlns:vmext": VMEXT_NS,
        name: s.name,
        id: `urn:vcloud:service:${s.id}`,
        href,
        type: MEDIA.service,
      },
      el("Link", { rel: "edit", href, type: MEDIA.service }),
      el("Link", { rel: "remove", href }),
      el("Link", { rel: "rights", href: `${href}/rights`, type: MEDIA.right }),
      s.description === undefined ? null : el("Description", {}, s.description),
      v("Namespace", s.namespace),
      v("Enabled", s.enabled),
      v("AuthorizationEnabled", s.authorizationEnabled),
      v("RoutingKey", s.routingKey),
      v("Priority", s.priority),
      v("Exchange", s.exchange),
      v("Vendor", s.vendor),
      s.apiFilters.length === 0 ? null : el(
        "vmext:ApiFilters",
        {},
        ...s.apiFilters.map((p) => el("vmext:ApiFilter", {}, el("vmext:UrlPattern", {}, p))),
      ),
    ));
  };

  const sessionXml = () =>
    renderXml(el(
      "Session",
      {
        xmlns: VCLOUD_NS,
        user: user.split("@")[0],
        org: user.split("@")[1] ?? "System",
        href: `${base}/api/session`,
        type: MEDIA.session,
      },
      el("Link", { rel: "remove", href: `${base}/api/session` }),
      el("Link", {
        rel: "down",
        href: `${base}/api/admin`,
        type: "application/vnd.vmware.admin.vcloud+xml",
      }),
    ));

  const respond = (
    status: number,
    version: string,
    media?: string,
    body?: string,
    extra?: HeadersInit,
  ) => {
    const headers = new Headers(extra);
    if (media !== undefined) headers.set("content-type", `${media};version=${version}`);
    return new Response(status === 204 ? null : body ?? null, { status, headers });
  };
  const errorReply = (status: number, minor: string, message: string, version: string) =>
    respond(
      status,
      version,
      MEDIA.error,
      renderXml(el("Error", {
        xmlns: VCLOUD_NS,
        majorErrorCode: status,
        minorErrorCode: minor,
        message,
      })),
    );

  const checkType = (req: Request, media: string): void => {
    if (mediaTypeOf(req.headers.get("content-type")) !== media.toLowerCase()) {
      throw new Reply(415, "UNSUPPORTED_MEDIA_TYPE", `expected Content-Type ${media}`);
    }
  };

  const taskAction = (id: string, action: string, req: Request, body: string, version: string) => {
    const state = taskState.get(id);
    if (state === undefined) throw new Reply(404, "NOT_FOUND", `no blocking task ${id}`);
    if (action === "updateProgress") {
      checkType(req, MEDIA.taskProgress);
      const root = parseBody(body, "Bad BlockingTaskUpdateProgressParams");
      if (root.name !== "BlockingTaskUpdateProgressParams") {
        throw new Reply(400, "BAD_REQUEST", "expected BlockingTaskUpdateProgressParams");
      }
      const message = requireText(root, "Message", "updateProgress");
      const timeoutText = child(root, "TimeoutValueInMilliseconds")?.text.trim();
      const timeoutMs = timeoutText === undefined ? undefined : Number(timeoutText);
      if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs >= 0)) {
        throw new Reply(400, "BAD_REQUEST", "TimeoutValueInMilliseconds must be an integer");
      }
      if (state.status !== "active") {
        throw new Reply(400, "BAD_REQUEST", `task ${id} is ${state.status}`);
      }
      if (timeoutMs !== undefined) state.timeoutMs = timeoutMs;
      taskActions.push(
        timeoutMs === undefined ? { id, action, message } : { id, action, message, timeoutMs },
      );
      const xml = renderTask(id, state);
      tasks.set(id, xml);
      return respond(200, version, MEDIA.blockingTask, xml);
    }
    if (action !== "resume" && action !== "abort" && action !== "fail") {
      throw new Reply(404, "NOT_FOUND", `no action ${action}`);
    }
    checkType(req, MEDIA.taskOperation);
    const root = parseBody(body, "Bad BlockingTaskOperationParams");
    if (root.name !== "BlockingTaskOperationParams") {
      throw new Reply(400, "BAD_REQUEST", "expected BlockingTaskOperationParams");
    }
    const message = requireText(root, "Message", action);
    if (state.status !== "active") {
      throw new Reply(400, "BAD_REQUEST", `task ${id} is ${state.status}`);
    }
    state.status = action === "resume" ? "resumed" : action === "abort" ? "aborted" : "failed";
    taskActions.push({ id, action, message });
    tasks.set(id, renderTask(id, state));
    return respond(204, version);
  };

  const serviceRoute = (
    req: Request,
    rest: string,
    search: URLSearchParams,
    body: string,
    version: string,
  ): Response => {
    const method = req.method;
    if (rest === "") {
      if (method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", `${method} not allowed`);
      checkType(req, MEDIA.service);
      const fields = parseService(body);
      for (const s of services.values()) {
        if (s.name === fields.name) {
          throw new Reply(400, "DUPLICATE_NAME", `service ${s.name} exists`);
        }
      }
      const service: FakeService = { ...fields, id: crypto.randomUUID(), rights: new Map() };
      services.set(service.id, service);
      return respond(201, version, MEDIA.service, renderService(service), {
        location: serviceHref(service.id),
      });
    }
    if (rest === "/query") {
      if (method !== "GET") throw new Reply(405, "METHOD_NOT_ALLOWED", `${method} not allowed`);
      const filter = search.get("filter");
      const wanted = filter?.startsWith("name==") ? filter.slice(6) : undefined;
      const records = [...services.values()].filter((s) =>
        wanted === undefined || s.name === wanted
      );
      return respond(
        200,
        version,
        MEDIA.records,
        renderXml(el(
          "QueryResultRecords",
          { xmlns: VCLOUD_NS, total: records.length, name: "adminService" },
          ...records.map((s) =>
            el("AdminServiceRecord", {
              name: s.name,
              namespace: s.namespace,
              vendor: s.vendor,
              enabled: s.enabled,
              id: `urn:vcloud:service:${s.id}`,
              href: serviceHref(s.id),
            })
          ),
        )),
      );
    }
    const m = /^\/([^/]+)(\/rights)?$/.exec(rest);
    const service = m === null ? undefined : services.get(m[1]!);
    if (m === null || service === undefined) {
      throw new Reply(404, "NOT_FOUND", `no service at ${rest}`);
    }
    if (m[2] !== undefined) {
      if (method === "GET") {
        return respond(
          200,
          version,
          "application/vnd.vmware.vcloud.rightReferences+xml",
          renderXml(el(
            "RightReferences",
            { xmlns: VCLOUD_NS },
            ...[...service.rights].map(([name, id]) =>
              el("RightReference", { name, id, type: MEDIA.right })
            ),
          )),
        );
      }
      if (method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", `${method} not allowed`);
      checkType(req, MEDIA.right);
      const root = parseBody(body, "Bad Right document");
      const name = root.name === "Right" ? root.attrs.name?.trim() ?? "" : "";
      if (name === "") throw new Reply(400, "BAD_REQUEST", 'expected <Right name="…">');
      const full = `${service.namespace}:${name}`;
      if (service.rights.has(full)) throw new Reply(400, "DUPLICATE_NAME", `right ${full} exists`);
      const uuid = crypto.randomUUID();
      const id = `urn:vcloud:right:${uuid}`;
      service.rights.set(full, id);
      return respond(
        201,
        version,
        MEDIA.right,
        renderXml(el(
          "Right",
          {
            xmlns: VCLOUD_NS,
            name: full,
            id,
            href: `${base}/api/admin/right/${uuid}`,
            type: MEDIA.right,
          },
          child(root, "Description") === undefined
            ? null
            : el("Description", {}, child(root, "Description")!.text),
        )),
      );
    }
    if (method === "GET") return respond(200, version, MEDIA.service, renderService(service));
    if (method === "PUT") {
      checkType(req, MEDIA.service);
      Object.assign(service, parseService(body));
      return respond(200, version, MEDIA.service, renderService(service));
    }
    if (method === "DELETE") {
      if (service.enabled) {
        throw new Reply(400, "BAD_REQUEST", `disable service ${service.name} before deleting it`);
      }
      services.delete(service.id);
      return respond(204, version);
    }
    throw new Reply(405, "METHOD_NOT_ALLOWED", `${method} not allowed`);
  };

  const handle = (req: Request, url: URL, body: string): Response => {
    const path = url.pathname;
    const version = acceptedVersion(req.headers.get("accept"));
    const v = version ?? "36.0";
    try {
      if (path === "/api/sessions") {
        if (req.method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", "use POST");
        if (version === undefined) {
          throw new Reply(406, "NOT_ACCEPTABLE", "Accept needs application/*+xml;version=<v>");
        }
        const auth = req.headers.get("authorization") ?? "";
        let given = "";
        try {
          given = auth.startsWith("Basic ") ? atob(auth.slice(6)) : "";
        } catch { /* not base64: refused below */ }
        if (given !== `${user}:${password}`) {
          throw new Reply(401, "UNAUTHORIZED", "Invalid user name or password");
        }
        const token = issueToken();
        const headers: Record<string, string> = options.accessTokenOnly
          ? { "x-vmware-vcloud-access-token": token, "x-vmware-vcloud-token-type": "Bearer" }
          : { "x-vcloud-authorization": token };
        return respond(200, v, MEDIA.session, sessionXml(), headers);
      }
      if (fail5xx > 0) {
        fail5xx--;
        throw new Reply(503, "SERVICE_UNAVAILABLE", "The cell is starting up");
      }
      const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
      const token = options.accessTokenOnly
        ? bearer
        : req.headers.get("x-vcloud-authorization") ?? bearer;
      if (token === undefined || !valid.has(token)) {
        throw new Reply(401, "UNAUTHORIZED", "Not authenticated");
      }
      if (fail401) {
        fail401 = false;
        valid.delete(token);
        throw new Reply(401, "UNAUTHORIZED", "Session has expired");
      }
      if (version === undefined) {
        throw new Reply(406, "NOT_ACCEPTABLE", "Accept needs application/*+xml;version=<v>");
      }
      if (path === "/api/session") {
        if (req.method === "GET") return respond(200, v, MEDIA.session, sessionXml());
        if (req.method === "DELETE") {
          valid.delete(token);
          return respond(204, v);
        }
        throw new Reply(405, "METHOD_NOT_ALLOWED", `${req.method} not allowed`);
      }
      const task = /^\/api\/admin\/extension\/blockingTask\/([^/]+)(?:\/action\/([^/]+))?$/.exec(
        path,
      );
      if (task !== null) {
        const id = decodeURIComponent(task[1]!);
        if (task[2] !== undefined) {
          if (req.method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", "use POST");
          return taskAction(id, task[2], req, body, v);
        }
        if (req.method !== "GET") throw new Reply(405, "METHOD_NOT_ALLOWED", "use GET");
        const xml = tasks.get(id);
        if (xml === undefined) throw new Reply(404, "NOT_FOUND", `no blocking task ${id}`);
        return respond(200, v, MEDIA.blockingTask, xml);
      }
      const prefix = "/api/admin/extension/service";
      if (path === prefix || path.startsWith(`${prefix}/`)) {
        return serviceRoute(req, path.slice(prefix.length), url.searchParams, body, v);
      }
      throw new Reply(404, "NOT_FOUND", `No resource at ${path}`);
    } catch (e) {
      if (!(e instanceof Reply)) throw e;
      return errorReply(e.status, e.minor, e.message, v);
    }
  };

  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: resolve,
      ...(options.tls === undefined ? {} : { cert: options.tls.cert, key: options.tls.key }),
    },
    async (req) => {
      const url = new URL(req.url);
      const body = await req.text();
      const call: RecordedCall = {
        method: req.method,
        path: url.pathname,
        search: url.search,
        headers: Object.fromEntries(req.headers),
        body,
        status: 0,
      };
      calls.push(call);
      const response = handle(req, url, body);
      call.status = response.status;
      return response;
    },
  );
  const addr = await listening;
  base = `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${addr.port}`;

  return {
    url: base,
    password,
    calls,
    tasks,
    taskActions,
    services,
    issuedTokens,
    addBlockingTask,
    issueToken,
    close: () => server.shutdown(),
  };
}
