/**
 * @module Rendering replies: a handler's result in the negotiated format, and JSON text as
 * replies carry it (lone surrogates replaced, as XML output has them).
 */

import type { Reply } from "./envelope.ts";
import type { Representation } from "./extension.ts";
import type { Format, Negotiated } from "./negotiate.ts";
import { renderXml } from "./xml.ts";

/**
 * JSON text with every lone surrogate as U+FFFD, as XML output has it. `JSON.stringify`
 * writes a lone surrogate as the escape `\udXXX` (a paired one it writes as is), so any such
 * escape (one not preceded by an escaped backslash) is a lone surrogate. A scan, not a
 * regular expression: linear, and a single `indexOf` when there is none.
 */
export function wellFormedJson(json: string): string {
  let at = json.indexOf("\\ud");
  if (at === -1) return json;
  let out = "";
  let copied = 0;
  let floor = 0;
  while (at !== -1) {
    // An even number of backslashes before this one means it starts an escape. The run stops
    // at the previous hit, so the count is linear overall.
    let k = at;
    while (k > floor && json.charCodeAt(k - 1) === 0x5c) k--;
    const h = json.charCodeAt(at + 3);
    if ((at - k) % 2 === 0 && ((h >= 0x38 && h <= 0x39) || (h >= 0x61 && h <= 0x66))) {
      out += json.slice(copied, at) + "\uFFFD";
      copied = at + 6;
    }
    floor = at + 1;
    at = json.indexOf("\\ud", at + 1);
  }
  return out + json.slice(copied);
}

/** `JSON.stringify` for a reply body: lone surrogates become U+FFFD. */
export function toJson(value: unknown): string {
  return wellFormedJson(JSON.stringify(value));
}

/** Renders a value in `format` with the representation. */
export function render(rep: Representation<unknown>, format: Format, value: unknown): string {
  return format === "json" ? toJson(rep.json!(value)) : renderXml(rep.xml!(value));
}

/**
 * The reply to a handler's result: its status (default 200 with a body, 204 without), its body
 * rendered in the negotiated format by the route's representation (plain JSON when the route
 * declares none), and its headers over the negotiated Content-Type. Throws a `TypeError` for an
 * invalid status.
 */
export function successReply(
  id: string,
  rep: Representation<unknown> | undefined,
  negotiated: Negotiated | undefined,
  result: { status?: number; body?: unknown; headers?: Readonly<Record<string, string>> },
): Reply {
  const hasBody = result.body !== undefined;
  const status = result.status ?? (hasBody ? 200 : 204);
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    throw new TypeError(`handler returned an invalid status ${String(status)}`);
  }
  let body = "";
  if (hasBody) {
    body = rep && negotiated ? render(rep, negotiated.format, result.body) : toJson(result.body);
  }
  const headers: Record<string, string> = {
    "Content-Type": negotiated?.contentType ?? "application/json",
  };
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    headers[name.toLowerCase() === "content-type" ? "Content-Type" : name] = value;
  }
  return { id, status, headers, body };
}
