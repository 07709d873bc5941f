/**
 * @module The benchmark's request mix, shared by `run.ts` (through the broker) and
 * `micro_bench.ts` (in process): realistic vCD envelopes of 1.5–2.3 KB with 12 rights in the
 * security context, a bearer token, and XML or JSON bodies and Accept headers.
 *
 * The mix repeats every 8 requests: 2 POSTs (one JSON, one XML body), 4 GETs of one ticket
 * (XML and JSON Accept) and 2 DELETEs of tickets created earlier in the same run. The DELETEs
 * keep the in-memory ticket store at a constant size, so a long run measures vcdext and not
 * the growth of the example's store (a list GET would be O(tickets) for the same reason and is
 * left out).
 *
 * Envelopes are built once per kind as a template; each request copies its template and writes
 * its own 36-character id in place, so the driver spends well under a microsecond per request
 * and every request still has a unique id to check the reply against.
 */

import { buildRequest, type CellRequest, SAMPLE } from "../../lib/sim/cell.ts";

export const BASE = `/api/org/${SAMPLE.orgId}/ticketing`;
export const ACCEPT_JSON = "application/*+json;version=36.0";
export const ACCEPT_XML = "application/*+xml;version=36.0";

/** 12 rights, as a tenant administrator's security context carries them. */
export const RIGHTS: readonly string[] = Array.from(
  { length: 12 },
  (_, i) => `urn:vcloud:right:${(0x3e1f0000 + i * 7919).toString(16)}-5c2a-4b8e-9d1f-0a2b3c4d5e6f`,
);

