/**
 * @module `vcdext register`: the extensions' registrations in vCD, printed (`--print`) or
 * created, updated, disabled or deleted through its REST API. `--transport amqp` (the default):
 * `vmext:Service` documents with the API filters derived from the route templates (lib/vcd/
 * registrar.ts). `--transport mqtt`: the cloudapi external service, its API filters and an
 * `EXTENSION` token written to `--mqtt-token-file` (mode 0600; lib/vcd/cloudapi.ts,
 * lib/app/token_file.ts). `both` does both, for a migration.
 */

import { type Command, Option } from "@commander-js/extra-typings";
import { type Extension, tripletOf } from "../core/extension.ts";
import type { Logger } from "../core/logger.ts";
import { renderServiceDocument } from "../core/register.ts";
import {
  cloudApiDocuments,
  describeCloudApiResult,
  registerExternalService,
} from "../vcd/cloudapi.ts";
import type { VcdClient } from "../vcd/client.ts";
import { describeResult, register } from "../vcd/registrar.ts";
import {
  positiveInt,
  selectExtensions,
  UsageError,
  vcdClientFrom,
  type VcdOptions,
} from "./config.ts";
import { exchangeOption, mqttOption, withVcdOptions } from "./flags.ts";
import { readTokenFile, storeToken } from "./token_file.ts";

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
  /** Which bus's registration; default `amqp`. */
  transport?: "amqp" | "mqtt" | "both" | undefined;
  /** Where the MQTT token goes (mode 0600). */
  mqttTokenFile?: string | undefined;
}

type Action = "register" | "disable" | "unregister";

/**
 * Registers (or, per the flags, prints, disables or unregisters) every selected extension with
 * routes, handing each document or result line to `print` as it comes. Tokens never reach
 * `print`: they go to the token file only.
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
  const transport = options.transport ?? "amqp";
  const amqp = transport !== "mqtt";
  const mqtt = transport !== "amqp";
  const common = {
    exchange: options.exchange,
    priority: options.priority,
    authorizationEnabled: options.authorizationEnabled === true,
    ...(options.routingKey === undefined ? {} : { routingKey: options.routingKey }),
  };
  if (options.print) {
    for (const ext of selected) {
      if (amqp) print(renderServiceDocument(ext, common));
      if (mqtt) print(JSON.stringify(cloudApiDocuments(ext, common), null, 2));
    }
    return;
  }
  const action: Action = options.unregister
    ? "unregister"
    : options.disable
    ? "disable"
    : "register";
  // `--disable` too: on a service not registered yet it stages one, token included.
  if (mqtt && action !== "unregister" && !options.mqttTokenFile) {
    throw new UsageError(
      "register --transport mqtt needs --mqtt-token-file: the new extension token is written there (mode 0600)",
    );
  }
  if (!options.vcdUrl) throw new UsageError("pass --print, or --vcd-url to register");
  const vcd = await vcdClientFrom(options, log);
  try {
    for (const ext of selected) {
      if (amqp) print(describeResult(await register(vcd!, ext, { ...common, action })));
      if (mqtt) print(await registerMqtt(vcd!, ext, options, action, selected.length === 1));
    }
  } finally {
    vcd?.close();
  }
}

/** One extension over MQTT: the cloudapi calls, then the token file; the line to print. */
async function registerMqtt(
  vcd: VcdClient,
  ext: Extension,
  options: RegisterFlags,
  action: Action,
  only: boolean,
): Promise<string> {
  const triplet = tripletOf(ext);
  const file = options.mqttTokenFile;
  const held = file === undefined ? undefined : await readTokenFile(file);
  // A bare token names no triplet: it counts for the one extension registered, and is kept
  // only if vCD still lists a token of that triplet.
  const haveToken = held !== undefined &&
    (held.tokens.has(triplet) || (only && held.bare !== undefined));
  const result = await registerExternalService(vcd, ext, {
    apiVersion: options.vcdApiVersion,
    action,
    priority: options.priority,
    authorizationEnabled: options.authorizationEnabled === true,
    haveToken,
  });
  if (file !== undefined && result.token !== undefined) {
    try {
      await storeToken(file, triplet, result.token);
    } catch (e) {
      throw new Error(
        `vCD created a token for ${triplet} but it could not be written to ${file} ` +
          `(${(e as Error).message}); register again with a writable --mqtt-token-file`,
      );
    }
  }
  if (file !== undefined && action === "unregister" && held?.tokens.has(triplet)) {
    await storeToken(file, triplet, undefined);
  }
  return describeCloudApiResult(result, file);
}

/** `register`: the extensions' `vmext:Service` registrations in vCD. */
export function registerCommand(program: Command) {
  return withVcdOptions(
    program
      .command("register")
      .description(
        "register the API extensions in vCD (vmext:Service with ApiFilters derived from the route " +
          "templates; --transport mqtt: the cloudapi external service, its API filters and an " +
          "EXTENSION token): --print writes the documents; with --vcd-url creates or updates them",
      )
      .addOption(exchangeOption())
      .addOption(
        new Option("--extension <name...>", "only these extensions (default: all with routes)"),
      )
      .addOption(
        new Option(
          "--routing-key <key>",
          "routing key (default: the extension's); one extension only",
        ),
      )
      .addOption(
        new Option("--priority <n>", "priority among services matching the same path").argParser(
          positiveInt("--priority", 0),
        ).default(50),
      )
      .addOption(
        new Option(
          "--authorization-enabled",
          "let vCD check the service's rights before forwarding",
        ),
      )
      .addOption(
        new Option("--print", "write the registration documents to stdout; change nothing"),
      )
      .addOption(
        new Option("--disable", "set Enabled=false on the registered services").conflicts([
          "unregister",
          "print",
        ]),
      )
      .addOption(
        new Option("--unregister", "disable, then delete the registered services").conflicts([
          "print",
        ]),
      )
      .addOption(mqttOption.transport())
      .addOption(
        new Option(
          "--mqtt-token-file <file>",
          "--transport mqtt: where the new EXTENSION token is written (mode 0600; 'vendor/name/version token' lines)",
        ),
      )
      .optionsGroup("vCD REST API:"),
  );
}
