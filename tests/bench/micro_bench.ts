/**
 * @module In-process micro-benchmarks of vcdext's per-request path, with the benchmark's
 * realistic envelopes (`workload.ts`: ~2 KB, 12 rights, a bearer token):
 *
 * ```
 * deno bench -A tests/bench/micro_bench.ts
 * ```
 *
 * Groups: decode (the codec, with plain `JSON.parse` as a reference for the floor, and the
 * XML body parser), negotiate,
 * route, render/encode, dispatch (GET, POST JSON, POST XML through the ticketing extension),
 * the whole pure path per delivery (`endpoint().handle`, as the service is configured by
 * `main.ts serve`, and without the handler timer), and the access-log call `serve` makes per
 * request at `--log-level warn` (where it writes nothing), and the metrics each request counts.
 */

import { buildRequest } from "../../lib/sim/cell.ts";
import { compile, dispatch } from "../../lib/core/dispatch.ts";
import { decodeRequest, encodeReply, parseJson, type Reply } from "../../lib/core/envelope.ts";
import { createLogger } from "../../lib/observability/log.ts";
import { vcdextMetrics } from "../../lib/observability/metrics.ts";
import { negotiate, type Offer } from "../../lib/core/negotiate.ts";
import { Router } from "../../lib/core/router.ts";
import { endpoint } from "../../lib/core/service.ts";
import { amqpDelivery } from "../../lib/transport/amqp/delivery.ts";
import { systemClock } from "../../lib/transport/clock.ts";
import { el, parseXml, renderXml } from "../../lib/core/xml.ts";
import {
  type Ticket,
  ticketing,
  type TicketInput,
  type TicketPage,
  type TicketStatus,
  type TicketStore,
} from "../../handlers/ticketing.ts";
import { ACCEPT_JSON, ACCEPT_XML, BASE, cellRequest, type Kind, requestId } from "./workload.ts";

const decoder = new TextDecoder();

