/**
 * @module Shared test data: the wire-format document's sample messages (section 2.3 and 3),
 * builders for request envelopes and decoded requests, a sample organisation, user and rights,
 * and fake credentials shaped like real ones, so tests can scan replies and logs for them.
 */

import type { SecurityContext, VcdRequest } from "../lib/core/envelope.ts";
import type { Delivery } from "../lib/core/seam.ts";
import {
  type AmqpAddress,
  amqpDelivery,
  type AmqpMessageParts,
} from "../lib/transport/amqp/delivery.ts";

const encoder = new TextEncoder();

/** UTF-8 bytes of a string. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** base64 of a string's UTF-8 bytes (the encoding of an envelope's `body`). */
export function b64(text: string): string {
  return utf8(text).toBase64();
}

// ---------------------------------------------------------------------------------------------
// The wire-format document's samples, verbatim
// ---------------------------------------------------------------------------------------------

/** AMQP properties and headers of the section 2.3 sample request. */
export const SAMPLE_PROPERTIES = {
  correlationId: "6a1f0c2e-3d7b-4c55-9a0e-1f2b3c4d5e6f",
  replyTo: "vcd.reply.7",
  headers: { replyToExchange: "vcd.replies", messageType: "ProcessHttpRequest" },
} as const;

/** The section 2.3 sample request body, exactly as printed in the document. */
export const SAMPLE_REQUEST_TEXT = `[
  {
    "id": "c0ffee00-1111-2222-3333-444455556666",
    "method": "POST",
    "scheme": "https",
    "protocol": "HTTP/1.1",
    "requestUri": "/api/org/1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b/ticketing",
    "queryString": null,
    "headers": {
      "Accept": "application/*+xml;version=36.0",
      "Content-Type": "application/json",
      "Authorization": "Bearer eyJhbGciOi…",
      "User-Agent": "python-requests/2.28.1"
    },
    "localAddr": "10.0.0.10", "localPort": 443,
    "remoteAddr": "192.0.2.50", "remotePort": 51544,
    "request": true,
    "body": "eyJ0aWNrZXRfbXNnIjoiZGlzayBpcyBmdWxsIn0="
  },
  {
    "user": "urn:vcloud:user:8b7a6c5d-0000-4e3f-9a1b-2c3d4e5f6a7b",
    "org": "urn:vcloud:org:1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
    "rights": ["urn:vcloud:right:0b1c2d3e-0000-4f5a-8b9c-1d2e3f4a5b6c"]
  },
  {}
]`;

/** What the section 2.3 sample says about itself, for assertions. */
export const SAMPLE_REQUEST = {
  id: "c0ffee00-1111-2222-3333-444455556666",
  path: "/api/org/1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b/ticketing",
  accept: "application/*+xml;version=36.0",
  authorization: "Bearer eyJhbGciOi…",
  bodyText: '{"ticket_msg":"disk is full"}',
  user: "urn:vcloud:user:8b7a6c5d-0000-4e3f-9a1b-2c3d4e5f6a7b",
  org: "urn:vcloud:org:1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
  right: "urn:vcloud:right:0b1c2d3e-0000-4f5a-8b9c-1d2e3f4a5b6c",
} as const;

/** The section 2.3 sample body as the bytes a cell publishes. */
export const SAMPLE_REQUEST_BYTES: Uint8Array = utf8(SAMPLE_REQUEST_TEXT);

/** The section 2.3 sample as a whole delivery (body, properties and headers). */
export function sampleDelivery(
  overrides: Partial<AmqpMessageParts> = {},
): Delivery<AmqpAddress> {
  return amqpDelivery({
    content: SAMPLE_REQUEST_BYTES,
    correlationId: SAMPLE_PROPERTIES.correlationId,
    replyTo: SAMPLE_PROPERTIES.replyTo,
    headers: { ...SAMPLE_PROPERTIES.headers },
    ...overrides,
  });
}

/** The section 3 sample reply, exactly as printed in the document. */
export const SAMPLE_REPLY_TEXT = `{ "id": "c0ffee00-1111-2222-3333-444455556666", "statusCode": 201,
  "headers": { "Content-Type": "application/json", "Content-Length": 26 },
  "body": "eyJzdGF0dXMiOiJvayIsIml0ZW1zIjpbXX0=", "request": false }`;

/** The decoded entity of the section 3 sample reply (26 bytes). */
export const SAMPLE_REPLY_BODY = '{"status":"ok","items":[]}';

// ---------------------------------------------------------------------------------------------
// Who is calling
// ---------------------------------------------------------------------------------------------

/** The sample organisation (the one in the section 2.3 URL and security context). */
export const ORG = {
  id: "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
  urn: "urn:vcloud:org:1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b",
} as const;

/** Another organisation, whose users must not reach {@linkcode ORG}'s resources. */
export const OTHER_ORG = {
  id: "9f8e7d6c-0000-4b5a-9c8d-7e6f5a4b3c2d",
  urn: "urn:vcloud:org:9f8e7d6c-0000-4b5a-9c8d-7e6f5a4b3c2d",
} as const;

/** The sample user. */
export const USER = "urn:vcloud:user:8b7a6c5d-0000-4e3f-9a1b-2c3d4e5f6a7b";

