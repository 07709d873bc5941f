/**
 * Linear time for everything in lib/ that reads client input: each function is timed on
 * adversarial inputs of size n and 8n in the same run, and the ratio must stay near 8 (under
 * 20, generous for noise); a quadratic one gives ~64. Times are the minimum of several
 * repetitions, each repeating the call until a few milliseconds have passed, so one slow
 * scheduling slice cannot fail the test and the machine's speed does not matter.
 */

import assert from "node:assert/strict";
import { blockingTaskId } from "../lib/core/blocking.ts";
import { compile, dispatch, errorReply } from "../lib/core/dispatch.ts";
import { decodeRequest } from "../lib/core/envelope.ts";
import { HttpError } from "../lib/core/errors.ts";
import { defineExtension, route } from "../lib/core/extension.ts";
import { negotiate, parseAccept } from "../lib/core/negotiate.ts";
import { decodeNotification } from "../lib/core/notification.ts";
import { scrub } from "../lib/core/redact.ts";
import { el, parseXml, renderXml } from "../lib/core/xml.ts";
import { vcdRequest } from "./fixtures.ts";

/**
 * Base size of the inputs, in characters; the large input is 8 times this. Large enough that a
 * call takes a measurable time, small enough that no string built from the large input passes
 * ~128 KB: V8 allocates bigger ones in large-object space, whose cost jumps by itself and would
 * read as non-linear. Inputs that are copied several times into one message use a smaller n.
 */
const N = 8_192;
const LIMIT = 20;
const REPS = 7;
/** Set to print every ratio, e.g. to see the margins: `VCDEXT_LINEARITY_REPORT=1`. */
const REPORT = Deno.env.get("VCDEXT_LINEARITY_REPORT") === "1";
/** Each timing repeats the call until this much time has passed. */
const SLICE_MS = 5;
/** Past this much time on one shape, stop repeating: a few samples already show a quadratic. */
const BUDGET_MS = 3_000;

/** Milliseconds per call, repeating it for at least {@linkcode SLICE_MS}. */
async function slice(fn: () => unknown): Promise<number> {
  let calls = 0;
  const t0 = performance.now();
  let elapsed = 0;
  do {
    await fn();
    calls++;
    elapsed = performance.now() - t0;
  } while (elapsed < SLICE_MS);
  return elapsed / calls;
}

/**
 * The time ratio of `fn` on the large and the small input: minimum over repetitions of each,
 * measured alternately, so a busy moment of the (shared) machine slows both sizes alike.
 */
async function ratioOf(
  fn: (input: string) => unknown,
  small: string,
  large: string,
): Promise<{ ts: number; tl: number }> {
  await fn(small); // warm-up (JIT, caches)
  let ts = Infinity;
  let tl = Infinity;
  const started = performance.now();
  for (let rep = 0; rep < REPS && performance.now() - started < BUDGET_MS; rep++) {
    ts = Math.min(ts, await slice(() => fn(small)));
    tl = Math.min(tl, await slice(() => fn(large)));
  }
  return { ts, tl };
}

/** One shape: makes an input of about `size` characters from a repeated unit. */
type Shape = readonly [name: string, make: (size: number) => string];

function repeat(unit: string, prefix = "", suffix = ""): (size: number) => string {
  return (size) => prefix + unit.repeat(Math.max(1, Math.floor(size / unit.length))) + suffix;
}

/**
 * Asserts every shape runs in linear time through `fn`; reports all ratios on failure. `n`
 * is the small size (default {@linkcode N}).
 */
async function assertLinear(
  what: string,
  shapes: readonly Shape[],
  fn: (input: string) => unknown,
  n = N,
): Promise<void> {
  const bad: string[] = [];
  for (const [name, make] of shapes) {
    const small = make(n);
    const large = make(8 * n);
    let { ts, tl } = await ratioOf(fn, small, large);
    if (!(tl / ts < LIMIT)) {
      // Once more before failing: a quadratic fails again (×64), a burst of load or garbage
      // collection from other tests in this process rarely does twice.
      const again = await ratioOf(fn, small, large);
      if (again.tl / again.ts < tl / ts) ({ ts, tl } = again);
    }
    const ratio = tl / ts;
    if (REPORT) console.log(`${what} ${name}: ×${ratio.toFixed(1)} (${ts.toFixed(3)} ms at n)`);
    if (!(ratio < LIMIT)) {
      bad.push(`${name}: ${ts.toFixed(3)} ms → ${tl.toFixed(3)} ms (×${ratio.toFixed(1)})`);
    }
  }
  assert.deepEqual(bad, [], `${what} is not linear on:\n  ${bad.join("\n  ")}`);
}

