import assert from "node:assert/strict";
import { connectError, safeUrl } from "../lib/transport/amqp/mod.ts";
import {
  clip,
  CLIP_MARK,
  parsesAsWritten,
  passwordsOf,
  quote,
  QUOTE_LIMIT,
  redactHeaders,
  redactUrl,
  scrub,
  SECRET_HEADERS,
  secretsOf,
} from "../lib/core/redact.ts";
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
// redactUrl(), passwordsOf(): broker URLs, by parsing
// ---------------------------------------------------------------------------------------------

/** Passwords amqplib accepts in a URL, raw and percent-encoded. */
const PASSWORDS: readonly [what: string, written: string, plain: string][] = [
  ["plain", "Sup3r-S3cret.pw", "Sup3r-S3cret.pw"],
  ["a space", "wr0ng PW", "wr0ng PW"],
  ["a space, encoded", "wr0ng%20PW", "wr0ng PW"],
  ["a raw @", "p@ssw0rd", "p@ssw0rd"],
  ["an encoded @", "p%40ssw0rd", "p@ssw0rd"],
  ["a raw /", "pass/w0rd", "pass/w0rd"],
  ["an encoded /", "pass%2Fw0rd", "pass/w0rd"],
  ["a raw %", "100%sure", "100%sure"],
  ["an encoded %", "100%25sure", "100%sure"],
  ["a colon", "a:b:c:d", "a:b:c:d"],
  ["Unicode", "pässwörd-日本", "pässwörd-日本"],
  ["Unicode, encoded", "p%C3%A4ssw%C3%B6rd", "pässwörd"],
  ["everything", "x @/:%?# ü", "x @/:%?# ü"],
];

for (const [what, written, plain] of PASSWORDS) {
  const url = `amqp://vcdext:${written}@rabbit.example.com:5672/vcd`;

  Deno.test(`redactUrl() and safeUrl() hide a password with ${what}`, () => {
    const want = `amqp://vcdext:${R}@rabbit.example.com:5672/vcd`;
    assert.equal(redactUrl(url), want);
    assert.equal(safeUrl(url), want);
  });

  Deno.test(`passwordsOf() gives a password with ${what} as written and decoded`, () => {
    const found = passwordsOf(url);
    assert.ok(found.includes(written), JSON.stringify(found));
    assert.ok(found.includes(plain), JSON.stringify(found));
  });

  Deno.test(`a connection error quoting a URL with a password with ${what} leaks none of it`, () => {
    const e = connectError(url, new Error(`refused ${url} (user vcdext, password ${plain})`));
    assert.match(e.message, /^Cannot connect to amqp:\/\/vcdext:\[redacted\]@rabbit/);
    for (const piece of [written, plain]) assert.ok(!e.message.includes(piece), e.message);
  });
}

Deno.test("redactUrl() leaves URLs without a password alone and redacts too much rather than too little", () => {
  for (const url of ["amqp://rabbit:5672/vcd", "amqp://vcdext@rabbit/vcd", "not a url", ""]) {
    assert.equal(redactUrl(url), url);
  }
  assert.equal(redactUrl("amqp://u:pw@h/v?x=a@b"), `amqp://u:${R}@b`);
  assert.equal(redactUrl("u:pw@h"), `u:${R}@h`);
});

Deno.test("parsesAsWritten() tells when amqplib would read the password elsewhere", () => {
  assert.equal(parsesAsWritten("amqp://u:wr0ng PW@h"), true);
  assert.equal(parsesAsWritten("amqp://u:p@ss@h"), true);
  assert.equal(parsesAsWritten("amqp://u:pässwörd@h"), true);
  assert.equal(parsesAsWritten("amqp://u:a/b@h"), false);
  assert.equal(parsesAsWritten("amqp://u:a?b@h"), false);
  // amqplib's reading of a/b puts "b@h" in the path and "a" as a port: its error must go.
  const e = connectError("amqp://u:xy/zzzz@h", new Error("getaddrinfo ENOTFOUND zzzz"));
  assert.ok(!e.message.includes("zzzz"), e.message);
});

// ---------------------------------------------------------------------------------------------
// clip(), quote()
// ---------------------------------------------------------------------------------------------

Deno.test("quote() cuts client input to QUOTE_LIMIT characters and marks the cut", () => {
  const q = quote("x".repeat(100_000));
  assert.equal(q, "x".repeat(QUOTE_LIMIT) + CLIP_MARK);
  assert.equal(quote("short"), "short");
});

Deno.test("clip() never splits a surrogate pair", () => {
  const text = "a".repeat(QUOTE_LIMIT - 1) + "😀😀";
  const cut = clip(text);
  assert.equal(cut, "a".repeat(QUOTE_LIMIT - 1) + CLIP_MARK);
  assert.ok(cut.isWellFormed());
});

Deno.test("quote() scrubs before it cuts: a credential straddling the cut is gone whole", () => {
  const path = `/api/${"x".repeat(QUOTE_LIMIT - 20)}/${TOKENS.jwt}`;
  assert.equal(leaksCredential(quote(path)), false);
  assert.ok(!quote(path).includes("eyJ"), quote(path));
});

Deno.test("scrub() redacts the start of a given secret cut off by clip()", () => {
  const secret = TOKENS.session;
  const clipped = clip(`/api/org/${"o".repeat(QUOTE_LIMIT - 20)}/${secret}`);
  assert.ok(clipped.endsWith(`${secret.slice(0, 10)}${CLIP_MARK}`), clipped);
  const scrubbed = scrub(`No ticket ${clipped} here`, [secret]);
  assert.ok(scrubbed.endsWith(`/${R}${CLIP_MARK} here`), scrubbed);
  assert.ok(!scrubbed.includes(secret.slice(0, 4)), scrubbed);
  // Without the mark, a prefix is just text.
  assert.equal(scrub(`id ${secret.slice(0, 8)} ok`, [secret]), `id ${secret.slice(0, 8)} ok`);
});

Deno.test("scrub() finds JWTs where the former pattern did (on short inputs, as its oracle)", () => {
  const former = /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*/g;
  const inputs = [
    `x-${TOKENS.jwt} y`,
    `a${TOKENS.jwt}`,
    `_${TOKENS.jwt}`,
    `${TOKENS.jwt}.${TOKENS.jwt}`,
    "eyJabc.def",
    "eyJ-eyJ-eyJ-eyJ-eyJ",
    "eyJ-eyJ-eyJ-eyJ-eyJ.x",
    "eyJ0123456789.a.b.c",
    "eyJ0123456789.a.",
    "eyJ0123456789..",
    "eyJ01234567.",
    "eyJ0123456.",
    "é-eyJ0123456789.x",
    "aeyJ0123456789.x eyJ0123456789.y",
  ];
  for (const text of inputs) assert.equal(scrub(text), text.replace(former, R), text);
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

Deno.test("secretsOf() includes X-Auth-Token and each cookie value", () => {
  const headers = new Map([
    ["x-auth-token", "4uth-t0ken-value"],
    ["cookie", "lang=en; vcloud_session_id=f00dfeed; token=abc"],
  ]);
  const secrets = secretsOf(headers);
  for (const v of ["4uth-t0ken-value", "f00dfeed", "en", "abc"]) assert.ok(secrets.includes(v), v);
  // A pattern redacting token=abc first must not leave the session cookie behind.
  const line = scrub("cookies lang=en; vcloud_session_id=f00dfeed; token=abc", secrets);
  assert.ok(!line.includes("f00dfeed"), line);
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