/** Sample rights as vCD lists them in the security context. */
export const RIGHTS = {
  view: "urn:vcloud:right:0b1c2d3e-0000-4f5a-8b9c-1d2e3f4a5b6c",
  manage: "urn:vcloud:right:5e6f7a8b-0000-4c1d-9e2f-3a4b5c6d7e8f",
  admin: "urn:vcloud:right:c3d4e5f6-0000-4a7b-8c9d-0e1f2a3b4c5d",
} as const;

/** The security context of a user of {@linkcode ORG} holding `rights`. */
export function security(
  rights: Iterable<string> = [RIGHTS.view],
  org: string = ORG.urn,
): SecurityContext {
  return { user: USER, org, rights: new Set(rights), parameters: undefined };
}

// ---------------------------------------------------------------------------------------------
// Fake credentials that look real
// ---------------------------------------------------------------------------------------------

function base64url(text: string): string {
  return b64(text).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** A JWT-shaped token (`header.payload.signature`, base64url) with the given claims. */
export function fakeJwt(claims: Record<string, unknown>): string {
  const header = base64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid: "vcd-signing-1" }));
  const payload = base64url(JSON.stringify(claims));
  const signature = base64url(
    Array.from({ length: 64 }, (_, i) => String.fromCharCode((i * 37 + 11) % 256)).join(""),
  );
  return `${header}.${payload}.${signature}`;
}

/** Credentials as vCD forwards them. None of them may ever reach a reply body or a log line. */
export const TOKENS = {
  /** An access token as in `Authorization: Bearer <jwt>`. */
  jwt: fakeJwt({
    sub: "alice",
    iss: "https://vcd.example.com",
    org: ORG.id,
    roles: ["Organization Administrator"],
    iat: 1767323045,
    exp: 1767326645,
  }),
  /** A legacy `x-vcloud-authorization` session token (opaque, nothing marks it as secret). */
  session: "b3f1c0de5a7e4d2c9f8a6b4e2d0c8a6e",
  /** A broker URL with a password in it. */
  amqpUrl: "amqp://vcdext:Sup3r-S3cret.pw@rabbit.example.com:5672/vcd",
  /** The password inside {@linkcode TOKENS.amqpUrl}. */
  amqpPassword: "Sup3r-S3cret.pw",
} as const;

/** Request headers of a logged-in caller (names as a client sends them). */
export const AUTH_HEADERS = {
  Authorization: `Bearer ${TOKENS.jwt}`,
  "x-vcloud-authorization": TOKENS.session,
} as const;

/** True when `text` contains any credential of {@linkcode TOKENS} (or a recognisable part). */
export function leaksCredential(text: string): boolean {
  const jwtSignature = TOKENS.jwt.split(".")[2] ?? "";
  return [TOKENS.jwt, jwtSignature, TOKENS.session, TOKENS.amqpPassword].some((t) =>
    text.includes(t)
  );
}

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

/** Fields of element 0 of an envelope (everything optional; extra fields allowed). */
export type HttpElement = Record<string, unknown>;

/** Element 0 of a well-formed request: a GET of `/api/org/<ORG>/ticketing` by default. */
export function httpElement(overrides: HttpElement = {}): HttpElement {
  return {
    id: "req-0001",
    method: "GET",
    scheme: "https",
    protocol: "HTTP/1.1",
    requestUri: `/api/org/${ORG.id}/ticketing`,
    queryString: null,
    headers: { Accept: "application/*+json;version=36.0" },
    localAddr: "10.0.0.10",
    localPort: 443,
    remoteAddr: "192.0.2.50",
    remotePort: 51544,
    request: true,
    body: "",
    ...overrides,
  };
}

/** Element 1 of a well-formed request. */
export function securityElement(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { user: USER, org: ORG.urn, rights: [RIGHTS.view], ...overrides };
}

/** The bytes of `[http, security, context]` (pass `elements` to send something else). */
export function envelopeBytes(
  http: HttpElement = httpElement(),
  ...rest: unknown[]
): Uint8Array {
  const elements = rest.length === 0 ? [http, securityElement(), {}] : [http, ...rest];
  return utf8(JSON.stringify(elements));
}

/** What {@linkcode vcdRequest} takes. */
export interface RequestSpec {
  readonly id?: string;
  readonly method?: string;
  /** Path, optionally with `?query`. */
  readonly path?: string;
  /** Headers by any case, as a client sends them. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Request entity (text is UTF-8 encoded). */
  readonly body?: string | Uint8Array;
  readonly security?: SecurityContext;
}

/** A decoded request, as `decodeRequest()` would produce it, for calling `dispatch()` directly. */
export function vcdRequest(spec: RequestSpec = {}): VcdRequest {
  const path = spec.path ?? `/api/org/${ORG.id}/ticketing`;
  const q = path.indexOf("?");
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(spec.headers ?? {})) {
    headers.set(name.toLowerCase(), value);
  }
  return {
    id: spec.id ?? "req-0001",
    method: (spec.method ?? "GET").toUpperCase(),
    path: q >= 0 ? path.slice(0, q) : path,
    queryString: q >= 0 ? path.slice(q + 1) : "",
    headers,
    body: typeof spec.body === "string" ? utf8(spec.body) : spec.body ?? new Uint8Array(),
    security: spec.security ?? security(),
    context: {},
  };
}

/** A small seeded PRNG (mulberry32), so a generated failure can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
