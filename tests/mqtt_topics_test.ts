/**
 * The MQTT extension triplet and its topics: the section 12.2 names, and parts that would
 * widen a subscription or split a topic level (`+`, `#`, `/`), empty or over-long parts refused.
 */

import assert from "node:assert/strict";
import {
  formatTriplet,
  MAX_PART,
  monitorTopic,
  parseTriplet,
  respondTopic,
  triplet,
} from "../lib/transport/mqtt/topics.ts";

Deno.test("mqtt topics: the section 12.2 names for example/gcp-ticketing/1.0.0", () => {
  const t = parseTriplet("example/gcp-ticketing/1.0.0");
  assert.deepEqual(t, { vendor: "example", name: "gcp-ticketing", version: "1.0.0" });
  assert.equal(formatTriplet(t), "example/gcp-ticketing/1.0.0");
  assert.equal(monitorTopic(t), "topic/extension/example/gcp-ticketing/1.0.0/ext");
  assert.equal(respondTopic(t), "topic/extension/example/gcp-ticketing/1.0.0/vcd");
});

Deno.test("mqtt topics: parts that are not one plain topic level are refused", () => {
  const bad = [
    "",
    "a+b",
    "#",
    "a/b",
    "a b",
    "tab\there",
    "nul\u0000",
    "del\u007f",
    "x".repeat(MAX_PART + 1),
  ];
  for (const part of bad) {
    assert.throws(() => triplet(part, "n", "1"), /vendor/, JSON.stringify(part));
    assert.throws(() => triplet("v", part, "1"), /name/, JSON.stringify(part));
    assert.throws(() => triplet("v", "n", part), /version/, JSON.stringify(part));
  }
  assert.equal(triplet("v", "x".repeat(MAX_PART), "1").name.length, MAX_PART);
  for (const text of ["a/b", "a/b/c/d", "/b/c", "a//c", "a/+/c", "a/b/#"]) {
    assert.throws(() => parseTriplet(text), TypeError, text);
  }
  assert.equal(triplet("VMware", "ticketing_ü", "2.1.0-beta").name, "ticketing_ü");
});
