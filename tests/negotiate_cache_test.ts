/**
 * The negotiation cache is keyed on the client's Accept header, so clients choose its keys: it
 * must stay bounded by entries and by bytes however many and however long the headers are.
 * Measured as heap growth after a full GC, with the offers kept alive.
 */

import assert from "node:assert/strict";
import v8 from "node:v8";
import vm from "node:vm";
import { MAX_ACCEPT_LENGTH, negotiate, type Offer } from "../lib/core/negotiate.ts";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

function heapUsed(): number {
  gc();
  gc();
  return Deno.memoryUsage().heapUsed;
}

const MiB = 1_048_576;

Deno.test("20,000 distinct Accept headers leave the negotiation cache under 1 MiB", () => {
  const offers: Offer[] = Array.from({ length: 4 }, (_, i) => ({
    base: `application/vnd.example.t${i}`,
    formats: ["xml", "json"],
  }));
  const before = heapUsed();
  for (let i = 0; i < 20_000; i++) {
    const accept = `application/json;version=${i}${"v".repeat(200)}`;
    for (const offer of offers) {
      assert.equal(negotiate(accept, offer)?.format, "json");
    }
  }
  const grown = (heapUsed() - before) / MiB;
  // Without the entry limit: about 4 × 20,000 answers of ~450 bytes each, over 30 MiB.
  assert.ok(grown < 1, `the heap grew ${grown.toFixed(2)} MiB`);
  assert.equal(offers.length, 4); // kept alive until measured
});

Deno.test("Accept headers of 8,000 characters are not cached", () => {
  const offers: Offer[] = Array.from({ length: 8 }, (_, i) => ({
    base: `application/vnd.example.l${i}`,
    formats: ["xml", "json"],
  }));
  const before = heapUsed();
  for (let i = 0; i < 200; i++) {
    offers.forEach((offer, o) => {
      const accept = `application/json;version=${i}.${o}.${"7".repeat(7_980)}`;
      assert.ok(accept.length < MAX_ACCEPT_LENGTH);
      assert.equal(negotiate(accept, offer)?.format, "json");
    });
  }
  const grown = (heapUsed() - before) / MiB;
  // Without the length limit: 8 offers × 64 headers of 8 KB (the answers' Content-Type shares
  // the header's characters), about 4 MiB.
  assert.ok(grown < 1, `the heap grew ${grown.toFixed(2)} MiB`);
  assert.equal(offers.length, 8);
});
