/**
 * @module `vcdext check --vcd-url …`: vCD's side of the broker. Reads vCD's AMQP settings
 * (`GET /api/admin/extension/settings/amqp`, as a system administrator), compares host, port,
 * vhost, TLS, exchange and prefix with vcdext's own broker list (lib/core/amqp_compare.ts),
 * and runs vCD's own test of those settings (`POST …/settings/amqp/action/test`, answered by
 * an `AmqpSettingsTest` whose `Valid` is true or false): one row each in `check`'s table. It
 * never changes vCD's settings (no `PUT`: other extensions share them).
 *
 * The test sends back exactly the settings vCD returned, with one password chosen by
 * {@linkcode passwordForTest}: the one vCD returned (a real cell hides it), else
 * `VCDEXT_VCD_AMQP_PASSWORD` when set (never a flag), else the password of vcdext's URL at
 * vCD's host and port when its user name is vCD's `AmqpUsername` (the same broker user, so
 * vCD is given nothing it could not already use; the test then proves that the cell reaches
 * the broker with its settings, not that the password it stored is that one). With none of
 * these the test row says "not run" and why, and passes: the comparison rows still stand. No
 * password is printed or logged: row details never carry one, and every error text is scrubbed
 * of all of them.
 */

import { Option } from "@commander-js/extra-typings";
import { compareAmqpSettings, passwordForTest } from "../core/amqp_compare.ts";
import type { VcdAmqpSettings } from "../core/amqp_settings.ts";
import type { Logger } from "../core/logger.ts";
import { passwordsOf, redactUrl, scrub } from "../core/redact.ts";
import { readAmqpSettings, testAmqpSettings } from "../vcd/amqp_settings.ts";
import type { VcdClient } from "../vcd/client.ts";
import type { CheckRow } from "./check.ts";
import { UsageError, vcdClientFrom, type VcdOptions } from "./config.ts";
import { DEFAULT_NOTIFICATIONS_EXCHANGE } from "../core/vcloud.ts";

/** The environment variable that may hold vCD's broker password, for vCD's test. */
export const VCD_AMQP_PASSWORD_ENV = "VCDEXT_VCD_AMQP_PASSWORD";

/** What the vCD rows need. */
export interface VcdCheckInputs {
  /** A system administrator's client; closed by {@linkcode vcdAmqpRows}. */
  readonly client: Pick<VcdClient, "request" | "close">;
  /** The cell's URL, for the first row. */
  readonly url: string;
  /** `--notifications-exchange`, as given to serve (`""`: off). */
  readonly notificationsExchange: string;
  /** `--legacy-notifications-exchange`, as given to serve. */
  readonly legacyNotificationsExchange?: string | undefined;
  /** {@linkcode VCD_AMQP_PASSWORD_ENV}, when set. */
  readonly amqpPassword?: string | undefined;
}

/** The flags of `check` that {@linkcode vcdCheckInputs} reads. */
export interface VcdCheckFlags extends VcdOptions {
  notificationsExchange: string;
  legacyNotificationsExchange?: string | undefined;
  transport?: "amqp" | "mqtt" | "both" | undefined;
}

/** What {@linkcode addVcdCheckOptions} needs of a command. */
export interface OptionHost {
  /** Starts a group of options in the help. */
  optionsGroup(heading: string): unknown;
  /** Adds one option. */
  addOption(option: object): unknown;
}

/**
 * Adds `check`'s vCD flags (`vcdOption`: `--vcd-url` and the login `register` uses, from
 * lib/app/flags.ts; and the notification exchanges), read as {@linkcode VcdCheckFlags}. They are
 * added to the command untyped, and the factories are handed in rather than imported: in
 * `check`'s typed chain of options, or with an import cycle through flags.ts, type-checking the
 * CLI took minutes instead of seconds.
 */
export function addVcdCheckOptions(
  command: OptionHost,
  vcdOption: Readonly<Record<string, () => object>>,
): void {
  command.optionsGroup(
    "vCD's side of the broker (with --vcd-url: its AMQP settings compared and tested, never changed):",
  );
  for (const make of Object.values(vcdOption)) command.addOption(make());
  command.addOption(
    new Option(
      "--notifications-exchange <name>",
      "as given to serve: vCD's <AmqpPrefix>.notifications20 ('' when off)",
    ).default(DEFAULT_NOTIFICATIONS_EXCHANGE),
  );
  command.addOption(
    new Option(
      "--legacy-notifications-exchange <name>",
      "as given to serve; vCD's AmqpExchange may name it instead of --exchange",
    ),
  );
}

