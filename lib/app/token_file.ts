/**
 * @module The MQTT token file as `vcdext register --transport mqtt` keeps it: one line per
 * extension, `vendor/name/version token` (the format lib/app/mqtt_config.ts `parseTokenFile`
 * reads, for one extension or several), written through a new file created with mode 0600 and
 * renamed over the old one, so the tokens are never readable by others, not even for a moment.
 * Other extensions' lines are kept; a bare token (the one-extension format) is replaced.
 */

/** The first line of a written file. */
const HEADER =
  "# vcdext MQTT extension tokens: 'vendor/name/version token' per line; keep mode 0600";

/** What a token file holds: tokens by triplet, and a bare token if that is the format. */
export interface TokenFileContent {
  readonly tokens: Map<string, string>;
  readonly bare: string | undefined;
}

/**
 * Reads a token file leniently (lines that are neither a bare token nor `triplet token` are
 * skipped); an absent file is empty.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTokenLines } from "./token_file.ts";
 * assert.deepEqual(parseTokenLines("# x\nv/a/1.0.0 t1\n").tokens, new Map([["v/a/1.0.0", "t1"]]));
 * assert.equal(parseTokenLines("abc\n").bare, "abc");
 * ```
 */
export function parseTokenLines(text: string): TokenFileContent {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
  if (lines.length === 1 && !/\s/.test(lines[0]!)) return { tokens: new Map(), bare: lines[0] };
  const tokens = new Map<string, string>();
  for (const line of lines) {
    const p = line.split(/\s+/);
    if (p.length === 2) tokens.set(p[0]!, p[1]!);
  }
  return { tokens, bare: undefined };
}

/** The file's content, or an empty one when it does not exist. */
export async function readTokenFile(path: string): Promise<TokenFileContent> {
  try {
    return parseTokenLines(await Deno.readTextFile(path));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return { tokens: new Map(), bare: undefined };
    throw e;
  }
}

/**
 * Sets (or, with `token` undefined, removes) the token of `triplet` in the file at `path`,
 * keeping the other lines. The new content goes to a sibling created with mode 0600 (and
 * `chmod`-ed to it, whatever the umask), then renamed over `path`: the file is 0600 from its
 * first byte, and a reader never sees half of it.
 */
export async function storeToken(
  path: string,
  triplet: string,
  token: string | undefined,
): Promise<void> {
  const { tokens } = await readTokenFile(path);
  if (token === undefined) tokens.delete(triplet);
  else tokens.set(triplet, token);
  const text = [HEADER, ...[...tokens].map(([t, v]) => `${t} ${v}`)].join("\n") + "\n";
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  const file = await Deno.open(temp, { createNew: true, write: true, mode: 0o600 });
  try {
    if (Deno.build.os !== "windows") await Deno.chmod(temp, 0o600);
    await file.write(new TextEncoder().encode(text));
  } catch (e) {
    file.close();
    await Deno.remove(temp).catch(() => {});
    throw e;
  }
  file.close();
  await Deno.rename(temp, path);
}
