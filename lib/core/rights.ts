/**
 * @module Rights declared by name: a route's `rights` entry is either a right's id
 * (`urn:vcloud:right:<uuid>`, compared as is) or the name of one of the extension's own rights,
 * short (`Ticket Admin`) or qualified by its namespace (`com.example.ticketing:Ticket Admin`),
 * as vCD names the rights of an extension service. Ids differ per vCD installation, names do
 * not. This module only reads declarations and applies a name → id map (pure); looking the ids
 * up in vCD is lib/app/rights.ts, creating the rights is lib/vcd/registrar.ts.
 */

import type { AnyRoute, Extension } from "./extension.ts";

/** The prefix of a right's id as vCD puts it in the security context. */
export const RIGHT_ID_PREFIX = "urn:vcloud:right:";

/**
 * Whether a declared right is an id (`urn:vcloud:right:…`) rather than a name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRightId } from "./rights.ts";
 * assert.equal(isRightId("urn:vcloud:right:0b1c2d3e-0000-4f5a-8b9c-1d2e3f4a5b6c"), true);
 * assert.equal(isRightId("Ticket Admin"), false);
 * ```
 */
export function isRightId(right: string): boolean {
  return right.startsWith(RIGHT_ID_PREFIX);
}

/**
 * What is wrong with a route's `rights`, for `defineExtension`; `undefined` when nothing is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rightsProblem } from "./rights.ts";
 * assert.equal(rightsProblem(["Ticket Admin", "urn:vcloud:right:1"]), undefined);
 * assert.match(rightsProblem([""]) ?? "", /empty/);
 * assert.match(rightsProblem("Admin") ?? "", /array/);
 * ```
 */
export function rightsProblem(rights: unknown): string | undefined {
  if (rights === undefined) return undefined;
  if (!Array.isArray(rights)) return 'rights must be an array, e.g. ["Ticket Admin"]';
  for (const right of rights) {
    if (typeof right !== "string" || right.trim() === "" || right === RIGHT_ID_PREFIX) {
      return `rights has an empty or non-string entry (${JSON.stringify(right)}); give a right's ` +
        "name or its urn:vcloud:right: id";
    }
  }
  return undefined;
}

/**
 * The qualified name `{namespace}:Name` of a right declared by name (kept when already
 * qualified by the extension's namespace).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { qualifiedRightName } from "./rights.ts";
 * assert.equal(qualifiedRightName("com.example.t", "Ticket Admin"), "com.example.t:Ticket Admin");
 * assert.equal(qualifiedRightName("com.example.t", "com.example.t:Ticket Admin"), "com.example.t:Ticket Admin");
 * ```
 */
export function qualifiedRightName(namespace: string, right: string): string {
  const name = right.trim();
  return name.startsWith(`${namespace}:`) ? name : `${namespace}:${name}`;
}

/** The short name (`Name` of `{namespace}:Name`), as `POST <service>/rights` takes it. */
export function shortRightName(namespace: string, right: string): string {
  return qualifiedRightName(namespace, right).slice(namespace.length + 1);
}

/** One right declared by name, and where. */
export interface NamedRight {
  /** `METHOD /path/template` of the route that declares it. */
  readonly route: string;
  /** As declared. */
  readonly declared: string;
  /** `{namespace}:Name`. */
  readonly name: string;
}

/**
 * Every right the extension's routes declare by name (not by id), in declaration order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { namedRights } from "./rights.ts";
 * const ext = { name: "t", namespace: "n", routingKey: "t", routes: [
 *   { method: "PUT", path: "/api/t", rights: ["Admin", "urn:vcloud:right:1"], handle: () => ({}) },
 * ] } as const;
 * assert.deepEqual(namedRights(ext), [{ route: "PUT /api/t", declared: "Admin", name: "n:Admin" }]);
 * ```
 */
export function namedRights(extension: Extension): NamedRight[] {
  return extension.routes.flatMap((r) =>
    (r.rights ?? []).filter((right) => !isRightId(right)).map((declared) => ({
      route: `${r.method} ${r.path}`,
      declared,
      name: qualifiedRightName(extension.namespace, declared),
    }))
  );
}

/** A right declared by name that the name → id map does not hold. */
export class UnknownRightError extends Error {
  /** The extension, the route and the right that was not found. */
  constructor(readonly extension: string, readonly right: NamedRight) {
    super(
      `extension ${extension}: route ${right.route} declares right "${right.name}", which vCD ` +
        "does not have: run register for this extension, or fix the name",
    );
    this.name = "UnknownRightError";
  }
}

/**
 * A copy of the extension whose routes hold right ids only: each name replaced by its id from
 * `ids` (keyed by `{namespace}:Name`). Ids stay as they are; an extension without named rights
 * is returned as is. Throws {@linkcode UnknownRightError} for a name `ids` does not hold.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { withRightIds } from "./rights.ts";
 * const ext = { name: "t", namespace: "n", routingKey: "t", routes: [
 *   { method: "PUT", path: "/api/t", rights: ["Admin"], handle: () => ({}) },
 * ] } as const;
 * const resolved = withRightIds(ext, new Map([["n:Admin", "urn:vcloud:right:1"]]));
 * assert.deepEqual(resolved.routes[0]?.rights, ["urn:vcloud:right:1"]);
 * assert.throws(() => withRightIds(ext, new Map()), /route PUT \/api\/t declares right "n:Admin"/);
 * ```
 */
export function withRightIds(extension: Extension, ids: ReadonlyMap<string, string>): Extension {
  if (namedRights(extension).length === 0) return extension;
  const routes = extension.routes.map((r): AnyRoute => {
    if (r.rights === undefined) return r;
    const rights = r.rights.map((declared) => {
      if (isRightId(declared)) return declared;
      const name = qualifiedRightName(extension.namespace, declared);
      const id = ids.get(name);
      if (id === undefined) {
        throw new UnknownRightError(extension.name, {
          route: `${r.method} ${r.path}`,
          declared,
          name,
        });
      }
      return id;
    });
    return { ...r, rights };
  });
  return { ...extension, routes };
}
