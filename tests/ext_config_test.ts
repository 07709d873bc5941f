/**
 * Extension configuration (issue 15, item 4): the declaration, its sources (`<name>.json` in
 * `--config-dir`, env `VCDEXT_<NAME>_<KEY>`) and their precedence, the checks at start (exit 2
 * naming the extension and key), typed values on `ctx.config` for routes, subscriptions and
 * blocking-task rules, and secrets kept out of logs and error replies.
 */

import assert from "node:assert/strict";
import { compile, dispatch } from "../lib/core/dispatch.ts";
import { ConfigError, envNameOf, resolveConfig } from "../lib/core/config_schema.ts";
import { defineExtension } from "../lib/core/extension.ts";
import { silentLogger } from "../lib/core/logger.ts";
import {
  type ConfigReaders,
  configureExtensions,
  ExtensionConfigError,
} from "../lib/app/ext_config.ts";
import { UsageError } from "../lib/app/config.ts";
import { configure, decide, notify, request } from "../lib/testing.ts";
import {
  configuredExtension as ext,
  configuredSchema as schema,
  seenByEvents,
} from "./fixtures/configured_extension.ts";
import { logLines } from "./entrypoint.ts";
import { Proc } from "./proc.ts";

const MAIN_WITH_CONFIG = new URL("./fixtures/main_with_config.ts", import.meta.url).pathname;
const NOWHERE = "amqp://guest:guest@127.0.0.1:1";
const SECRET = "sk-live-0123456789abcdef";

const env = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("env names: VCDEXT_, the extension, the key, upper-cased, - and camelCase as _", () => {
  assert.equal(envNameOf("cfg-demo", "defaultVms"), "VCDEXT_CFG_DEMO_DEFAULT_VMS");
  assert.equal(envNameOf("quota", "apiKey"), "VCDEXT_QUOTA_API_KEY");
});

Deno.test("values come from the file and the env; env wins over the file, the file over defaults", () => {
  const values = resolveConfig("cfg-demo", schema, {
    file: { region: "eu", defaultVms: 20, apiKey: SECRET },
    env: env({ VCDEXT_CFG_DEMO_DEFAULT_VMS: "30", VCDEXT_CFG_DEMO_STRICT: "true" }),
  });
  assert.deepEqual(values, { defaultVms: 30, region: "eu", apiKey: SECRET, strict: true });
  const fileOnly = resolveConfig("cfg-demo", schema, { file: { region: "eu", apiKey: SECRET } });
  assert.deepEqual(fileOnly, { defaultVms: 10, region: "eu", apiKey: SECRET, strict: false });
  const envOnly = resolveConfig("cfg-demo", schema, {
    env: env({ VCDEXT_CFG_DEMO_REGION: "us", VCDEXT_CFG_DEMO_API_KEY: SECRET }),
  });
  assert.deepEqual(envOnly, { defaultVms: 10, region: "us", apiKey: SECRET, strict: false });
});

Deno.test("a wrong or missing value names the extension, the key and what was wrong", () => {
  const bad = (sources: Parameters<typeof resolveConfig>[2], pattern: RegExp) =>
    assert.throws(() => resolveConfig("cfg-demo", schema, sources), (e) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /^extension cfg-demo: config key /);
      assert.match(e.message, pattern);
      return true;
    });
  bad(
    { file: { apiKey: SECRET } },
    /key region: missing: set "region" in .*VCDEXT_CFG_DEMO_REGION/,
  );
  bad(
    { file: { region: "eu", apiKey: SECRET, defaultVms: "20" } },
    /defaultVms: .*must give a number, got "20"/,
  );
  bad(
    { file: { region: "eu", apiKey: SECRET, vms: 3 } },
    /key vms: .*undeclared key \(declared: defaultVms, region, apiKey, strict\)/,
  );
  bad({ file: [1] }, /must hold a JSON object/);
  bad(
    { file: { region: "eu", apiKey: SECRET }, env: env({ VCDEXT_CFG_DEMO_DEFAULT_VMS: "ten" }) },
    /defaultVms: env VCDEXT_CFG_DEMO_DEFAULT_VMS must be a number, got "ten"/,
  );
  bad(
    { file: { region: "eu", apiKey: SECRET }, env: env({ VCDEXT_CFG_DEMO_STRICT: "yes" }) },
    /strict: env VCDEXT_CFG_DEMO_STRICT must be true or false/,
  );
  // A secret of the wrong type is not echoed.
  assert.throws(
    () => resolveConfig("cfg-demo", schema, { file: { region: "eu", apiKey: 12345678 } }),
    (e) => (assert.doesNotMatch((e as Error).message, /12345678/), true),
  );
});

Deno.test("defineExtension refuses a bad declaration at load time", () => {
  const base = { name: "x", namespace: "x", routingKey: "x", routes: [] };
  assert.throws(
    () => defineExtension({ ...base, config: { n: { type: "number", default: "1" as never } } }),
    /config key n: default is not a number/,
  );
  assert.throws(
    () => defineExtension({ ...base, config: { n: { type: "date" as never } } }),
    /config key n: type must be string, number or boolean/,
  );
});

/** Readers over an in-memory directory. */
function readers(files: Record<string, string>, vars: Record<string, string> = {}): ConfigReaders {
  return { readFile: (path) => Promise.resolve(files[path]), env: env(vars) };
}

