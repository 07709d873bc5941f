import assert from "node:assert/strict";
import { redactHeaders, scrub, SECRET_HEADERS, secretsOf } from "../lib/redact.ts";
import { AUTH_HEADERS, fakeJwt, leaksCredential, ORG, TOKENS, USER } from "./fixtures.ts";

const R = "[redacted]";

// ---------------------------------------------------------------------------------------------
// scrub()
// ---------------------------------------------------------------------------------------------

Deno.test("scrub() redacts a bare JWT", () => {
  assert.equal(scrub(`token was ${TOKENS.jwt} (expired)`), `token was ${R} (expired)`);
});

Deno.test("scrub() redacts a JWT with another header and claims", () => {
  const other = fakeJwt({ sub: "bob", scope: "admin" });
  assert.equal(leaksCredential(scrub(`a=${TOKENS.jwt} b=${other}`)), false);
  assert.ok(!scrub(other).includes(other.split(".")[1] ?? "?"));
});

Deno.test("scrub() redacts the value of a Bearer authorization", () => {
  assert.equal(scrub(`Authorization: Bearer ${TOKENS.jwt}`), `Authorization: Bearer ${R}`);
  assert.equal(scrub("sent bearer 0123456789abcdef to vCD"), `sent bearer ${R} to vCD`);
});

Deno.test("scrub() redacts the value of a Basic authorization", () => {
  assert.equal(
    scrub("Authorization: Basic YWRtaW5AU3lzdGVtOnZtd2FyZQ=="),
    `Authorization: Basic ${R}`,
  );
});

Deno.test("scrub() redacts an opaque session token only when it is given as a secret", () => {
  const line = `x-vcloud-authorization ${TOKENS.session} was refused`;
  assert.equal(scrub(line, [TOKENS.session]), `x-vcloud-authorization ${R} was refused`);
  assert.ok(scrub(line).includes(TOKENS.session), "nothing marks an opaque token by its shape");
});

Deno.test("scrub() redacts every occurrence of a given secret", () => {
  const s = TOKENS.session;
  assert.equal(scrub(`${s}/${s}:${s}`, [s]), `${R}/${R}:${R}`);
});

Deno.test("scrub() ignores given secrets shorter than 4 characters", () => {
  assert.equal(scrub("a cat sat", ["a", "at"]), "a cat sat");
});

Deno.test("scrub() redacts the password of an amqp URL", () => {
  assert.equal(
    scrub(`cannot connect to ${TOKENS.amqpUrl}: ECONNREFUSED`),
    `cannot connect to amqp://vcdext:${R}@rabbit.example.com:5672/vcd: ECONNREFUSED`,
  );
  assert.equal(scrub("amqps://guest:guest@localhost"), `amqps://guest:${R}@localhost`);
});

Deno.test("scrub() redacts a URL password with an empty user name", () => {
  assert.equal(scrub("amqp://:hunter22@h/"), `amqp://:${R}@h/`);
});

Deno.test("scrub() leaves a URL without a password alone", () => {
  for (
    const url of [
      "amqp://vcdext@rabbit.example.com:5672/vcd",
      "https://vcd.example.com:443/api/org/1",
      "https://vcd.example.com/api/x?next=/y@z",
    ]
  ) {
    assert.equal(scrub(url), url);
  }
});

Deno.test("scrub() redacts password=, token: and secret= assignments", () => {
  assert.equal(
    scrub("amqp://h/?password=s3cr3t&heartbeat=10"),
    `amqp://h/?password=${R}&heartbeat=10`,
  );
  assert.equal(scrub('{"password":"hunter22","user":"u"}'), `{"password":"${R}","user":"u"}`);
  assert.equal(scrub("token: abc.def"), `token: ${R}`);
  assert.equal(scrub("SECRET='xyz' ok"), `SECRET='${R}' ok`);
});

Deno.test("scrub() keeps ordinary text, ids and URNs intact", () => {
  const line =
    `GET /api/org/${ORG.id}/ticketing by ${USER} → 404 (No ticket 42 in this organisation)`;
  assert.equal(scrub(line), line);
});

Deno.test("scrub() redacts a whole Authorization value and then its token", () => {
  const secrets = secretsOf(new Map([["authorization", AUTH_HEADERS.Authorization]]));
  assert.equal(scrub(`got ${AUTH_HEADERS.Authorization}`, secrets), `got ${R}`);
  assert.equal(scrub(`token part ${TOKENS.jwt} alone`, secrets), `token part ${R} alone`);
});

// ---------------------------------------------------------------------------------------------
// secretsOf()
// ---------------------------------------------------------------------------------------------

Deno.test("secretsOf() returns the credential header values and the token of a Bearer value", () => {
  const headers = new Map([
    ["accept", "application/*+xml;version=36.0"],
    ["authorization", `Bearer ${TOKENS.jwt}`],
    ["x-vcloud-authorization", TOKENS.session],
    ["user-agent", "python-requests/2.28.1"],
  ]);
  assert.deepEqual(secretsOf(headers), [`Bearer ${TOKENS.jwt}`, TOKENS.jwt, TOKENS.session]);
});

Deno.test("secretsOf() includes cookies and vCD access tokens", () => {
  const headers = new Map([
    ["cookie", "vcloud_session_id=f00dfeed"],
    ["x-vmware-vcloud-access-token", TOKENS.jwt],
    ["proxy-authorization", "Basic dTpw"],
  ]);
  const secrets = secretsOf(headers);
  assert.ok(secrets.includes("vcloud_session_id=f00dfeed"));
  assert.ok(secrets.includes(TOKENS.jwt));
  assert.ok(secrets.includes("dTpw"));
});

Deno.test("secretsOf() skips empty values and ordinary headers", () => {
  const headers = new Map([["authorization", ""], ["content-type", "application/json"]]);
  assert.deepEqual(secretsOf(headers), []);
});

// ---------------------------------------------------------------------------------------------
// redactHeaders()
// ---------------------------------------------------------------------------------------------

Deno.test("redactHeaders() replaces credential values whatever the name's case", () => {
  const headers = {
    Authorization: `Bearer ${TOKENS.jwt}`,
    "X-VCloud-Authorization": TOKENS.session,
    "X-VMWARE-VCLOUD-ACCESS-TOKEN": TOKENS.jwt,
    Cookie: "vcloud_session_id=f00dfeed",
    Accept: "application/*+json;version=36.0",
    "Content-Length": 26,
  };
  const out = redactHeaders(headers);
  assert.deepEqual(out, {
    Authorization: R,
    "X-VCloud-Authorization": R,
    "X-VMWARE-VCLOUD-ACCESS-TOKEN": R,
    Cookie: R,
    Accept: "application/*+json;version=36.0",
    "Content-Length": 26,
  });
  assert.equal(leaksCredential(JSON.stringify(out)), false);
});

Deno.test("redactHeaders() returns a copy and leaves its input alone", () => {
  const headers = { ...AUTH_HEADERS };
  const out = redactHeaders(headers);
  assert.notEqual(out, headers);
  assert.equal(headers.Authorization, AUTH_HEADERS.Authorization);
});

Deno.test("SECRET_HEADERS holds lower-case names only", () => {
  for (const name of SECRET_HEADERS) assert.equal(name, name.toLowerCase());
  assert.ok(SECRET_HEADERS.has("x-vcloud-authorization"));
  assert.ok(SECRET_HEADERS.has("authorization"));
});
