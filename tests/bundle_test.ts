/**
 * The single-file deployment: `deno task bundle` builds dist/vcdext.js, which runs from an empty
 * directory (no node_modules, no deno.json, no package.json) with `deno run --cached-only
 * --no-config` and exactly the permissions of `deno task compile`, and answers a real request
 * through the broker. Prints the bundle size, start-to-ready time and idle RSS, and the same
 * figures for `deno run main.ts`. `deno task compile` is tried too and its binary must answer
 * `--help`; where compile cannot download its runtime, the test prints why and checks `--help`
 * on the bundle instead.
 */

import assert from "node:assert/strict";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { SAMPLE } from "../lib/sim/cell.ts";
import { AMQP_URL, eventually, uniqueName } from "./broker.ts";
import { taskPermissions, taskV8Flags } from "./permissions.ts";

const DENO = Deno.execPath();
const ROOT = new URL("..", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const BUNDLE = `${ROOT}dist/vcdext.js`;
const decoder = new TextDecoder();

/** A service's environment as a unit file would give it: no NO_COLOR, no stray variables. */
function serviceEnv(): Record<string, string> {
  const env: Record<string, string> = { VCDEXT_AMQP_URL: AMQP_URL, RUST_BACKTRACE: "0" };
  for (const name of ["PATH", "HOME", "DENO_DIR"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/**
 * The permissions of `deno task compile` as `--allow-*`/`--deny-*` flags (its permission set,
 * see tests/permissions.ts), and its `--v8-flags`, also baked into the binary, so the tests
 * cannot drift from it.
 */
async function compilePermissions(): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const command: string = config.tasks.compile.command;
  const words = command.split(/\s+/);
  const flags = [...await taskV8Flags("compile"), ...await taskPermissions("compile")];
  assert.ok(
    flags.length >= 3 && !words.includes("-A") && !words.includes("--allow-all") &&
      !flags.includes("--allow-all"),
    `the compile task should list its permissions one by one: ${command}`,
  );
  return flags;
}

async function runDeno(
  args: string[],
  cwd: string,
  env?: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args,
    cwd,
    stdin: "null",
    ...(env ? { env, clearEnv: true } : {}),
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Resident set size of a process in KiB, from /proc/<pid>/status. */
async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = status.match(/^VmRSS:\s+(\d+) kB$/m);
  assert.ok(m, `no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

interface Figures {
  /** From spawn to the `"msg":"consuming"` log line. */
  readyMs: number;
  /** VmRSS once ready and idle. */
  idleRssKiB: number;
}

/**
 * Runs `deno <prefix> serve …` in `cwd`, measures it, plays a cell with `deno <prefix> request …`
 * (POST → 201, GET → 200), stops it with SIGTERM and expects exit 0. Deletes its exchange and queue.
 */
async function serveAndRoundTrip(prefix: string[], cwd: string): Promise<Figures> {
  const exchange = uniqueName("vcdext.test.bundle");
  const queue = `${exchange}.q`;
  const env = serviceEnv();
  const started = performance.now();
  const child = new Deno.Command(DENO, {
    args: [
      ...prefix,
      "serve",
      "--exchange",
      exchange,
      "--queue",
      queue,
      "--extension",
      "gcp-ticketing",
    ],
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  let readyMs = Number.NaN;
  const pump = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr += chunk;
      if (Number.isNaN(readyMs) && stderr.includes('"msg":"consuming"')) {
        readyMs = performance.now() - started;
      }
    }
  })();
  const admin = await BrokerAdmin.connect(AMQP_URL);
  try {
    await eventually(() => !Number.isNaN(readyMs), 20_000).catch((e) => {
      throw new Error(`${(e as Error).message}; stderr:\n${stderr}`);
    });
    await new Promise((r) => setTimeout(r, 500)); // let start-up garbage settle
    const idleRssKiB = await rssKiB(child.pid);

    const base = `/api/org/${SAMPLE.orgId}/ticketing`;
    const posted = await runDeno(
      [
        ...prefix,
        "request",
        "POST",
        base,
        "--exchange",
        exchange,
        "--data",
        '{"message":"bundled"}',
      ],
      cwd,
      env,
    );
    assert.equal(posted.code, 0, posted.stderr);
    assert.match(posted.stdout, /← 201 Created/);
    assert.match(posted.stdout, /"message":"bundled"/);
    const listed = await runDeno(
      [...prefix, "request", "GET", base, "--exchange", exchange],
      cwd,
      env,
    );
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /← 200 OK/);
    assert.match(listed.stdout, /bundled/);

    child.kill("SIGTERM");
    const status = await child.status;
    await pump;
    assert.equal(status.code, 0, stderr);
    assert.match(stderr, /"msg":"stopped"/);
    assert.doesNotMatch(stderr, /Requires \w+ access|NotCapable|PermissionDenied/);
    return { readyMs, idleRssKiB };
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await pump.catch(() => {});
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
}

function report(label: string, f: Figures, extra = ""): void {
  console.log(
    `${label}: start-to-ready ${f.readyMs.toFixed(0)} ms, idle RSS ${
      (f.idleRssKiB / 1024).toFixed(1)
    } MiB${extra}`,
  );
}

Deno.test("lib/ holds no private key (test TLS material lives in tests/fixtures/tls.ts)", async () => {
  const found: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}lib`)) {
    if (!entry.isFile) continue;
    if ((await Deno.readTextFile(`${ROOT}lib/${entry.name}`)).includes("PRIVATE KEY")) {
      found.push(entry.name);
    }
  }
  assert.deepEqual(found, []);
});

Deno.test("the bundle runs alone from an empty directory with the compile permissions and answers a cell", async () => {
  const permissions = await compilePermissions();
  const built = await runDeno(["task", "bundle"], ROOT);
  assert.equal(built.code, 0, built.stderr);

  const source = await Deno.readTextFile(BUNDLE);
  const found = [
    ...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gm),
    ...source.matchAll(/\b(?:__require|require|import)\(\s*"([^"]+)"\s*\)/g),
  ];
  // The mqtt client's dependencies try optional native helpers and fall back when they are
  // missing (debug: supports-color; ws: bufferutil, utf-8-validate): each such require sits in
  // a `try` block, so the bundle runs without them, as the run below from an empty directory
  // shows. Only these, and only inside a `try`, are let through.
  const optional = new Set(["supports-color", "bufferutil", "utf-8-validate"]);
  const tried = (m: RegExpExecArray) =>
    optional.has(m[1]!) && /\btry\s*\{\s*(?:const|let|var)?\s*[\w$]*\s*=?\s*$/.test(
      source.slice(Math.max(0, m.index - 80), m.index),
    );
  const imported = found.filter((m) => !tried(m)).map((m) => m[1]!);
  const outside = [...new Set(imported.filter((s) => !s.startsWith("node:")))];
  assert.deepEqual(outside, [], "the bundle should import nothing but node: built-ins");
  // Test secrets stay in tests/: no private key and no fixed demo password ship in the bundle.
  assert.doesNotMatch(source, /PRIVATE KEY/);
  assert.ok(!source.includes("fake-vcd-Passw0rd!"), "the demo's former fixed vCD password");

  const dir = await Deno.makeTempDir({ prefix: "vcdext-bundle-" });
  try {
    await Deno.copyFile(BUNDLE, `${dir}/vcdext.js`);
    const figures = await serveAndRoundTrip(
      ["run", "--cached-only", "--no-config", "--no-prompt", ...permissions, "vcdext.js"],
      dir,
    );
    const size = (await Deno.stat(`${dir}/vcdext.js`)).size;
    report(
      "bundle (deno run --cached-only --no-config vcdext.js)",
      figures,
      `, size ${(size / 1024).toFixed(0)} KiB (${size} bytes)`,
    );
    console.log(`bundle permissions (from the compile task): ${permissions.join(" ")}`);
    const left = [];
    for await (const entry of Deno.readDir(dir)) left.push(entry.name);
    assert.deepEqual(left, ["vcdext.js"], "running the bundle should write nothing beside it");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("for comparison: deno run main.ts with the same permissions answers a cell", async () => {
  const permissions = await compilePermissions();
  const figures = await serveAndRoundTrip(["run", "--no-prompt", ...permissions, MAIN], ROOT);
  report("source (deno run main.ts with node_modules)", figures);
});

/** Why `deno compile` failed, when it is because its runtime (denort) could not be fetched. */
function runtimeUnavailable(stderr: string): string | undefined {
  // deno compile downloads denort-<target>.zip; behind this network the lookup fails.
  // deno-lint-ignore no-control-regex
  const plain = stderr.replace(/\x1b\[[0-9;]*m/g, "");
  if (!/Setting up base binary|denort/.test(plain)) return undefined;
  const lines = plain.split("\n");
  const line = lines.find((l) => /error sending request/.test(l)) ??
    lines.find((l) => /denort/.test(l));
  return (line ?? "Setting up base binary failed").replace(/^\s*\d+:\s*/, "").trim();
}

/** The start of `vcdext --help`: usage, and every command `serve` needs beside it. */
function assertHelp(out: { code: number; stdout: string; stderr: string }, what: string): void {
  assert.equal(out.code, 0, `${what} --help exited ${out.code}: ${out.stderr}`);
  assert.match(out.stdout, /^Usage: vcdext \[options\] \[command\]/, out.stdout);
  for (const command of ["serve", "request", "routes", "register", "check"]) {
    assert.match(out.stdout, new RegExp(`^  ${command} `, "m"), `${what} --help lists ${command}`);
  }
}

/**
 * Where `deno compile` cannot fetch its runtime, the binary cannot be built here; the test says so
 * and checks the same entrypoint with the same permissions in the form that can be built offline:
 * the bundle, run from an empty directory by a bare `deno run --cached-only --no-config`. Any other
 * compile failure fails the test.
 */
Deno.test("deno task compile builds dist/vcdext, which answers --help (else the bundle does)", async () => {
  const built = await runDeno(["task", "compile"], ROOT);
  if (built.code === 0) {
    const binary = `${ROOT}dist/vcdext`;
    const size = (await Deno.stat(binary)).size;
    console.log(`binary dist/vcdext: ${(size / 1024 / 1024).toFixed(1)} MiB`);
    const out = await new Deno.Command(binary, {
      args: ["--help"],
      env: serviceEnv(),
      clearEnv: true,
      stdin: "null",
    }).output();
    assertHelp(
      { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) },
      "dist/vcdext",
    );
    return;
  }
  const reason = runtimeUnavailable(built.stderr);
  assert.ok(reason, `deno task compile failed for another reason:\n${built.stderr}`);
  console.log(
    `compile step skipped: deno compile cannot download its runtime (${reason}); ` +
      "checking --help on dist/vcdext.js instead, run with the compile task's permissions",
  );
  const permissions = await compilePermissions();
  const bundled = await runDeno(["task", "bundle"], ROOT);
  assert.equal(bundled.code, 0, bundled.stderr);
  const dir = await Deno.makeTempDir({ prefix: "vcdext-help-" });
  try {
    await Deno.copyFile(BUNDLE, `${dir}/vcdext.js`);
    const out = await runDeno(
      ["run", "--cached-only", "--no-config", "--no-prompt", ...permissions, "vcdext.js", "--help"],
      dir,
      serviceEnv(),
    );
    assertHelp(out, "dist/vcdext.js");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
