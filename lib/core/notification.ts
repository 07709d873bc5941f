/**
 * @module vCD notifications (wire-format doc, section 6): decodes what a cell publishes (JSON on
 * `vcd.notifications20`, legacy XML on the system exchange) into one event shape, matches event
 * types against patterns, turns patterns into topic binding keys, and encodes notifications
 * exactly as a cell does, for the simulator and tests. Lenient in what it accepts, strict in
 * what it sends. Pure: no network, clock, environment or files.
 */

import { parseJson } from "./envelope.ts";
import { child, childrenNamed, childText, el, parseXml, renderXml, type XmlNode } from "./xml.ts";

/** The namespace of the legacy XML `Notification` document. */
const VMEXT = "http://www.vmware.com/vcloud/extension/v1.5";
/** Put in front of short type patterns such as `vapp/*`. */
const EVENT_PREFIX = "com/vmware/vcloud/event/";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// The decoded event
// ---------------------------------------------------------------------------------------------

/**
 * One notification, whatever the format it arrived in. Identifiers the cell did not send are
 * `""`; `operationSuccess` and `timestamp` are `undefined` when unknown; the task fields are
 * present only for task and blocking-task events.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification, jsonNotificationExample, type NotificationEvent } from "./notification.ts";
 * const event: NotificationEvent = decodeNotification(jsonNotificationExample());
 * assert.equal(event.entityKind, "blockingTask");
 * assert.equal(event.entity, `urn:vcloud:blockingTask:${event.entityId}`);
 * ```
 */
export interface NotificationEvent {
  /** The `eventId`, or `""` when only headers and routing key were usable. */
  readonly id: string;
  /** Event type in slash form, e.g. `com/vmware/vcloud/event/vapp/create`. */
  readonly type: string;
  /** The entity: its URN when known (`urn:vcloud:vapp:<id>`), else its bare id, else `""`. */
  readonly entity: string;
  /** The entity kind, e.g. `vapp`, `blockingTask`: from the URN, else the header, else `""`. */
  readonly entityKind: string;
  /** The entity's bare id (the URN's last part), or `""`. */
  readonly entityId: string;
  /** The organisation: URN when known, else bare id, else `""`. */
  readonly org: string;
  /** The user who caused the event: URN when known, else bare id, else `""`. */
  readonly user: string;
  /** Whether the operation succeeded, `undefined` when no source said. */
  readonly operationSuccess: boolean | undefined;
  /** ISO-8601 timestamp as sent (body only), `undefined` when absent. */
  readonly timestamp: string | undefined;
  /** The task (URN or bare id), for task and blocking-task events. */
  readonly task?: string;
  /** The object the task works on (URN), for task and blocking-task events. */
  readonly taskOwner?: string;
  /** The task's operation name, e.g. `vdcComposeVapp`, for task and blocking-task events. */
  readonly taskName?: string;
  /** The body format: `"xml"` when it starts with `<`, else `"json"`. */
  readonly format: "json" | "xml";
  /** The parsed body (a JSON value or an `XmlNode`), `undefined` when empty or unparseable. */
  readonly raw: unknown;
}

/**
 * Thrown by {@linkcode decodeNotification} when nothing in the message says what type of event
 * it is. Everything else about a notification is decoded leniently.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification, NotificationError } from "./notification.ts";
 * const empty = { body: new Uint8Array(), routingKey: "", headers: {} };
 * assert.throws(() => decodeNotification(empty), NotificationError);
 * ```
 */
export class NotificationError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NotificationError";
  }
}

// ---------------------------------------------------------------------------------------------
// Small lenient readers
// ---------------------------------------------------------------------------------------------

type Json = Readonly<Record<string, unknown>>;

