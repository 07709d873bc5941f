/**
 * @module The MQTT settings from flags, env and files: the broker URL, its TLS, and each served
 * extension's token. Tokens are credentials: never flag values (they would show in `ps`), only
 * env `VCDEXT_MQTT_TOKEN` or a file readable by its owner alone (mode 0600, checked).
 *
 * Token file format: either one token (for the one extension served), or one line per
 * extension, `vendor/name/version token`; blank lines and lines starting with `#` are skipped.
 * `VCDEXT_MQTT_TOKEN` gives the token of the one extension served; with several, use the file.
 */

import { tripletOf } from "../core/extension.ts";
import type { Extension } from "../core/extension.ts";
import { UsageError } from "./config.ts";

/** The MQTT flags as commander gives them. */
export interface MqttFlags {
  readonly mqttUrl?: string | undefined;
  readonly mqttTokenFile?: string | undefined;
  readonly mqttCa?: string | undefined;
  readonly mqttInsecure?: boolean | undefined;
}

/** What connecting needs. */
export interface MqttSettings {
  readonly url: string;
  readonly tls?: { readonly ca?: string; readonly insecure?: boolean };
  /** The token of each served extension, by triplet. */
  readonly tokens: ReadonlyMap<string, string>;
}

/** Where the settings come from besides the flags (injected by tests). */
export interface MqttSources {
  readonly env: (name: string) => string | undefined;
  readonly readTextFile: (path: string) => Promise<string>;
  /** The file's permission bits (`mode & 0o777`), or `null` where the system has none. */
  readonly modeOf: (path: string) => Promise<number | null>;
}

/** This process's env and files. */
export const SYSTEM_SOURCES: MqttSources = {
  env: (name) => Deno.env.get(name),
  readTextFile: (path) => Deno.readTextFile(path),
  modeOf: async (path) => {
    const mode = (await Deno.stat(path)).mode;
    return mode === null ? null : mode & 0o777;
  },
};

/**
 * Reads a token file: one bare token, or `triplet token` lines.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTokenFile } from "./mqtt_config.ts";
 * assert.deepEqual([...parseTokenFile("abc\n", ["v/n/1.0.0"])], [["v/n/1.0.0", "abc"]]);
 * assert.deepEqual(
 *   [...parseTokenFile("# tokens\nv/a/1.0.0 t1\nv/b/1.0.0 t2\n", ["v/a/1.0.0", "v/b/1.0.0"])],
 *   [["v/a/1.0.0", "t1"], ["v/b/1.0.0", "t2"]],
 * );
 * ```
 */
export function parseTokenFile(text: string, triplets: readonly string[]): Map<string, string> {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  const tokens = new Map<string, string>();
  if (lines.length === 1 && !/\s/.test(lines[0]!)) {
    if (triplets.length !== 1) {
      throw new UsageError(
        `the MQTT token file holds one bare token but ${triplets.length} extensions are served; ` +
          "write one 'vendor/name/version token' line each",
      );
    }
    tokens.set(triplets[0]!, lines[0]!);
    return tokens;
  }
  lines.forEach((line, i) => {
    const parts = line.split(/\s+/);
    if (parts.length !== 2) {
      // The line is not quoted: it may hold a token.
      throw new UsageError(
        `the MQTT token file's line ${i + 1} is not 'vendor/name/version token'`,
      );
    }
    tokens.set(parts[0]!, parts[1]!);
  });
  return tokens;
}

/**
 * The broker part of the MQTT settings, shared by the service and the simulated cell: the URL
 * (`--mqtt-url`, checked) and its TLS from `--mqtt-ca` / `--mqtt-insecure`.
 */
export async function mqttBroker(
  flags: MqttFlags,
  sources: MqttSources = SYSTEM_SOURCES,
): Promise<{ url: string; tls?: { ca?: string; insecure?: boolean } }> {
  if (!flags.mqttUrl) {
    throw new UsageError("--transport mqtt (or both) needs --mqtt-url (or VCDEXT_MQTT_URL)");
  }
  if (!/^(mqtts?|wss?):\/\//i.test(flags.mqttUrl)) {
    throw new UsageError("--mqtt-url must start with wss://, ws://, mqtts:// or mqtt://");
  }
  const ca = flags.mqttCa === undefined ? undefined : await sources.readTextFile(flags.mqttCa);
  const tls = ca === undefined && !flags.mqttInsecure ? undefined : {
    ...(ca === undefined ? {} : { ca }),
    ...(flags.mqttInsecure ? { insecure: true } : {}),
  };
  return { url: flags.mqttUrl, ...(tls ? { tls } : {}) };
}

/**
 * The MQTT settings for serving (or playing the cell to) `extensions`: `--mqtt-url` is needed,
 * every extension needs a token.
 */
export async function mqttSettings(
  flags: MqttFlags,
  extensions: readonly Extension[],
  sources: MqttSources = SYSTEM_SOURCES,
): Promise<MqttSettings> {
  const { url, tls } = await mqttBroker(flags, sources);
  const triplets = extensions.map((e) => tripletOf(e));
  const tokens = await readTokens(flags, triplets, sources);
  const missing = triplets.filter((t) => !tokens.get(t));
  if (missing.length > 0) {
    throw new UsageError(`no MQTT token for ${missing.join(", ")}`);
  }
  return { url, ...(tls ? { tls } : {}), tokens };
}

async function readTokens(
  flags: MqttFlags,
  triplets: readonly string[],
  sources: MqttSources,
): Promise<Map<string, string>> {
  const file = flags.mqttTokenFile;
  if (file !== undefined) {
    const mode = await sources.modeOf(file);
    if (mode !== null && (mode & 0o077) !== 0) {
      throw new UsageError(
        `${file} is readable by others (mode ${mode.toString(8)}); chmod 600 it: it holds tokens`,
      );
    }
    return parseTokenFile(await sources.readTextFile(file), triplets);
  }
  const token = sources.env("VCDEXT_MQTT_TOKEN");
  if (token === undefined || token === "") {
    throw new UsageError(
      "an MQTT extension token is needed: VCDEXT_MQTT_TOKEN or --mqtt-token-file",
    );
  }
  if (triplets.length !== 1) {
    throw new UsageError(
      `VCDEXT_MQTT_TOKEN is one extension's token but ${triplets.length} are served; ` +
        "add --extension NAME, or give --mqtt-token-file with a line per extension",
    );
  }
  return new Map([[triplets[0]!, token]]);
}
