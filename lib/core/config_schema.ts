/**
 * @module An extension's configuration: how it is declared (a {@linkcode ConfigSchema}: each key
 * with its type, an optional default, and whether it is a secret), the typed values a handler
 * reads on `ctx.config` ({@linkcode ConfigOf}), and the pure checking of raw values from a JSON
 * file and the environment ({@linkcode resolveConfig}). Reading the file and the environment is
 * lib/app/ext_config.ts's job.
 */

/** The types a configuration value may have. */
export type ConfigType = "string" | "number" | "boolean";

/** A configuration value. */
export type ConfigValue = string | number | boolean;

/** One configuration key: its type, its default (without one the key is required), a secret. */
export interface ConfigField {
  readonly type: ConfigType;
  /** Used when neither the file nor the environment sets the key; without it, the key is required. */
  readonly default?: ConfigValue;
  /** Redacted in logs and scrubbed from error replies, like tokens. */
  readonly secret?: boolean;
  /** One line for operators. */
  readonly description?: string;
}

/** An extension's declared configuration: key → field. */
export type ConfigSchema = { readonly [key: string]: ConfigField };

/** The TypeScript type of a value of a {@linkcode ConfigType} (distributes over a union). */
export type ValueOfType<T extends ConfigType> = T extends "number" ? number
  : T extends "boolean" ? boolean
  : string;

/** The TypeScript type of one field's value. */
export type ValueOfField<F extends ConfigField> = ValueOfType<F["type"]>;

/** The typed values of a schema, as `ctx.config` holds them. */
export type ConfigOf<S extends ConfigSchema> = { readonly [K in keyof S]: ValueOfField<S[K]> };

/** Configuration values as the host stores them, whatever the schema. */
export type ExtensionConfig = { readonly [key: string]: ConfigValue };

/** A configuration value that is missing or wrong: names the extension, the key and the fix. */
export class ConfigError extends Error {
  constructor(readonly extension: string, readonly key: string, problem: string) {
    super(`extension ${extension}: config key ${key}: ${problem}`);
  }
}

/**
 * The environment variable that sets `key` of extension `extension`: `VCDEXT_`, the extension
 * name, `_`, the key, upper-cased, with camelCase split and `-` or `.` as `_`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { envNameOf } from "./config_schema.ts";
 * assert.equal(envNameOf("quota", "defaultVms"), "VCDEXT_QUOTA_DEFAULT_VMS");
 * assert.equal(envNameOf("my-ext", "api_key"), "VCDEXT_MY_EXT_API_KEY");
 * ```
 */
export function envNameOf(extension: string, key: string): string {
  const part = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").replace(/[-.]/g, "_");
  return `VCDEXT_${part(extension)}_${part(key)}`.toUpperCase();
}

/** Where raw values come from: a parsed JSON file (an object), and environment variables. */
export interface ConfigSources {
  /** The parsed `<extension>.json`, when there is one. */
  readonly file?: unknown;
  /** What the file is called, for messages. */
  readonly fileName?: string;
  /** Environment variables by name (only the `VCDEXT_<EXTENSION>_<KEY>` ones are read). */
  readonly env?: (name: string) => string | undefined;
}

function fromEnv(ext: string, key: string, field: ConfigField, name: string, raw: string) {
  const where = `env ${name}`;
  if (field.type === "string") return raw;
  if (field.type === "number") {
    const n = raw.trim() === "" ? NaN : Number(raw);
    if (!Number.isFinite(n)) {
      throw new ConfigError(ext, key, `${where} must be a number, got ${shown(field, raw)}`);
    }
    return n;
  }
  if (/^(true|1)$/i.test(raw)) return true;
  if (/^(false|0)$/i.test(raw)) return false;
  throw new ConfigError(ext, key, `${where} must be true or false, got ${shown(field, raw)}`);
}

/** Whether a JSON value has the declared type. */
export function isOfType(value: unknown, type: ConfigType): value is ConfigValue {
  const actual: string = typeof value;
  return actual === type;
}

