/**
 * @module Request bodies: which format a body is in (by its Content-Type, or sniffed when there
 * is none) and decoding it with the route's decoder, failures as 400 or 415 `HttpError`s.
 */

import { parseJson, type VcdRequest } from "./envelope.ts";
import { HttpError } from "./errors.ts";
import type { BodyDecoder } from "./extension.ts";
import type { Format } from "./negotiate.ts";
import { quote } from "./redact.ts";
import { parseXml, XmlError } from "./xml.ts";

const ALL_FORMATS: readonly Format[] = ["xml", "json"];
const decoder = new TextDecoder();

function contentFormat(contentType: string | undefined, body: Uint8Array): Format | undefined {
  if (contentType === undefined || contentType.trim() === "") {
    // No Content-Type: sniff the first significant byte, the lenient choice for a header
    // some clients omit.
    const first = decoder.decode(body.subarray(0, 64)).trimStart()[0];
    return first === "<" ? "xml" : first === "{" || first === "[" ? "json" : undefined;
  }
  const essence = contentType.split(";")[0]!.trim().toLowerCase();
  if (/^(application|text)\/json$|^[a-z0-9.+-]+\/[^;]*\+json$/.test(essence)) return "json";
  if (/^(application|text)\/xml$|^[a-z0-9.+-]+\/[^;]*\+xml$/.test(essence)) return "xml";
  return undefined;
}

/**
 * The request body as the route's decoder makes it: `undefined` when the route takes none (or
 * an optional one is empty); the format is read from the Content-Type (sniffed when there is
 * none). Throws an `HttpError`: 400 (missing or malformed body), 415 (a format the route does
 * not take).
 */
export function decodeBody(consumes: BodyDecoder<unknown> | undefined, req: VcdRequest): unknown {
  if (!consumes) return undefined;
  if (req.body.byteLength === 0) {
    if (consumes.optional) return undefined;
    throw new HttpError(400, "The request body is required");
  }
  const contentType = req.headers.get("content-type");
  const format = contentFormat(contentType, req.body);
  const accepted = ALL_FORMATS.filter((f) => consumes[f] !== undefined).map((f) => f.toUpperCase())
    .join(" or ");
  if (format === undefined || consumes[format] === undefined) {
    throw new HttpError(
      415,
      `Content-Type "${quote(contentType ?? "")}" is not supported here; send ${accepted}`,
    );
  }
  const text = decoder.decode(req.body);
  if (format === "json") {
    let value: unknown;
    try {
      value = parseJson(text);
    } catch {
      throw new HttpError(400, "The request body is not valid JSON");
    }
    return consumes.json!(value);
  }
  try {
    return consumes.xml!(parseXml(text));
  } catch (e) {
    if (e instanceof XmlError) throw new HttpError(400, e.message);
    throw e;
  }
}
