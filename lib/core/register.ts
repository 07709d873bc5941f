/**
 * @module Registering an extension in vCD (wire format, section 8): the Java regexes of its API
 * filters, the `vmext:Service` document to `POST /api/admin/extension/service`, and readers
 * for what vCD answers (service lists, `Link` elements). Pure: the caller does the HTTP.
 */

import type { Extension } from "./extension.ts";
import { DEFAULT_VENDOR, VCLOUD_NS, VMEXT_NS } from "./vcloud.ts";
import { el, parseXml, renderXml, type XmlElement, type XmlNode } from "./xml.ts";

/** Media type of the `vmext:Service` document, for `Content-Type` and `Accept`. */
export const SERVICE_MEDIA_TYPE = "application/vnd.vmware.admin.service+xml";

/** A whole-segment parameter, exactly as the router recognises one. */
const PARAM = /^\{.+\}$/;
/** Characters that are special in a java.util.regex (and JS) pattern outside a class. */
const META = /[\\^$.|?*+()[\]{}]/g;

/**
 * The Java regex (java.util.regex, full-match semantics as vCD applies it with
 * `Matcher.matches()`) that matches exactly the request paths the router sends to `template`:
 * each literal segment with its metacharacters escaped (`.` becomes `\.`), each `{param}`
 * segment `[^/]+` (one non-empty segment), and an optional trailing `/?` because the router
 * ignores one trailing slash. The pattern uses only literals, `\`-escapes of metacharacters,
 * `[^/]+` and `/?`, which mean the same in Java and JavaScript. The one difference from the
 * router: a parameter that is not valid percent-encoding (`%zz`) passes the filter and is
 * answered 404 by the router. Throws `TypeError` when the template does not start with `/`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { urlPattern } from "./register.ts";
 * const p = urlPattern("/api/org/{org}/ticketing/{id}");
 * assert.equal(p, "/api/org/[^/]+/ticketing/[^/]+/?");
 * const full = new RegExp(`^(?:${p})$`);
 * assert.ok(full.test("/api/org/o1/ticketing/42"));
 * assert.ok(full.test("/api/org/o1/ticketing/42/"));
 * assert.ok(!full.test("/api/org/o1/ticketing/42/extra"));
 * assert.equal(urlPattern("/api/v1.0/x"), "/api/v1\\.0/x/?");
 * ```
 */
export function urlPattern(template: string): string {
  if (!template.startsWith("/")) {
    throw new TypeError(
      `Cannot build a URL pattern: ${JSON.stringify(template)} must start with /`,
    );
  }
  // The router's splitPath: one trailing slash is ignored, then "/"-separated segments.
  const trimmed = template.length > 1 && template.endsWith("/") ? template.slice(0, -1) : template;
  const segments = trimmed.split("/").slice(1);
  const body = segments.map((s) => (PARAM.test(s) ? "[^/]+" : s.replace(META, "\\$&")));
  return `/${body.join("/")}/?`;
}

/**
 * The API filter patterns of an extension: one {@linkcode urlPattern} per distinct path
 * template, in the order the routes declare them. Methods play no part (vCD filters by path
 * only), and templates that differ only in parameter names share one pattern.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { apiFilters } from "./register.ts";
 * const ext = { name: "t", namespace: "t", routingKey: "t", routes: [
 *   { method: "GET", path: "/api/t/{id}", handle: () => ({}) },
 *   { method: "PUT", path: "/api/t/{key}", handle: () => ({}) },
 *   { method: "GET", path: "/api/t", handle: () => ({}) },
 * ] } as const;
 * assert.deepEqual(apiFilters(ext), ["/api/t/[^/]+/?", "/api/t/?"]);
 * ```
 */
export function apiFilters(extension: Pick<Extension, "routes">): string[] {
  return [...new Set(extension.routes.map((r) => urlPattern(r.path)))];
}

/** Options of {@linkcode serviceDocument}; every default is listed. */
export interface ServiceOptions {
  /** The direct exchange vCD publishes requests to, e.g. `vcdext`. Required. */
  readonly exchange: string;
  /** Routing key; default the extension's `routingKey`. */
  readonly routingKey?: string;
  /** Whether vCD forwards requests; default true. */
  readonly enabled?: boolean;
  /** Whether vCD checks the service's rights before forwarding; default false. */
  readonly authorizationEnabled?: boolean;
  /** Priority among services whose filters match the same path; an integer, default 50. */
  readonly priority?: number;
  /** Description; default the extension's `description`, else its name. */
  readonly description?: string;
}