/** A raw value for a message: secrets are never shown. */
function shown(field: ConfigField, raw: unknown): string {
  return field.secret ? "a value (secret, not shown)" : JSON.stringify(raw);
}

/**
 * Checks and completes an extension's configuration: for each declared key, the environment
 * variable ({@linkcode envNameOf}) wins over the file, the file over the default; a key without
 * a value and without a default, a value of the wrong type, a file that is not a JSON object or
 * that sets an undeclared key are each a {@linkcode ConfigError}. The defaults alone when there
 * are no sources.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveConfig } from "./config_schema.ts";
 * const schema = { defaultVms: { type: "number", default: 10 }, apiKey: { type: "string", secret: true } } as const;
 * const env = (n: string) => ({ VCDEXT_QUOTA_DEFAULT_VMS: "12" } as Record<string, string>)[n];
 * assert.deepEqual(resolveConfig("quota", schema, { file: { apiKey: "k" }, env }), { defaultVms: 12, apiKey: "k" });
 * assert.throws(() => resolveConfig("quota", schema, {}), /extension quota: config key apiKey: missing/);
 * ```
 */
export function resolveConfig(
  extension: string,
  schema: ConfigSchema,
  sources: ConfigSources,
): ExtensionConfig {
  const file = sources.file;
  const fileName = sources.fileName ?? `${extension}.json`;
  if (file !== undefined && (typeof file !== "object" || file === null || Array.isArray(file))) {
    throw new ConfigError(extension, "(file)", `${fileName} must hold a JSON object`);
  }
  const fromFile = (file ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(fromFile)) {
    if (!Object.hasOwn(schema, key)) {
      const known = Object.keys(schema).join(", ") || "none";
      throw new ConfigError(
        extension,
        key,
        `${fileName} sets an undeclared key (declared: ${known})`,
      );
    }
  }
  const values: Record<string, ConfigValue> = {};
  for (const [key, field] of Object.entries(schema)) {
    const name = envNameOf(extension, key);
    const raw = sources.env?.(name);
    if (raw !== undefined) {
      values[key] = fromEnv(extension, key, field, name, raw);
    } else if (Object.hasOwn(fromFile, key)) {
      const value = fromFile[key];
      if (!isOfType(value, field.type)) {
        throw new ConfigError(
          extension,
          key,
          `${fileName} must give a ${field.type}, got ${shown(field, value)}`,
        );
      }
      values[key] = value as ConfigValue;
    } else if (field.default !== undefined) {
      values[key] = field.default;
    } else {
      throw new ConfigError(
        extension,
        key,
        `missing: set "${key}" in ${fileName} or env ${name} (no default)`,
      );
    }
  }
  return values;
}

/** The defaults of a schema, for an extension the host has not configured (tests, tools). */
export function defaultsOf(schema: ConfigSchema | undefined): ExtensionConfig {
  const values: Record<string, ConfigValue> = {};
  for (const [key, field] of Object.entries(schema ?? {})) {
    if (field.default !== undefined) values[key] = field.default;
  }
  return values;
}

/** The values of the secret keys (non-empty strings), to scrub from replies and logs. */
export function secretValues(
  schema: ConfigSchema | undefined,
  values: ExtensionConfig,
): string[] {
  return Object.entries(schema ?? {}).flatMap(([key, field]) => {
    const v = values[key];
    return field.secret && v !== undefined && String(v) !== "" ? [String(v)] : [];
  });
}

/**
 * The values for a log line: secrets as `[redacted]`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { redactedConfig } from "./config_schema.ts";
 * const schema = { n: { type: "number" }, key: { type: "string", secret: true } } as const;
 * assert.deepEqual(redactedConfig(schema, { n: 1, key: "s3cret" }), { n: 1, key: "[redacted]" });
 * ```
 */
export function redactedConfig(
  schema: ConfigSchema | undefined,
  values: ExtensionConfig,
): Record<string, ConfigValue> {
  const out: Record<string, ConfigValue> = {};
  for (const [key, v] of Object.entries(values)) {
    out[key] = schema?.[key]?.secret ? "[redacted]" : v;
  }
  return out;
}
