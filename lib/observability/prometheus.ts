/**
 * @module A tiny Prometheus registry: counters, gauges and histograms with labels
 * (prometheus_families.ts), rendered together in the text exposition format 0.0.4. Pure: the
 * caller serves {@linkcode Metrics.render} over HTTP.
 */

import {
  Counter,
  DEFAULT_BUCKETS,
  Gauge,
  Histogram,
  type MetricsOptions,
  resolve,
} from "./prometheus_families.ts";

export {
  Counter,
  Gauge,
  Histogram,
  type Labels,
  type MetricsOptions,
} from "./prometheus_families.ts";

/** `Content-Type` of {@linkcode Metrics.render}'s output. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** What names a one-value metric family: its name, help text and label names. */
type FamilyArgs<L extends string> = [name: string, help: string, labelNames?: readonly L[]];

/**
 * A registry of metrics, rendered together in registration order. Metric names must match
 * `[a-zA-Z_:][a-zA-Z0-9_:]*` and label names `[a-zA-Z_][a-zA-Z0-9_]*` (not starting with
 * `__`), else `TypeError`; so must a name that is already taken (a histogram `x` also takes
 * `x_bucket`, `x_sum` and `x_count`). Within a metric, series are sorted by label values.
 * Label values are escaped (`\\`, `\"`, `\n`); a NUL in a value becomes U+FFFD.
 *
 * Cardinality is bounded (see {@linkcode MetricsOptions.maxSeries}): past the cap, new label
 * combinations fold into one series whose label values are all `"other"`, so a flood of
 * distinct values costs one series, and the totals stay right.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Metrics } from "./prometheus.ts";
 * const m = new Metrics();
 * m.counter("hits_total", "Hits.", ["path"]).inc({ path: "/a" });
 * assert.equal(
 *   m.render(),
 *   '# HELP hits_total Hits.\n# TYPE hits_total counter\nhits_total{path="/a"} 1\n',
 * );
 * assert.throws(() => m.gauge("hits_total", "Again."), TypeError);
 * assert.throws(() => m.gauge("bad-name", "Dash."), TypeError);
 * ```
 */
export class Metrics {
  readonly #families: { collect(out: string[]): void }[] = [];
  readonly #taken = new Set<string>();
  readonly #options: Required<MetricsOptions>;
  readonly #collectors: (() => void)[] = [];

  constructor(options: MetricsOptions = {}) {
    this.#options = resolve(options);
  }

  #add<F extends { collect(out: string[]): void }>(family: F, names: readonly string[]): F {
    for (const n of names) {
      if (this.#taken.has(n)) throw new TypeError(`Metric name ${n} is already registered`);
    }
    for (const n of names) this.#taken.add(n);
    this.#families.push(family);
    return family;
  }

  /** Registers a {@linkcode Counter}: a name, its help text, its label names (default none). */
  counter<const L extends string = never>(...family: FamilyArgs<L>): Counter<L> {
    const [name, help, labelNames = []] = family;
    return this.#add(new Counter(name, help, labelNames, this.#options), [name]);
  }

  /** Registers a {@linkcode Gauge}: a name, its help text, its label names (default none). */
  gauge<const L extends string = never>(...family: FamilyArgs<L>): Gauge<L> {
    const [name, help, labelNames = []] = family;
    return this.#add(new Gauge(name, help, labelNames, this.#options), [name]);
  }

  /**
   * Registers a {@linkcode Histogram} with these upper bounds (strictly increasing, finite;
   * `+Inf` is implied), default Prometheus' 0.005 … 10 seconds.
   */
  histogram<const L extends string = never>(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    buckets: readonly number[] = DEFAULT_BUCKETS,
  ): Histogram<L> {
    const h = new Histogram(name, help, labelNames, buckets, this.#options);
    return this.#add(h, [name, `${name}_bucket`, `${name}_sum`, `${name}_count`]);
  }

  /**
   * Registers `update`, called at the start of every {@linkcode Metrics.render}: for values
   * read at scrape time (the process' CPU and memory, say). An update that throws is skipped
   * for that scrape; the metrics keep their last values.
   */
  onCollect(update: () => void): void {
    this.#collectors.push(update);
  }

  /**
   * Every metric in the text exposition format 0.0.4 (serve it with
   * {@linkcode METRICS_CONTENT_TYPE}): `# HELP` and `# TYPE` once per metric, then its
   * samples; `""` when nothing is registered.
   */
  render(): string {
    for (const update of this.#collectors) {
      try {
        update();
      } catch { /* keep the last values */ }
    }
    const out: string[] = [];
    for (const f of this.#families) f.collect(out);
    return out.join("");
  }
}
