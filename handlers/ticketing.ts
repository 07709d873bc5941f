/**
 * @module The seed document's ticketing extension: an organisation's users file, list, update
 * and delete tickets under `/api/org/{org}/ticketing`, in XML or JSON.
 *
 * A caller may only touch the tickets of its own organisation (`{org}` is the bare UUID of the
 * org in the security context); others get 403. Storage sits behind {@linkcode TicketStore};
 * the default keeps tickets in memory, per process.
 *
 * Bounds, so that no one request and no one tenant can make the example slow or large: the
 * list is paginated the way vCD's query service pages `QueryResultRecords` (`page` from 1,
 * `pageSize` 25 by default and 128 at most, `total`, `Link rel="firstPage|previousPage|
 * nextPage|lastPage"`), and the in-memory store keeps at most 1,000 tickets and 512 KiB of
 * message text per organisation, for at most 128 organisations; past that a POST (or a PUT that
 * grows a message) is answered 409 `CONFLICT`. 409 rather than 507 (a WebDAV code vCD never
 * sends) or 429 (retrying later does not help): the request conflicts with the state of the
 * organisation's tickets, and deleting some resolves it.
 */

import {
  childText,
  defineExtension,
  el,
  type Extension,
  type HandlerContext,
  HttpError,
  quote,
  representation,
  route,
  type XmlNode,
} from "../lib/sdk.ts";
import {
  MemoryTicketStore,
  type Ticket,
  type TicketInput,
  TicketLimitError,
  type TicketStatus,
  type TicketStore,
} from "./ticket_store.ts";

export * from "./ticket_store.ts";

const NS = "urn:example:ticketing";
const STATUSES: readonly TicketStatus[] = ["open", "closed"];

interface Located {
  readonly ticket: Ticket;
  readonly href: string;
}
/** A page link of the list, as vCD's `QueryResultRecords` carry them. */
interface PageLink {
  readonly rel: "firstPage" | "previousPage" | "nextPage" | "lastPage";
  readonly href: string;
}
interface Listing {
  readonly tickets: readonly Located[];
  readonly page: number;
  readonly pageSize: number;
  readonly total: number;
  /** This page's own URL. */
  readonly href: string;
  readonly links: readonly PageLink[];
}

const ticketJson = ({ ticket: t, href }: Located) => ({
  id: t.id,
  org: t.org,
  message: t.message,
  status: t.status,
  created: t.created,
  href,
});

const ticketXml = ({ ticket: t, href }: Located, xmlns?: string) =>
  el(
    "Ticket",
    { xmlns, id: t.id, status: t.status, href },
    el("Message", {}, t.message),
    el("Created", {}, t.created),
  );

const ticketType = representation<Located>({
  base: "application/vnd.example.ticket",
  json: ticketJson,
  xml: (v) => ticketXml(v, NS),
});

const LIST_BASE = "application/vnd.example.tickets";

/** The list in vCD's shapes: XML like `QueryResultRecords`, JSON like its JSON form (`link`). */
const listType = representation<Listing>({
  base: LIST_BASE,
  json: (l) => ({
    page: l.page,
    pageSize: l.pageSize,
    total: l.total,
    href: l.href,
    link: l.links.map((k) => ({ rel: k.rel, href: k.href, type: `${LIST_BASE}+json` })),
    tickets: l.tickets.map(ticketJson),
  }),
  xml: (l) =>
    el(
      "Tickets",
      { xmlns: NS, total: l.total, pageSize: l.pageSize, page: l.page, href: l.href },
      ...l.links.map((k) => el("Link", { rel: k.rel, href: k.href, type: `${LIST_BASE}+xml` })),
      ...l.tickets.map((t) => ticketXml(t)),
    ),
});

/** The list's page size when the client names none, and the most it may ask for. */
export const PAGE_SIZE = { default: 25, max: 128 } as const;

/**
 * A positive decimal integer query parameter, `fallback` when absent. Anything else (empty,
 * signs, exponents, over `max`) is a 400 whose message quotes no client input.
 */
function positiveParam(
  ctx: HandlerContext<string, unknown>,
  name: string,
  fallback: number,
  max: number,
): number {
  const raw = ctx.query.get(name);
  if (raw === null) return fallback;
  const n = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : 0;
  if (n < 1 || n > max) {
    throw new HttpError(400, `${name} must be an integer from 1 to ${max}`);
  }
  return n;
}

/** The links of page `page` of `last` (both from 1); `url(n)` is page n's URL. */
function pageLinks(page: number, last: number, url: (n: number) => string): PageLink[] {
  const links: PageLink[] = [{ rel: "firstPage", href: url(1) }];
  if (page > 1) links.push({ rel: "previousPage", href: url(Math.min(page - 1, last)) });
  if (page < last) links.push({ rel: "nextPage", href: url(page + 1) });
  links.push({ rel: "lastPage", href: url(last) });
  return links;
}

function checkStatus(value: unknown): TicketStatus | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "string" && (STATUSES as readonly string[]).includes(value)) {
    return value as TicketStatus;
  }
  throw new HttpError(400, `status must be one of ${STATUSES.join(", ")}`);
}

function checkMessage(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    throw new HttpError(400, "message must be a non-empty string");
  }
  if (value.length > 4096) throw new HttpError(400, "message is longer than 4096 characters");
  return value;
}

