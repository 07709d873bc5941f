/**
 * @module What the loaded extensions declare, for `vcdext routes`: per extension its queue and
 * routing key, its MQTT triplet and topics, each route with the media types it produces, the vCD API filters derived from
 * the route templates, notification subscriptions with their topic binding keys, and
 * blocking-task operations. {@linkcode inventoryJson} gives it as data (`--json`),
 * {@linkcode describeExtensions} as a text table. Pure.
 */

import { BLOCKING_TASK_CREATE } from "../core/events.ts";
import { type AnyRoute, type Extension, type Subscription, tripletOf } from "../core/extension.ts";
import type { Format } from "../core/negotiate.ts";
import { bindingKeyFor } from "../core/notification.ts";
import { apiFilters, urlPattern } from "../core/register.ts";
import { monitorTopic, parseTriplet, respondTopic } from "../transport/mqtt/topics.ts";

/** Options of {@linkcode inventoryJson} and {@linkcode describeExtensions}. */
export interface InventoryOptions {
  /** The direct exchange vCD publishes API requests to, e.g. `vcdext`. */
  readonly exchange: string;
  /** The topic exchange of notifications; omitted or `""`: notifications are not consumed. */
  readonly notificationsExchange?: string;
  /** The shared notifications queue; default `vcdext.notifications`. */
  readonly notificationsQueue?: string;
}

/** One route of an extension. */
export interface RouteInventory {
  readonly method: string;
  /** The path template, e.g. `/api/org/{org}/ticketing/{id}`. */
  readonly path: string;
  /** Media types it can answer with, the default first (`application/json` without `produces`). */
  readonly produces: string[];
  /** Request entity formats it decodes (`json`, `xml`), empty when it reads no entity. */
  readonly consumes: Format[];
  /** How many rights the caller must hold. */
  readonly rights: number;
  /** The vCD API filter (`UrlPattern`) that matches this template. */
  readonly filter: string;
}

/** One notification subscription. */
export interface SubscriptionInventory {
  /** Event type patterns as declared, e.g. `vapp/create`. */
  readonly types: string[];
  /** Filters besides the type (`operationSuccess`, `entityKind`), only those declared. */
  readonly filters: { readonly operationSuccess?: boolean; readonly entityKind?: string };
  /** Topic binding keys on the notifications exchange, one per type pattern. */
  readonly bindingKeys: string[];
}

/** One blocking-task rule. */
export interface BlockingInventory {
  /** The blocked operations it decides, e.g. `vdcComposeVapp`. */
  readonly operations: string[];
  /** The binding key of the event that announces a blocking task. */
  readonly bindingKey: string;
}

/** What one extension declares. */
export interface ExtensionInventory {
  readonly name: string;
  readonly namespace: string;
  readonly vendor?: string;
  readonly description?: string;
  /** The routing key of API requests (vCD's `RoutingKey`). */
  readonly routingKey: string;
  /** The request queue (the routing key), or `null` without routes (no request consumer). */
  readonly queue: string | null;
  /** Whether `vcdext register` registers it in vCD: only extensions with routes. */
  readonly registered: boolean;
  /** `vendor/name/version`: over MQTT its broker user name and vCD id. */
  readonly triplet: string;
  /** Its MQTT topics (requests in on `monitor`, replies out on `respond`); `null` without routes. */
  readonly mqttTopics: { readonly monitor: string; readonly respond: string } | null;
  readonly routes: RouteInventory[];
  /** The distinct API filters, as registered (`ApiFilters/UrlPattern`). */
  readonly apiFilters: string[];
  readonly notifications: SubscriptionInventory[];
  readonly blockingTasks: BlockingInventory[];
}

/** The whole inventory, as `vcdext routes --json` prints it. */
export interface Inventory {
  /** The request exchange. */
  readonly exchange: string;
  /** The notifications exchange, or `null` when notifications are not consumed. */
  readonly notificationsExchange: string | null;
  /** The shared notifications queue. */
  readonly notificationsQueue: string;
  readonly extensions: ExtensionInventory[];
}