/** Shapes that attack the credential patterns and anything else that scans free text. */
const TEXT_SHAPES: readonly Shape[] = [
  ["a-a-a-…", repeat("a-")],
  ["a.a.a.…", repeat("a.")],
  ["aaaa…", repeat("a")],
  ["eyJ-eyJ-…", repeat("eyJ-")],
  ["eyJeyJ…", repeat("eyJ")],
  ["eyJ… then a dot", repeat("eyJ-", "", ".")],
  ["a:// a:// …", repeat("a://")],
  ["a://a: …", repeat("a://a:")],
  ["://u:p …", repeat("://u:p")],
  ["a-a-… ://", repeat("a-", "", "://x:y")],
  ["password=…", repeat("password=")],
  ["password + spaces", repeat(" ", "password", "x")],
  ["password=' + spaces", repeat(" ", "password='", "'")],
  ["Bearer + spaces", repeat(" ", "Bearer", "!")],
  ["bearer bearer …", repeat("bearer ")],
  ["spaces", repeat(" ")],
  ["tabs and newlines", repeat("\t\n")],
  ["@@@", repeat("@")],
  ["slashes", repeat("/", "", "x")],
  ["backslashes", repeat("\\")],
  ["quotes", repeat('"')],
];

Deno.test("scrub() is linear on adversarial text", async () => {
  await assertLinear("scrub()", TEXT_SHAPES, (s) => scrub(s));
});

Deno.test("scrub() with the caller's secrets is linear", async () => {
  const secret = `${"a".repeat(63)}b`;
  await assertLinear("scrub(text, secrets)", [
    ["aaaa… against a…ab", repeat("a")],
    ["a…ab a…ab …", repeat(secret)],
  ], (s) => scrub(s, [secret, "Bearer aaaaab", "aaaaab"]));
});

const xmlShapes: readonly Shape[] = [
  ["<a-a-…></b>", (n) => `<${"a-".repeat(n / 2)}a></b>`],
  ["<a-a-…>", (n) => `<${"a-".repeat(n / 2)}a>`],
  ["attributes", (n) => `<a${repeat(" b-b-b='1'")(n)}/>`],
  ["duplicate attributes", (n) => `<a ${repeat("b='1' ")(n)}/>`],
  ["entities", (n) => `<a>${repeat("&amp;")(n)}</a>`],
  ["bad entity", (n) => `<a>&${"a-".repeat(n / 2)};</a>`],
  ["white space", (n) => `<a>${repeat(" ")(n)}<b/></a>`],
  ["text outside the root", (n) => `<a/>${repeat(" ")(n)}x`],
  ["nested", (n) => `${"<a>".repeat(n / 8)}`],
  ["comments", (n) => `<a>${repeat("<!-- -->")(n)}</a>`],
  ["unclosed comment", (n) => `<a><!--${repeat("-")(n)}`],
  ["many children (up to the node limit)", (n) => `<a>${repeat("<b/>")(n)}</a>`],
];

Deno.test("parseXml() and its error messages are linear", async () => {
  await assertLinear("parseXml()", xmlShapes, (s) => {
    try {
      return parseXml(s);
    } catch (e) {
      return (e as Error).message;
    }
  });
});

Deno.test("renderXml() escapes in linear time", async () => {
  await assertLinear(
    "renderXml()",
    [
      ["markup characters", repeat("<&'\"")],
      ["lone surrogates", repeat("\uD800")],
      ["controls", repeat("\u0001\r")],
    ],
    (s) => renderXml(el("Error", { message: s }, s)),
    // The output is up to 12 times the input (twice, escaped): kept under ~128 KB (see N).
    1024,
  );
});

Deno.test("parseAccept() and negotiate() are linear", async () => {
  const offer = { base: "application/vnd.example.ticket", formats: ["xml", "json"] } as const;
  // Accept is read up to MAX_ACCEPT_LENGTH (8192): sizes up to that, so the limit is not what
  // keeps it linear.
  const shapes: Shape[] = [
    ["a/a;v=… ranges", repeat("a/a;v=x,")],
    ["parameters", repeat(";a=b", "application/json")],
    ["quoted", (n) => `application/json;v="${'\\"'.repeat(n / 2 - 20)}"`],
    ["spaces", repeat(" ", "application/json;", "x")],
    ["version", (n) => `application/*+json;version="${"a;".repeat(n / 2 - 20)}"`],
  ];
  await assertLinear("negotiate()", shapes, (s) => [parseAccept(s), negotiate(s, offer)], 1000);
});

const app = compile(defineExtension({
  name: "lin",
  namespace: "lin",
  routingKey: "lin",
  routes: [
    route({
      method: "POST",
      path: "/api/x",
      produces: { json: (v: unknown) => v, xml: () => el("X") },
      consumes: { json: (v: unknown) => v, xml: (n) => n.name },
      handle: () => ({ body: {} }),
    }),
    route({
      method: "GET",
      path: "/api/x/{id}",
      produces: { json: (v: unknown) => v },
      handle: (ctx) => {
        throw new HttpError(404, `no ${ctx.params.id}`);
      },
    }),
  ],
}));

