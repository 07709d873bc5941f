/**
 * `vcdext check --vcd-url …`: vCD's AMQP settings compared with vcdext's broker list and tested
 * by vCD itself. The comparison and the password choice as units; the fake vCD's settings
 * routes; and `main.ts check` against the fake vCD and the local broker, in a vhost and with a
 * broker user of its own (made and removed with `rabbitmqctl`, so that the broker password is
 * one no other output could contain by chance).
 */

import assert from "node:assert/strict";
import {
  brokerEndpoint,
  compareAmqpSettings,
  passwordForTest,
  type SettingsRow,
  type VcdAmqpExpectations,
} from "../lib/core/amqp_compare.ts";
import {
  parseAmqpSettings,
  renderAmqpSettings,
  type VcdAmqpSettings,
} from "../lib/core/amqp_settings.ts";
import { FAKE_USER, type FakeAmqpOptions, startFakeVcd } from "../lib/sim/fake_vcd.ts";
import { BrokerAdmin } from "../lib/transport/amqp/mod.ts";
import { readAmqpSettings, testAmqpSettings } from "../lib/vcd/amqp_settings.ts";
import { VcdClient } from "../lib/vcd/client.ts";
import { AMQP_URL, uniqueName } from "./broker.ts";
import { ignoreUnless } from "./skip.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

const MATCHING: VcdAmqpSettings = {
  AmqpHost: "Rabbit-2.example",
  AmqpPort: "5672",
  AmqpUsername: "vcd",
  AmqpExchange: "vcdext",
  AmqpVHost: "prod",
  AmqpUseSSL: "false",
  AmqpSslAcceptAll: "false",
  AmqpPrefix: "vcd",
};

const OURS: VcdAmqpExpectations = {
  urls: ["amqp://vcd:pw-1@rabbit-1.example/prod", "amqp://vcd:pw-2@rabbit-2.example:5672/prod"],
  exchange: "vcdext",
  notificationsExchange: "vcd.notifications20",
};

function row(rows: readonly SettingsRow[], what: string): SettingsRow {
  const found = rows.find((r) => r.what === `vCD AMQP ${what}`);
  assert.ok(found, `no ${what} row in ${JSON.stringify(rows)}`);
  return found;
}

Deno.test("the comparison: matching settings pass every row, against any of several URLs", () => {
  const rows = compareAmqpSettings(MATCHING, OURS);
  assert.deepEqual(rows.map((r) => [r.what, r.ok]), [
    ["vCD AMQP host", true],
    ["vCD AMQP port", true],
    ["vCD AMQP vhost", true],
    ["vCD AMQP TLS", true],
    ["vCD AMQP exchange", true],
    ["vCD AMQP prefix", true],
  ]);
  for (const r of rows) assert.doesNotMatch(r.detail, /pw-[12]/);
  // Defaults on both sides: empty port by TLS, empty vhost is "/", %2f is "/".
  const tls = compareAmqpSettings(
    { ...MATCHING, AmqpPort: "", AmqpVHost: "", AmqpUseSSL: "true", AmqpSslAcceptAll: "true" },
    { ...OURS, urls: ["amqps://vcd:x@RABBIT-2.example/%2f"] },
  );
  assert.deepEqual(tls.map((r) => r.ok), [true, true, true, true, true, true]);
  assert.match(row(tls, "port").detail, /^vCD 5671 \(AmqpPort empty: the default\); vcdext 5671$/);
  assert.match(row(tls, "TLS").detail, /AmqpSslAcceptAll: any certificate/);
});

