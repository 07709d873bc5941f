/**
 * Guards what made the pure path cheap under load: a request leaves nothing reachable once it
 * is answered, so V8's scavenges promote little of what each request allocates.
 *
 * Found with `--trace-gc-nvp`: object literals with getter closures (one hidden class each:
 * the security context, the handler context) and a `Map` keyed by each request's deadline
 * callback kept every request's objects alive across scavenges; about 20% of all allocation
 * was promoted to the old generation, and GC took 13% of the pure path. The security-context
 * literal alone, put back, promotes about 7%. This test runs `tests/bench/pure_mix.ts` (the
 * benchmark's request mix through `endpoint().handle`, 16 in flight) under `--trace-gc-nvp`
 * and bounds the promoted share. With the fixes it is about 2–4% (mostly the 1,024 replies
 * kept for redeliveries, with their callers' org and user strings).
 */

import assert from "node:assert/strict";

const ROOT = new URL("../", import.meta.url).pathname;

Deno.test("the pure path promotes under 5% of what it allocates (no per-request leftovers)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--trace-gc-nvp",
      "tests/bench/pure_mix.ts",
      "--rounds",
      "1",
      "--n",
      "40000",
      "--in-flight",
      "16",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
    stdin: "null",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(stdout, /40000 requests, 16 in flight: .* 0 bad/);

  const scavenges = [...stdout.matchAll(/GC: (\{.*"gc":"s".*\})/g)].map((m) =>
    JSON.parse(m[1]!) as { allocated: number; promoted: number }
  );
  // The first ones include start-up (modules, the parser's tables), which is meant to stay.
  const steady = scavenges.slice(5);
  assert.ok(steady.length >= 5, `only ${scavenges.length} scavenges: too short to judge`);
  const allocated = steady.reduce((sum, s) => sum + s.allocated, 0);
  const promoted = steady.reduce((sum, s) => sum + s.promoted, 0);
  const share = promoted / allocated;
  console.log(
    `${steady.length} scavenges: ${(promoted / 1048576).toFixed(1)} MiB promoted of ${
      (allocated / 1048576).toFixed(1)
    } MiB allocated (${(share * 100).toFixed(1)}%)`,
  );
  assert.ok(share < 0.05, `${(share * 100).toFixed(1)}% of allocation promoted`);
});