Deno.test("dispatch() error paths are linear: 400, 404, 406 and 415 quoting client input", async () => {
  const headers = (h: Record<string, string>) => ({
    headers: { "x-vcloud-authorization": "a-a-a-a-a-a-a-a-a", ...h },
  });
  const cases: [string, (s: string) => Parameters<typeof vcdRequest>[0]][] = [
    ["404 path", (s) => ({ method: "GET", path: `/${s}` })],
    ["404 from the handler", (s) => ({ method: "GET", path: `/api/x/${s}` })],
    [
      "400 XML",
      (s) => ({
        method: "POST",
        path: "/api/x",
        body: `<${s}></b>`,
        ...headers({ "content-type": "application/xml" }),
      }),
    ],
    [
      "415",
      (s) => ({ method: "POST", path: "/api/x", body: "x", ...headers({ "content-type": s }) }),
    ],
    ["406", (s) => ({ method: "POST", path: "/api/x", body: "{}", ...headers({ accept: s }) })],
  ];
  const failures: string[] = [];
  for (const [name, make] of cases) {
    await assertLinear(`dispatch() ${name}`, [
      ["a-a-a-…", repeat("a-")],
      ["eyJ-eyJ-…", repeat("eyJ-")],
      ["a://a: …", repeat("a://a:")],
      ["password=…", repeat("password=")],
    ], (s) => dispatch(app, vcdRequest(make(s)))).catch((e) => failures.push(e.message));
  }
  assert.deepEqual(failures, []);
});

Deno.test("errorReply() renders a long message in linear time", async () => {
  await assertLinear("errorReply()", [
    ["a-a-a-…", repeat("a-")],
    ["lone surrogates", repeat("\uDC00")],
  ], (s) => [
    errorReply("r", "application/json", new HttpError(400, s)),
    errorReply("r", "application/xml", new HttpError(400, s)),
  ]);
});

Deno.test("decodeRequest() is linear on a hostile requestUri and headers", async () => {
  const envelope = (uri: string, header: string) =>
    new TextEncoder().encode(JSON.stringify([
      { id: "r", method: "GET", requestUri: uri, headers: { accept: header }, body: "" },
      {},
    ]));
  await assertLinear("decodeRequest()", [
    ["a-a-…://", (n) => `${"a-".repeat(n / 2)}://x/`],
    ["a://a://…", repeat("a://")],
    ["?#?#", repeat("?#", "/")],
  ], (s) => {
    try {
      return decodeRequest(envelope(s, s));
    } catch (e) {
      return e;
    }
  }, N / 2); // the input appears twice in the envelope
});

Deno.test("decodeNotification() is linear on hostile entities, types and routing keys", async () => {
  const xml = (entity: string) =>
    new TextEncoder().encode(
      `<vmext:Notification xmlns:vmext="http://www.vmware.com/vcloud/extension/v1.5" type="${entity}">` +
        `<vmext:EntityLink rel="entity" type="vcloud:${entity}" id="urn:vcloud:${entity}:${entity}"/>` +
        `</vmext:Notification>`,
    );
  const json = (entity: string) =>
    new TextEncoder().encode(JSON.stringify({ type: entity, entity: `urn:vcloud:${entity}` }));
  const shapes: Shape[] = [
    ["a-a-a-…", repeat("a-")],
    ["a:a:a:…", repeat("a:")],
    ["eyJ-eyJ-…", repeat("eyJ-")],
    ["a.a.a.…", repeat("a.")],
  ];
  const decode = (body: Uint8Array, key: string) => {
    try {
      return decodeNotification({ body, routingKey: key, headers: { "notification.type": key } });
    } catch (e) {
      return e;
    }
  };
  // The input appears 4 times in the XML body and twice in the JSON one.
  await assertLinear("decodeNotification() XML", shapes, (s) => decode(xml(s), s), N / 4);
  await assertLinear("decodeNotification() JSON", shapes, (s) => decode(json(s), s), N / 4);
});

Deno.test("blockingTaskId() is linear on hostile entity values", async () => {
  await assertLinear("blockingTaskId()", [
    ["a-a-a-…", repeat("a-")],
    ["/blockingTask/a? …", repeat("/blockingTask/a?", "", "\nx")],
    ["/blockingTask/ …", repeat("/blockingTask/")],
    ["urn:vcloud:a:…", repeat("a:", "urn:vcloud:")],
  ], (s) => {
    try {
      return blockingTaskId(s);
    } catch (e) {
      return scrub((e as Error).message);
    }
  });
});