const DEFAULT_NOTIFICATIONS_QUEUE = "vcdext.notifications";
const FORMATS: readonly Format[] = ["xml", "json"];

const list = <T>(v: T | readonly T[]): T[] => (Array.isArray(v) ? [...v] : [v as T]);

/** Media types a route answers with, in its order of preference. */
function producedTypes(route: AnyRoute): string[] {
  const rep = route.produces;
  if (rep === undefined) return ["application/json"];
  const formats = rep.formats ?? FORMATS.filter((f) => rep[f] !== undefined);
  return formats.map((f) => rep.base === undefined ? `application/${f}` : `${rep.base}+${f}`);
}

function subscription(sub: Subscription): SubscriptionInventory {
  const types = list(sub.type);
  return {
    types,
    filters: {
      ...(sub.operationSuccess === undefined ? {} : { operationSuccess: sub.operationSuccess }),
      ...(sub.entityKind === undefined ? {} : { entityKind: sub.entityKind }),
    },
    bindingKeys: types.map(bindingKeyFor),
  };
}

/**
 * The inventory of the extensions as plain, JSON-serialisable data.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { inventoryJson } from "./inventory.ts";
 * const ext = { name: "t", namespace: "com.example.t", routingKey: "t", routes: [
 *   { method: "GET", path: "/api/t/{id}", handle: () => ({}) },
 * ] } as const;
 * const inv = inventoryJson([ext], { exchange: "vcdext" });
 * assert.equal(inv.notificationsExchange, null);
 * assert.deepEqual(inv.extensions[0]?.routes, [{
 *   method: "GET",
 *   path: "/api/t/{id}",
 *   produces: ["application/json"],
 *   consumes: [],
 *   rights: 0,
 *   filter: "/api/t/[^/]+/?",
 * }]);
 * assert.equal(inv.extensions[0]?.queue, "t");
 * ```
 */
export function inventoryJson(
  extensions: readonly Extension[],
  options: InventoryOptions,
): Inventory {
  return {
    exchange: options.exchange,
    notificationsExchange: options.notificationsExchange || null,
    notificationsQueue: options.notificationsQueue ?? DEFAULT_NOTIFICATIONS_QUEUE,
    extensions: extensions.map((ext) => {
      const hasRoutes = ext.routes.length > 0;
      const triplet = tripletOf(ext);
      const t = parseTriplet(triplet);
      return {
        name: ext.name,
        namespace: ext.namespace,
        ...(ext.vendor === undefined ? {} : { vendor: ext.vendor }),
        ...(ext.description === undefined ? {} : { description: ext.description }),
        routingKey: ext.routingKey,
        queue: hasRoutes ? ext.routingKey : null,
        registered: hasRoutes,
        triplet,
        mqttTopics: hasRoutes ? { monitor: monitorTopic(t), respond: respondTopic(t) } : null,
        routes: ext.routes.map((r) => ({
          method: r.method,
          path: r.path,
          produces: producedTypes(r),
          consumes: FORMATS.filter((f) => r.consumes?.[f] !== undefined),
          rights: r.rights?.length ?? 0,
          filter: urlPattern(r.path),
        })),
        apiFilters: apiFilters(ext),
        notifications: (ext.notifications ?? []).map(subscription),
        blockingTasks: (ext.blockingTasks ?? []).map((rule) => ({
          operations: list(rule.operation),
          bindingKey: bindingKeyFor(BLOCKING_TASK_CREATE),
        })),
      };
    }),
  };
}

/** `base+xml|+json` for one vendor base, else the types joined with `|`. */
function compactTypes(types: readonly string[]): string {
  const suffixed = types.map((t) => /^(.*)\+(xml|json)$/.exec(t));
  const base = suffixed[0]?.[1];
  if (base !== undefined && suffixed.every((m) => m?.[1] === base)) {
    return `${base}${suffixed.map((m) => `+${m![2]}`).join("|")}`;
  }
  const plain = types.map((t) => /^application\/(xml|json)$/.exec(t)?.[1]);
  if (plain.every((p) => p !== undefined)) return `application/${plain.join("|")}`;
  return types.join("|");
}

