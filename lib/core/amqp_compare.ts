/**
 * @module vCD's AMQP settings against vcdext's own broker list, row by row (wire format,
 * sections 6.1 and 9): host, port, vhost, TLS, exchange and prefix, and which password vCD's
 * own test may be given. Pure; lib/app/check_vcd.ts reads the settings, runs the test and
 * prints the rows in `vcdext check`'s table.
 *
 * How each value is read, on both sides:
 *
 * - host: case-insensitive, IPv6 brackets dropped, no name resolution (`localhost` is not
 *   `127.0.0.1`);
 * - port: `AmqpPort`, or when vCD leaves it empty the default for its `AmqpUseSSL` (5671 with
 *   TLS, 5672 without); a URL's port, or its scheme's default (`amqps://` 5671, `amqp://` 5672);
 * - vhost: `AmqpVHost`, `/` when empty; a URL's path without its first `/`, percent-decoded,
 *   `/` when empty (as amqplib reads it);
 * - TLS: `AmqpUseSSL` (absent counts as `false`) against `amqps://`;
 * - a match of vCD's host and port with ANY of vcdext's URLs counts (a cluster: vCD names one
 *   node, vcdext all of them); the vhost and TLS are compared with the URLs at vCD's host and
 *   port, or at its host, or with all of them, whichever is the first non-empty set;
 * - exchange: vCD's `AmqpExchange` is the exchange its cell-wide messages go to (the legacy XML
 *   notifications; VMware's guides name it `systemExchange`, while extensions such as the
 *   Container Service Extension set it to their own request exchange). It matches vcdext's
 *   `--exchange` or, when given, its `--legacy-notifications-exchange` (the flag that names
 *   this setting); anything else fails;
 * - prefix: vCD publishes its JSON notifications to `<AmqpPrefix>.notifications20`, so that is
 *   what vcdext's `--notifications-exchange` must be; with notifications off (`""`) the prefix
 *   is not compared.
 *
 * A field vCD left out that is not needed (exchange, prefix) is a passing row that says it was
 * not compared; a missing host fails (vCD's broker is not configured).
 */

import { clip } from "./redact.ts";
import { settingBool, type VcdAmqpSettings } from "./amqp_settings.ts";

/** One of vcdext's broker URLs, as the comparison reads it. */
export interface BrokerEndpoint {
  /** Lower-case, without IPv6 brackets. */
  readonly host: string;
  readonly port: number;
  readonly vhost: string;
  readonly tls: boolean;
  /** Percent-decoded; `""` when the URL has none. */
  readonly username: string;
  /** Percent-decoded; `""` when the URL has none. */
  readonly password: string;
}

/** What vcdext uses, to compare vCD's settings with. */
export interface VcdAmqpExpectations {
  /** vcdext's broker URLs (`--amqp-url`, possibly several). */
  readonly urls: readonly string[];
  /** `--exchange`. */
  readonly exchange: string;
  /** `--legacy-notifications-exchange`, when given. */
  readonly legacyNotificationsExchange?: string | undefined;
  /** `--notifications-exchange` (`""`: off). */
  readonly notificationsExchange: string;
}

/** One row of the comparison (the shape of `vcdext check`'s rows). */
export interface SettingsRow {
  readonly what: string;
  readonly ok: boolean;
  readonly detail: string;
}

/** The suffix vCD appends to `AmqpPrefix` for its JSON notification exchange. */
export const NOTIFICATIONS_SUFFIX = ".notifications20";

