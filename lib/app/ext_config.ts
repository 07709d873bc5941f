/**
 * @module The extensions' configuration at start: for each served extension that declares a
 * `config`, reads `<config-dir>/<name>.json` (when it exists) and its `VCDEXT_<NAME>_<KEY>`
 * environment variables, checks them against the declaration (lib/core/config_schema.ts), and
 * hands the extension on with its values. A missing or wrong value is a {@linkcode UsageError}
 * (exit 2) naming the extension, the key and the fix; the values are logged once, secrets
 * redacted.
 */

import { ConfigError, redactedConfig, resolveConfig } from "../core/config_schema.ts";
import { type Extension, withConfig } from "../core/extension.ts";
import type { Logger } from "../core/logger.ts";
import { UsageError } from "./config.ts";

/** Where `serve` reads extension configuration files by default (`--config-dir`). */
export const DEFAULT_CONFIG_DIR = "/etc/vcdext";

/** Where the values come from (injected by tests). */
export interface ConfigReaders {
  /** Reads a file as text; `undefined` when it does not exist. */
  readonly readFile: (path: string) => Promise<string | undefined>;
  /** Reads an environment variable. */
  readonly env: (name: string) => string | undefined;
}

/** Reads from the file system and the process environment (`VCDEXT_*` only). */
export const systemReaders: ConfigReaders = {
  async readFile(path) {
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return undefined;
      throw e;
    }
  },
  env: (name) => Deno.env.get(name),
};

/** A configuration value that is missing or wrong, or an unreadable file: exit 2. */
export class ExtensionConfigError extends UsageError {}

/**
 * `registry` with each of `selected` that declares a `config` configured from `configDir` and
 * the environment; the others as they are. Throws {@linkcode ExtensionConfigError}.
 */
export async function configureExtensions(
  registry: readonly Extension[],
  selected: readonly Extension[],
  configDir: string = DEFAULT_CONFIG_DIR,
  log: Logger,
  readers: ConfigReaders = systemReaders,
): Promise<Extension[]> {
  const configured = new Map<Extension, Extension>();
  for (const ext of selected) {
    if (ext.config === undefined) continue;
    const fileName = `${configDir.replace(/\/+$/, "")}/${ext.name}.json`;
    let file: unknown;
    let text: string | undefined;
    try {
      text = await readers.readFile(fileName);
    } catch (e) {
      throw new ExtensionConfigError(
        `extension ${ext.name}: cannot read ${fileName}: ${(e as Error).message}`,
      );
    }
    if (text !== undefined) {
      try {
        file = JSON.parse(text);
      } catch (e) {
        throw new ExtensionConfigError(
          `extension ${ext.name}: ${fileName} is not JSON: ${(e as Error).message}`,
        );
      }
    }
    let values;
    try {
      values = resolveConfig(ext.name, ext.config, { file, fileName, env: readers.env });
    } catch (e) {
      if (e instanceof ConfigError) throw new ExtensionConfigError(e.message);
      throw e;
    }
    log.info(
      { extension: ext.name, config: redactedConfig(ext.config, values) },
      "extension config",
    );
    configured.set(ext, withConfig(ext, values));
  }
  return registry.map((ext) => configured.get(ext) ?? ext);
}