/** Left-aligned columns separated by two spaces, each line indented. */
function table(rows: readonly (readonly string[])[], indent: string): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  }
  return rows.map((row) =>
    indent + row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ")
  );
}

/**
 * The inventory as a text table for `vcdext routes`: a block per extension with its
 * namespace, requests (exchange, routing key, queue), routes (method, path template, produced
 * media types, rights count), the derived vCD API filters, notification subscriptions (types,
 * filters, binding keys) and blocking-task operations. Ends with a newline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeExtensions } from "./inventory.ts";
 * const ext = { name: "t", namespace: "com.example.t", routingKey: "t", routes: [
 *   { method: "GET", path: "/api/t/{id}", handle: () => ({}) },
 * ] } as const;
 * const text = describeExtensions([ext], { exchange: "vcdext" });
 * assert.match(text, /GET +\/api\/t\/\{id\} +application\/json +0/);
 * assert.match(text, /\/api\/t\/\[\^\/\]\+\/\?/);
 * ```
 */
export function describeExtensions(
  extensions: readonly Extension[],
  options: InventoryOptions,
): string {
  const inv = inventoryJson(extensions, options);
  if (inv.extensions.length === 0) return "no extensions loaded\n";
  const out: string[] = [];
  for (const ext of inv.extensions) {
    if (out.length > 0) out.push("");
    out.push(ext.description === undefined ? ext.name : `${ext.name}: ${ext.description}`);
    const head: string[][] = [["namespace", ext.namespace]];
    if (ext.vendor !== undefined) head.push(["vendor", ext.vendor]);
    head.push([
      "requests",
      ext.queue === null
        ? "none (no routes: not registered in vCD, no request queue)"
        : `exchange ${inv.exchange} (direct), routing key ${ext.routingKey}, queue ${ext.queue}`,
    ]);
    head.push([
      "mqtt",
      ext.mqttTopics === null
        ? `triplet ${ext.triplet} (no routes: no topics)`
        : `triplet ${ext.triplet}, monitor ${ext.mqttTopics.monitor}, respond ${ext.mqttTopics.respond}`,
    ]);
    out.push(...table(head, "  "));
    if (ext.routes.length > 0) {
      out.push("  routes:");
      out.push(...table([
        ["METHOD", "PATH", "PRODUCES", "RIGHTS"],
        ...ext.routes.map((r) => [r.method, r.path, compactTypes(r.produces), String(r.rights)]),
      ], "    "));
      out.push("  vCD API filters (UrlPattern):");
      out.push(...ext.apiFilters.map((f) => `    ${f}`));
    }
    if (ext.notifications.length > 0) {
      out.push(
        inv.notificationsExchange === null
          ? "  notifications (not consumed: no notifications exchange):"
          : `  notifications (exchange ${inv.notificationsExchange}, queue ${inv.notificationsQueue}):`,
      );
      const rows = [["TYPE", "FILTERS", "BINDING KEY"]];
      for (const sub of ext.notifications) {
        const f = sub.filters;
        const filters = [
          f.operationSuccess === undefined ? "" : `operationSuccess=${f.operationSuccess}`,
          f.entityKind === undefined ? "" : `entityKind=${f.entityKind}`,
        ].filter((s) => s !== "").join(", ") || "-";
        sub.types.forEach((t, i) => rows.push([t, filters, sub.bindingKeys[i]!]));
      }
      out.push(...table(rows, "    "));
    }
    if (ext.blockingTasks.length > 0) {
      out.push("  blocking tasks (decided through the vCD REST API):");
      out.push(...table([
        ["OPERATION", "BINDING KEY"],
        ...ext.blockingTasks.flatMap((b) => b.operations.map((o) => [o, b.bindingKey])),
      ], "    "));
    }
  }
  return `${out.join("\n")}\n`;
}
