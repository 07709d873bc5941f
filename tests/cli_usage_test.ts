/**
 * Usage errors on the command line (issue 15, item 7): one line plus where the help is, never
 * the whole help; exit 2 for every usage error, commander's and ours; a suggestion for a
 * mistyped command. No broker: every case fails before connecting.
 */

import assert from "node:assert/strict";
import { closest, commandOf, unknownCommand } from "../lib/app/usage.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    // An unreachable broker: a case that wrongly got as far as connecting fails at once.
    env: { RUST_BACKTRACE: "0", NO_COLOR: "1", VCDEXT_AMQP_URL: "amqp://u:p@127.0.0.1:1" },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The stderr of a usage error: exactly `lines` (the error, maybe a suggestion) and the hint. */
function assertUsage(
  r: { code: number; stdout: string; stderr: string },
  error: RegExp,
  hint: string,
): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, "");
  assert.doesNotMatch(r.stderr, /Usage:|Options:/, "the whole help was printed");
  const lines = r.stderr.trimEnd().split("\n");
  assert.match(lines[0]!, error);
  assert.equal(lines.at(-1), hint);
  assert.ok(lines.length <= 3, r.stderr);
}

Deno.test("a mistyped command is an error with a suggestion, exit 2", async () => {
  assertUsage(
    await run("serv"),
    /^vcdext: unknown command 'serv' \(did you mean serve\?\)$/,
    "see `vcdext --help`",
  );
  assertUsage(
    await run("regster", "--vcd-url", "https://x"),
    /did you mean register\?/,
    "see `vcdext --help`",
  );
  assertUsage(
    await run("frobnicate"),
    /^vcdext: unknown command 'frobnicate'$/,
    "see `vcdext --help`",
  );
});

Deno.test("an unknown option is one line, the suggestion and the command's hint, exit 2", async () => {
  const r = await run("serve", "--prefech", "3");
  assertUsage(r, /^vcdext: unknown option '--prefech'$/, "see `vcdext serve --help`");
  assert.match(r.stderr, /Did you mean --prefetch\?/);
  assertUsage(
    await run("routes", "--bogus"),
    /unknown option '--bogus'/,
    "see `vcdext routes --help`",
  );
});

Deno.test("a missing or excess argument is a usage error, exit 2", async () => {
  assertUsage(
    await run("request"),
    /missing required argument 'method'/,
    "see `vcdext request --help`",
  );
  assertUsage(
    await run("routes", "x"),
    /too many arguments for 'routes'/,
    "see `vcdext routes --help`",
  );
});

Deno.test("an invalid choice is a usage error, exit 2", async () => {
  assertUsage(
    await run("serve", "--log-level", "loud"),
    /argument 'loud' is invalid\. Allowed choices are debug, info/,
    "see `vcdext serve --help`",
  );
});

Deno.test("our own usage errors get the same hint and exit 2", async () => {
  assertUsage(
    await run("serve", "--prefetch", "zero"),
    /^vcdext: --prefetch must be a whole number of at least 1, got "zero"$/,
    "see `vcdext serve --help`",
  );
});

Deno.test("help and version still exit 0 and print in full", async () => {
  const help = await run("serve", "--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: vcdext serve/);
  assert.equal((await run("--version")).code, 0);
  assert.equal((await run("help", "routes")).code, 0);
});

Deno.test("which command a line runs, and which first words are unknown commands", () => {
  const names = ["serve", "request", "routes", "register", "check", "demo"];
  assert.equal(commandOf(["request", "GET", "/x"], names, "serve"), "request");
  assert.equal(commandOf(["--prefetch", "1"], names, "serve"), "serve");
  assert.equal(unknownCommand([], names), undefined);
  assert.equal(unknownCommand(["help"], names), undefined);
  assert.equal(unknownCommand(["check"], names), undefined);
  assert.deepEqual(closest("rout", names), ["routes"]);
  assert.deepEqual(closest("reqeust", names), ["request"]);
  assert.deepEqual(closest("zzzzzz", names), []);
});
