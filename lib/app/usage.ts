/**
 * @module Usage errors on the command line: which command a command line runs, the hint that
 * follows a usage error (`see \`vcdext serve --help\``), and the suggestion for a mistyped
 * command. `serve` is the default command, so commander itself would read `vcdext serv` as
 * `serve` with an extra argument; {@linkcode unknownCommand} catches it first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { unknownCommand, usageHint } from "./usage.ts";
 * const names = ["serve", "request", "routes", "register", "check", "demo"];
 * assert.equal(unknownCommand(["serv"], names), "unknown command 'serv' (did you mean serve?)");
 * assert.equal(unknownCommand(["--amqp-url", "amqp://h"], names), undefined);
 * assert.equal(usageHint("serve"), "see `vcdext serve --help`");
 * ```
 */

/** The program's name as the hints spell it. */
export const PROGRAM = "vcdext";

/** The line after a usage error: where the whole help is. */
export function usageHint(command?: string): string {
  return `see \`${PROGRAM}${command ? ` ${command}` : ""} --help\``;
}

/**
 * The command a command line runs: its first argument when that names a command, else
 * `fallback` (the default command, which then receives the whole line).
 */
export function commandOf(
  args: readonly string[],
  names: readonly string[],
  fallback: string,
): string {
  const first = args[0];
  return first !== undefined && names.includes(first) ? first : fallback;
}

/**
 * The error for a first argument that is not an option and names no command (`help` is one),
 * with the closest command when one is close; `undefined` when the line starts well.
 */
export function unknownCommand(
  args: readonly string[],
  names: readonly string[],
): string | undefined {
  const first = args[0];
  if (first === undefined || first.startsWith("-") || first === "help" || names.includes(first)) {
    return undefined;
  }
  const close = closest(first, names);
  return `unknown command '${first}'${
    close.length === 0 ? "" : ` (did you mean ${close.join(" or ")}?)`
  }`;
}

/**
 * The candidates nearest `word` by edit distance (insertions, deletions, substitutions and
 * swaps of neighbours), when at least 40% of the longer word survives; the same rule commander
 * uses for options.
 */
export function closest(word: string, candidates: readonly string[]): string[] {
  let best = Infinity;
  let found: string[] = [];
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    const length = Math.max(word.length, candidate.length);
    if ((length - distance) / length <= 0.4) continue;
    if (distance < best) [best, found] = [distance, [candidate]];
    else if (distance === best) found.push(candidate);
  }
  return found.sort();
}

/** The optimal-string-alignment distance between `a` and `b`. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, d[i - 2]![j - 2]! + 1);
      }
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