Deno.test("the comparison: each mismatch fails its own row and names both values", () => {
  const cases: [VcdAmqpSettings, Partial<VcdAmqpExpectations>, string, RegExp][] = [
    [
      { ...MATCHING, AmqpHost: "rabbit-9.example" },
      {},
      "host",
      /vCD rabbit-9\.example; vcdext rabbit-1\.example, rabbit-2\.example/,
    ],
    [{ ...MATCHING, AmqpPort: "5680" }, {}, "port", /vCD 5680; vcdext 5672/],
    [{ ...MATCHING, AmqpPort: "56x" }, {}, "port", /vCD 56x \(not a port number\)/],
    [{ ...MATCHING, AmqpVHost: "test" }, {}, "vhost", /vCD test; vcdext prod/],
    [{ ...MATCHING, AmqpUseSSL: "true" }, {}, "TLS", /vCD AmqpUseSSL true; vcdext amqp:\/\//],
    [{ ...MATCHING, AmqpUseSSL: "maybe" }, {}, "TLS", /neither true nor false/],
    [
      { ...MATCHING, AmqpExchange: "systemExchange" },
      {},
      "exchange",
      /vCD systemExchange; vcdext --exchange vcdext/,
    ],
    [
      { ...MATCHING, AmqpPrefix: "cell" },
      {},
      "prefix",
      /vCD cell \(JSON notifications on cell\.notifications20\); vcdext --notifications-exchange vcd\.notifications20/,
    ],
    [{ ...MATCHING, AmqpHost: "" }, {}, "host", /no AmqpHost/],
  ];
  for (const [vcd, ours, what, detail] of cases) {
    const rows = compareAmqpSettings(vcd, { ...OURS, ...ours });
    assert.equal(row(rows, what).ok, false, `${what}: ${JSON.stringify(vcd)}`);
    assert.match(row(rows, what).detail, detail);
    // One mismatch, one failed row: the others still compare with the nearest URLs.
    assert.deepEqual(rows.filter((r) => !r.ok).map((r) => r.what), [`vCD AMQP ${what}`]);
  }
  // The vhost is compared with the URL at vCD's host and port, not with any URL.
  const split = compareAmqpSettings(
    { ...MATCHING, AmqpVHost: "prod" },
    { ...OURS, urls: ["amqp://u:p@rabbit-1.example/prod", "amqp://u:p@rabbit-2.example/stage"] },
  );
  assert.equal(row(split, "vhost").ok, false);
  assert.match(row(split, "vhost").detail, /vCD prod; vcdext stage/);
});

Deno.test("the comparison: the legacy exchange may match, and what vCD leaves out is not compared", () => {
  const legacy = compareAmqpSettings({ ...MATCHING, AmqpExchange: "systemExchange" }, {
    ...OURS,
    legacyNotificationsExchange: "systemExchange",
  });
  assert.equal(row(legacy, "exchange").ok, true);
  const bare = compareAmqpSettings({ AmqpHost: "rabbit-1.example", AmqpVHost: "prod" }, OURS);
  assert.deepEqual(bare.map((r) => r.ok), [true, true, true, true, true, true]);
  assert.match(row(bare, "exchange").detail, /not compared/);
  assert.match(row(bare, "prefix").detail, /not compared/);
  const off = compareAmqpSettings({ ...MATCHING, AmqpPrefix: "x" }, {
    ...OURS,
    notificationsExchange: "",
  });
  assert.equal(row(off, "prefix").ok, true);
  assert.equal(brokerEndpoint("amqp://h/a%2Fb")?.vhost, "a/b");
  assert.equal(brokerEndpoint("amqp://[::1]:5673")?.host, "::1");
});

Deno.test("the test's password: vCD's own, then the one given, then vcdext's for the same user", () => {
  const vcd = { ...MATCHING };
  assert.deepEqual(passwordForTest({ ...vcd, AmqpPassword: " v " }, OURS.urls), {
    password: " v ",
    source: "the password vCD returned",
  });
  assert.deepEqual(passwordForTest(vcd, OURS.urls, { password: "g", label: "ENV" }), {
    password: "g",
    source: "ENV",
  });
  const url = passwordForTest(vcd, OURS.urls);
  assert.ok("password" in url && url.password === "pw-2", JSON.stringify(url));
  for (
    const other of [
      { ...vcd, AmqpUsername: "someone-else" },
      { ...vcd, AmqpPort: "5680" },
      { ...vcd, AmqpHost: "rabbit-9.example" },
    ]
  ) {
    const none = passwordForTest(other, OURS.urls);
    assert.ok("reason" in none, JSON.stringify(other));
    assert.doesNotMatch(none.reason, /pw-/);
  }
  assert.ok("reason" in passwordForTest(vcd, ["amqp://vcd@rabbit-2.example/prod"]));
});

Deno.test("vCD's settings documents are read leniently and sent in schema order", () => {
  const read = parseAmqpSettings(
    '<AmqpSettings xmlns="http://www.vmware.com/vcloud/extension/v1.5" href="x">' +
      '<Link rel="edit" href="y"/><AmqpVHost></AmqpVHost><AmqpHost>\n h \n</AmqpHost>' +
      "<AmqpPassword> p </AmqpPassword><AmqpCertificate>z</AmqpCertificate></AmqpSettings>",
  );
  assert.deepEqual(read, { AmqpHost: "h", AmqpPassword: " p ", AmqpVHost: "" });
  const xml = renderAmqpSettings({ AmqpPrefix: "vcd", AmqpHost: "h", AmqpPassword: "p<&" });
  assert.match(
    xml,
    /<vmext:AmqpHost>h<\/vmext:AmqpHost><vmext:AmqpPassword>p&lt;&amp;<\/vmext:AmqpPassword><vmext:AmqpPrefix>/,
  );
  assert.deepEqual(parseAmqpSettings(xml), {
    AmqpHost: "h",
    AmqpPassword: "p<&",
    AmqpPrefix: "vcd",
  });
});

Deno.test("the fake vCD: settings for a session only, no password, a recorded test, no PUT", async () => {
  const posted: VcdAmqpSettings[] = [];
  const vcd = await startFakeVcd({
    amqp: {
      settings: { ...MATCHING, AmqpPassword: "hidden-by-the-cell" },
      valid: (s) => (posted.push(s), s.AmqpPassword === "right"),
    },
  });
  const client = new VcdClient({
    baseUrl: vcd.url,
    credentials: { user: FAKE_USER, password: vcd.password },
    allowHttp: true,
    retries: 0,
  });
  try {
    const anonymous = await fetch(`${vcd.url}/api/admin/extension/settings/amqp`, {
      headers: { accept: "application/*+xml;version=36.0" },
    });
    await anonymous.body?.cancel();
    assert.equal(anonymous.status, 401);
    const settings = await readAmqpSettings(client);
    assert.deepEqual(settings, MATCHING);
    assert.equal(await testAmqpSettings(client, { ...settings, AmqpPassword: "wrong" }), false);
    assert.equal(await testAmqpSettings(client, { ...settings, AmqpPassword: "right" }), true);
    assert.deepEqual(vcd.amqpTests, posted);
    assert.deepEqual(posted.map((s) => s.AmqpPassword), ["wrong", "right"]);
    assert.equal(posted[1]?.AmqpVHost, "prod");
    await assert.rejects(
      client.request("PUT", "/api/admin/extension/settings/amqp", {
        body: renderAmqpSettings(settings),
        contentType: "application/vnd.vmware.admin.amqpSettings+xml",
      }),
      /405/,
    );
    await assert.rejects(
      client.request("POST", "/api/admin/extension/settings/amqp/action/test", {
        body: "<x/>",
        contentType: "application/xml",
      }),
      /415/,
    );
    assert.equal(vcd.amqpTests.length, 2);
  } finally {
    client.close();
    await vcd.close();
  }
});

// ---------------------------------------------------------------------------------------------
// Through `main.ts check`, against the fake vCD and the local broker
// ---------------------------------------------------------------------------------------------

async function rabbitmqctl(...args: string[]): Promise<void> {
  const out = await new Deno.Command("rabbitmqctl", { args, stdin: "null", stdout: "null" })
    .output();
  if (!out.success) {
    throw new Error(
      `rabbitmqctl ${args[0]} exited ${out.code}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

/** Whether a vhost and a user of this test's own can be made on the test broker. */
function brokerOfOurOwn(): { ok: true } | { ok: false; reason: string } {
  const host = new URL(AMQP_URL).hostname;
  if (host !== "127.0.0.1" && host !== "localhost") {
    return { ok: false, reason: `the test broker ${host} is not on this machine (rabbitmqctl)` };
  }
  try {
    new Deno.Command("rabbitmqctl", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
  } catch {
    return { ok: false, reason: "rabbitmqctl is not on PATH (apt-get install rabbitmq-server)" };
  }
  if (Deno.uid() !== 0) return { ok: false, reason: "rabbitmqctl add_vhost needs root" };
  return { ok: true };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

Deno.test({
  name: "check --vcd-url: every vCD row, a vhost mismatch, Valid=false, a refused login, no vCD",
  ignore: ignoreUnless("check --vcd-url against the local broker", brokerOfOurOwn()),
  async fn(t) {
    const vhost = uniqueName("vcdext-vcdamqp");
    const user = uniqueName("vcdext-vcdamqp-user");
    const brokerPassword = `broker-pw-${crypto.randomUUID()}`;
    const exchange = uniqueName("vcdext.test.vcdamqp");
    const base = new URL(AMQP_URL);
    const brokerUrl = `amqp://${user}:${brokerPassword}@${base.hostname}:${
      base.port || 5672
    }/${vhost}`;
    await rabbitmqctl("add_vhost", vhost);
    const outputs: string[] = [];
    const secrets = new Set([brokerPassword]);
    try {
      await rabbitmqctl("add_user", user, brokerPassword);
      await rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*");
      const admin = await BrokerAdmin.connect(brokerUrl);
      await admin.declareExchange(exchange, "direct", true);
      await admin.close();
      const settings: VcdAmqpSettings = {
        AmqpHost: base.hostname,
        AmqpPort: base.port || "5672",
        AmqpUsername: user,
        AmqpExchange: exchange,
        AmqpVHost: vhost,
        AmqpUseSSL: "false",
        AmqpSslAcceptAll: "false",
        AmqpPrefix: "vcd",
      };
      /** vCD's test as a cell runs it: can these settings open a connection? */
      const connects = async (s: VcdAmqpSettings): Promise<boolean> => {
        const enc = encodeURIComponent;
        const url = `amqp://${enc(s.AmqpUsername ?? "")}:${enc(s.AmqpPassword ?? "")}@` +
          `${s.AmqpHost}:${s.AmqpPort}/${enc(s.AmqpVHost ?? "")}`;
        try {
          await (await BrokerAdmin.connect(url)).close();
          return true;
        } catch {
          return false;
        }
      };
      /** `main.ts check` against a fake vCD with these AMQP options; the fake's calls after. */
      const check = async (amqp: FakeAmqpOptions, vcdPassword?: string, vcdUrl?: string) => {
        const vcd = await startFakeVcd({ amqp });
        secrets.add(vcd.password);
        try {
          const out = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              MAIN,
              "check",
              "--exchange",
              exchange,
              "--extension",
              "gcp-ticketing",
              "--vcd-url",
              vcdUrl ?? vcd.url,
              "--vcd-allow-http",
              "--vcd-user",
              FAKE_USER,
            ],
            env: {
              NO_COLOR: "1",
              RUST_BACKTRACE: "0",
              VCDEXT_AMQP_URL: brokerUrl,
              VCDEXT_VCD_PASSWORD: vcdPassword ?? vcd.password,
            },
            stdin: "null",
          }).output();
          const dec = new TextDecoder();
          const run: Run = {
            code: out.code,
            stdout: dec.decode(out.stdout),
            stderr: dec.decode(out.stderr),
          };
          outputs.push(run.stdout, run.stderr);
          for (const token of vcd.issuedTokens) secrets.add(token);
          assert.equal(
            vcd.calls.filter((c) => c.method === "PUT" || c.path.includes("/service")).length,
            0,
            "check changed something in vCD",
          );
          return { run, tests: [...vcd.amqpTests] };
        } finally {
          await vcd.close();
        }
      };
      const vcdRows = (stdout: string) => stdout.split("\n").filter((l) => l.startsWith("vCD "));

      await t.step("matching settings: every vCD row passes, vCD's test too, exit 0", async () => {
        const { run, tests } = await check({ settings, valid: connects });
        assert.equal(run.code, 0, run.stdout + run.stderr);
        const rows = vcdRows(run.stdout);
        assert.equal(rows.length, 8, run.stdout);
        for (const r of rows) assert.match(r, /^\S.*\s{2}pass\s{4}/, r);
        assert.match(
          run.stdout,
          /vCD AMQP test \(AmqpSettingsTest\)\s+pass\s+Valid=true: .*vcdext's URL for the same user/,
        );
        assert.equal(tests.length, 1);
        assert.equal(
          tests[0]?.AmqpPassword,
          brokerPassword,
          "the test got the matching URL's password",
        );
        assert.equal(tests[0]?.AmqpVHost, vhost, "the test got vCD's own settings");
      });

      await t.step("another vhost: the vhost row fails naming both, exit 1", async () => {
        const { run } = await check({
          settings: { ...settings, AmqpVHost: "other-vhost" },
          valid: connects,
        });
        assert.equal(run.code, 1, run.stdout);
        const vh = vcdRows(run.stdout).find((l) => l.startsWith("vCD AMQP vhost"));
        assert.match(vh ?? "", /FAIL\s+vCD other-vhost; vcdext vcdext-vcdamqp\.\w+/, run.stdout);
        assert.match(run.stdout, /vCD AMQP host\s+pass/);
        assert.match(run.stdout, /vCD AMQP test \(AmqpSettingsTest\)\s+FAIL\s+Valid=false/);
      });

      await t.step(
        "Valid=false: the test row fails, the comparison rows pass, exit 1",
        async () => {
          const { run, tests } = await check({ settings, valid: false });
          assert.equal(run.code, 1, run.stdout);
          const failed = vcdRows(run.stdout).filter((l) => /\sFAIL\s/.test(l));
          assert.equal(failed.length, 1, run.stdout);
          assert.match(failed[0] ?? "", /^vCD AMQP test \(AmqpSettingsTest\)\s+FAIL\s+Valid=false/);
          assert.equal(tests.length, 1);
        },
      );

      await t.step(
        "vCD returns its password: the test sends that one, which is never shown",
        async () => {
          const vcdSide = `vcd-side-pw-${crypto.randomUUID()}`;
          secrets.add(vcdSide);
          const { run, tests } = await check({
            settings: { ...settings, AmqpPassword: vcdSide },
            returnPassword: true,
            valid: connects,
          });
          assert.equal(tests[0]?.AmqpPassword, vcdSide);
          assert.match(run.stdout, /FAIL\s+Valid=false: .*\(password: the password vCD returned\)/);
        },
      );

      await t.step("a refused vCD login is one clear failed row, no crash", async () => {
        const wrong = `wrong-vcd-pw-${crypto.randomUUID()}`;
        secrets.add(wrong);
        const { run, tests } = await check({ settings }, wrong);
        assert.equal(run.code, 1, run.stdout + run.stderr);
        const rows = vcdRows(run.stdout);
        assert.equal(rows.length, 1, run.stdout);
        assert.match(
          rows[0] ?? "",
          /^vCD AMQP settings \(http:\/\/127\.0\.0\.1:\d+\)\s+FAIL\s+Cannot log in to vCD: vCD answered 401/,
        );
        assert.match(run.stdout, /round trip gcp-ticketing \(in-process\)\s+pass/);
        assert.doesNotMatch(run.stderr, /Uncaught|\n\s+at /);
        assert.equal(tests.length, 0);
      });

      await t.step("vCD not answering is one clear failed row, no crash", async () => {
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const port = (listener.addr as Deno.NetAddr).port;
        listener.close();
        const { run } = await check({ settings }, undefined, `http://127.0.0.1:${port}`);
        assert.equal(run.code, 1, run.stdout + run.stderr);
        const rows = vcdRows(run.stdout);
        assert.equal(rows.length, 1, run.stdout);
        assert.match(
          rows[0] ?? "",
          /\s+FAIL\s+Cannot POST \/api\/sessions: /,
        );
        assert.doesNotMatch(run.stderr, /Uncaught|\n\s+at /);
      });

      await t.step("no password and no session token in any output", () => {
        assert.equal(outputs.length, 12);
        for (const text of outputs) {
          for (const secret of secrets) {
            assert.ok(!text.includes(secret), `a secret reached the output:\n${text}`);
          }
        }
      });
    } finally {
      await rabbitmqctl("delete_vhost", vhost).catch(() => {});
      await rabbitmqctl("delete_user", user).catch(() => {});
    }
  },
});
