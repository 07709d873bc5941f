/**
 * `vcdext register --transport mqtt` against the fake vCD (wire-format document, section 12.2),
 * through the real entrypoint: the cloudapi calls in order with their bodies and headers, the
 * token file (mode 0600, `triplet token` lines, read back by `mqttSettings`), a re-run that
 * creates nothing, stale API filters removed, `--unregister`, `--print`; and the fake's own
 * cloudapi rules (ids, topics, duplicates, token shown once, DELETE cascades).
 */

import assert from "node:assert/strict";
import { extensions } from "../handlers/mod.ts";
import { mqttSettings, SYSTEM_SOURCES } from "../lib/app/mqtt_config.ts";
import { defineExtension } from "../lib/core/extension.ts";
import { FAKE_USER, type FakeVcd, startFakeVcd } from "../lib/sim/fake_vcd.ts";
import { VcdClient } from "../lib/vcd/client.ts";
import { registerExternalService } from "../lib/vcd/cloudapi.ts";

const DENO = Deno.execPath();
const MAIN = new URL("../main.ts", import.meta.url).pathname;
const ID = "urn:vcloud:extension-api:example:gcp-ticketing:1.0.0";
const TRIPLET = "example/gcp-ticketing/1.0.0";
const FILTERS = ["/api/org/[^/]+/ticketing/?", "/api/org/[^/]+/ticketing/[^/]+/?"];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function register(vcd: FakeVcd, args: string[]): Promise<Run> {
  const out = await new Deno.Command(DENO, {
    args: [
      "run",
      "-A",
      MAIN,
      "register",
      "--vcd-url",
      vcd.url,
      "--vcd-allow-http",
      "--vcd-user",
      FAKE_USER,
      "--extension",
      "gcp-ticketing",
      ...args,
    ],
    env: { RUST_BACKTRACE: "0", NO_COLOR: "1", VCDEXT_VCD_PASSWORD: vcd.password },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The cloudapi calls since `from`, as `METHOD path?search`. */
function cloudCalls(vcd: FakeVcd, from = 0): string[] {
  return vcd.calls.slice(from).filter((c) => c.path.startsWith("/cloudapi/")).map((c) =>
    `${c.method} ${decodeURIComponent(c.path + c.search)}`
  );
}

/** The one token value the fake issued. */
function issuedToken(vcd: FakeVcd): string {
  const tokens = [...vcd.extensionTokens.values()];
  assert.equal(tokens.length, 1);
  return tokens[0]!.token;
}

async function withFake(fn: (vcd: FakeVcd, dir: string) => Promise<void>): Promise<void> {
  const vcd = await startFakeVcd();
  const dir = await Deno.makeTempDir({ prefix: "vcdext-register-" });
  try {
    await fn(vcd, dir);
  } finally {
    await vcd.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("register --transport mqtt: service, API filters and token, in order, with their bodies; the token only in the 0600 file", async () => {
  await withFake(async (vcd, dir) => {
    const file = `${dir}/tokens`;
    const r = await register(vcd, ["--transport", "mqtt", "--mqtt-token-file", file]);
    assert.equal(r.code, 0, r.stderr);
    const filterQuery =
      `GET /cloudapi/1.0.0/apiFilters?filter=externalSystem.id==${ID}&page=1&pageSize=128`;
    assert.deepEqual(cloudCalls(vcd), [
      `GET /cloudapi/extensions/api/${ID}`,
      "POST /cloudapi/extensions/api",
      filterQuery,
      "POST /cloudapi/1.0.0/apiFilters",
      "POST /cloudapi/1.0.0/apiFilters",
      "POST /cloudapi/1.0.0/tokens",
    ]);
    const cloud = vcd.calls.filter((c) => c.path.startsWith("/cloudapi/"));
    for (const c of cloud) {
      assert.equal(c.headers["accept"], "application/json;version=36.0", c.path);
      if (c.method === "POST") assert.equal(c.headers["content-type"], "application/json");
    }
    const posts = cloud.filter((c) => c.method === "POST").map((c) => JSON.parse(c.body));
    assert.deepEqual(posts[0], {
      name: "gcp-ticketing",
      version: "1.0.0",
      vendor: "example",
      priority: 50,
      enabled: true,
      authorizationEnabled: false,
      description: "Ticketing extension: an organisation's support tickets",
    });
    assert.deepEqual(
      posts.slice(1, 3),
      FILTERS.map((urlPattern) => ({
        externalSystem: { id: ID, name: "gcp-ticketing" },
        urlMatcher: { urlPattern, urlScope: "API" },
      })),
    );
    assert.deepEqual(posts[3], { name: TRIPLET, type: "EXTENSION", extensionId: ID });

    const token = issuedToken(vcd);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    const text = await Deno.readTextFile(file);
    assert.ok(text.split("\n").includes(`${TRIPLET} ${token}`), text);
    assert.ok(!(r.stdout + r.stderr).includes(token), "the token is never printed");
    assert.match(
      r.stdout,
      new RegExp(
        `gcp-ticketing: created ${ID} \\(MQTT ${TRIPLET}; API filters 2 created, 0 kept, 0 removed; new token written to `,
      ),
    );
    // serve reads the file as written.
    const ticketing = extensions.filter((e) => e.name === "gcp-ticketing");
    const settings = await mqttSettings(
      { mqttUrl: "mqtt://127.0.0.1:1883", mqttTokenFile: file },
      ticketing,
      SYSTEM_SOURCES,
    );
    assert.equal(settings.tokens.get(TRIPLET), token);
    assert.deepEqual([...vcd.apiFilters.values()].map((f) => f.urlMatcher.urlPattern), FILTERS);
  });
});

Deno.test("register --transport mqtt again changes nothing; --unregister disables, deletes, and drops the token line", async () => {
  await withFake(async (vcd, dir) => {
    const file = `${dir}/tokens`;
    // Another extension's token already in the file, and the file too open: kept, and tightened.
    await Deno.writeTextFile(file, "other/ext/2.0.0 other-token-value\n", { mode: 0o644 });
    await Deno.chmod(file, 0o644);
    const first = await register(vcd, ["--transport", "mqtt", "--mqtt-token-file", file]);
    assert.equal(first.code, 0, first.stderr);
    const written = await Deno.readTextFile(file);
    assert.match(written, /^other\/ext\/2\.0\.0 other-token-value$/m);
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);

    const before = vcd.calls.length;
    const again = await register(vcd, ["--transport", "mqtt", "--mqtt-token-file", file]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(cloudCalls(vcd, before), [
      `GET /cloudapi/extensions/api/${ID}`,
      `PUT /cloudapi/extensions/api/${ID}`,
      `GET /cloudapi/1.0.0/apiFilters?filter=externalSystem.id==${ID}&page=1&pageSize=128`,
      `GET /cloudapi/1.0.0/tokens?filter=type==EXTENSION;name==${TRIPLET}&page=1&pageSize=128`,
    ]);
    assert.match(again.stdout, /updated .*API filters 0 created, 2 kept, 0 removed; token kept/);
    assert.equal(vcd.externalServices.size, 1);
    assert.equal(vcd.apiFilters.size, 2);
    assert.equal(vcd.extensionTokens.size, 1);
    assert.equal(await Deno.readTextFile(file), written, "the file is left as it was");

    const put = vcd.calls.find((c) => c.method === "PUT")!;
    assert.equal(JSON.parse(put.body).enabled, true);

    const from = vcd.calls.length;
    const gone = await register(vcd, [
      "--transport",
      "mqtt",
      "--mqtt-token-file",
      file,
      "--unregister",
    ]);
    assert.equal(gone.code, 0, gone.stderr);
    assert.deepEqual(cloudCalls(vcd, from), [
      `GET /cloudapi/extensions/api/${ID}`,
      `PUT /cloudapi/extensions/api/${ID}`,
      `DELETE /cloudapi/extensions/api/${ID}`,
    ]);
    const disable = vcd.calls.slice(from).find((c) => c.method === "PUT")!;
    assert.equal(JSON.parse(disable.body).enabled, false);
    assert.match(gone.stdout, /gcp-ticketing: deleted/);
    assert.equal(vcd.externalServices.size, 0);
    assert.equal(vcd.apiFilters.size, 0, "DELETE removes the filters");
    assert.equal(vcd.extensionTokens.size, 0, "DELETE removes the tokens");
    assert.equal(
      (await Deno.readTextFile(file)).split("\n").filter((l) => l.startsWith("example/")).length,
      0,
    );
    assert.match(await Deno.readTextFile(file), /other-token-value/);
    const absent = await register(vcd, ["--transport", "mqtt", "--unregister"]);
    assert.match(absent.stdout, /gcp-ticketing: absent/);
  });
});

Deno.test("register --transport mqtt creates a new token when vCD no longer lists the one in the file", async () => {
  await withFake(async (vcd, dir) => {
    const file = `${dir}/tokens`;
    await register(vcd, ["--transport", "mqtt", "--mqtt-token-file", file]);
    const old = issuedToken(vcd);
    vcd.extensionTokens.clear(); // revoked in vCD
    const r = await register(vcd, ["--transport", "mqtt", "--mqtt-token-file", file]);
    assert.equal(r.code, 0, r.stderr);
    const fresh = issuedToken(vcd);
    assert.notEqual(fresh, old);
    const text = await Deno.readTextFile(file);
    assert.ok(text.includes(`${TRIPLET} ${fresh}`) && !text.includes(old));
  });
});

Deno.test("registration removes the API filters of templates no longer declared", async () => {
  await withFake(async (vcd) => {
    const route = (path: string) => ({ method: "GET" as const, path, handle: () => ({}) });
    const v1 = defineExtension({
      name: "t",
      namespace: "t",
      routingKey: "t",
      vendor: "v",
      routes: [route("/api/t"), route("/api/t/{id}")],
    });
    const v2 = { ...v1, routes: [route("/api/t/{id}"), route("/api/t/{id}/x")] };
    const client = new VcdClient({
      baseUrl: vcd.url,
      allowHttp: true,
      credentials: { user: FAKE_USER, password: vcd.password },
    });
    try {
      const first = await registerExternalService(client, v1, { apiVersion: "36.0" });
      assert.equal(first.action, "created");
      assert.deepEqual(first.mqttTopics, {
        monitor: "topic/extension/v/t/1.0.0/ext",
        respond: "topic/extension/v/t/1.0.0/vcd",
      });
      const second = await registerExternalService(client, v2, {
        apiVersion: "36.0",
        haveToken: true,
      });
      assert.deepEqual(second.filters, { created: 1, kept: 1, removed: 1 });
      assert.equal(second.tokenKept, true);
      assert.deepEqual(
        [...vcd.apiFilters.values()].map((f) => f.urlMatcher.urlPattern).sort(),
        ["/api/t/[^/]+/?", "/api/t/[^/]+/x/?"],
      );
    } finally {
      client.close();
    }
  });
});

Deno.test("register --transport mqtt --print shows the JSON documents and sends nothing; without a token file it is a usage error", async () => {
  await withFake(async (vcd) => {
    const printed = await register(vcd, ["--transport", "mqtt", "--print"]);
    assert.equal(printed.code, 0, printed.stderr);
    const docs = JSON.parse(printed.stdout);
    assert.equal(docs.id, ID);
    assert.equal(docs.service.vendor, "example");
    assert.deepEqual(
      docs.apiFilters.map((f: { urlMatcher: { urlPattern: string } }) => f.urlMatcher.urlPattern),
      FILTERS,
    );
    assert.deepEqual(docs.token, { name: TRIPLET, type: "EXTENSION", extensionId: ID });
    const both = await register(vcd, ["--transport", "both", "--print"]);
    assert.match(both.stdout, /<vmext:Service/);
    assert.match(both.stdout, /"urlScope": "API"/);
    const missing = await register(vcd, ["--transport", "mqtt"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /needs --mqtt-token-file/);
    assert.deepEqual(vcd.calls, [], "nothing reached the cell");
  });
});

Deno.test("the fake's cloudapi: ids and topics, 400 on a duplicate triplet, the token shown only once, JSON errors", async () => {
  await withFake(async (vcd) => {
    const token = (await fetch(`${vcd.url}/api/sessions`, {
      method: "POST",
      headers: {
        accept: "application/*+xml;version=36.0",
        authorization: `Basic ${btoa(`${FAKE_USER}:${vcd.password}`)}`,
      },
    }).then(async (r) => (await r.body?.cancel(), r.headers.get("x-vcloud-authorization"))))!;
    const call = async (method: string, path: string, body?: unknown, accept?: string) => {
      const r = await fetch(`${vcd.url}${path}`, {
        method,
        headers: {
          accept: accept ?? "application/json;version=36.0",
          "x-vcloud-authorization": token,
          ...(body === undefined ? {} : { "content-type": "application/json" }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await r.text();
      return {
        status: r.status,
        json: text === "" ? undefined : JSON.parse(text),
        headers: r.headers,
      };
    };
    const service = {
      name: "n",
      vendor: "v",
      version: "2.0.0",
      priority: 50,
      enabled: true,
      authorizationEnabled: false,
      description: "d",
    };
    const created = await call("POST", "/cloudapi/extensions/api", service);
    assert.equal(created.status, 201);
    assert.equal(created.json.id, "urn:vcloud:extension-api:v:n:2.0.0");
    assert.deepEqual(created.json.mqttTopics, {
      monitor: "topic/extension/v/n/2.0.0/ext",
      respond: "topic/extension/v/n/2.0.0/vcd",
    });
    const dup = await call("POST", "/cloudapi/extensions/api", service);
    assert.equal(dup.status, 400);
    assert.equal(dup.json.minorErrorCode, "DUPLICATE_NAME");
    const id = created.json.id;
    const read = await call("GET", `/cloudapi/extensions/api/${id}`);
    assert.match(read.headers.get("link") ?? "", /\/api\/admin\/extension\/service\//);
    const issued = await call("POST", "/cloudapi/1.0.0/tokens", {
      name: "v/n/2.0.0",
      type: "EXTENSION",
      extensionId: id,
    });
    assert.equal(issued.status, 200);
    assert.equal(typeof issued.json.token, "string");
    assert.equal(issued.json.expirationTimeUtc, null);
    const listed = await call("GET", "/cloudapi/1.0.0/tokens?filter=type==EXTENSION");
    assert.equal(listed.json.values.length, 1);
    assert.equal(listed.json.values[0].token, undefined, "the value is shown only once");
    assert.equal((await call("DELETE", `/cloudapi/extensions/api/${id}`)).status, 400);
    assert.equal(
      (await call("GET", "/cloudapi/extensions/api", undefined, "application/xml")).status,
      406,
    );
    assert.equal(
      (await call("POST", "/cloudapi/1.0.0/apiFilters", {
        externalSystem: { id: "urn:vcloud:extension-api:x:y:z", name: "y" },
        urlMatcher: { urlPattern: "/api/y/?", urlScope: "API" },
      })).status,
      400,
    );
  });
});

Deno.test("register --transport mqtt --disable on a new service stages it (disabled, filters, token); register then enables it, keeping the token", async () => {
  await withFake(async (vcd, dir) => {
    const file = `${dir}/tokens`;
    const staged = await register(vcd, [
      "--transport",
      "mqtt",
      "--mqtt-token-file",
      file,
      "--disable",
    ]);
    assert.equal(staged.code, 0, staged.stderr);
    assert.match(staged.stdout, /gcp-ticketing: staged /);
    const post = vcd.calls.find((c) =>
      c.method === "POST" && c.path === "/cloudapi/extensions/api"
    )!;
    assert.equal(JSON.parse(post.body).enabled, false, "staged services are created disabled");
    assert.equal(vcd.apiFilters.size, 2);
    const token = issuedToken(vcd);
    assert.match(await Deno.readTextFile(file), new RegExp(`^${TRIPLET} ${token}$`, "m"));
    assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
    assert.doesNotMatch(staged.stdout + staged.stderr, new RegExp(token));

    const from = vcd.calls.length;
    const enabled = await register(vcd, ["--transport", "mqtt", "--mqtt-token-file", file]);
    assert.equal(enabled.code, 0, enabled.stderr);
    const put = vcd.calls.slice(from).find((c) => c.method === "PUT")!;
    assert.equal(JSON.parse(put.body).enabled, true);
    assert.match(enabled.stdout, /token kept/);
    assert.equal(vcd.extensionTokens.size, 1);

    const noFile = await register(vcd, ["--transport", "mqtt", "--disable"]);
    assert.equal(noFile.code, 2, "a --disable that may stage a service needs the token file");
  });
});