Deno.test("serve's loader reads <config-dir>/<name>.json, logs the values with secrets redacted", async () => {
  const lines: Record<string, unknown>[] = [];
  const log = { ...silentLogger, info: (fields: object) => void lines.push({ ...fields }) };
  const files = { "/cfg/cfg-demo.json": JSON.stringify({ region: "eu", apiKey: SECRET }) };
  const [configured] = await configureExtensions([ext], [ext], "/cfg/", log, readers(files));
  assert.deepEqual(configured?.configValues, {
    defaultVms: 10,
    region: "eu",
    apiKey: SECRET,
    strict: false,
  });
  assert.deepEqual(lines, [{
    extension: "cfg-demo",
    config: { defaultVms: 10, region: "eu", apiKey: "[redacted]", strict: false },
  }]);
  // Not JSON, a missing value: usage errors (exit 2).
  await assert.rejects(
    configureExtensions([ext], [ext], "/cfg", silentLogger, readers({ "/cfg/cfg-demo.json": "{" })),
    (e) =>
      e instanceof ExtensionConfigError && e instanceof UsageError && /is not JSON/.test(e.message),
  );
  await assert.rejects(
    configureExtensions([ext], [ext], "/cfg", silentLogger, readers({})),
    /extension cfg-demo: config key region: missing/,
  );
  // An extension that is not served is left alone.
  const [unserved] = await configureExtensions([ext], [], "/cfg", silentLogger, readers({}));
  assert.equal(unserved, ext);
});

Deno.test("handlers read typed ctx.config: routes, subscriptions and blocking-task rules (kit)", async () => {
  const values = { region: "eu", apiKey: SECRET, defaultVms: 3 };
  const res = await request(configure(ext, values), { path: "/api/cfg-demo/quota" });
  assert.deepEqual(res.json(), { vms: 3, region: "eu", strict: false });
  seenByEvents.length = 0;
  assert.equal((await notify(configure(ext, values), { type: "vapp/delete" })).outcome, "handled");
  assert.deepEqual(seenByEvents, [3]);
  const decided = await decide(configure(ext, values), { operation: "vdcComposeVapp" });
  assert.deepEqual(decided.decision, { action: "abort", message: "limit 3" });
  // Unconfigured: the defaults.
  const defaults = (await request(ext, { path: "/api/cfg-demo/quota" })).json();
  assert.equal((defaults as { vms: number }).vms, 10);
  assert.throws(() => configure(ext, { region: "eu" }), /config key apiKey: missing/);
});

Deno.test("secrets are scrubbed from error replies, from the error logged for a 500, and from event logs", async () => {
  const configured = configure(ext, { region: "eu", apiKey: SECRET, strict: true });
  const leak = await request(configured, {
    path: "/api/cfg-demo/leak",
    accept: "application/json",
  });
  assert.equal(leak.status, 400);
  assert.doesNotMatch(leak.text, new RegExp(SECRET));
  assert.match(leak.text, /upstream refused key \[redacted\]/);
  const app = compile(configured);
  const req = {
    id: "r1",
    method: "GET",
    path: "/api/cfg-demo/crash",
    queryString: "",
    headers: new Map<string, string>(),
    body: new Uint8Array(),
    security: { user: "", org: "", rights: new Set<string>(), parameters: {} },
    context: {},
  };
  const outcome = await dispatch(app, req);
  assert.equal(outcome.reply.status, 500);
  const error = outcome.error as Error;
  assert.equal(error.message, "db login with [redacted] failed");
  assert.doesNotMatch(String(error.stack), new RegExp(SECRET));
  const failed = await notify(configured, { type: "vapp/delete" });
  assert.equal(failed.outcome, "failed");
  assert.doesNotMatch(JSON.stringify(failed.logs), new RegExp(SECRET));
  assert.match(JSON.stringify(failed.logs), /strict mode, key \[redacted\]/);
});

Deno.test("main.ts serve: a missing value exits 2 naming the extension and the key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const proc = new Proc([
      MAIN_WITH_CONFIG,
      "serve",
      "--extension",
      "cfg-demo",
      "--amqp-url",
      NOWHERE,
      "--config-dir",
      dir,
    ]);
    const { code } = await proc.wait();
    assert.equal(code, 2, proc.log);
    assert.match(proc.log, /extension cfg-demo: config key region: missing/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("main.ts serve under the permission set: file and VCDEXT_* env read, the secret never logged", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/cfg-demo.json`, JSON.stringify({ region: "eu" }));
    // -P: deno.json's permission set (env: listed names only, VCDEXT_* among them), as `deno
    // task start` runs it; plus reading the temporary config dir.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-P",
        `--allow-read`,
        MAIN_WITH_CONFIG,
        "serve",
        "--extension",
        "cfg-demo",
        "--amqp-url",
        NOWHERE,
        "--config-dir",
        dir,
      ],
      env: {
        NO_COLOR: "1",
        VCDEXT_CFG_DEMO_API_KEY: SECRET,
        VCDEXT_CFG_DEMO_DEFAULT_VMS: "42",
      },
      stdout: "null",
      stderr: "piped",
    });
    const { code, stderr } = await child.output();
    const log = new TextDecoder().decode(stderr);
    assert.equal(code, 1, log); // configured, then no broker
    const line = logLines({ log } as Proc).find((l) => l.msg === "extension config");
    assert.deepEqual(line?.config, {
      defaultVms: 42,
      region: "eu",
      apiKey: "[redacted]",
      strict: false,
    });
    assert.doesNotMatch(log, new RegExp(SECRET));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
