/**
 * @module The metric kinds of the Prometheus registry (prometheus.ts): counters, gauges and
 * histograms with labels, each rendering its own samples in the text exposition format 0.0.4,
 * with a cap on label combinations so hostile input cannot grow memory without bound.
 */

/** Label values by label name; numbers are stringified, a missing label reads as `""`. */
export type Labels<L extends string> = Readonly<Record<L, string | number>>;

/** Options of the registry (`Metrics` in prometheus.ts), applied to each of its metrics. */
export interface MetricsOptions {
  /**
   * Most label combinations (series) per metric, default 1,000. Once a metric has that many,
   * every new combination is counted in one overflow series whose label values are all
   * `"other"`; existing series keep counting as before.
   */
  readonly maxSeries?: number;
  /**
   * Label values longer than this many UTF-16 code units are cut to that length (one less
   * rather than split a surrogate pair); default 256.
   */
  readonly maxLabelLength?: number;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Joins label values into a series key; label values never contain it (see `#value`). */
const SEP = "\u0000";
const OTHER = "other";

/** Prometheus' default histogram buckets, in seconds. */
export const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The options with their defaults; `RangeError` on a value that is not a positive integer. */
export function resolve(options: MetricsOptions): Required<MetricsOptions> {
  const { maxSeries = 1000, maxLabelLength = 256 } = options;
  if (!(Number.isSafeInteger(maxSeries) && maxSeries >= 1)) {
    throw new RangeError(`maxSeries must be a positive integer, not ${maxSeries}`);
  }
  if (!(Number.isSafeInteger(maxLabelLength) && maxLabelLength >= 1)) {
    throw new RangeError(`maxLabelLength must be a positive integer, not ${maxLabelLength}`);
  }
  return { maxSeries, maxLabelLength };
}

/** The metric kinds, as `# TYPE` names them. */
export type Kind = "counter" | "gauge" | "histogram";

function formatNumber(v: number): string {
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return Number.isNaN(v) ? "NaN" : String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
}

function escapeHelp(v: string): string {
  return v.replace(/[\\\n]/g, (c) => (c === "\n" ? "\\n" : "\\\\"));
}

/** One metric: its label names and series, keyed by the label values joined with NUL. */
abstract class Family<L extends string, S> {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  abstract readonly kind: Kind;
  readonly #series = new Map<string, S>();
  readonly #maxSeries: number;
  readonly #maxLength: number;
  readonly #otherKey: string;
  readonly #create: () => S;

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    options: MetricsOptions,
    create: () => S,
  ) {
    const { maxSeries, maxLabelLength } = resolve(options);
    if (!METRIC_NAME.test(name)) {
      throw new TypeError(`Metric name ${JSON.stringify(name)} must match ${METRIC_NAME}`);
    }
    for (const label of labelNames) {
      if (!LABEL_NAME.test(label) || label.startsWith("__")) {
        throw new TypeError(
          `Metric ${name}: label name ${JSON.stringify(label)} must match ${LABEL_NAME} ` +
            "and not start with __",
        );
      }
    }
    if (new Set(labelNames).size !== labelNames.length) {
      throw new TypeError(`Metric ${name}: repeats a label name`);
    }
    this.name = name;
    this.help = help;
    this.labelNames = [...labelNames];
    this.#maxSeries = maxSeries;
    this.#maxLength = maxLabelLength;
    this.#otherKey = labelNames.map(() => OTHER).join(SEP);
    this.#create = create;
    // An unlabelled metric has exactly one series: show it (as 0) from the start.
    if (labelNames.length === 0) this.#series.set("", create());
  }

  /** The value of one label as it is stored: a string without NUL, cut to the length limit. */
  #value(v: string | number | undefined): string {
    let s = typeof v === "string" ? v : v === undefined ? "" : String(v);
    if (s.length > this.#maxLength) {
      const cut = this.#maxLength;
      const high = s.charCodeAt(cut - 1) >= 0xd800 && s.charCodeAt(cut - 1) <= 0xdbff;
      s = s.slice(0, high ? cut - 1 : cut); // never split a surrogate pair
    }
    return s.includes(SEP) ? s.replaceAll(SEP, "\uFFFD") : s;
  }

  /** The series for these labels, created on first use (or the overflow series past the cap). */
  protected series(labels: Partial<Labels<L>> | undefined): S {
    const names = this.labelNames;
    let key = "";
    if (names.length > 0) {
      key = this.#value(labels?.[names[0] as L]);
      for (let i = 1; i < names.length; i++) key += SEP + this.#value(labels?.[names[i] as L]);
    }
    let s = this.#series.get(key);
    if (s === undefined) {
      const other = this.#series.has(this.#otherKey) ? 1 : 0;
      if (this.#series.size - other >= this.#maxSeries) key = this.#otherKey;
      s = this.#series.get(key);
      if (s === undefined) {
        s = this.#create();
        this.#series.set(key, s);
      }
    }
    return s;
  }

  /** The exposition lines of one series, `labels` already rendered (`a="x",b="y"` or ""). */
  protected abstract lines(labels: string, series: S, out: string[]): void;

  /** Appends this metric's exposition lines to `out`; {@linkcode Metrics.render} calls it. */
  collect(out: string[]): void {
    out.push(
      `# HELP ${this.name} ${escapeHelp(this.help)}\n`,
      `# TYPE ${this.name} ${this.kind}\n`,
    );
    const keys = [...this.#series.keys()].sort();
    for (const key of keys) {
      const values = key.split(SEP);
      const labels = this.labelNames.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
      this.lines(labels.join(","), this.#series.get(key) as S, out);
    }
  }
}

function braces(labels: string): string {
  return labels === "" ? "" : `{${labels}}`;
}

interface Cell {
  value: number;
}

function newCell(): Cell {
  return { value: 0 };
}

/** A metric whose series are one number each: {@linkcode Counter} and {@linkcode Gauge}. */
abstract class CellFamily<L extends string> extends Family<L, Cell> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly L[] = [],
    options: MetricsOptions = {},
  ) {
    super(name, help, labelNames, options, newCell);
  }

  protected lines(labels: string, s: Cell, out: string[]): void {
    out.push(`${this.name}${braces(labels)} ${formatNumber(s.value)}\n`);
  }
}

