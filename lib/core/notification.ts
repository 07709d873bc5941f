/**
 * @module vCD notifications (wire-format doc, section 6): decodes what a cell publishes (JSON on
 * `vcd.notifications20`, legacy XML on the system exchange) into one event shape, matches event
 * types against patterns and turns patterns into topic binding keys. Lenient in what it
 * accepts. Pure: no network, clock, environment or files. Routing keys and headers are read in
 * notification_fields.ts, patterns in notification_types.ts (both re-exported here); encoding
 * as a cell does is the simulator's (lib/sim/notifications.ts).
 */

import { parseJson } from "./envelope.ts";
import { isRecord, type Json, own } from "./json.ts";
import {
  bareId,
  bool,
  decodeHeaders,
  decodeRoutingKey,
  normalizeType,
  text,
  urnKind,
} from "./notification_fields.ts";
import { child, childrenNamed, childText, parseXml, type XmlNode } from "./xml.ts";

export {
  decodeHeaders,
  decodeRoutingKey,
  type NotificationHeaders,
  type RoutingKeyParts,
} from "./notification_fields.ts";
export { bindingKeyFor, compileTypePattern } from "./notification_types.ts";

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
 * import { decodeNotification, type NotificationEvent } from "./notification.ts";
 * const body = new TextEncoder().encode(JSON.stringify({
 *   eventId: "e1",
 *   type: "com/vmware/vcloud/event/blockingtask/create",
 *   entity: "urn:vcloud:blockingTask:41aa",
 * }));
 * const event: NotificationEvent = decodeNotification({ body, routingKey: "", headers: {} });
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

/** What `read` finds in `body` once `parse` has parsed it; nothing when it does not parse. */
function readBody<T>(
  body: string,
  parse: (body: string) => T,
  read: (parsed: T) => BodyFacts,
): BodyFacts {
  let parsed: T;
  try {
    parsed = parse(body);
  } catch {
    return NOTHING;
  }
  return read(parsed);
}

function jsonFacts(raw: unknown): BodyFacts {
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

function xmlFacts(root: XmlNode): BodyFacts {
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
 * A notification as it comes off the broker (the simulator's `NotificationMessage` is one too).
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
  const body = format === "xml"
    ? readBody(raw, parseXml, xmlFacts)
    : readBody(raw, parseJson, jsonFacts);
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