function isRecord(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function own(o: Json, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

/** A header or field value as text: strings, AMQP longstr bytes, numbers; `""` is none. */
function text(value: unknown): string | undefined {
  let s: string | undefined;
  if (typeof value === "string") s = value;
  else if (value instanceof Uint8Array) s = decoder.decode(value);
  else if (typeof value === "number" && Number.isFinite(value)) s = String(value);
  else if (typeof value === "bigint") s = String(value);
  s = s?.trim();
  return s === "" ? undefined : s;
}

/** `true`, `"true"` in any case (also as bytes), `1`; the same for false; else `undefined`. */
function bool(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === 1 || value === 0) return value === 1;
  const s = typeof value === "number" ? undefined : text(value)?.toLowerCase();
  return s === "true" ? true : s === "false" ? false : undefined;
}

/** An event type in slash form; a dotted type with no slash is converted. */
function normalizeType(value: unknown): string | undefined {
  const s = text(value);
  if (s === undefined) return undefined;
  return !s.includes("/") && s.includes(".") ? s.replaceAll(".", "/") : s;
}

const URN = /^urn:vcloud:([^:]*):(.*)$/i;

/** The kind in `urn:vcloud:<kind>:<id>`, or `undefined` for anything else. */
function urnKind(value: string): string | undefined {
  const kind = URN.exec(value)?.[1];
  return kind === "" ? undefined : kind;
}

/** The id in `urn:vcloud:<kind>:<id>`, or the value itself when it is not such a URN. */
function bareId(value: string): string {
  return URN.exec(value)?.[2] ?? value;
}

// ---------------------------------------------------------------------------------------------
// Routing key and headers
// ---------------------------------------------------------------------------------------------

/**
 * What a routing key says. Fields the key does not carry (a short or junk key) are absent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRoutingKey, type RoutingKeyParts } from "./notification.ts";
 * const parts: RoutingKeyParts = decodeRoutingKey("false.e.o.u.com.vmware.vcloud.event.vm.delete");
 * assert.equal(parts.operationSuccess, false);
 * assert.equal(parts.typeSegments.join("/"), "com/vmware/vcloud/event/vm/delete");
 * ```
 */
export interface RoutingKeyParts {
  /** Word 1, `true`/`false` in any case. */
  readonly operationSuccess?: boolean;
  /** Word 2, the entity's bare id. */
  readonly entity?: string;
  /** Word 3, the organisation's bare id. */
  readonly org?: string;
  /** Word 4, the user's bare id. */
  readonly user?: string;
  /** The event type's segments (`["com", "vmware", …, "create"]`). */
  readonly typeSegments: readonly string[];
  /** The task name after the type; only found when the type is known from elsewhere. */
  readonly taskName?: string;
}

/**
 * Splits a notification routing key
 * `operationSuccess.entity.org.user.subType1…subTypeN[.taskName]`. The key alone cannot tell
 * the last type segment from a task name, so without `knownType` every word after the fourth
 * is taken as a type segment. Pass the type from the body or headers (slash form) as
 * `knownType`: when the key's words start with it, the words after it are the task name; when
 * they do not, `knownType` is ignored. Never throws: junk yields what could be read.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRoutingKey } from "./notification.ts";
 * const key = "true.41aa.251a.74a3.com.vmware.vcloud.event.blockingtask.create.vappUpdateVm";
 * const parts = decodeRoutingKey(key, "com/vmware/vcloud/event/blockingtask/create");
 * assert.equal(parts.entity, "41aa");
 * assert.equal(parts.taskName, "vappUpdateVm");
 * assert.equal(decodeRoutingKey(key).typeSegments.at(-1), "vappUpdateVm");
 * assert.deepEqual(decodeRoutingKey("junk"), { typeSegments: [] });
 * ```
 */
export function decodeRoutingKey(key: string, knownType?: string): RoutingKeyParts {
  const words = typeof key === "string" && key !== "" ? key.split(".") : [];
  const [success, entity, org, user, ...rest] = words;
  const parts: {
    operationSuccess?: boolean;
    entity?: string;
    org?: string;
    user?: string;
    typeSegments: string[];
    taskName?: string;
  } = { typeSegments: rest };
  const ok = bool(success);
  if (ok !== undefined) parts.operationSuccess = ok;
  if (entity) parts.entity = entity;
  if (org) parts.org = org;
  if (user) parts.user = user;
  const known = normalizeType(knownType)?.split("/");
  if (known !== undefined && rest.length >= known.length && known.every((s, i) => rest[i] === s)) {
    parts.typeSegments = rest.slice(0, known.length);
    const task = rest.slice(known.length).join(".");
    if (task !== "") parts.taskName = task;
  }
  return parts;
}

/**
 * What the `notification.*` headers say. Absent, empty or unreadable headers leave the field
 * out; ids are kept as sent (bare UUIDs or URNs).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeHeaders, type NotificationHeaders } from "./notification.ts";
 * const h: NotificationHeaders = decodeHeaders({ "notification.entityType": "vm" });
 * assert.deepEqual(h, { entityKind: "vm" });
 * ```
 */
export interface NotificationHeaders {
  /** `notification.type`, slash form. */
  readonly type?: string;
  /** `notification.entityType`, e.g. `vapp`. */
  readonly entityKind?: string;
  /** `notification.entityUUID`. */
  readonly entity?: string;
  /** `notification.orgUUID`. */
  readonly org?: string;
  /** `notification.userUUID`. */
  readonly user?: string;
  /** `notification.operationSuccess`. */
  readonly operationSuccess?: boolean;
  /** `notification.taskUUID`. */
  readonly task?: string;
}

/** A header by name: exact match first, then ignoring case; own properties only. */
function header(headers: Json, name: string): unknown {
  if (Object.hasOwn(headers, name)) return headers[name];
  const lower = name.toLowerCase();
  const key = Object.keys(headers).find((k) => k.toLowerCase() === lower);
  return key === undefined ? undefined : headers[key];
}

/**
 * Reads the `notification.*` headers a cell sets. Values may be strings, numbers, booleans or
 * bytes (AMQP longstr); booleans are accepted as `true` or `"true"` in any case; names are
 * matched exactly, then ignoring case. Never throws.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeHeaders } from "./notification.ts";
 * const h = decodeHeaders({
 *   "notification.type": new TextEncoder().encode("com/vmware/vcloud/event/vapp/create"),
 *   "notification.operationSuccess": "TRUE",
 *   "notification.orgUUID": "urn:vcloud:org:251a",
 * });
 * assert.deepEqual(h, {
 *   type: "com/vmware/vcloud/event/vapp/create",
 *   org: "urn:vcloud:org:251a",
 *   operationSuccess: true,
 * });
 * ```
 */
export function decodeHeaders(headers: Record<string, unknown>): NotificationHeaders {
  const out: {
    type?: string;
    entityKind?: string;
    entity?: string;
    org?: string;
    user?: string;
    operationSuccess?: boolean;
    task?: string;
  } = {};
  if (!isRecord(headers)) return out;
  const type = normalizeType(header(headers, "notification.type"));
  if (type !== undefined) out.type = type;
  const fields = [
    ["entityKind", "notification.entityType"],
    ["entity", "notification.entityUUID"],
    ["org", "notification.orgUUID"],
    ["user", "notification.userUUID"],
    ["task", "notification.taskUUID"],
  ] as const;
  for (const [field, name] of fields) {
    const value = text(header(headers, name));
    if (value !== undefined) out[field] = value;
  }
  const ok = bool(header(headers, "notification.operationSuccess"));
  if (ok !== undefined) out.operationSuccess = ok;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/** What a body says; `undefined` where it says nothing. */
interface BodyFacts {
  readonly raw: unknown;
  readonly id: string | undefined;
  readonly type: string | undefined;
  readonly entity: string | undefined;
  readonly entityKind: string | undefined;
  readonly org: string | undefined;
  readonly user: string | undefined;
  readonly operationSuccess: boolean | undefined;
  readonly timestamp: string | undefined;
  readonly task: string | undefined;
  readonly taskOwner: string | undefined;
  readonly taskName: string | undefined;
}

const NOTHING: BodyFacts = {
  raw: undefined,
  id: undefined,
  type: undefined,
  entity: undefined,
  entityKind: undefined,
  org: undefined,
  user: undefined,
  operationSuccess: undefined,
  timestamp: undefined,
  task: undefined,
  taskOwner: undefined,
  taskName: undefined,
};

function readJsonBody(body: string): BodyFacts {
  let raw: unknown;
  try {
    raw = parseJson(body);
  } catch {
    return NOTHING;
  }
  if (!isRecord(raw)) return { ...NOTHING, raw };
  const str = (key: string): string | undefined => {
    const value = own(raw as Json, key);
    return typeof value === "string" ? text(value) : undefined;
  };
  return {
    ...NOTHING,
    raw,
    id: str("eventId"),
    type: normalizeType(str("type")),
    entity: str("entity"),
    org: str("org"),
    user: str("user"),
    operationSuccess: bool(own(raw, "operationSuccess")),
    timestamp: str("timestamp"),
    task: str("task"),
    taskOwner: str("taskOwner"),
  };
}

function attr(node: XmlNode | undefined, name: string): string | undefined {
  return node === undefined ? undefined : text(own(node.attrs, name));
}

function readXmlBody(body: string): BodyFacts {
  let root: XmlNode;
  try {
    root = parseXml(body);
  } catch {
    return NOTHING;
  }
  if (root.name !== "Notification") return { ...NOTHING, raw: root };
  const links = childrenNamed(root, "EntityLink");
  const link = (rel: string) => links.find((l) => attr(l, "rel")?.toLowerCase() === rel);
  const entity = link("entity");
  const entityKind = attr(entity, "type")?.replace(/^.*:/, "") || undefined;
  const isTask = entityKind !== undefined && /^(?:task|blockingTask)$/i.test(entityKind);
  const task = link("task");
  const timestamp = childText(root, "Timestamp")?.trim();
  return {
    raw: root,
    id: attr(root, "eventId"),
    type: normalizeType(attr(root, "type")),
    entity: attr(entity, "id"),
    entityKind,
    org: attr(link("up"), "id"),
    user: attr(link("down"), "id"),
    operationSuccess: bool(child(root, "OperationSuccess")?.text),
    timestamp: timestamp === "" ? undefined : timestamp,
    task: attr(task, "id"),
    taskOwner: attr(link("task:owner"), "id"),
    taskName: attr(task, "name") ?? (isTask ? attr(entity, "name") : undefined),
  };
}

/**
 * A notification as it comes off the broker; a {@linkcode NotificationMessage} is one too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification, type NotificationDelivery } from "./notification.ts";
 * const delivery: NotificationDelivery = {
 *   body: new Uint8Array(),
 *   routingKey: "true.3f2e.1a2b.8b7a.com.vmware.vcloud.event.vapp.create",
 *   headers: { "notification.type": "com/vmware/vcloud/event/vapp/create" },
 * };
 * assert.equal(decodeNotification(delivery).entity, "3f2e");
 * ```
 */
export interface NotificationDelivery {
  /** The message body: JSON or legacy XML, UTF-8. */
  readonly body: Uint8Array;
  /** The routing key it was published with. */
  readonly routingKey: string;
  /** The application headers. */
  readonly headers: Record<string, unknown>;
}

/**
 * Decodes a notification from its body, routing key and headers. The body is sniffed: a first
 * non-space character `<` means the legacy XML `Notification` (elements matched by local name,
 * whatever their prefix), anything else JSON. Each field is taken from the first source that
 * has it, in the order **body, then headers, then routing key**; a body that cannot be parsed
 * is simply not a source. Ids are kept as the source wrote them: the body's URNs, or the bare
 * ids of headers and routing key. Throws {@linkcode NotificationError} only when no source
 * gives the event type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification } from "./notification.ts";
 * const body = new TextEncoder().encode(JSON.stringify({
 *   eventId: "e1",
 *   type: "com/vmware/vcloud/event/vapp/create",
 *   operationSuccess: true,
 *   entity: "urn:vcloud:vapp:3f2e",
 *   org: "urn:vcloud:org:1a2b",
 *   user: "urn:vcloud:user:8b7a",
 *   color: "blue",
 * }));
 * const event = decodeNotification({
 *   body,
 *   routingKey: "true.3f2e.1a2b.8b7a.com.vmware.vcloud.event.vapp.create",
 *   headers: {},
 * });
 * assert.equal(event.type, "com/vmware/vcloud/event/vapp/create");
 * assert.equal(event.entityKind, "vapp");
 * assert.equal(event.entityId, "3f2e");
 * assert.equal((event.raw as { color: string }).color, "blue");
 *
 * // No body: headers, then the routing key, fill in what they can.
 * const bare = decodeNotification({
 *   body: new Uint8Array(),
 *   routingKey: "false.3f2e.1a2b.8b7a.com.vmware.vcloud.event.vm.delete",
 *   headers: { "notification.entityType": "vm" },
 * });
 * assert.deepEqual([bare.type, bare.entity, bare.entityKind], ["com/vmware/vcloud/event/vm/delete", "3f2e", "vm"]);
 * ```
 */
export function decodeNotification(input: NotificationDelivery): NotificationEvent {
  const source: Partial<NotificationDelivery> = isRecord(input) ? input : {};
  const raw = source.body instanceof Uint8Array ? decoder.decode(source.body) : "";
  const format = /^[ \t\r\n]*</.test(raw) ? "xml" : "json";
  const body = format === "xml" ? readXmlBody(raw) : readJsonBody(raw);
  const headers = decodeHeaders(isRecord(source.headers) ? source.headers : {});
  const knownType = body.type ?? headers.type;
  const key = decodeRoutingKey(
    typeof source.routingKey === "string" ? source.routingKey : "",
    knownType,
  );
  const type = knownType ?? (key.typeSegments.length > 0 ? key.typeSegments.join("/") : "");
  if (type === "") {
    throw new NotificationError(
      "Cannot decode notification: no event type in the body, the headers or the routing key",
    );
  }
  const entity = body.entity ?? headers.entity ?? key.entity ?? "";
  const task = body.task ?? headers.task;
  const taskName = body.taskName ?? key.taskName;
  return {
    id: body.id ?? "",
    type,
    entity,
    entityKind: urnKind(entity) ?? body.entityKind ?? headers.entityKind ?? "",
    entityId: bareId(entity),
    org: body.org ?? headers.org ?? key.org ?? "",
    user: body.user ?? headers.user ?? key.user ?? "",
    operationSuccess: body.operationSuccess ?? headers.operationSuccess ?? key.operationSuccess,
    timestamp: body.timestamp,
    ...(task === undefined ? {} : { task }),
    ...(body.taskOwner === undefined ? {} : { taskOwner: body.taskOwner }),
    ...(taskName === undefined ? {} : { taskName }),
    format,
    raw: body.raw,
  };
}

// ---------------------------------------------------------------------------------------------
// Type patterns
// ---------------------------------------------------------------------------------------------

/** A pattern's segments, prefix added and `**` runs collapsed; throws on a bad pattern. */
function patternSegments(pattern: string): string[] {
  const bad = (why: string) =>
    new TypeError(`Invalid event type pattern ${JSON.stringify(pattern)}: ${why}`);
  if (typeof pattern !== "string") throw bad("it is not a string");
  let p = pattern.trim();
  let full = /^(?:\*\*|com)(?:\/|$)/.test(p);
  if (p.startsWith("/")) {
    full = true;
    p = p.slice(1);
  }
  if (p === "") throw bad("it is empty");
  const out: string[] = [];
  for (const segment of (full ? p : EVENT_PREFIX + p).split("/")) {
    if (segment === "") throw bad("it has an empty segment");
    if (segment !== "*" && segment !== "**" && /[.*#\s]/.test(segment)) {
      throw bad(`segment ${JSON.stringify(segment)} may not contain ".", "*", "#" or spaces`);
    }
    if (segment !== "**" || out.at(-1) !== "**") out.push(segment);
  }
  return out;
}

/** Glob over segments: `*` is one segment, `**` any number (two-pointer, with backtracking). */
function matchSegments(pattern: readonly string[], type: readonly string[]): boolean {
  let p = 0;
  let t = 0;
  let star = -1;
  let mark = 0;
  while (t < type.length) {
    if (pattern[p] === "**") {
      star = p++;
      mark = t;
    } else if (p < pattern.length && (pattern[p] === "*" || pattern[p] === type[t])) {
      p++;
      t++;
    } else if (star !== -1) {
      p = star + 1;
      t = ++mark;
    } else return false;
  }
  while (pattern[p] === "**") p++;
  return p === pattern.length;
}

/**
 * Compiles an event type pattern into a predicate over slash-form types. Segments are
 * separated by `/`; `*` matches exactly one segment, `**` any number of segments (zero or more)
 * and may stand anywhere; other segments match literally (case-sensitive, like AMQP). A
 * pattern whose first segment is `com` or `**` is a full type; a pattern starting with `/` is
 * too (the `/` is dropped); any other pattern is short for `com/vmware/vcloud/event/` +
 * pattern: `vapp/*` means `com/vmware/vcloud/event/vapp/*`. Throws `TypeError` on
 * an empty pattern, an empty segment, or a segment mixing `*`, `#` or `.` with other text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compileTypePattern } from "./notification.ts";
 * const vapp = compileTypePattern("vapp/*");
 * assert.equal(vapp("com/vmware/vcloud/event/vapp/create"), true);
 * assert.equal(vapp("com/vmware/vcloud/event/vm/create"), false);
 * assert.equal(compileTypePattern("**")("com/vmware/foobar"), true);
 * assert.equal(compileTypePattern("**\/create")("com/vmware/vcloud/event/vc/create"), true);
 * assert.throws(() => compileTypePattern("vapp/cre*"), TypeError);
 * ```
 */
export function compileTypePattern(pattern: string): (type: string) => boolean {
  const segments = patternSegments(pattern);
  return (type) => typeof type === "string" && matchSegments(segments, type.split("/"));
}

/**
 * Turns an event type pattern (as for {@linkcode compileTypePattern}) into the topic binding
 * key that selects its notifications: four `*` words for success, entity, org and user, the
 * type's segments with `**` as `#`, and a trailing `#` for the optional task name. The key may
 * also let through a few notifications the pattern rejects (those whose task name happens to
 * complete the pattern), so handlers still filter with the compiled pattern. Throws
 * `TypeError` on a bad pattern.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bindingKeyFor } from "./notification.ts";
 * assert.equal(bindingKeyFor("vapp/*"), "*.*.*.*.com.vmware.vcloud.event.vapp.*.#");
 * assert.equal(bindingKeyFor("com/vmware/vcloud/event/**"), "*.*.*.*.com.vmware.vcloud.event.#");
 * ```
 */
export function bindingKeyFor(pattern: string): string {
  const segments = patternSegments(pattern);
  const words = segments.map((s) => s === "**" ? "#" : s);
  if (segments.at(-1) !== "**") words.push("#");
  return ["*", "*", "*", "*", ...words].join(".");
}

// ---------------------------------------------------------------------------------------------
// Encoding, as a cell does
// ---------------------------------------------------------------------------------------------

/**
 * A notification to encode with {@linkcode encodeNotification}. Ids are URNs; the routing key
 * and headers get their bare ids.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeNotification, type NotificationInput } from "./notification.ts";
 * const input: NotificationInput = {
 *   eventId: "e1",
 *   type: "com/vmware/vcloud/event/vm/delete",
 *   entity: "urn:vcloud:vm:3f2e",
 *   org: "urn:vcloud:org:1a2b",
 *   user: "urn:vcloud:user:8b7a",
 *   operationSuccess: false,
 *   timestamp: "2024-05-14T09:30:12.345+02:00",
 * };
 * assert.equal(encodeNotification(input, "json").routingKey, "false.3f2e.1a2b.8b7a.com.vmware.vcloud.event.vm.delete");
 * ```
 */
export interface NotificationInput {
  /** Unique event id. */
  readonly eventId: string;
  /** Slash form, e.g. `com/vmware/vcloud/event/vapp/create`. */
  readonly type: string;
  /** `urn:vcloud:<kind>:<id>`. */
  readonly entity: string;
  /** `urn:vcloud:org:<id>`. */
  readonly org: string;
  /** `urn:vcloud:user:<id>`. */
  readonly user: string;
  readonly operationSuccess: boolean;
  /** ISO-8601 with offset. */
  readonly timestamp: string;
  /** `urn:vcloud:task:<id>`, for task and blocking-task events. */
  readonly task?: string;
  /** URN of the object the task works on. */
  readonly taskOwner?: string;
  /** The task's operation name, appended to the routing key. */
  readonly taskName?: string;
  /** XML only: the cell's entity resolver, e.g. `https://vcd.example.com/api/entity/`. */
  readonly entityResolver?: string;
}

/**
 * A notification ready to publish.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type NotificationMessage, xmlNotificationExample } from "./notification.ts";
 * const message: NotificationMessage = xmlNotificationExample();
 * assert.equal(message.headers["notification.entityType"], "blockingTask");
 * ```
 */
export interface NotificationMessage {
  readonly routingKey: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Uint8Array;
}

const STRICT_URN = /^urn:vcloud:([A-Za-z][A-Za-z0-9]*):([A-Za-z0-9][A-Za-z0-9_-]*)$/;

function encodeUrn(value: unknown, what: string): { kind: string; id: string } {
  const m = typeof value === "string" ? STRICT_URN.exec(value) : null;
  if (m === null || m[1] === undefined || m[2] === undefined) {
    throw new TypeError(
      `Cannot encode notification: ${what} must be a urn:vcloud:<kind>:<id> URN, got ${
        JSON.stringify(value)
      }`,
    );
  }
  return { kind: m[1], id: m[2] };
}

function checkText(value: unknown, what: string, word = false): string {
  if (typeof value !== "string" || value === "" || (word && /[.*#\s]/.test(value))) {
    throw new TypeError(
      `Cannot encode notification: ${what} must be a non-empty string` +
        (word ? ' without ".", "*", "#" or spaces' : ""),
    );
  }
  return value;
}

/**
 * Encodes a notification exactly as a cell publishes it: routing key
 * `operationSuccess.entity.org.user.type…[.taskName]` with bare ids (§6.2), the
 * `notification.*` headers with bare ids (§6.3), and the body (§6.4): a JSON object with URNs,
 * or the legacy XML `vmext:Notification` with `EntityLink`s. Strict: throws `TypeError` when
 * an id is not a `urn:vcloud:<kind>:<id>` URN, or the type or task name could not travel in a
 * routing key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification, encodeNotification } from "./notification.ts";
 * const input = {
 *   eventId: "e1",
 *   type: "com/vmware/vcloud/event/vapp/create",
 *   entity: "urn:vcloud:vapp:3f2e",
 *   org: "urn:vcloud:org:1a2b",
 *   user: "urn:vcloud:user:8b7a",
 *   operationSuccess: true,
 *   timestamp: "2024-05-14T09:30:12.345+02:00",
 * };
 * const message = encodeNotification(input, "xml");
 * assert.equal(message.headers["notification.entityUUID"], "3f2e");
 * assert.equal(decodeNotification(message).entity, "urn:vcloud:vapp:3f2e");
 * ```
 */
export function encodeNotification(
  event: NotificationInput,
  format: "json" | "xml",
): NotificationMessage {
  if (format !== "json" && format !== "xml") {
    throw new TypeError(`Cannot encode notification: unknown format ${JSON.stringify(format)}`);
  }
  const eventId = checkText(event.eventId, "eventId");
  const type = checkText(event.type, "type");
  const typeWords = type.split("/");
  typeWords.forEach((w) => checkText(w, `every segment of type ${JSON.stringify(type)}`, true));
  if (typeof event.operationSuccess !== "boolean") {
    throw new TypeError("Cannot encode notification: operationSuccess must be a boolean");
  }
  const timestamp = checkText(event.timestamp, "timestamp");
  const entity = encodeUrn(event.entity, "entity");
  const org = encodeUrn(event.org, "org");
  const user = encodeUrn(event.user, "user");
  const task = event.task === undefined ? undefined : encodeUrn(event.task, "task");
  const owner = event.taskOwner === undefined ? undefined : encodeUrn(event.taskOwner, "taskOwner");
  const taskName = event.taskName === undefined
    ? undefined
    : checkText(event.taskName, "taskName", true);

  const success = String(event.operationSuccess);
  const routingKey = [success, entity.id, org.id, user.id, ...typeWords, taskName]
    .filter((w) => w !== undefined).join(".");
  const headers: Record<string, string> = {
    "notification.type": type,
    "notification.entityType": entity.kind,
    "notification.entityUUID": entity.id,
    "notification.orgUUID": org.id,
    "notification.userUUID": user.id,
    "notification.operationSuccess": success,
  };
  if (task !== undefined) headers["notification.taskUUID"] = task.id;

  let body: string;
  if (format === "json") {
    body = JSON.stringify({
      eventId,
      type,
      operationSuccess: event.operationSuccess,
      timestamp,
      user: event.user,
      org: event.org,
      entity: event.entity,
      ...(task === undefined ? {} : { task: event.task }),
      ...(owner === undefined ? {} : { taskOwner: event.taskOwner }),
    });
  } else {
    const isTask = /^(?:task|blockingTask)$/.test(entity.kind);
    const link = (rel: string, urn: string | undefined, kind: string, name?: string) =>
      urn === undefined
        ? null
        : el("vmext:EntityLink", { rel, type: `vcloud:${kind}`, name, id: urn });
    body = renderXml(el(
      "vmext:Notification",
      { "xmlns:vmext": VMEXT, type, eventId },
      event.entityResolver === undefined
        ? null
        : el("vmext:Link", { rel: "entityResolver", href: event.entityResolver }),
      link("entity", event.entity, entity.kind, isTask ? taskName : undefined),
      link("down", event.user, user.kind),
      link("up", event.org, org.kind),
      link("task", event.task, task?.kind ?? "task", taskName),
      link("task:owner", event.taskOwner, owner?.kind ?? ""),
      el("vmext:Timestamp", {}, timestamp),
      el("vmext:OperationSuccess", {}, success),
    ));
  }
  return { routingKey, headers, body: encoder.encode(body) };
}

/** The sample blocking-task event behind the example builders. */
const SAMPLE_EVENT: NotificationInput = {
  eventId: "55aba16e-427c-431a-9949-00db6aa78e5a",
  type: "com/vmware/vcloud/event/blockingtask/create",
  entity: "urn:vcloud:blockingTask:41aaf964-7452-42e6-9b8d-772e5f8421d8",
  org: "urn:vcloud:org:1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
  user: "urn:vcloud:user:8b7a6c5d-0000-4e3f-9a1b-2c3d4e5f6a7b",
  operationSuccess: true,
  timestamp: "2024-05-14T09:30:12.345+02:00",
  task: "urn:vcloud:task:a56be2f7-2cb4-4561-a7ef-ee2fdd2d3a15",
  taskOwner: "urn:vcloud:vapp:26839d04-5050-4702-a602-0667be86dad6",
  taskName: "vdcComposeVapp",
  entityResolver: "https://vcd.example.com/api/entity/",
};

/**
 * Overrides for the example builders; `undefined` removes an optional field.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonNotificationExample, type NotificationOverrides } from "./notification.ts";
 * const noTask: NotificationOverrides = { task: undefined, taskName: undefined };
 * assert.equal(jsonNotificationExample(noTask).headers["notification.taskUUID"], undefined);
 * ```
 */
export type NotificationOverrides = {
  readonly [K in keyof NotificationInput]?: NotificationInput[K] | undefined;
};

function sample(overrides: NotificationOverrides): NotificationInput {
  const merged: Record<string, unknown> = { ...SAMPLE_EVENT };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  return merged as unknown as NotificationInput;
}

/**
 * A JSON notification as a cell publishes it: by default a blocking task created for a
 * `vdcComposeVapp` task; `overrides` change fields (`undefined` removes an optional one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification, jsonNotificationExample } from "./notification.ts";
 * const event = decodeNotification(jsonNotificationExample({ operationSuccess: false }));
 * assert.equal(event.type, "com/vmware/vcloud/event/blockingtask/create");
 * assert.equal(event.taskName, "vdcComposeVapp");
 * assert.equal(event.operationSuccess, false);
 * ```
 */
export function jsonNotificationExample(
  overrides: NotificationOverrides = {},
): NotificationMessage {
  return encodeNotification(sample(overrides), "json");
}

/**
 * The legacy XML form of {@linkcode jsonNotificationExample}, with the same defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeNotification, xmlNotificationExample } from "./notification.ts";
 * const message = xmlNotificationExample({
 *   type: "com/vmware/vcloud/event/vapp/create",
 *   entity: "urn:vcloud:vapp:3f2e",
 *   task: undefined,
 *   taskOwner: undefined,
 *   taskName: undefined,
 * });
 * const event = decodeNotification(message);
 * assert.equal(event.format, "xml");
 * assert.equal(event.entityKind, "vapp");
 * assert.equal(event.task, undefined);
 * ```
 */
export function xmlNotificationExample(overrides: NotificationOverrides = {}): NotificationMessage {
  return encodeNotification(sample(overrides), "xml");
}