/** A store that answers like the in-memory one but keeps nothing, so iterations cost the same. */
class FixedStore implements TicketStore {
  #next = 1;
  readonly #ticket: Ticket = {
    id: "1",
    org: "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
    message: "The storage policy of org VDC prod-01 is full; new VMs cannot be deployed",
    status: "open",
    created: "2026-11-22T10:00:00.000Z",
  };
  list(): Promise<TicketPage> {
    return Promise.resolve({ tickets: [this.#ticket], total: 1 });
  }
  get(org: string, id: string): Promise<Ticket | undefined> {
    return Promise.resolve(org === this.#ticket.org && id === "1" ? this.#ticket : undefined);
  }
  create(org: string, fields: { message: string; status: TicketStatus }): Promise<Ticket> {
    return Promise.resolve({
      id: String(this.#next++),
      org,
      ...fields,
      created: new Date().toISOString(),
    });
  }
  update(org: string, id: string, fields: TicketInput): Promise<Ticket | undefined> {
    return this.get(org, id).then((t) => t && { ...t, ...fields } as Ticket);
  }
  delete(org: string, id: string): Promise<boolean> {
    return this.get(org, id).then((t) => t !== undefined);
  }
}

const envelope = (kind: Kind) => buildRequest(cellRequest(kind, "1", requestId("bench", 1))).body;
const ENVELOPES = {
  get: envelope("get-json"),
  postJson: envelope("post-json"),
  postXml: envelope("post-xml"),
};
const GET_TEXT = decoder.decode(ENVELOPES.get);

const extension = ticketing(new FixedStore());
const app = compile(extension);
const requests = {
  getJson: decodeRequest(envelope("get-json")),
  getXml: decodeRequest(envelope("get-xml")),
  postJson: decodeRequest(ENVELOPES.postJson),
  postXml: decodeRequest(ENVELOPES.postXml),
};

// --- decode ----------------------------------------------------------------------------------

Deno.bench("JSON.parse of a GET envelope (reference floor)", { group: "decode" }, () => {
  JSON.parse(decoder.decode(ENVELOPES.get));
});
Deno.bench("parseJson of a GET envelope (with the __proto__ reviver)", { group: "decode" }, () => {
  parseJson(GET_TEXT);
});
Deno.bench("decodeRequest GET", { group: "decode", baseline: true }, () => {
  decodeRequest(ENVELOPES.get);
});
Deno.bench("decodeRequest POST JSON", { group: "decode" }, () => {
  decodeRequest(ENVELOPES.postJson);
});

const XML_BODY = decoder.decode(requests.postXml.body);
Deno.bench("parseXml of the POST's ticket body (XML)", { group: "decode" }, () => {
  parseXml(XML_BODY);
});

// --- negotiate -------------------------------------------------------------------------------

const offer: Offer = { base: "application/vnd.example.ticket", formats: ["xml", "json"] };
Deno.bench("negotiate vCD JSON Accept", { group: "negotiate", baseline: true }, () => {
  negotiate(ACCEPT_JSON, offer);
});
Deno.bench("negotiate vCD XML Accept", { group: "negotiate" }, () => {
  negotiate(ACCEPT_XML, offer);
});
Deno.bench("negotiate browser-style Accept with q-values", { group: "negotiate" }, () => {
  negotiate("application/json;q=0.5, application/xml;q=0.9, */*;q=0.1", offer);
});

// --- route -----------------------------------------------------------------------------------

const router = new Router(extension.routes);
Deno.bench("Router.match GET /ticketing/{id}", { group: "route", baseline: true }, () => {
  router.match("GET", `${BASE}/1`);
});
Deno.bench("Router.match POST /ticketing", { group: "route" }, () => {
  router.match("POST", BASE);
});
Deno.bench("Router.match 405 (PATCH)", { group: "route" }, () => {
  router.match("PATCH", `${BASE}/1`);
});

// --- render / encode -------------------------------------------------------------------------

const ticketXml = el(
  "Ticket",
  {
    xmlns: "urn:example:ticketing",
    id: "1",
    status: "open",
    href: `https://vcd.example.com${BASE}/1`,
  },
  el("Message", {}, "The storage policy of org VDC prod-01 is full; new VMs cannot be deployed"),
  el("Created", {}, "2026-11-22T10:00:00.000Z"),
);
const reply: Reply = {
  id: requestId("bench", 1),
  status: 201,
  headers: {
    "Content-Type": "application/vnd.example.ticket+json;version=36.0",
    Location: `https://vcd.example.com${BASE}/1`,
  },
  body: JSON.stringify({
    id: "1",
    org: "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
    message: "The storage policy of org VDC prod-01 is full; new VMs cannot be deployed",
    status: "open",
    created: "2026-11-22T10:00:00.000Z",
    href: `https://vcd.example.com${BASE}/1`,
  }),
};
Deno.bench("renderXml of a ticket", { group: "render" }, () => {
  renderXml(ticketXml);
});
Deno.bench("encodeReply of a 201 ticket (base64, JSON, UTF-8)", {
  group: "render",
  baseline: true,
}, () => {
  encodeReply(reply);
});

// --- dispatch --------------------------------------------------------------------------------

Deno.bench("dispatch GET, JSON", { group: "dispatch", baseline: true }, async () => {
  await dispatch(app, requests.getJson);
});
Deno.bench("dispatch GET, XML", { group: "dispatch" }, async () => {
  await dispatch(app, requests.getXml);
});
Deno.bench("dispatch POST, JSON body", { group: "dispatch" }, async () => {
  await dispatch(app, requests.postJson);
});
Deno.bench("dispatch POST, XML body", { group: "dispatch" }, async () => {
  await dispatch(app, requests.postXml);
});
Deno.bench("dispatch GET, JSON, with an 8 s handler timeout", { group: "dispatch" }, async () => {
  await dispatch(app, requests.getJson, { timeoutMs: 8_000, clock: systemClock });
});

// --- the whole pure path per delivery ----------------------------------------------------------

/** As `main.ts serve` configures it by default. */
const served = endpoint(extension, {
  maxEnvelopeBytes: 1_048_576,
  maxBodyBytes: 524_288,
  timeoutMs: 8_000,
  clock: systemClock,
  vcdTimeoutMs: 10_000,
  maxInFlight: 100,
});
const bare = endpoint(extension, {});
let seq = 0;
/** A delivery with a fresh request id (the endpoint remembers ids for redeliveries). */
function delivery(kind: Kind) {
  const id = requestId("deliv", ++seq);
  return amqpDelivery({
    content: buildRequest(cellRequest(kind, "1", id)).body,
    correlationId: id,
    replyTo: "amq.gen-reply",
    headers: { replyToExchange: "vcdext.cell", messageType: "ProcessHttpRequest" },
    redelivered: false,
    receivedAt: Date.now(),
  });
}
const PRE = { get: delivery("get-json"), post: delivery("post-json") };
// Same bytes each iteration would hit the duplicate/replay memory only on redelivery, which is
// off here, so reusing one delivery measures the normal path.
Deno.bench(
  "endpoint.handle GET (serve defaults)",
  { group: "handle", baseline: true },
  async () => {
    await served.handle(PRE.get);
  },
);
Deno.bench("endpoint.handle POST JSON (serve defaults)", { group: "handle" }, async () => {
  await served.handle(PRE.post);
});
Deno.bench("endpoint.handle GET (no timeout, no limits)", { group: "handle" }, async () => {
  await bare.handle(PRE.get);
});

// --- per-request logging at --log-level warn -----------------------------------------------------

const log = createLogger("warn", { write: () => {} });
Deno.bench("access-log call as serve makes it, level warn (dropped)", { group: "log" }, () => {
  log.info({
    extension: "gcp-ticketing",
    correlationId: "c",
    requestId: "r",
    method: "GET",
    route: "GET /api/org/{org}/ticketing/{id}",
    status: 200,
    disposition: "acked",
    ms: 0.12,
  }, "request");
});
const infoLog = createLogger("info", { write: () => {} });
Deno.bench("access-log call at level info (written, redacted)", { group: "log" }, () => {
  infoLog.info({
    extension: "gcp-ticketing",
    correlationId: "c",
    requestId: "r",
    method: "GET",
    route: "GET /api/org/{org}/ticketing/{id}",
    status: 200,
    disposition: "acked",
    ms: 0.12,
  }, "request");
});

// --- metrics counted per request ------------------------------------------------------------------

const metrics = vcdextMetrics();
Deno.bench("requests.inc + requestDuration.observe, as each request counts", {
  group: "metrics",
}, () => {
  metrics.requests.inc({
    extension: "t",
    transport: "amqp",
    route: "GET /api/t/{id}",
    status: 200,
  });
  metrics.requestDuration.observe(
    { extension: "t", transport: "amqp", route: "GET /api/t/{id}" },
    0.002,
  );
});