/**
 * The `vmext:Service` registration document for an extension, children in schema order:
 * `Description`, `Namespace`, `Enabled`, `AuthorizationEnabled`, `RoutingKey`, `Priority`,
 * `Exchange`, `Vendor` (the extension's `vendor`, default `vcdext`), `ApiFilters` (from
 * {@linkcode apiFilters}). Also used, with `enabled: false`, as the body of the PUT that
 * disables a service before its DELETE. Throws `TypeError` for an empty exchange and
 * `RangeError` for a priority that is not an integer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serviceDocument } from "./register.ts";
 * const ext = { name: "t", namespace: "com.example.t", routingKey: "t", routes: [] };
 * const doc = serviceDocument(ext, { exchange: "vcdext" });
 * assert.equal(doc.name, "vmext:Service");
 * assert.equal(doc.attrs?.name, "t");
 * assert.deepEqual(
 *   doc.children?.map((c) => typeof c === "object" && c !== null ? c.name : c),
 *   ["Description", "vmext:Namespace", "vmext:Enabled", "vmext:AuthorizationEnabled",
 *     "vmext:RoutingKey", "vmext:Priority", "vmext:Exchange", "vmext:Vendor", "vmext:ApiFilters"],
 * );
 * ```
 */
export function serviceDocument(
  extension: Pick<
    Extension,
    "name" | "namespace" | "routingKey" | "vendor" | "description" | "routes"
  >,
  options: ServiceOptions,
): XmlElement {
  if (options.exchange.trim() === "") {
    throw new TypeError("Cannot build the service document: exchange is empty");
  }
  const priority = options.priority ?? 50;
  if (!Number.isSafeInteger(priority)) {
    throw new RangeError(
      `Cannot build the service document: priority ${priority} is not an integer`,
    );
  }
  const x = (name: string, value: string | number | boolean) => el(`vmext:${name}`, {}, value);
  return el(
    "vmext:Service",
    { xmlns: VCLOUD_NS, "xmlns:vmext": VMEXT_NS, name: extension.name },
    el("Description", {}, options.description ?? extension.description ?? extension.name),
    x("Namespace", extension.namespace),
    x("Enabled", options.enabled ?? true),
    x("AuthorizationEnabled", options.authorizationEnabled ?? false),
    x("RoutingKey", options.routingKey ?? extension.routingKey),
    x("Priority", priority),
    x("Exchange", options.exchange),
    x("Vendor", extension.vendor ?? DEFAULT_VENDOR),
    el(
      "vmext:ApiFilters",
      {},
      ...apiFilters(extension).map((p) => el("vmext:ApiFilter", {}, x("UrlPattern", p))),
    ),
  );
}

/**
 * {@linkcode serviceDocument} rendered as an XML document, ready to send with
 * {@linkcode SERVICE_MEDIA_TYPE}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { renderServiceDocument } from "./register.ts";
 * const ext = { name: "t", namespace: "t", routingKey: "t", routes: [] };
 * const xml = renderServiceDocument(ext, { exchange: "vcdext", enabled: false });
 * assert.match(xml, /<vmext:Enabled>false<\/vmext:Enabled>/);
 * assert.match(xml, /<vmext:ApiFilters\/><\/vmext:Service>$/);
 * ```
 */
export function renderServiceDocument(
  ...args: Parameters<typeof serviceDocument>
): string {
  return renderXml(serviceDocument(...args));
}

/** A `Link` element of a vCloud document. */
export interface Link {
  readonly rel: string;
  readonly href: string;
  readonly type?: string;
}

/**
 * The `Link` children of an element (any namespace, so vCloud and extension documents alike),
 * in document order. Links without `href` are skipped; a missing `rel` reads as `""`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linksOf } from "./register.ts";
 * import { parseXml } from "./xml.ts";
 * const doc = parseXml('<S><Link rel="rights" href="https://c/api/s/1/rights"/>' +
 *   '<Link rel="edit" href="https://c/api/s/1" type="application/x"/><Link rel="x"/></S>');
 * assert.deepEqual(linksOf(doc), [
 *   { rel: "rights", href: "https://c/api/s/1/rights" },
 *   { rel: "edit", href: "https://c/api/s/1", type: "application/x" },
 * ]);
 * ```
 */
