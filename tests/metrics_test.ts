import assert from "node:assert/strict";
import {
  Counter,
  DURATION_BUCKETS,
  Metrics,
  METRICS_CONTENT_TYPE,
  vcdextMetrics,
} from "../lib/observability/metrics.ts";

/** The sample lines of a rendering (no comments), for metrics with many lines. */
function samples(text: string, prefix: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(prefix));
}

Deno.test("Metrics.render() writes the 0.0.4 text format for a small registry", () => {
  const m = new Metrics();
  const requests = m.counter("app_requests_total", "Requests answered.", ["method", "code"]);
  const up = m.gauge("app_up", "Whether the app is up.");
  const latency = m.histogram("app_latency_seconds", "Latency.", ["method"], [0.1, 1]);
  requests.inc({ method: "POST", code: 201 });
  requests.inc({ method: "GET", code: 200 }, 2);
  requests.inc({ method: "GET", code: 200 });
  up.set({}, 1);
  latency.observe({ method: "GET" }, 0.05);
  latency.observe({ method: "GET" }, 0.5);
  latency.observe({ method: "GET" }, 2);
  assert.equal(
    m.render(),
    [
      "# HELP app_requests_total Requests answered.",
      "# TYPE app_requests_total counter",
      'app_requests_total{method="GET",code="200"} 3',
      'app_requests_total{method="POST",code="201"} 1',
      "# HELP app_up Whether the app is up.",
      "# TYPE app_up gauge",
      "app_up 1",
      "# HELP app_latency_seconds Latency.",
      "# TYPE app_latency_seconds histogram",
      'app_latency_seconds_bucket{method="GET",le="0.1"} 1',
      'app_latency_seconds_bucket{method="GET",le="1"} 2',
      'app_latency_seconds_bucket{method="GET",le="+Inf"} 3',
      'app_latency_seconds_sum{method="GET"} 2.55',
      'app_latency_seconds_count{method="GET"} 3',
      "",
    ].join("\n"),
  );
  assert.equal(METRICS_CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8");
});

Deno.test("Metrics.render() is empty for an empty registry", () => {
  assert.equal(new Metrics().render(), "");
});

Deno.test("Metrics.render() shows an unlabelled metric as 0 before it is touched", () => {
  const m = new Metrics();
  m.counter("c_total", "C.");
  m.histogram("h", "H.", [], [1]);
  assert.equal(
    m.render(),
    "# HELP c_total C.\n# TYPE c_total counter\nc_total 0\n" +
      '# HELP h H.\n# TYPE h histogram\nh_bucket{le="1"} 0\nh_bucket{le="+Inf"} 0\nh_sum 0\nh_count 0\n',
  );
});

Deno.test("Metrics.render() shows a labelled metric's HELP and TYPE only, before it is touched", () => {
  const m = new Metrics();
  m.counter("c_total", "C.", ["a"]);
  assert.equal(m.render(), "# HELP c_total C.\n# TYPE c_total counter\n");
});

Deno.test("Metrics.render() orders series by label values, not by arrival", () => {
  const render = (order: string[]) => {
    const m = new Metrics();
    const c = m.counter("c_total", "C.", ["k"]);
    for (const k of order) c.inc({ k });
    return m.render();
  };
  assert.equal(render(["b", "a", "c"]), render(["c", "b", "a"]));
  assert.deepEqual(samples(render(["b", "a"]), "c_total"), [
    'c_total{k="a"} 1',
    'c_total{k="b"} 1',
  ]);
});

Deno.test("label values escape backslash, double quote and newline", () => {
  const m = new Metrics();
  m.counter("c_total", "C.", ["v"]).inc({ v: 'a\\b"c\nd' });
  assert.deepEqual(samples(m.render(), "c_total"), ['c_total{v="a\\\\b\\"c\\nd"} 1']);
});

Deno.test("HELP text escapes backslash and newline but not double quotes", () => {
  const m = new Metrics();
  m.gauge("g", 'line "one"\nback\\slash');
  assert.match(m.render(), /^# HELP g line "one"\\nback\\\\slash$/m);
});

Deno.test("label values with NUL or of great length do not merge or bloat series", () => {
  const m = new Metrics({ maxLabelLength: 4 });
  const c = m.counter("c_total", "C.", ["a", "b"]);
  c.inc({ a: "x\u0000y", b: "z" });
  c.inc({ a: "x", b: "y\u0000z" });
  c.inc({ a: "abcdefgh", b: "" });
  c.inc({ a: "abc\u{1F600}", b: "" }); // the emoji would be split at 4: cut before it
  assert.deepEqual(samples(m.render(), "c_total"), [
    'c_total{a="abc",b=""} 1',
    'c_total{a="abcd",b=""} 1',
    'c_total{a="x",b="y\uFFFDz"} 1',
    'c_total{a="x\uFFFDy",b="z"} 1',
  ]);
});

Deno.test("a missing label value reads as the empty string", () => {
  const m = new Metrics();
  const c = m.counter("c_total", "C.", ["a", "b"]);
  c.inc({ a: "x" } as { a: string; b: string });
  assert.deepEqual(samples(m.render(), "c_total"), ['c_total{a="x",b=""} 1']);
});

Deno.test("a histogram's buckets are cumulative and an observation on a bound counts in it", () => {
  const m = new Metrics();
  const h = m.histogram("h", "H.", ["x"], [1, 2, 5]);
  for (const v of [0, 1, 1.5, 2, 4, 5, 6, 100]) h.observe({ x: "a" }, v);
  h.observe({ x: "b" }, 3);
  assert.deepEqual(samples(m.render(), 'h_bucket{x="a"'), [
    'h_bucket{x="a",le="1"} 2',
    'h_bucket{x="a",le="2"} 4',
    'h_bucket{x="a",le="5"} 6',
    'h_bucket{x="a",le="+Inf"} 8',
  ]);
  assert.deepEqual(samples(m.render(), "h_sum"), ['h_sum{x="a"} 119.5', 'h_sum{x="b"} 3']);
  assert.deepEqual(samples(m.render(), "h_count"), ['h_count{x="a"} 8', 'h_count{x="b"} 1']);
});

Deno.test("a histogram drops an explicit +Inf bucket and refuses unsorted buckets", () => {
  const m = new Metrics();
  m.histogram("h", "H.", [], [1, Infinity]);
  assert.equal(samples(m.render(), "h_bucket").length, 2);
  assert.throws(() => m.histogram("h2", "H.", [], [1, 1]), RangeError);
  assert.throws(() => m.histogram("h3", "H.", [], [2, 1]), RangeError);
  assert.throws(() => m.histogram("h4", "H.", [], [NaN]), RangeError);
});

Deno.test("the cardinality cap folds new label combinations into one series of 'other'", () => {
  const m = new Metrics({ maxSeries: 3 });
  const c = m.counter("c_total", "C.", ["path", "code"]);
  for (let i = 0; i < 1000; i++) c.inc({ path: `/p/${i}`, code: 200 });
  c.inc({ path: "/p/1", code: 200 }, 5); // an existing series keeps counting
  assert.deepEqual(samples(m.render(), "c_total"), [
    'c_total{path="/p/0",code="200"} 1',
    'c_total{path="/p/1",code="200"} 6',
    'c_total{path="/p/2",code="200"} 1',
    'c_total{path="other",code="other"} 997',
  ]);
});

Deno.test("the cardinality cap applies to each metric separately and defaults to 1,000", () => {
  const m = new Metrics();
  const a = m.counter("a_total", "A.", ["k"]);
  const b = m.gauge("b", "B.", ["k"]);
  for (let i = 0; i < 1005; i++) a.inc({ k: i });
  b.set({ k: "x" }, 1);
  assert.equal(samples(m.render(), "a_total").length, 1001);
  assert.deepEqual(samples(m.render(), "a_total").at(-1), 'a_total{k="other"} 5');
  assert.deepEqual(samples(m.render(), "b{"), ['b{k="x"} 1']);
});

Deno.test("invalid metric and label names throw TypeError", () => {
  const m = new Metrics();
  for (const name of ["", "1abc", "a-b", "a b", "é"]) {
    assert.throws(() => m.counter(name, "x"), TypeError, name);
  }
  for (const label of ["", "1a", "a:b", "__reserved", "a-b"]) {
    assert.throws(() => m.counter("ok_total", "x", [label]), TypeError, label);
  }
  assert.throws(() => m.counter("ok_total", "x", ["a", "a"]), TypeError);
  assert.throws(() => m.histogram("h", "x", ["le"]), TypeError);
  assert.doesNotThrow(() => m.counter("ns:sub_total", "Colons are allowed.", ["_x"]));
  assert.throws(() => new Counter("a-b", "x"), TypeError);
});

Deno.test("a name already taken, also by a histogram's series, throws TypeError", () => {
  const m = new Metrics();
  m.histogram("h", "H.");
  assert.throws(() => m.counter("h", "x"), TypeError);
  assert.throws(() => m.gauge("h_count", "x"), TypeError);
  assert.throws(() => m.histogram("h_bucket", "x"), TypeError);
  m.counter("c_sum", "x");
  assert.throws(() => m.histogram("c", "x"), TypeError);
});

Deno.test("a counter refuses to go down; a gauge goes both ways", () => {
  const m = new Metrics();
  const c = m.counter("c_total", "C.");
  assert.throws(() => c.inc({}, -1), RangeError);
  assert.throws(() => c.inc({}, NaN), RangeError);
  const g = m.gauge("g", "G.");
  g.inc();
  g.inc({}, 4);
  g.dec();
  assert.deepEqual(samples(m.render(), "c_total"), ["c_total 0"]);
  assert.deepEqual(samples(m.render(), "g "), ["g 4"]);
});

Deno.test("a histogram refuses NaN and renders infinities as +Inf and -Inf", () => {
  const m = new Metrics();
  const h = m.histogram("h", "H.", [], [1]);
  assert.throws(() => h.observe({}, NaN), RangeError);
  h.observe({}, Infinity);
  const g = m.gauge("g", "G.");
  g.set({}, -Infinity);
  assert.deepEqual(samples(m.render(), "h_sum"), ["h_sum +Inf"]);
  assert.deepEqual(samples(m.render(), "g "), ["g -Inf"]);
});

Deno.test("Metrics refuses a cap or label length below 1", () => {
  assert.throws(() => new Metrics({ maxSeries: 0 }), RangeError);
  assert.throws(() => new Metrics({ maxLabelLength: 1.5 }), RangeError);
});

Deno.test("vcdextMetrics() declares the service's standard metrics with their labels", () => {
  const m = vcdextMetrics();
  const text = m.registry.render();
  const types = samples(text, "# TYPE");
  assert.deepEqual(types, [
    "# TYPE vcdext_requests_total counter",
    "# TYPE vcdext_request_duration_seconds histogram",
    "# TYPE vcdext_in_flight gauge",
    "# TYPE vcdext_replies_failed_total counter",
    "# TYPE vcdext_reconnects_total counter",
    "# TYPE vcdext_notifications_total counter",
    "# TYPE vcdext_blocking_task_decisions_total counter",
    "# TYPE vcdext_messages_rejected_total counter",
    "# TYPE vcdext_broker_connected gauge",
    "# TYPE vcdext_notification_handler_seconds histogram",
    "# TYPE vcdext_build_info gauge",
  ]);
  assert.deepEqual(m.requests.labelNames, ["extension", "transport", "route", "status"]);
  assert.deepEqual(m.requestDuration.labelNames, ["extension", "transport", "route"]);
  assert.deepEqual(m.inFlight.labelNames, []);
  assert.deepEqual(m.repliesFailed.labelNames, ["extension", "transport", "reason"]);
  assert.deepEqual(m.reconnects.labelNames, []);
  assert.deepEqual(m.notifications.labelNames, ["type", "outcome"]);
  assert.deepEqual(m.blockingTaskDecisions.labelNames, ["action"]);
  assert.deepEqual(m.messagesRejected.labelNames, ["extension", "transport", "reason"]);
  assert.deepEqual(m.requestDuration.buckets, DURATION_BUCKETS);
  assert.deepEqual(
    DURATION_BUCKETS,
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  );
});

// How fast this runs is measured by `deno task bench:micro` (group "metrics"), not bet on here.
Deno.test("200,000 counts on the hot path add up", () => {
  const m = vcdextMetrics();
  for (let i = 0; i < 200_000; i++) {
    m.requests.inc({ extension: "t", transport: "amqp", route: "GET /api/t/{id}", status: 200 });
    m.requestDuration.observe(
      { extension: "t", transport: "amqp", route: "GET /api/t/{id}" },
      0.002,
    );
  }
  assert.match(m.registry.render(), /status="200"\} 200000$/m);
  assert.match(
    m.registry.render(),
    /^vcdext_request_duration_seconds_count\{extension="t",transport="amqp",route="GET \/api\/t\/\{id\}"\} 200000$/m,
  );
});
