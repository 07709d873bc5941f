/**
 * @module What a notification's routing key and `notification.*` headers say (wire-format doc,
 * sections 6.2 and 6.3), and the lenient readers the decoder (notification.ts) reads every
 * field with. Import it from notification.ts, which re-exports it.
 */

import { isRecord, type Json } from "./json.ts";

const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// Small lenient readers (objects and own fields: json.ts)
// ---------------------------------------------------------------------------------------------

/** A header or field value as text: strings, AMQP longstr bytes, numbers; `""` is none. */
export function text(value: unknown): string | undefined {
  let s: string | undefined;
  if (typeof value === "string") s = value;
  else if (value instanceof Uint8Array) s = decoder.decode(value);
  else if (typeof value === "number" && Number.isFinite(value)) s = String(value);
  else if (typeof value === "bigint") s = String(value);
  s = s?.trim();
  return s === "" ? undefined : s;
}

/** `true`, `"true"` in any case (also as bytes), `1`; the same for false; else `undefined`. */
export function bool(value: unknown): boolean | undefined {
  if (typeof value === "boolean") return value;
  if (value === 1 || value === 0) return value === 1;
  const s = typeof value === "number" ? undefined : text(value)?.toLowerCase();
  return s === "true" ? true : s === "false" ? false : undefined;
}

/** An event type in slash form; a dotted type with no slash is converted. */
export function normalizeType(value: unknown): string | undefined {
  const s = text(value);
  if (s === undefined) return undefined;
  return !s.includes("/") && s.includes(".") ? s.replaceAll(".", "/") : s;
}

const URN = /^urn:vcloud:([^:]*):(.*)$/i;

/** The kind in `urn:vcloud:<kind>:<id>`, or `undefined` for anything else. */
export function urnKind(value: string): string | undefined {
  const kind = URN.exec(value)?.[1];
  return kind === "" ? undefined : kind;
}

/** The id in `urn:vcloud:<kind>:<id>`, or the value itself when it is not such a URN. */
export function bareId(value: string): string {
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
