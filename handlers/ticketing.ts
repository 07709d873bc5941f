/**
 * @module The seed document's ticketing extension: an organisation's users file, list, update
 * and delete tickets under `/api/org/{org}/ticketing`, in XML or JSON.
 *
 * A caller may only touch the tickets of its own organisation (`{org}` is the bare UUID of the
 * org in the security context); others get 403. Storage sits behind {@linkcode TicketStore};
 * the default keeps tickets in memory, per process.
 */

import {
  defineExtension,
  type Extension,
  type HandlerContext,
  representation,
  route,
} from "../lib/extension.ts";
import { HttpError } from "../lib/errors.ts";
import { quote } from "../lib/redact.ts";
import { childText, el, type XmlNode } from "../lib/xml.ts";

/** A ticket's state. */
export type TicketStatus = "open" | "closed";

/** A stored ticket. */
export interface Ticket {
  readonly id: string;
  /** Bare UUID of the owning organisation. */
  readonly org: string;
  readonly message: string;
  readonly status: TicketStatus;
  /** ISO-8601 creation time. */
  readonly created: string;
}

/** Where tickets live. Implementations may be asynchronous. */
export interface TicketStore {
  list(org: string): Promise<Ticket[]>;
  get(org: string, id: string): Promise<Ticket | undefined>;
  create(org: string, fields: { message: string; status: TicketStatus }): Promise<Ticket>;
  update(org: string, id: string, fields: TicketInput): Promise<Ticket | undefined>;
  delete(org: string, id: string): Promise<boolean>;
}

/** Fields a client sends. */
export interface TicketInput {
  readonly message?: string | undefined;
  readonly status?: TicketStatus | undefined;
}

/** An in-memory {@linkcode TicketStore}; ids are sequential numbers per process. */
export class MemoryTicketStore implements TicketStore {
  readonly #tickets = new Map<string, Ticket>();
  #next = 1;
  readonly #now: () => Date;

  constructor(now: () => Date = () => new Date()) {
    this.#now = now;
  }

  list(org: string): Promise<Ticket[]> {
    return Promise.resolve([...this.#tickets.values()].filter((t) => t.org === org));
  }

  get(org: string, id: string): Promise<Ticket | undefined> {
    const t = this.#tickets.get(id);
    return Promise.resolve(t?.org === org ? t : undefined);
  }

  create(org: string, fields: { message: string; status: TicketStatus }): Promise<Ticket> {
    const ticket = { id: String(this.#next++), org, ...fields, created: this.#now().toISOString() };
    this.#tickets.set(ticket.id, ticket);
    return Promise.resolve(ticket);
  }

  async update(org: string, id: string, fields: TicketInput): Promise<Ticket | undefined> {
    const t = await this.get(org, id);
    if (!t) return undefined;
    const updated = {
      ...t,
      message: fields.message ?? t.message,
      status: fields.status ?? t.status,
    };
    this.#tickets.set(id, updated);
    return updated;
  }

  async delete(org: string, id: string): Promise<boolean> {
    return (await this.get(org, id)) !== undefined && this.#tickets.delete(id);
  }
}

const NS = "urn:example:ticketing";
const STATUSES: readonly TicketStatus[] = ["open", "closed"];

interface Located {
  readonly ticket: Ticket;
  readonly href: string;
}
interface Listing {
  readonly tickets: readonly Located[];
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

const listType = representation<Listing>({
  base: "application/vnd.example.tickets",
  json: (l) => ({ tickets: l.tickets.map(ticketJson), total: l.tickets.length }),
  xml: (l) =>
    el("Tickets", { xmlns: NS, total: l.tickets.length }, ...l.tickets.map((t) => ticketXml(t))),
});

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

function hrefOf(ctx: HandlerContext<string, unknown>, org: string, id: string): string {
  const path = `/api/org/${org}/ticketing/${encodeURIComponent(id)}`;
  const host = ctx.request.headers.get("host");
  return host && /^[A-Za-z0-9.:[\]-]+$/.test(host) ? `https://${host}${path}` : path;
}

/**
 * Builds the ticketing extension over a store (tests pass their own).
 */
export function ticketing(store: TicketStore = new MemoryTicketStore()): Extension {
  const notFound = (id: string) =>
    new HttpError(404, `No ticket ${quote(id)} in this organisation`);
  const located = (ctx: HandlerContext<string, unknown>, ticket: Ticket): Located => ({
    ticket,
    href: hrefOf(ctx, ticket.org, ticket.id),
  });
  return defineExtension({
    name: "gcp-ticketing",
    namespace: "com.example.ticketing",
    routingKey: "gcp-ticketing",
    vendor: "example",
    description: "Ticketing extension: an organisation's support tickets",
    routes: [
      route({
        method: "GET",
        path: "/api/org/{org}/ticketing",
        produces: listType,
        async handle(ctx) {
          const org = ownOrg(ctx);
          const status = checkStatus(ctx.query.get("status") ?? undefined);
          const all = await store.list(org);
          const tickets = all.filter((t) => !status || t.status === status);
          return { body: { tickets: tickets.map((t) => located(ctx, t)) } };
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
          const ticket = await store.create(org, {
            message: ctx.body.message,
            status: ctx.body.status ?? "open",
          });
          const body = located(ctx, ticket);
          return { status: 201, body, headers: { Location: body.href } };
        },
      }),
      route({
        method: "GET",
        path: "/api/org/{org}/ticketing/{id}",
        produces: ticketType,
        async handle(ctx) {
          const ticket = await store.get(ownOrg(ctx), ctx.params.id);
          if (!ticket) throw notFound(ctx.params.id);
          return { body: located(ctx, ticket) };
        },
      }),
      route({
        method: "PUT",
        path: "/api/org/{org}/ticketing/{id}",
        produces: ticketType,
        consumes: ticketInput,
        async handle(ctx) {
          const ticket = await store.update(ownOrg(ctx), ctx.params.id, ctx.body);
          if (!ticket) throw notFound(ctx.params.id);
          return { body: located(ctx, ticket) };
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
