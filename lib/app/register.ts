/**
 * @module `vcdext register`: the extensions' `vmext:Service` documents with the API filters
 * derived from their route templates, printed (`--print`) or created, updated, disabled or
 * deleted in vCD through its REST API.
 */

import type { Extension } from "../core/extension.ts";
import type { Logger } from "../core/logger.ts";
import { renderServiceDocument } from "../core/register.ts";
import { describeResult, register } from "../vcd/registrar.ts";
import { selectExtensions, UsageError, vcdClientFrom, type VcdOptions } from "./config.ts";

/** The flags of `vcdext register`. */
export interface RegisterFlags extends VcdOptions {
  exchange: string;
  extension?: string[] | undefined;
  routingKey?: string | undefined;
  priority: number;
  authorizationEnabled?: true | undefined;
  print?: true | undefined;
  disable?: true | undefined;
  unregister?: true | undefined;
}

/**
 * Registers (or, per the flags, prints, disables or unregisters) every selected extension with
 * routes, handing each document or result line to `print` as it comes.
 */
export async function registerExtensions(
  registry: readonly Extension[],
  options: RegisterFlags,
  log: Logger,
  print: (text: string) => void,
): Promise<void> {
  const selected = selectExtensions(registry, options.extension).filter((e) => e.routes.length > 0);
  if (options.routingKey !== undefined && selected.length !== 1) {
    throw new UsageError("--routing-key applies to one extension; add --extension NAME");
  }
  const common = {
    exchange: options.exchange,
    priority: options.priority,
    authorizationEnabled: options.authorizationEnabled === true,
    ...(options.routingKey === undefined ? {} : { routingKey: options.routingKey }),
  };
  if (options.print) {
    for (const ext of selected) print(renderServiceDocument(ext, common));
    return;
  }
  if (!options.vcdUrl) throw new UsageError("pass --print, or --vcd-url to register");
  const vcd = await vcdClientFrom(options, log);
  try {
    const action = options.unregister ? "unregister" : options.disable ? "disable" : "register";
    for (const ext of selected) {
      print(describeResult(await register(vcd!, ext, { ...common, action })));
    }
  } finally {
    vcd?.close();
  }
}
