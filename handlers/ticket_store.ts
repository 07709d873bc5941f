/**
 * @module Where the ticketing example keeps tickets: the {@linkcode TicketStore} interface and a
 * bounded in-memory store. Not an extension itself (so not listed in `mod.ts`);
 * `ticketing.ts` re-exports everything here.
 */

/** A ticket's state. */
export type TicketStatus = "open" | "closed";

/** A stored ticket. */
export interface Ticket {
  /** Sequential per organisation: every org's first ticket is `1`. */
  readonly id: string;
  /** Bare UUID of the owning organisation. */
  readonly org: string;
  readonly message: string;
  readonly status: TicketStatus;
  /** ISO-8601 creation time. */
  readonly created: string;
}

/** Which slice of an organisation's tickets {@linkcode TicketStore.list} returns. */
export interface TicketQuery {
  /** Only tickets in this state; all when absent. */
  readonly status?: TicketStatus | undefined;
  /** How many matching tickets to skip (oldest first). */
  readonly offset: number;
  /** The most tickets to return. */
  readonly limit: number;
}

/** One page of tickets and how many match in all. */
export interface TicketPage {
  readonly tickets: readonly Ticket[];
  readonly total: number;
}

/**
 * Where tickets live. Implementations may be asynchronous. `create` and `update` throw
 * {@linkcode TicketLimitError} when the store may not grow.
 */
export interface TicketStore {
  list(org: string, query: TicketQuery): Promise<TicketPage>;
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

/** A store refused to grow; the message is safe to show the client (it quotes no input). */
export class TicketLimitError extends Error {
  override readonly name = "TicketLimitError";
}

/** How much a {@linkcode MemoryTicketStore} keeps. */
export interface TicketLimits {
  /** Tickets per organisation. Default 1,000. */
  readonly maxTicketsPerOrg: number;
  /** UTF-8 bytes of message text per organisation. Default 512 KiB. */
  readonly maxBytesPerOrg: number;
  /** Organisations holding tickets. Default 128. */
  readonly maxOrgs: number;
}

/** The defaults of {@linkcode TicketLimits}: at most 64 MiB of message text in all. */
export const TICKET_LIMITS: TicketLimits = {
  maxTicketsPerOrg: 1_000,
  maxBytesPerOrg: 512 * 1024,
  maxOrgs: 128,
};

/** UTF-8 length without encoding (lone surrogates count 3, as the encoder writes U+FFFD). */
function utf8Length(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 2; // four bytes for two code units
        i++;
        continue;
      }
    }
    if (c >= 0x800) n += 2;
    else if (c >= 0x80) n += 1;
  }
  return n;
}

/** One organisation's tickets, in creation order, and its id counter. */
interface OrgTickets {
  readonly tickets: Map<string, Ticket>;
  next: number;
  bytes: number;
}

/**
 * An in-memory {@linkcode TicketStore}, bounded by {@linkcode TicketLimits}. Ids count from 1
 * per organisation. An organisation whose tickets are all deleted keeps its counter (ids are
 * not reused) until the organisation limit is reached and a new organisation needs its slot.
 */
export class MemoryTicketStore implements TicketStore {
  readonly #orgs = new Map<string, OrgTickets>();
  /** Organisations with no tickets left, oldest first: the ones given up for a newcomer. */
  readonly #empty = new Set<string>();
  readonly #now: () => Date;
  readonly #limits: TicketLimits;

  constructor(now: () => Date = () => new Date(), limits: Partial<TicketLimits> = {}) {
    this.#now = now;
    this.#limits = { ...TICKET_LIMITS, ...limits };
  }

  list(org: string, query: TicketQuery): Promise<TicketPage> {
    const all = this.#orgs.get(org)?.tickets;
    if (all === undefined) return Promise.resolve({ tickets: [], total: 0 });
    const end = query.offset + query.limit;
    const tickets: Ticket[] = [];
    let total = 0;
    for (const t of all.values()) {
      if (query.status !== undefined && t.status !== query.status) continue;
      if (total >= query.offset && total < end) tickets.push(t);
      total++;
    }
    return Promise.resolve({ tickets, total });
  }

  get(org: string, id: string): Promise<Ticket | undefined> {
    return Promise.resolve(this.#orgs.get(org)?.tickets.get(id));
  }

  create(org: string, fields: { message: string; status: TicketStatus }): Promise<Ticket> {
    const own = this.#orgs.get(org) ?? this.#admit();
    const bytes = utf8Length(fields.message);
    const { maxTicketsPerOrg, maxBytesPerOrg } = this.#limits;
    if (own.tickets.size >= maxTicketsPerOrg) {
      throw new TicketLimitError(
        `This organisation has ${maxTicketsPerOrg} tickets, the most it may keep; delete some first`,
      );
    }
    if (own.bytes + bytes > maxBytesPerOrg) {
      throw new TicketLimitError(
        `This organisation's tickets would exceed ${maxBytesPerOrg} bytes of message text; delete some first`,
      );
    }
    const ticket = { id: String(own.next++), org, ...fields, created: this.#now().toISOString() };
    own.tickets.set(ticket.id, ticket);
    own.bytes += bytes;
    this.#orgs.set(org, own);
    this.#empty.delete(org);
    return Promise.resolve(ticket);
  }

  async update(org: string, id: string, fields: TicketInput): Promise<Ticket | undefined> {
    const t = await this.get(org, id);
    const own = this.#orgs.get(org);
    if (!t || !own) return undefined;
    const message = fields.message ?? t.message;
    const bytes = own.bytes - utf8Length(t.message) + utf8Length(message);
    if (bytes > this.#limits.maxBytesPerOrg) {
      throw new TicketLimitError(
        `This organisation's tickets would exceed ${this.#limits.maxBytesPerOrg} bytes of message text; delete some first`,
      );
    }
    const updated = { ...t, message, status: fields.status ?? t.status };
    own.tickets.set(id, updated);
    own.bytes = bytes;
    return updated;
  }

  delete(org: string, id: string): Promise<boolean> {
    const own = this.#orgs.get(org);
    const t = own?.tickets.get(id);
    if (!own || !t) return Promise.resolve(false);
    own.tickets.delete(id);
    own.bytes -= utf8Length(t.message);
    if (own.tickets.size === 0) this.#empty.add(org);
    return Promise.resolve(true);
  }

  /** A new organisation's (not yet stored) record; gives up an emptied one's slot if needed. */
  #admit(): OrgTickets {
    if (this.#orgs.size >= this.#limits.maxOrgs) {
      const idle = this.#empty.values().next();
      if (idle.done) {
        throw new TicketLimitError(
          `The ticket store serves ${this.#limits.maxOrgs} organisations, the most it may`,
        );
      }
      this.#orgs.delete(idle.value);
      this.#empty.delete(idle.value);
    }
    return { tickets: new Map(), next: 1, bytes: 0 };
  }
}
