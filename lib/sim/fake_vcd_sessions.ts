/**
 * @module The fake vCD's sessions: `POST /api/sessions` (Basic `user@org:password`) issues a
 * token, every other request must carry a valid one (`x-vcloud-authorization`, or
 * `Authorization: Bearer`), and `GET`/`DELETE /api/session` read or revoke it. The fault
 * options (503s, one 401) act here, before any other route.
 */

import { renderSession } from "./fake_vcd_documents.ts";
import type { FakeVcdState } from "./fake_vcd_state.ts";
import { MEDIA, Reply, respond } from "./fake_vcd_wire.ts";

const NOT_ACCEPTABLE = "Accept needs application/*+xml;version=<v>";

/**
 * `POST /api/sessions`: checks Basic credentials and answers the `Session` with a new token.
 * `version` is the accepted `Accept` version (undefined: none acceptable), `v` the one to answer.
 */
export function login(
  state: FakeVcdState,
  req: Request,
  version: string | undefined,
  v: string,
): Response {
  if (req.method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", "use POST");
  if (version === undefined) throw new Reply(406, "NOT_ACCEPTABLE", NOT_ACCEPTABLE);
  const auth = req.headers.get("authorization") ?? "";
  let given = "";
  try {
    given = auth.startsWith("Basic ") ? atob(auth.slice(6)) : "";
  } catch { /* not base64: refused below */ }
  if (given !== `${state.user}:${state.password}`) {
    throw new Reply(401, "UNAUTHORIZED", "Invalid user name or password");
  }
  const token = state.issueToken();
  const headers: Record<string, string> = state.accessTokenOnly
    ? { "x-vmware-vcloud-access-token": token, "x-vmware-vcloud-token-type": "Bearer" }
    : { "x-vcloud-authorization": token };
  return respond(200, v, MEDIA.session, renderSession(state.base, state.user), headers);
}

/**
 * Admits a request other than a login and returns its token: plays the configured 503s and
 * 401 first, then requires a valid token and an acceptable `Accept` version.
 */
export function authenticate(
  state: FakeVcdState,
  req: Request,
  version: string | undefined,
): string {
  if (state.fail5xx > 0) {
    state.fail5xx--;
    throw new Reply(503, "SERVICE_UNAVAILABLE", "The cell is starting up");
  }
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.get("authorization") ?? "")?.[1];
  const token = state.accessTokenOnly
    ? bearer
    : req.headers.get("x-vcloud-authorization") ?? bearer;
  if (token === undefined || !state.valid.has(token)) {
    throw new Reply(401, "UNAUTHORIZED", "Not authenticated");
  }
  if (state.fail401) {
    state.fail401 = false;
    state.valid.delete(token);
    throw new Reply(401, "UNAUTHORIZED", "Session has expired");
  }
  if (version === undefined) throw new Reply(406, "NOT_ACCEPTABLE", NOT_ACCEPTABLE);
  return token;
}

/** `GET /api/session` answers the `Session`; `DELETE` revokes `token`. */
export function sessionRoute(
  state: FakeVcdState,
  req: Request,
  token: string,
  v: string,
): Response {
  if (req.method === "GET") {
    return respond(200, v, MEDIA.session, renderSession(state.base, state.user));
  }
  if (req.method === "DELETE") {
    state.valid.delete(token);
    return respond(204, v);
  }
  throw new Reply(405, "METHOD_NOT_ALLOWED", `${req.method} not allowed`);
}