/** Decodes `{"message","status"}` or `<Ticket><Message/><Status/></Ticket>`. */
const ticketInput = {
  json(value: unknown): TicketInput {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new HttpError(400, "The ticket must be a JSON object");
    }
    const v = value as Record<string, unknown>;
    return { message: checkMessage(v.message), status: checkStatus(v.status) };
  },
  xml(root: XmlNode): TicketInput {
    if (root.name !== "Ticket") throw new HttpError(400, "The root element must be Ticket");
    return {
      message: checkMessage(childText(root, "Message")),
      status: checkStatus(childText(root, "Status") ?? root.attrs.status),
    };
  },
};

/** The bare UUID of `urn:vcloud:org:<uuid>` (or of a bare UUID), lower-case. */
function orgId(urnOrId: string): string {
  return urnOrId.replace(/^urn:vcloud:org:/i, "").toLowerCase();
}

/** Checks that the caller belongs to the org in the URL; returns that org id. */
function ownOrg(ctx: HandlerContext<"org", unknown>): string {
  const org = orgId(ctx.params.org);
  if (orgId(ctx.security.org) !== org) {
    throw new HttpError(403, "Tickets of another organisation are not accessible");
  }
  return org;
}

/**
 * The URL of an org's ticket collection, absolute when the `Host` header is a plain host name
 * (at most 261 characters: a 253-character DNS name and a port), else relative. Looked up once
 * per request: headers are found by scanning the envelope, so a per-ticket lookup cost
 * tickets × headers.
 */
function collectionOf(ctx: HandlerContext<string, unknown>, org: string): string {
  const path = `/api/org/${org}/ticketing`;
  const host = ctx.request.headers.get("host");
  return host && host.length <= 261 && /^[A-Za-z0-9.:[\]-]+$/.test(host)
    ? `https://${host}${path}`
    : path;
}

/**
 * Builds the ticketing extension over a store (tests pass their own).
 */
export function ticketing(store: TicketStore = new MemoryTicketStore()): Extension {
  const notFound = (id: string) =>
    new HttpError(404, `No ticket ${quote(id)} in this organisation`);
  const located = (collection: string, ticket: Ticket): Located => ({
    ticket,
    href: `${collection}/${encodeURIComponent(ticket.id)}`,
  });
  const one = (ctx: HandlerContext<string, unknown>, ticket: Ticket): Located =>
    located(collectionOf(ctx, ticket.org), ticket);
  /** The reply naming ticket `{id}` as the store returned it; 404 when it returned none. */
  const found = (ctx: HandlerContext<"id", unknown>, ticket: Ticket | undefined) => {
    if (!ticket) throw notFound(ctx.params.id);
    return { body: one(ctx, ticket) };
  };
  /** Runs a store call; its refusal to grow (thrown or rejected) becomes a 409. */
  const bounded = async <T>(op: () => Promise<T>): Promise<T> => {
    try {
      return await op();
    } catch (e) {
      if (e instanceof TicketLimitError) throw new HttpError(409, e.message);
      throw e;
    }
  };
  return defineExtension({
    name: "gcp-ticketing",
    namespace: "com.example.ticketing",
    routingKey: "gcp-ticketing",
    vendor: "example",
    version: "1.0.0",
    description: "Ticketing extension: an organisation's support tickets",
    routes: [
      route({
        method: "GET",
        path: "/api/org/{org}/ticketing",
        produces: listType,
        async handle(ctx) {
          const org = ownOrg(ctx);
          const status = checkStatus(ctx.query.get("status") ?? undefined);
          const page = positiveParam(ctx, "page", 1, 999_999_999);
          const pageSize = positiveParam(ctx, "pageSize", PAGE_SIZE.default, PAGE_SIZE.max);
          const found = await store.list(org, {
            status,
            offset: (page - 1) * pageSize,
            limit: pageSize,
          });
          const collection = collectionOf(ctx, org);
          const filter = status === undefined ? "" : `&status=${status}`;
          const url = (n: number) => `${collection}?page=${n}&pageSize=${pageSize}${filter}`;
          const last = Math.max(1, Math.ceil(found.total / pageSize));
          return {
            body: {
              tickets: found.tickets.map((t) => located(collection, t)),
              page,
              pageSize,
              total: found.total,
              href: url(page),
              links: pageLinks(page, last, url),
            },
          };
        },
      }),
      route({
        method: "POST",
        path: "/api/org/{org}/ticketing",
        produces: ticketType,
        consumes: ticketInput,
        async handle(ctx) {
          const org = ownOrg(ctx);
          if (ctx.body.message === undefined) throw new HttpError(400, "message is required");
          const message = ctx.body.message;
          const status = ctx.body.status ?? "open";
          const ticket = await bounded(() => store.create(org, { message, status }));
          const body = one(ctx, ticket);
          return { status: 201, body, headers: { Location: body.href } };
        },
      }),
      route({
        method: "GET",
        path: "/api/org/{org}/ticketing/{id}",
        produces: ticketType,
        async handle(ctx) {
          return found(ctx, await store.get(ownOrg(ctx), ctx.params.id));
        },
      }),
      route({
        method: "PUT",
        path: "/api/org/{org}/ticketing/{id}",
        produces: ticketType,
        consumes: ticketInput,
        async handle(ctx) {
          const org = ownOrg(ctx);
          return found(ctx, await bounded(() => store.update(org, ctx.params.id, ctx.body)));
        },
      }),
      route({
        method: "DELETE",
        path: "/api/org/{org}/ticketing/{id}",
        produces: ticketType,
        async handle(ctx) {
          if (!(await store.delete(ownOrg(ctx), ctx.params.id))) throw notFound(ctx.params.id);
          return { status: 204 };
        },
      }),
    ],
  });
}

export default ticketing();