function normalHost(host: string): string {
  return host.trim().replace(/^\[(.*)\]$/, "$1").toLowerCase();
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * A broker URL as the comparison reads it; `undefined` when it is not an `amqp://` or
 * `amqps://` URL.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { brokerEndpoint } from "./amqp_compare.ts";
 * assert.deepEqual(brokerEndpoint("amqps://vcd:s3cret@Rabbit.Example/%2f"), {
 *   host: "rabbit.example", port: 5671, vhost: "/", tls: true, username: "vcd", password: "s3cret",
 * });
 * assert.equal(brokerEndpoint("amqp://h:5680")?.port, 5680);
 * assert.equal(brokerEndpoint("amqp://h/")?.vhost, "/");
 * assert.equal(brokerEndpoint("http://h"), undefined);
 * ```
 */
export function brokerEndpoint(url: string): BrokerEndpoint | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== "amqp:" && u.protocol !== "amqps:") return undefined;
  const tls = u.protocol === "amqps:";
  return {
    host: normalHost(u.hostname),
    port: u.port === "" ? (tls ? 5671 : 5672) : Number(u.port),
    vhost: decoded(u.pathname.slice(1)) || "/",
    tls,
    username: decoded(u.username),
    password: decoded(u.password),
  };
}

/** vCD's side, read as the module comment says. */
interface VcdSide {
  readonly host: string | undefined;
  /** `undefined` when `AmqpUseSSL` is neither true nor false. */
  readonly tls: boolean | undefined;
  /** `NaN` when `AmqpPort` is not a port number. */
  readonly port: number;
  readonly portDefaulted: boolean;
  readonly vhost: string;
}

function vcdSide(vcd: VcdAmqpSettings): VcdSide {
  const host = vcd.AmqpHost ? normalHost(vcd.AmqpHost) : undefined;
  const tls = vcd.AmqpUseSSL === undefined || vcd.AmqpUseSSL === ""
    ? false
    : settingBool(vcd.AmqpUseSSL);
  const portText = vcd.AmqpPort ?? "";
  const n = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  return {
    host,
    tls,
    port: portText === "" ? (tls ? 5671 : 5672) : n >= 1 && n <= 65535 ? n : NaN,
    portDefaulted: portText === "",
    vhost: vcd.AmqpVHost || "/",
  };
}

/** The distinct values of `pick` over the endpoints, for a row's detail. */
function listed(endpoints: readonly BrokerEndpoint[], pick: (e: BrokerEndpoint) => string) {
  return [...new Set(endpoints.map(pick))].join(", ") || "(no amqp:// URL)";
}

/**
 * The comparison rows, in this order: host, port, vhost, TLS, exchange, prefix. Every detail
 * names vCD's value and vcdext's; no password appears in any.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareAmqpSettings } from "./amqp_compare.ts";
 * const rows = compareAmqpSettings(
 *   { AmqpHost: "RABBIT-2", AmqpPort: "", AmqpVHost: "prod", AmqpUseSSL: "false", AmqpExchange: "vcdext", AmqpPrefix: "vcd" },
 *   { urls: ["amqp://u:p@rabbit-1/prod", "amqp://u:p@rabbit-2/prod"], exchange: "vcdext", notificationsExchange: "vcd.notifications20" },
 * );
 * assert.deepEqual(rows.map((r) => r.ok), [true, true, true, true, true, true]);
 * const [, , vhost] = compareAmqpSettings(
 *   { AmqpHost: "rabbit-1", AmqpVHost: "test" },
 *   { urls: ["amqp://u:p@rabbit-1/prod"], exchange: "vcdext", notificationsExchange: "" },
 * );
 * assert.deepEqual(vhost, { what: "vCD AMQP vhost", ok: false, detail: "vCD test; vcdext prod" });
 * ```
 */
export function compareAmqpSettings(
  vcd: VcdAmqpSettings,
  expected: VcdAmqpExpectations,
): SettingsRow[] {
  const side = vcdSide(vcd);
  const all = expected.urls.map(brokerEndpoint).filter((e) => e !== undefined);
  const atHost = all.filter((e) => e.host === side.host);
  const atHostPort = atHost.filter((e) => e.port === side.port);
  const pool = atHostPort.length > 0 ? atHostPort : atHost.length > 0 ? atHost : all;
  return [
    hostRow(side, all, atHost),
    portRow(side, vcd, atHost.length > 0 ? atHost : all),
    {
      what: "vCD AMQP vhost",
      ok: pool.some((e) => e.vhost === side.vhost),
      detail: `vCD ${clip(side.vhost)}; vcdext ${listed(pool, (e) => e.vhost)}`,
    },
    tlsRow(side, vcd, pool),
    exchangeRow(vcd, expected),
    prefixRow(vcd, expected),
  ];
}

function hostRow(
  side: VcdSide,
  all: readonly BrokerEndpoint[],
  atHost: readonly BrokerEndpoint[],
): SettingsRow {
  const what = "vCD AMQP host";
  if (side.host === undefined) {
    return { what, ok: false, detail: "vCD has no AmqpHost: its AMQP broker is not configured" };
  }
  return {
    what,
    ok: atHost.length > 0,
    detail: `vCD ${clip(side.host)}; vcdext ${listed(all, (e) => e.host)}`,
  };
}

function portRow(
  side: VcdSide,
  vcd: VcdAmqpSettings,
  pool: readonly BrokerEndpoint[],
): SettingsRow {
  const what = "vCD AMQP port";
  const vcdPort = Number.isNaN(side.port)
    ? `${clip(vcd.AmqpPort ?? "")} (not a port number)`
    : side.portDefaulted
    ? `${side.port} (AmqpPort empty: the default)`
    : String(side.port);
  return {
    what,
    ok: pool.some((e) => e.port === side.port),
    detail: `vCD ${vcdPort}; vcdext ${listed(pool, (e) => String(e.port))}`,
  };
}

function tlsRow(
  side: VcdSide,
  vcd: VcdAmqpSettings,
  pool: readonly BrokerEndpoint[],
): SettingsRow {
  const vcdTls = side.tls === undefined
    ? `AmqpUseSSL ${clip(vcd.AmqpUseSSL ?? "")} (neither true nor false)`
    : `AmqpUseSSL ${side.tls}${
      side.tls && settingBool(vcd.AmqpSslAcceptAll) ? " (AmqpSslAcceptAll: any certificate)" : ""
    }`;
  return {
    what: "vCD AMQP TLS",
    ok: side.tls !== undefined && pool.some((e) => e.tls === side.tls),
    detail: `vCD ${vcdTls}; vcdext ${listed(pool, (e) => e.tls ? "amqps://" : "amqp://")}`,
  };
}

function exchangeRow(vcd: VcdAmqpSettings, expected: VcdAmqpExpectations): SettingsRow {
  const what = "vCD AMQP exchange";
  const legacy = expected.legacyNotificationsExchange;
  const ours = `--exchange ${expected.exchange}` +
    (legacy ? `, --legacy-notifications-exchange ${legacy}` : "");
  if (!vcd.AmqpExchange) {
    return { what, ok: true, detail: `not compared: vCD returned no AmqpExchange; vcdext ${ours}` };
  }
  return {
    what,
    ok: vcd.AmqpExchange === expected.exchange || (!!legacy && vcd.AmqpExchange === legacy),
    detail: `vCD ${clip(vcd.AmqpExchange)}; vcdext ${ours}`,
  };
}

function prefixRow(vcd: VcdAmqpSettings, expected: VcdAmqpExpectations): SettingsRow {
  const what = "vCD AMQP prefix";
  const ours = expected.notificationsExchange;
  if (ours === "") {
    return { what, ok: true, detail: "not compared: vcdext's notifications are off" };
  }
  if (!vcd.AmqpPrefix) {
    return { what, ok: true, detail: `not compared: vCD returned no AmqpPrefix; vcdext ${ours}` };
  }
  const theirs = `${vcd.AmqpPrefix}${NOTIFICATIONS_SUFFIX}`;
  return {
    what,
    ok: theirs === ours,
    detail: `vCD ${clip(vcd.AmqpPrefix)} (JSON notifications on ${clip(theirs)}); ` +
      `vcdext --notifications-exchange ${ours}`,
  };
}

/** The password vCD's test is given, and where it came from; or why the test is not run. */
export type TestPassword =
  | { readonly password: string; readonly source: string }
  | { readonly reason: string };

/**
 * Which password to send with vCD's own test (`POST …/settings/amqp/action/test`), whose other
 * fields are exactly what vCD returned. In order:
 *
 * 1. the `AmqpPassword` vCD returned, when it returned one (a real cell hides it);
 * 2. `given`, a password the operator supplied for vCD's broker user;
 * 3. the password of a vcdext URL at vCD's host and port whose user name is vCD's
 *    `AmqpUsername`: the same user on the same broker, so vCD gets no credential it could not
 *    already use. The test then proves that the cell reaches the broker with its host, port,
 *    vhost and TLS settings as that user; it cannot prove that the password vCD stored is
 *    the same one;
 * 4. none: the test is not run, and the reason says what would let it run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { passwordForTest } from "./amqp_compare.ts";
 * const vcd = { AmqpHost: "rabbit", AmqpUsername: "vcd" };
 * assert.deepEqual(passwordForTest({ ...vcd, AmqpPassword: "x" }, []), { password: "x", source: "the password vCD returned" });
 * assert.equal((passwordForTest(vcd, ["amqp://vcd:pw@rabbit"]) as { password: string }).password, "pw");
 * assert.ok("reason" in passwordForTest(vcd, ["amqp://other:pw@rabbit"]));
 * ```
 */
export function passwordForTest(
  vcd: VcdAmqpSettings,
  urls: readonly string[],
  given?: { readonly password: string; readonly label: string },
): TestPassword {
  if (vcd.AmqpPassword) return { password: vcd.AmqpPassword, source: "the password vCD returned" };
  if (given?.password) return { password: given.password, source: given.label };
  const side = vcdSide(vcd);
  const user = vcd.AmqpUsername ?? "";
  const same = urls.map(brokerEndpoint).find((e) =>
    e !== undefined && e.host === side.host && e.port === side.port && e.username === user &&
    e.password !== ""
  );
  if (same !== undefined) {
    return { password: same.password, source: `vcdext's URL for the same user ${clip(user)}` };
  }
  return {
    reason: `vCD returned no AmqpPassword and no vcdext URL at its host and port logs in as ` +
      `its user ${clip(user || "(none)")}`,
  };
}
