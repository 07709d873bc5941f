/**
 * @module `serve`'s rights by name, resolved at start: for every extension served whose routes
 * declare rights by name (lib/core/rights.ts), the ids vCD gave them are read through the REST
 * client (the service found by name and namespace, then its rights link), and the extension is
 * replaced by a copy whose routes hold ids only, so dispatch compares ids with the caller's
 * security context as it always did. Start is refused, with one line naming the extension, the
 * route and the right, when a right does not exist in vCD or no `--vcd-url` is given.
 */

import type { Extension } from "../core/extension.ts";
import { namedRights, withRightIds } from "../core/rights.ts";
import type { Logger } from "../observability/log.ts";
import { findService, type RestClient } from "../vcd/registrar.ts";
import { rightsHref, serviceRightIds } from "../vcd/service_rights.ts";
import { selectExtensions, type ServeOptions, UsageError, vcdClientFrom } from "./config.ts";

/** Why `serve` cannot resolve a right declared by name (start refused, exit 1). */
export class RightsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RightsError";
  }
}

/**
 * `extensions` with every right declared by name replaced by its id in vCD (looked up through
 * `client`); an extension without named rights is kept as is, and costs no request. Rejects
 * with {@linkcode RightsError} (or `UnknownRightError`) naming the extension, the route and the
 * right when the service is not registered or lacks the right.
 */
export async function resolveRights(
  client: RestClient,
  extensions: readonly Extension[],
): Promise<Extension[]> {
  const resolved: Extension[] = [];
  for (const extension of extensions) {
    const named = namedRights(extension);
    if (named.length === 0) {
      resolved.push(extension);
      continue;
    }
    const first = named[0]!;
    let ids: Map<string, string>;
    try {
      const service = await findService(client, extension);
      if (service === undefined) {
        throw new RightsError(
          `extension ${extension.name}: route ${first.route} declares right "${first.name}", ` +
            "but the extension is not registered in vCD: run register first",
        );
      }
      ids = await serviceRightIds(
        client,
        await rightsHref(client, service.href),
        extension.namespace,
      );
    } catch (e) {
      if (e instanceof RightsError) throw e;
      throw new RightsError(
        `extension ${extension.name}: cannot read its rights from vCD: ${(e as Error).message}`,
      );
    }
    resolved.push(withRightIds(extension, ids));
  }
  return resolved;
}

/**
 * The registry `serve` runs with: the extensions it serves (`--extension`) with their named
 * rights resolved through a vCD client of its own (closed after), the others untouched. Without
 * named rights, the registry itself, and no vCD client. A `UsageError` (exit 2) when rights are
 * declared by name and no `--vcd-url` is given.
 */
export async function registryWithRightIds(
  options: ServeOptions,
  registry: readonly Extension[],
  log: Logger,
): Promise<readonly Extension[]> {
  const selected = selectExtensions(registry, options.extension)
    .filter((e) => namedRights(e).length > 0);
  if (selected.length === 0) return registry;
  if (!options.vcdUrl) {
    const ext = selected[0]!;
    const right = namedRights(ext)[0]!;
    throw new UsageError(
      `extension ${ext.name}: route ${right.route} declares right "${right.name}" by name; ` +
        "serve needs --vcd-url to look up its id (or declare the urn:vcloud:right: id)",
    );
  }
  const client = await vcdClientFrom(options, log);
  try {
    const resolved = await resolveRights(client!, selected);
    log.info({ extensions: resolved.map((e) => e.name) }, "rights declared by name resolved");
    return registry.map((e) => resolved[selected.indexOf(e)] ?? e);
  } finally {
    client?.close();
  }
}