/** A JWT-shaped bearer token of a realistic length (~550 characters). */
export const TOKEN = (() => {
  const b64url = (s: string) =>
    new TextEncoder().encode(s).toBase64().replace(/=+$/, "").replace(/\+/g, "-").replace(
      /\//g,
      "_",
    );
  const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "vcd-2026-11" }));
  const claims = b64url(JSON.stringify({
    sub: "administrator",
    iss: "a93c9db9-7471-3192-8d09-a8f7eeda85f9@1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
    exp: 1795000000,
    version: "urn:vcloud:session:8c2d3e4f-0000-4a5b-9c6d-7e8f9a0b1c2d",
    org: SAMPLE.orgId,
  }));
  const signature = new Uint8Array(128).map((_, i) => (i * 131 + 17) & 0xff).toBase64()
    .replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${header}.${claims}.${signature}`;
})();

const COMMON_HEADERS = {
  Host: "vcd.example.com",
  Authorization: `Bearer ${TOKEN}`,
  "User-Agent": "vcd-api-client/36.0 (benchmark)",
  "X-VMWARE-VCLOUD-TENANT-CONTEXT": SAMPLE.orgId,
  "X-Forwarded-For": "10.20.30.40",
} as const;

const MESSAGE = "The storage policy of org VDC prod-01 is full; new VMs cannot be deployed";

/** The kinds of request in the mix. */
export type Kind = "post-json" | "post-xml" | "get-json" | "get-xml" | "delete-json" | "delete-xml";

/** The mix, in order; it repeats. */
export const CYCLE: readonly Kind[] = [
  "post-json",
  "get-xml",
  "get-json",
  "delete-json",
  "post-xml",
  "get-json",
  "get-xml",
  "delete-xml",
];

/** The status vcdext must answer each kind with. */
export const EXPECTED_STATUS: Readonly<Record<Kind, number>> = {
  "post-json": 201,
  "post-xml": 201,
  "get-json": 200,
  "get-xml": 200,
  "delete-json": 204,
  "delete-xml": 204,
};

/** The request a kind stands for; `ticket` is the id a GET or DELETE names. */
export function cellRequest(kind: Kind, ticket: string, id: string): CellRequest {
  const accept = kind.endsWith("json") ? ACCEPT_JSON : ACCEPT_XML;
  const common = { user: SAMPLE.user, org: SAMPLE.org, rights: RIGHTS, id };
  switch (kind) {
    case "post-json":
      return {
        ...common,
        method: "POST",
        path: BASE,
        headers: { ...COMMON_HEADERS, Accept: accept, "Content-Type": "application/json" },
        body: JSON.stringify({ message: MESSAGE, status: "open" }),
      };
    case "post-xml":
      return {
        ...common,
        method: "POST",
        path: BASE,
        headers: {
          ...COMMON_HEADERS,
          Accept: accept,
          "Content-Type": "application/vnd.example.ticket+xml;version=36.0",
        },
        body: `<?xml version="1.0" encoding="UTF-8"?>\n<Ticket xmlns="urn:example:ticketing">` +
          `<Message>${MESSAGE}</Message><Status>open</Status></Ticket>`,
      };
    case "get-json":
    case "get-xml":
      return {
        ...common,
        method: "GET",
        path: `${BASE}/${ticket}`,
        headers: { ...COMMON_HEADERS, Accept: accept },
      };
    case "delete-json":
    case "delete-xml":
      return {
        ...common,
        method: "DELETE",
        path: `${BASE}/${ticket}`,
        headers: { ...COMMON_HEADERS, Accept: accept },
      };
  }
}

/** The placeholder id in templates; every real id has the same length (36). */
export const PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000";

/** A 36-character UUID-shaped request id: a run prefix and a sequence number. */
export function requestId(prefix: string, seq: number): string {
  return `${prefix.slice(0, 8).padEnd(8, "0")}-0000-4000-8000-${String(seq).padStart(12, "0")}`;
}

/** An envelope with the placeholder id, and where the id sits in its bytes. */
export interface Template {
  readonly bytes: Uint8Array;
  readonly idOffset: number;
}

const encoder = new TextEncoder();

/**
 * How a request goes on the wire, and the field its id is matched by: the AMQP envelope
 * (`"id"`, the default) or, for MQTT, an `API_REQUEST` (`"requestId"`).
 */
export interface WireFormat {
  readonly build: (request: CellRequest) => Uint8Array;
  readonly idField: string;
}

/** The AMQP envelope of lib/sim/cell.ts. */
export const AMQP_FORMAT: WireFormat = {
  build: (request) => buildRequest(request).body,
  idField: "id",
};

/** Builds a template for a kind (GET/DELETE templates name `ticket`). */
export function template(kind: Kind, ticket: string, format: WireFormat = AMQP_FORMAT): Template {
  const body = format.build(cellRequest(kind, ticket, PLACEHOLDER_ID));
  const needle = `"${format.idField}":"${PLACEHOLDER_ID}"`;
  const at = new TextDecoder().decode(body).indexOf(needle);
  if (at < 0) throw new Error("placeholder id not found in the envelope");
  return { bytes: body, idOffset: at + needle.indexOf(PLACEHOLDER_ID) };
}

/** A copy of the template carrying `id` (36 ASCII characters). */
export function stamp(t: Template, id: string): Uint8Array {
  const out = t.bytes.slice();
  encoder.encodeInto(id, out.subarray(t.idOffset, t.idOffset + 36));
  return out;
}

/** One request of the mix: its kind, its id and its envelope. */
export interface MixRequest {
  readonly kind: Kind;
  readonly id: string;
  readonly body: Uint8Array;
}

/**
 * The requests of one run, by sequence number: ids are `requestId(prefix, seq)`, GETs read
 * `ticket`, and a DELETE takes the oldest ticket from `live` (where the caller puts the ids its
 * POSTs got back); with nothing to delete yet it becomes a GET in the same format. Envelopes
 * are AMQP's unless `format` says otherwise.
 */
export function mix(
  prefix: string,
  ticket: string,
  live: string[],
  format: WireFormat = AMQP_FORMAT,
): (seq: number) => MixRequest {
  const templates = new Map<Kind, Template>();
  for (const kind of new Set(CYCLE)) {
    if (!kind.startsWith("delete")) templates.set(kind, template(kind, ticket, format));
  }
  return (seq) => {
    let kind = CYCLE[seq % CYCLE.length]!;
    const id = requestId(prefix, seq);
    if (kind.startsWith("delete")) {
      const doomed = live.shift();
      if (doomed !== undefined) {
        return { kind, id, body: format.build(cellRequest(kind, doomed, id)) };
      }
      kind = kind === "delete-json" ? "get-json" : "get-xml";
    }
    return { kind, id, body: stamp(templates.get(kind)!, id) };
  };
}