/**
 * The vCD rows' inputs from the flags; `undefined` without `--vcd-url`. A usage error with
 * `--transport mqtt` (vCD's AMQP settings are compared with the AMQP side) or without a login.
 */
export async function vcdCheckInputs(
  options: VcdCheckFlags,
  log: Logger,
): Promise<VcdCheckInputs | undefined> {
  if (!options.vcdUrl) return undefined;
  if (options.transport === "mqtt") {
    throw new UsageError("--vcd-url checks vCD's AMQP settings: not with --transport mqtt");
  }
  const client = await vcdClientFrom(options, log);
  if (client === undefined) return undefined;
  const amqpPassword = Deno.env.get(VCD_AMQP_PASSWORD_ENV);
  return {
    client,
    url: options.vcdUrl,
    notificationsExchange: options.notificationsExchange,
    legacyNotificationsExchange: options.legacyNotificationsExchange,
    ...(amqpPassword ? { amqpPassword } : {}),
  };
}

/**
 * The vCD rows: the settings read (or one failed row saying why not: unreachable, refused
 * login, not a system administrator), the comparison rows, and vCD's test. Never throws for
 * what vCD answers.
 */
export async function vcdAmqpRows(
  vcd: VcdCheckInputs,
  urls: readonly string[],
  exchange: string,
): Promise<CheckRow[]> {
  const secrets = [...urls.flatMap(passwordsOf), ...(vcd.amqpPassword ? [vcd.amqpPassword] : [])];
  const what = `vCD AMQP settings (${scrub(redactUrl(vcd.url))})`;
  try {
    let settings: VcdAmqpSettings;
    try {
      settings = await readAmqpSettings(vcd.client);
    } catch (e) {
      return [{ what, ok: false, detail: scrub(String((e as Error).message), secrets) }];
    }
    const shown = settings.AmqpPassword ? "returned" : "hidden";
    return [
      {
        what,
        ok: true,
        detail: `read as user ${settings.AmqpUsername || "(none)"}, password ${shown}`,
      },
      ...compareAmqpSettings(settings, {
        urls,
        exchange,
        legacyNotificationsExchange: vcd.legacyNotificationsExchange,
        notificationsExchange: vcd.notificationsExchange,
      }),
      await testRow(vcd, settings, urls, secrets),
    ];
  } finally {
    vcd.client.close();
  }
}

/** vCD's own test of its settings, with the password {@linkcode passwordForTest} picks. */
async function testRow(
  vcd: VcdCheckInputs,
  settings: VcdAmqpSettings,
  urls: readonly string[],
  secrets: readonly string[],
): Promise<CheckRow> {
  const what = "vCD AMQP test (AmqpSettingsTest)";
  const given = vcd.amqpPassword
    ? { password: vcd.amqpPassword, label: VCD_AMQP_PASSWORD_ENV }
    : undefined;
  const choice = passwordForTest(settings, urls, given);
  if ("reason" in choice) {
    return {
      what,
      ok: true,
      detail: `not run: ${choice.reason}; set ${VCD_AMQP_PASSWORD_ENV} to run it`,
    };
  }
  const all = [
    ...secrets,
    choice.password,
    ...(settings.AmqpPassword ? [settings.AmqpPassword] : []),
  ];
  try {
    const valid = await testAmqpSettings(vcd.client, {
      ...settings,
      AmqpPassword: choice.password,
    });
    if (valid === undefined) {
      return { what, ok: false, detail: "vCD's answer has no Valid true or false" };
    }
    return {
      what,
      ok: valid,
      detail: valid
        ? `Valid=true: vCD reaches its broker with its settings (password: ${choice.source})`
        : `Valid=false: vCD cannot use its settings (password: ${choice.source})`,
    };
  } catch (e) {
    return { what, ok: false, detail: scrub(String((e as Error).message), all) };
  }
}