/**
 * A monotonic counter; created by {@linkcode Metrics.counter}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Metrics } from "./prometheus.ts";
 * const m = new Metrics();
 * const c = m.counter("jobs_total", "Jobs done.", ["kind"]);
 * c.inc({ kind: "a" });
 * c.inc({ kind: "a" }, 2);
 * assert.match(m.render(), /^jobs_total\{kind="a"\} 3$/m);
 * assert.throws(() => c.inc({ kind: "a" }, -1), RangeError);
 * ```
 */
export class Counter<L extends string = never> extends CellFamily<L> {
  readonly kind = "counter";

  /** Adds `n` (default 1, never negative) to the series of `labels`. */
  inc(labels?: Labels<L>, n = 1): void {
    if (!(n >= 0)) throw new RangeError(`Counter ${this.name}: cannot add ${n}`);
    this.series(labels).value += n;
  }
}

/**
 * A value that goes up and down; created by {@linkcode Metrics.gauge}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Metrics } from "./prometheus.ts";
 * const m = new Metrics();
 * const g = m.gauge("queue_depth", "Messages waiting.");
 * g.set({}, 5);
 * g.inc();
 * g.dec({}, 2);
 * assert.match(m.render(), /^queue_depth 4$/m);
 * ```
 */
export class Gauge<L extends string = never> extends CellFamily<L> {
  readonly kind = "gauge";

  /** Sets the series of `labels` to `v`. */
  set(labels: Labels<L>, v: number): void {
    this.series(labels).value = v;
  }

  /** Adds `n` (default 1) to the series of `labels`. */
  inc(labels?: Labels<L>, n = 1): void {
    this.series(labels).value += n;
  }

  /** Subtracts `n` (default 1) from the series of `labels`. */
  dec(labels?: Labels<L>, n = 1): void {
    this.series(labels).value -= n;
  }
}

interface HistogramSeries {
  /** Observations per bucket, not cumulative; the last slot is `+Inf`. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/**
 * A distribution of observations in fixed buckets; created by {@linkcode Metrics.histogram}.
 * Renders cumulative `_bucket{le="…"}` lines ending with `le="+Inf"`, then `_sum` and
 * `_count`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Metrics } from "./prometheus.ts";
 * const m = new Metrics();
 * const h = m.histogram("wait_seconds", "Wait.", [], [0.1, 1]);
 * h.observe({}, 0.05);
 * h.observe({}, 0.5);
 * h.observe({}, 3);
 * const text = m.render();
 * assert.match(text, /^wait_seconds_bucket\{le="0.1"\} 1$/m);
 * assert.match(text, /^wait_seconds_bucket\{le="1"\} 2$/m);
 * assert.match(text, /^wait_seconds_bucket\{le="\+Inf"\} 3$/m);
 * assert.match(text, /^wait_seconds_count 3$/m);
 * ```
 */
export class Histogram<L extends string = never> extends Family<L, HistogramSeries> {
  readonly kind = "histogram";
  /** Upper bounds, strictly increasing, without `+Inf`. */
  readonly buckets: readonly number[];

  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    buckets: readonly number[] = DEFAULT_BUCKETS,
    options: MetricsOptions = {},
  ) {
    if (labelNames.includes("le" as L)) {
      throw new TypeError(`Histogram ${name}: "le" is reserved for the bucket label`);
    }
    const bounds = buckets.filter((b) => b !== Infinity);
    bounds.forEach((b, i) => {
      if (!Number.isFinite(b) || (i > 0 && !(b > (bounds[i - 1] as number)))) {
        throw new RangeError(`Histogram ${name}: buckets must be finite and strictly increasing`);
      }
    });
    const size = bounds.length + 1;
    super(name, help, labelNames, options, () => ({
      counts: new Float64Array(size),
      sum: 0,
      count: 0,
    }));
    this.buckets = bounds;
  }

  /** Records `v` in the series of `labels`; `NaN` is refused with a `RangeError`. */
  observe(labels: Labels<L>, v: number): void {
    if (Number.isNaN(v)) throw new RangeError(`Histogram ${this.name}: cannot observe NaN`);
    const s = this.series(labels);
    const b = this.buckets;
    let i = 0;
    while (i < b.length && v > (b[i] as number)) i++;
    s.counts[i]! += 1;
    s.sum += v;
    s.count++;
  }

  protected lines(labels: string, s: HistogramSeries, out: string[]): void {
    const sep = labels === "" ? "" : ",";
    let cumulative = 0;
    for (let i = 0; i <= this.buckets.length; i++) {
      cumulative += s.counts[i] ?? 0;
      const le = i < this.buckets.length ? formatNumber(this.buckets[i] as number) : "+Inf";
      out.push(`${this.name}_bucket{${labels}${sep}le="${le}"} ${formatNumber(cumulative)}\n`);
    }
    out.push(`${this.name}_sum${braces(labels)} ${formatNumber(s.sum)}\n`);
    out.push(`${this.name}_count${braces(labels)} ${formatNumber(s.count)}\n`);
  }
}
