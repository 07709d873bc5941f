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
 * | `GET /api/admin/extension/settings/amqp` (`PUT` is 405) | 200 `AmqpSettings`, no `AmqpPassword` unless `amqp.returnPassword` |
 * | `POST …/settings/amqp/action/test` | 200 `AmqpSettingsTest`, `Valid` per `amqp.valid`; the posted settings recorded in `amqpTests` |
 * | `/cloudapi/extensions/api`, `/cloudapi/1.0.0/tokens`, `/cloudapi/1.0.0/apiFilters` | MQTT registration, JSON: see `fake_vcd_cloudapi.ts` |
 *
 * This module starts the server and routes; the rest is one job per file: `fake_vcd_state.ts`
 * (what the fake knows and records), `fake_vcd_wire.ts` (media types, `Error` replies, shared
 * checks), `fake_vcd_documents.ts` (the documents it answers with), and the routes per
 * resource, `fake_vcd_sessions.ts`, `fake_vcd_tasks.ts`, `fake_vcd_services.ts`,
 * `fake_vcd_amqp.ts` (the AMQP settings and their test) and `fake_vcd_cloudapi.ts` (external
 * services, API filters and tokens for MQTT extensions).
 */

import type { VcdAmqpSettings } from "../core/amqp_settings.ts";
import { DEFAULT_API_VERSION } from "../core/vcloud.ts";
import {
  CLOUDAPI_PREFIX,
  cloudApiRoute,
  type FakeApiFilter,
  FakeCloudApi,
  type FakeExtensionToken,
  type FakeExternalService,
} from "./fake_vcd_cloudapi.ts";
import { amqpRoute, FAKE_AMQP_PATH } from "./fake_vcd_amqp.ts";
import { authenticate, login, sessionRoute } from "./fake_vcd_sessions.ts";
import { SERVICE_PREFIX, serviceRoute } from "./fake_vcd_services.ts";
import {
  type BlockingTaskSpec,
  type FakeService,
  type FakeVcdOptions,
  FakeVcdState,
  type RecordedCall,
  type TaskAction,
} from "./fake_vcd_state.ts";
import { TASK_PATH, taskRoute } from "./fake_vcd_tasks.ts";
import { acceptedVersion, errorReply, Reply } from "./fake_vcd_wire.ts";

export { VCLOUD_NS, VMEXT_NS } from "../core/vcloud.ts";
export {
  type BlockingTaskSpec,
  FAKE_USER,
  type FakeService,
  type FakeVcdOptions,
  type RecordedCall,
  type TaskAction,
} from "./fake_vcd_state.ts";
export { MEDIA } from "./fake_vcd_wire.ts";
export { DEFAULT_FAKE_AMQP, type FakeAmqpOptions } from "./fake_vcd_amqp.ts";
export type {
  FakeApiFilter,
  FakeExtensionToken,
  FakeExternalService,
} from "./fake_vcd_cloudapi.ts";

/** A running fake; close it at the end of the test. */
export interface FakeVcd {
  /** Base URL, e.g. `http://127.0.0.1:41234` (no trailing slash, no `/api`). */
  readonly url: string;
  /** The password it accepts for `FAKE_USER` (or the configured user). */
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
  /** MQTT external services (`/cloudapi/extensions/api`) by id. */
  readonly externalServices: Map<string, FakeExternalService>;
  /** API filters (`/cloudapi/1.0.0/apiFilters`) by id. */
  readonly apiFilters: Map<string, FakeApiFilter>;
  /** Extension tokens (`/cloudapi/1.0.0/tokens`) by id, their values included. */
  readonly extensionTokens: Map<string, FakeExtensionToken>;
  /** Every set of AMQP settings posted to `…/settings/amqp/action/test`, in order. */
  readonly amqpTests: VcdAmqpSettings[];
  /** Adds an active blocking task; `owner` is the owning task's href (rendered as `Link rel="up"`). */
  addBlockingTask(id: string, task: BlockingTaskSpec): void;
  /** Issues a valid token without a login, for bearer-token clients. */
  issueToken(): string;
  close(): Promise<void>;
}

/** Routes one request (its body already read) and answers it; a {@linkcode Reply} as `Error`. */
function handle(
  state: FakeVcdState,
  cloud: FakeCloudApi,
  req: Request,
  url: URL,
  body: string,
): Response | Promise<Response> {
  const path = url.pathname;
  if (path.startsWith(CLOUDAPI_PREFIX)) return cloudApiRoute(state, cloud, req, path, body);
  const version = acceptedVersion(req.headers.get("accept"));
  const v = version ?? DEFAULT_API_VERSION;
  try {
    if (path === "/api/sessions") return login(state, req, version, v);
    const token = authenticate(state, req, version);
    if (path === "/api/session") return sessionRoute(state, req, token, v);
    const task = TASK_PATH.exec(path);
    if (task !== null) {
      return taskRoute(state, req, decodeURIComponent(task[1]!), task[2], body, v);
    }
    if (path === FAKE_AMQP_PATH || path.startsWith(`${FAKE_AMQP_PATH}/`)) {
      return amqpRoute(state, req, path.slice(FAKE_AMQP_PATH.length), body, v);
    }
    if (path === SERVICE_PREFIX || path.startsWith(`${SERVICE_PREFIX}/`)) {
      return serviceRoute(state, req, path.slice(SERVICE_PREFIX.length), url.searchParams, body, v);
    }
    throw new Reply(404, "NOT_FOUND", `No resource at ${path}`);
  } catch (e) {
    if (!(e instanceof Reply)) throw e;
    return errorReply(e, v);
  }
}

/** Records the call, routes it, and notes the status answered. */
async function serveOne(
  state: FakeVcdState,
  cloud: FakeCloudApi,
  req: Request,
): Promise<Response> {
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
  state.calls.push(call);
  const response = await handle(state, cloud, req, url, body);
  call.status = response.status;
  return response;
}

/**
 * Starts a fake vCD on 127.0.0.1 with a random port. Point a `VcdClient` at `url` with
 * `FAKE_USER` and `password` (and `allowHttp`: the fake speaks plain HTTP unless
 * given `tls`), add blocking tasks with
 * `addBlockingTask`, inspect `calls`, `taskActions` and `services`, and `close()` it at the
 * end of the test.
 */
export async function startFakeVcd(options: FakeVcdOptions = {}): Promise<FakeVcd> {
  const state = new FakeVcdState(options);
  const cloud = new FakeCloudApi();
  const { promise: listening, resolve } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port: 0,
      onListen: resolve,
      ...(options.tls === undefined ? {} : { cert: options.tls.cert, key: options.tls.key }),
    },
    (req) => serveOne(state, cloud, req),
  );
  const addr = await listening;
  state.base = `${options.tls === undefined ? "http" : "https"}://127.0.0.1:${addr.port}`;

  return {
    url: state.base,
    password: state.password,
    calls: state.calls,
    tasks: state.tasks,
    taskActions: state.taskActions,
    services: state.services,
    issuedTokens: state.issuedTokens,
    externalServices: cloud.externalServices,
    apiFilters: cloud.apiFilters,
    extensionTokens: cloud.extensionTokens,
    amqpTests: state.amqpTests,
    addBlockingTask: (id, task) => state.addBlockingTask(id, task),
    issueToken: () => state.issueToken(),
    close: () => server.shutdown(),
  };
}
