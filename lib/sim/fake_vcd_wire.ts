/**
 * @module The fake vCD's wire conventions: the media types it serves and requires, the
 * {@linkcode Reply} error a route throws to answer with a vCloud `Error` document, and the
 * checks every route shares (`Accept` version, `Content-Type`, XML body, required text).
 */

import { child, el, parseXml, renderXml, type XmlNode } from "../core/xml.ts";
import { VCLOUD_NS } from "../core/vcloud.ts";

/** Media types the fake serves and requires. */
export const MEDIA = {
  session: "application/vnd.vmware.vcloud.session+xml",
  error: "application/vnd.vmware.vcloud.error+xml",
  blockingTask: "application/vnd.vmware.admin.blockingTask+xml",
  taskOperation: "application/vnd.vmware.admin.blockingTaskOperationParams+xml",
  taskProgress: "application/vnd.vmware.admin.blockingTaskUpdateProgressOperationParams+xml",
  service: "application/vnd.vmware.admin.service+xml",
  right: "application/vnd.vmware.admin.right+xml",
  records: "application/vnd.vmware.vcloud.query.records+xml",
} as const;

/** An answer other than success: thrown by a route, rendered as a vCloud `Error` document. */
export class Reply extends Error {
  /**
   * @param status the HTTP status (`majorErrorCode`)
   * @param minor the `minorErrorCode`, e.g. `"NOT_FOUND"`
   * @param message the `message` attribute
   */
  constructor(readonly status: number, readonly minor: string, message: string) {
    super(message);
  }
}

/** The media type of a `Content-Type` value, lower-case, without parameters. */
export function mediaTypeOf(contentType: string | null): string {
  return (contentType ?? "").split(";")[0]!.trim().toLowerCase();
}

/** The `version` of the first acceptable XML range, or `undefined` when none is acceptable. */
export function acceptedVersion(accept: string | null): string | undefined {
  for (const range of (accept ?? "").split(",")) {
    const [type = "", ...params] = range.split(";").map((p) => p.trim());
    if (!/^application\/(\*|vnd\.[a-z0-9.-]+)\+xml$/i.test(type)) continue;
    for (const p of params) {
      const m = /^version\s*=\s*"?([0-9][0-9.]*)"?$/i.exec(p);
      if (m) return m[1];
    }
  }
  return undefined;
}

/** The trimmed text of `node`'s child `name`; a 400 {@linkcode Reply} when empty or missing. */
export function requireText(node: XmlNode, name: string, what: string): string {
  const text = child(node, name)?.text.trim() ?? "";
  if (text === "") throw new Reply(400, "BAD_REQUEST", `${what} requires a non-empty ${name}`);
  return text;
}

/** The parsed XML body; a 400 {@linkcode Reply} naming `what` when it is not XML. */
export function parseBody(body: string, what: string): XmlNode {
  try {
    return parseXml(body);
  } catch (e) {
    throw new Reply(400, "BAD_REQUEST", `${what}: ${(e as Error).message}`);
  }
}

/** `true`/`false` text as a boolean, `fallback` when absent; a 400 {@linkcode Reply} otherwise. */
export function parseBool(text: string | undefined, fallback: boolean): boolean {
  if (text === undefined) return fallback;
  const t = text.trim();
  if (t === "true" || t === "false") return t === "true";
  throw new Reply(400, "BAD_REQUEST", `not a boolean: ${t}`);
}

/** A 415 {@linkcode Reply} unless the request's `Content-Type` is `media`. */
export function checkType(req: Request, media: string): void {
  if (mediaTypeOf(req.headers.get("content-type")) !== media.toLowerCase()) {
    throw new Reply(415, "UNSUPPORTED_MEDIA_TYPE", `expected Content-Type ${media}`);
  }
}

/** A response; `media` becomes `Content-Type: <media>;version=<version>`. No body on 204. */
export function respond(
  status: number,
  version: string,
  media?: string,
  body?: string,
  extra?: HeadersInit,
): Response {
  const headers = new Headers(extra);
  if (media !== undefined) headers.set("content-type", `${media};version=${version}`);
  return new Response(status === 204 ? null : body ?? null, { status, headers });
}

/** The vCloud `Error` document answering a {@linkcode Reply}. */
export function errorReply(reply: Reply, version: string): Response {
  return respond(
    reply.status,
    version,
    MEDIA.error,
    renderXml(el("Error", {
      xmlns: VCLOUD_NS,
      majorErrorCode: reply.status,
      minorErrorCode: reply.minor,
      message: reply.message,
    })),
  );
}
