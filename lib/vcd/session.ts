/**
 * @module How a vCD session travels: the Basic-auth header of a login, the token a login answers
 * with (`x-vcloud-authorization`, or `X-VMWARE-VCLOUD-ACCESS-TOKEN` sent back as a bearer
 * token), and the header each later request carries.
 */

/** How the session token is sent: vCD's own header, or a standard bearer token. */
export interface Session {
  readonly header: "x-vcloud-authorization" | "authorization";
  readonly value: string;
  /** The bare token, for scrubbing. */
  readonly token: string;
}

/** The session of a given bearer token (`Authorization: Bearer <token>`). */
export function bearerSession(token: string): Session {
  return { header: "authorization", value: `Bearer ${token}`, token };
}

/**
 * The `Authorization: Basic` value of a login; `@System` is appended to a user without an
 * organisation.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { basicAuth } from "./session.ts";
 * assert.equal(basicAuth("admin", "pw"), `Basic ${btoa("admin@System:pw")}`);
 * ```
 */
export function basicAuth(user: string, password: string): string {
  const name = user.includes("@") ? user : `${user}@System`;
  return `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${name}:${password}`)))}`;
}

/** The session a login answered with, or `undefined` when it carries no token. */
export function sessionOfLogin(headers: Headers): Session | undefined {
  const vcloud = headers.get("x-vcloud-authorization");
  if (vcloud) return { header: "x-vcloud-authorization", value: vcloud, token: vcloud };
  const access = headers.get("x-vmware-vcloud-access-token");
  return access ? bearerSession(access) : undefined;
}