export function linksOf(node: XmlNode): Link[] {
  const links: Link[] = [];
  for (const c of node.children) {
    const { rel = "", href, type } = c.attrs;
    if (c.name !== "Link" || href === undefined) continue;
    links.push(type === undefined ? { rel, href } : { rel, href, type });
  }
  return links;
}

/**
 * The `href` of the first `Link` with this `rel` (and, when given, this media type), or
 * `undefined`: e.g. `rights`, `edit` or `remove` of a service.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { linkHref } from "./register.ts";
 * import { parseXml } from "./xml.ts";
 * const doc = parseXml('<S><Link rel="remove" href="https://c/api/s/1"/></S>');
 * assert.equal(linkHref(doc, "remove"), "https://c/api/s/1");
 * assert.equal(linkHref(doc, "rights"), undefined);
 * ```
 */
export function linkHref(node: XmlNode, rel: string, type?: string): string | undefined {
  return linksOf(node).find((l) => l.rel === rel && (type === undefined || l.type === type))
    ?.href;
}

/**
 * The `href` attribute of a service document as vCD returns it (`vmext:Service`), or
 * `undefined` when it has none (a document we built ourselves).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serviceHref } from "./register.ts";
 * import { parseXml } from "./xml.ts";
 * const doc = parseXml('<vmext:Service xmlns:vmext="http://www.vmware.com/vcloud/extension/v1.5"' +
 *   ' name="t" href="https://c/api/admin/extension/service/1"/>');
 * assert.equal(serviceHref(doc), "https://c/api/admin/extension/service/1");
 * ```
 */
export function serviceHref(node: XmlNode): string | undefined {
  return node.attrs.href;
}

/** One registered service, as a service query lists it. */
export interface ServiceRecord {
  readonly name: string;
  readonly href: string;
  readonly namespace?: string;
  readonly vendor?: string;
  readonly enabled?: boolean;
}

/**
 * Reads the services listed by a vCD query (`QueryResultRecords` of `AdminServiceRecord`,
 * `QueryResultReferences` of `AdminServiceReference`) or any element whose children are
 * `vmext:Service` elements. Lenient, since the exact shape is inferred: every child element
 * named `Service` or ending in `Record` or `Reference` that has a `name` and an `href` is one
 * service; `Link` elements (e.g. `nextPage`, read them with {@linkcode linksOf}) and anything
 * else are ignored. Throws `XmlError` when `xml` is a string that does not parse.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseServiceList } from "./register.ts";
 * const xml = '<QueryResultRecords xmlns="http://www.vmware.com/vcloud/v1.5">' +
 *   '<Link rel="nextPage" href="https://c/api/query?page=2"/>' +
 *   '<AdminServiceRecord name="gcp-ticketing" namespace="com.example.ticketing" vendor="example"' +
 *   ' enabled="true" href="https://c/api/admin/extension/service/1"/></QueryResultRecords>';
 * assert.deepEqual(parseServiceList(xml), [{
 *   name: "gcp-ticketing",
 *   href: "https://c/api/admin/extension/service/1",
 *   namespace: "com.example.ticketing",
 *   vendor: "example",
 *   enabled: true,
 * }]);
 * ```
 */
export function parseServiceList(xml: string | XmlNode): ServiceRecord[] {
  const root = typeof xml === "string" ? parseXml(xml) : xml;
  const services: ServiceRecord[] = [];
  for (const c of root.children) {
    if (!/^Service$|Record$|Reference$/.test(c.name)) continue;
    const { name, href } = c.attrs;
    if (name === undefined || href === undefined) continue;
    // A record carries attributes (`namespace="…"`), a Service document child elements.
    const field = (attr: string, element: string) =>
      c.attrs[attr] ?? c.children.find((e) => e.name === element)?.text.trim();
    const namespace = field("namespace", "Namespace");
    const vendor = field("vendor", "Vendor");
    const enabled = field("enabled", "Enabled")?.trim();
    services.push({
      name,
      href,
      ...(namespace !== undefined ? { namespace } : {}),
      ...(vendor !== undefined ? { vendor } : {}),
      ...(enabled === "true" || enabled === "false" ? { enabled: enabled === "true" } : {}),
    });
  }
  return services;
}
