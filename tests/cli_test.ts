/**
 * The entrypoint as a user runs it: `vcdext serve` and `vcdext request` as subprocesses on the
 * real broker, flag validation, and a clean exit on SIGTERM.
 */

import assert from "node:assert/strict";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { SAMPLE } from "../lib/sim/cell.ts";
import { FAKE_USER, startFakeVcd } from "../lib/sim/fake_vcd.ts";
import { AMQP_URL, eventually, uniqueName } from "./broker.ts";
import { taskPermissions } from "./permissions.ts";
import { Proc } from "./proc.ts";

const DENO = Deno.execPath();
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const env = { RUST_BACKTRACE: "0", NO_COLOR: "1", VCDEXT_AMQP_URL: AMQP_URL };

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(DENO, {
    args: ["run", "-A", MAIN, ...args],
    env,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("vcdext serve answers vcdext request and exits 0 on SIGTERM", async () => {
  const exchange = uniqueName("vcdext.test.cli");
  const queue = `${exchange}.q`;
  const svc = new Proc(
    [MAIN, "serve", "--exchange", exchange, "--queue", queue, "--extension", "gcp-ticketing"],
    env,
  );
  const admin = await BrokerAdmin.connect(AMQP_URL);
  try {
    await svc.waitFor('"msg":"consuming"', 1, 20_000);
    const posted = await run([
      "request",
      "POST",
      `/api/org/${SAMPLE.orgId}/ticketing`,
      "--exchange",
      exchange,
      "--data",
      '{"message":"from the CLI"}',
      "-H",
      "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.cli.secret-token-value",
    ]);
    assert.equal(posted.code, 0, posted.stderr);
    assert.match(posted.stdout, /← 201 Created/);
    assert.match(
      posted.stdout,
      /Content-Type: application\/vnd\.example\.ticket\+json;version=36\.0/,
    );
    assert.match(posted.stdout, /"message":"from the CLI"/);
    assert.doesNotMatch(posted.stdout, /secret-token-value/);

    svc.kill("SIGTERM");
    const status = await svc.wait();
    assert.equal(status.code, 0, svc.log);
    assert.match(svc.log, /"msg":"stopped"/);
    assert.doesNotMatch(svc.log, /secret-token-value/);
  } finally {
    await svc.end();
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
});

Deno.test("vcdext request says so when no service is bound to the routing key", async () => {
  const r = await run([
    "request",
    "GET",
    "/api/org/x/ticketing",
    "--exchange",
    "amq.direct",
    "--routing-key",
    uniqueName("nobody"),
  ]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /no queue is bound to exchange amq\.direct/);
});

Deno.test("vcdext serve rejects a bad flag with a clear message and exit code 2", async () => {
  const r = await run(["serve", "--prefetch", "zero"]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--prefetch must be a whole number of at least 1, got "zero"/);
});

Deno.test("vcdext serve fails fast with the password redacted when the broker refuses", async () => {
  const r = await run(["serve", "--amqp-url", "amqp://guest:hunter2secret@127.0.0.1:1"]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /Cannot connect to amqp:\/\/guest:\[redacted\]@127\.0\.0\.1:1/);
  assert.doesNotMatch(r.stderr, /hunter2secret/);
});

Deno.test("vcdext serve keeps a broker password with a space, @ or / out of every line, the settings line too", async () => {
  for (const password of ["wr0ng PW-1234", "pa55@w0rd-5678", "pa55/w0rd-9012"]) {
    const r = await run(["serve", "--amqp-url", `amqp://guest:${password}@127.0.0.1:1`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /"msg":"serve settings"/);
    assert.ok(!r.stderr.includes(password), `${password} reached stderr:\n${r.stderr}`);
  }
});

Deno.test("vcdext --help lists every serve flag with its default", async () => {
  const r = await run(["serve", "--help"]);
  assert.equal(r.code, 0);
  for (
    const flag of [
      "--amqp-url",
      "--exchange",
      "--queue",
      "--prefetch",
      "--log-level",
      "--drain-ms",
      "--vcd-allow-http",
    ]
  ) {
    assert.match(r.stdout, new RegExp(flag));
  }
  assert.match(r.stdout, /default: 128/);
  assert.match(r.stdout, /env:\s+VCDEXT_AMQP_URL/);
});

Deno.test("the demo runs with exactly the permissions of `deno task demo` and shows every part", async () => {
  const config = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url)));
  const command: string = config.tasks.demo.command;
  const flags = await taskPermissions("demo");
  assert.ok(flags.length >= 3 && !flags.includes("--allow-all") && !flags.includes("-A"), command);
  const out = await new Deno.Command(DENO, {
    args: ["run", "--no-prompt", ...flags, MAIN, "demo"],
    env,
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(stdout, /← 201 Created/);
  assert.match(stdout, /← 406 Not Acceptable/);
  assert.match(stdout, /← audit line: .*"audit":"vapp"/);
  assert.match(stdout, /blockingTask\/bt-1\/action\/resume/);
  assert.match(stdout, /blockingTask\/bt-2\/action\/abort/);
  assert.doesNotMatch(stdout, /eyJhbGciOiJub25lIn0\.demo\.token/);
});

Deno.test("vcdext serve exposes health, readiness and metrics, and logs no credential even at debug", async () => {
  const exchange = uniqueName("vcdext.test.http");
  const queue = `${exchange}.q`;
  const secrets = {
    bearer: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJtZXRyaWNzIn0.bWV0cmljcy1zaWduYXR1cmU",
    session: "7d1c0a55e0b94f43a1c2b3d4e5f60718",
    cookie: "vcloud-token=c00k1e-s3cr3t-value",
    vcdPassword: "vcd-Pa55word-never-logged",
  };
  const svc = new Proc([
    MAIN,
    "serve",
    "--exchange",
    exchange,
    "--queue",
    queue,
    "--extension",
    "gcp-ticketing",
    "--http-port",
    "0",
    "--log-level",
    "debug",
  ], { ...env, VCDEXT_VCD_PASSWORD: secrets.vcdPassword });
  const admin = await BrokerAdmin.connect(AMQP_URL);
  try {
    await svc.waitFor('"msg":"consuming"', 1, 20_000);
    await svc.waitFor("HTTP listener up");
    const port = Number(/"port":(\d+)/.exec(svc.log)?.[1]);
    const get = async (path: string) => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: r.status, text: await r.text() };
    };
    assert.equal((await get("/healthz")).status, 200);
    assert.equal((await get("/readyz")).status, 200);
    const posted = await run([
      "request",
      "POST",
      `/api/org/${SAMPLE.orgId}/ticketing`,
      "--exchange",
      exchange,
      "-d",
      '{"message":"metrics"}',
      "-H",
      `Authorization: Bearer ${secrets.bearer}`,
      "-H",
      `x-vcloud-authorization: ${secrets.session}`,
      "-H",
      `Cookie: ${secrets.cookie}`,
    ]);
    assert.equal(posted.code, 0, posted.stderr);
    const metrics = await get("/metrics");
    assert.equal(metrics.status, 200);
    assert.match(
      metrics.text,
      /^vcdext_requests_total\{extension="gcp-ticketing",transport="amqp",route="POST \/api\/org\/\{org\}\/ticketing",status="201"\} 1$/m,
    );
    assert.match(
      metrics.text,
      /^vcdext_request_duration_seconds_count\{extension="gcp-ticketing",transport="amqp",route="POST \/api\/org\/\{org\}\/ticketing"\} 1$/m,
    );
    assert.match(metrics.text, /^vcdext_in_flight 0$/m);
    assert.equal((await get("/nope")).status, 404);
    svc.kill("SIGTERM");
    assert.equal((await svc.wait()).code, 0);
    const lines = svc.log.trim().split("\n");
    assert.ok(lines.length >= 4, "expected several log lines");
    for (const line of lines) {
      JSON.parse(line); // every line is one JSON object
      for (const [name, value] of Object.entries(secrets)) {
        assert.ok(!line.includes(value), `the ${name} reached a log line: ${line}`);
      }
    }
    assert.ok(
      lines.some((l) => l.includes('"msg":"request"') && l.includes('"status":201')),
      "no access log line",
    );
  } finally {
    await svc.end();
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
});

Deno.test("vcdext check passes against a serving instance and fails, exit 1, on a missing exchange", async () => {
  const exchange = uniqueName("vcdext.test.check");
  const queue = `${exchange}.q`;
  const admin = await BrokerAdmin.connect(AMQP_URL);
  const names = ["--exchange", exchange, "--queue", queue, "--extension", "gcp-ticketing"];
  let child: Deno.ChildProcess | undefined;
  try {
    const missing = await run(["check", ...names]);
    assert.equal(missing.code, 1, missing.stdout);
    assert.match(missing.stdout, /exchange \S+ \(direct, durable\)\s+FAIL\s+missing/);
    assert.match(missing.stdout, /round trip gcp-ticketing \(in-process\)\s+pass\s+GET \S+ → 200/);
    child = new Deno.Command(DENO, {
      args: ["run", "-A", MAIN, "serve", ...names],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await eventually(async () => (await admin.queueInfo(queue))?.consumers === 1, 20_000);
    const live = await run(["check", ...names, "--live"]);
    assert.equal(live.code, 0, live.stdout);
    assert.match(live.stdout, /connect amqp:\/\/guest:\[redacted\]@\S+\s+pass\s+RabbitMQ/);
    assert.match(live.stdout, /queue \S+ declared and bound\s+pass\s+0 ready, 1 consumers/);
    assert.match(live.stdout, /round trip gcp-ticketing \(running instances\)\s+pass/);
  } finally {
    child?.kill("SIGTERM");
    await child?.status;
    await admin.delete({ queues: [queue], exchanges: [exchange] });
    await admin.close();
  }
});

Deno.test("--help works with exactly the compiled binary's permissions, colour variables unset", async () => {
  const flags = (await taskPermissions("compile")).filter((a) => a.startsWith("--allow-"));
  for (const args of [["--help"], ["serve", "--help"], ["check", "--help"]]) {
    const out = await new Deno.Command(DENO, {
      args: ["run", "--no-prompt", ...flags, MAIN, ...args],
      clearEnv: true,
      env: { PATH: Deno.env.get("PATH") ?? "" },
      stdin: "null",
    }).output();
    assert.equal(out.code, 0, `${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
});

Deno.test("vcdext register creates, updates and unregisters the service in a fake vCD", async () => {
  const vcd = await startFakeVcd();
  // The fake speaks plain HTTP on loopback: allowed only because the flag says so.
  const login = ["--vcd-url", vcd.url, "--vcd-allow-http", "--vcd-user", FAKE_USER];
  const withPassword = async (args: string[]) => {
    const out = await new Deno.Command(DENO, {
      args: ["run", "-A", MAIN, "register", ...login, ...args],
      env: { ...env, VCDEXT_VCD_PASSWORD: vcd.password },
      stdin: "null",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  };
  try {
    const first = await withPassword([]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /gcp-ticketing.*created/);
    assert.equal(vcd.services.size, 1);
    const second = await withPassword([]);
    assert.match(second.stdout, /gcp-ticketing.*updated/);
    assert.equal(
      vcd.calls.filter((c) => c.method === "POST" && c.path === "/api/admin/extension/service")
        .length,
      1,
    );
    const gone = await withPassword(["--unregister"]);
    assert.match(gone.stdout, /gcp-ticketing.*deleted/);
    assert.equal(vcd.services.size, 0);
    assert.ok(!(first.stdout + first.stderr + gone.stderr).includes(vcd.password));
    assert.match(first.stderr, /vcd over plain http/, "allowed, but not silently");
    const routes = await run(["routes"]);
    assert.match(routes.stdout, /\/api\/org\/\[\^\/\]\+\/ticketing\/\[\^\/\]\+\/\?/);
    assert.match(routes.stdout, /vdcComposeVapp/);
  } finally {
    await vcd.close();
  }
});

Deno.test("an http:// --vcd-url is refused without --vcd-allow-http, before any credential is sent", async () => {
  const vcd = await startFakeVcd();
  try {
    for (const command of ["serve", "register"]) {
      const out = await new Deno.Command(DENO, {
        args: ["run", "-A", MAIN, command, "--vcd-url", vcd.url, "--vcd-user", FAKE_USER],
        env: { ...env, VCDEXT_VCD_PASSWORD: vcd.password },
        stdin: "null",
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, `${command}: ${stderr}`);
      assert.match(
        stderr,
        /--vcd-url is http:\/\/, which would send the vCD password and session tokens in clear; use https:\/\/, or pass --vcd-allow-http/,
      );
      assert.ok(!stderr.includes(vcd.password));
    }
    assert.deepEqual(vcd.calls, [], "nothing reached the cell");
  } finally {
    await vcd.close();
  }
});
