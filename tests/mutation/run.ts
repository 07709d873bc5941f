/**
 * The mutation check: plants each fault of faults.ts in turn, runs the test files expected to
 * catch it, restores the file, and prints a table fault → caught (by which test) / survived /
 * did not apply. Exits 1 unless every fault was caught. On demand, not in CI:
 *
 *   deno task mutation                       # every fault (a few minutes)
 *   deno task mutation --only id1,id2        # some faults
 *   deno task mutation --list                # the faults and their tests
 *
 * Why only the listed test files, with `--fail-fast`: the whole suite per fault would take
 * ~2 minutes each, an hour or more per run. A fault that survives its listed files is reported
 * as survived even if some other file would catch it: the list says where the behaviour is
 * meant to be tested. Tests run with `--no-check`, so a fault is caught by behaviour, never by
 * the type checker. First a baseline run of every listed file without faults must pass, or
 * nothing can be concluded. The product file is restored in `finally`, also on Ctrl-C; an
 * interrupted test cannot run its own cleanup, so its uniquely named `vcdext.test.*` objects may
 * stay on the broker after Ctrl-C.
 */

import { type Fault, FAULTS } from "./faults.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const DENO = Deno.execPath();

type Result = {
  fault: Fault;
  outcome: "caught" | "survived" | "did not apply";
  by: string;
  s: number;
};

/** The original text of the file being mutated, for restoring on Ctrl-C. */
let planted: { path: string; original: string } | undefined;
let child: Deno.ChildProcess | undefined;

function restore(): void {
  if (planted) Deno.writeTextFileSync(planted.path, planted.original);
  planted = undefined;
}

Deno.addSignalListener("SIGINT", () => {
  restore();
  try {
    child?.kill("SIGKILL");
  } catch { /* gone */ }
  console.error("\ninterrupted; the product file is restored");
  Deno.exit(130);
});

/** Runs `deno test` over `files`; the output and whether it passed. */
async function runTests(files: readonly string[]): Promise<{ ok: boolean; output: string }> {
  child = new Deno.Command(DENO, {
    args: ["test", "--allow-all", "--no-check", "--fail-fast", ...files],
    cwd: ROOT,
    env: { RUST_BACKTRACE: "0", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = await child.output();
  child = undefined;
  const dec = new TextDecoder();
  return { ok: out.success, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

/** `name => ./tests/x_test.ts:12:6` lines of deno test's failure summary, as `file: name`. */
function failures(output: string): string {
  const hits = [...output.matchAll(/^(.+?) => \.\/(\S+?):\d+:\d+$/gm)].map((m) =>
    `${m[2]}: ${m[1]!.trim()}`
  );
  if (hits.length > 0) return [...new Set(hits)].join("; ");
  const module = output.match(/error: (.{0,160})/);
  return module ? `error: ${module[1]}` : "failed";
}

async function plant(fault: Fault): Promise<Result> {
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 100) / 10;
  const path = ROOT + fault.file;
  const original = await Deno.readTextFile(path);
  const count = original.split(fault.search).length - 1;
  if (count !== 1) {
    return {
      fault,
      outcome: "did not apply",
      by: count === 0 ? "search text not found" : `search text found ${count} times`,
      s: seconds(),
    };
  }
  planted = { path, original };
  try {
    await Deno.writeTextFile(path, original.replace(fault.search, () => fault.replace));
    const { ok, output } = await runTests(fault.tests);
    return ok
      ? { fault, outcome: "survived", by: "", s: seconds() }
      : { fault, outcome: "caught", by: failures(output), s: seconds() };
  } finally {
    restore();
  }
}

function table(results: readonly Result[]): string {
  const rows = results.map((r) => [r.fault.id, r.fault.file, r.outcome, `${r.s}`, r.by]);
  const head = ["fault", "file", "result", "s", "caught by"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(head), ...rows.map(line)].join("\n");
}

const args = Deno.args;
const onlyAt = args.indexOf("--only");
const only = onlyAt >= 0 ? new Set((args[onlyAt + 1] ?? "").split(",")) : undefined;
const faults = only ? FAULTS.filter((f) => only.has(f.id)) : FAULTS;
if (only && faults.length !== only.size) {
  const known = new Set(FAULTS.map((f) => f.id));
  console.error(`unknown fault ids: ${[...only].filter((id) => !known.has(id)).join(", ")}`);
  Deno.exit(2);
}
if (new Set(FAULTS.map((f) => f.id)).size !== FAULTS.length) {
  console.error("fault ids must be unique");
  Deno.exit(2);
}
if (args.includes("--list")) {
  for (const f of faults) {
    console.log(`${f.id.padEnd(36)} ${f.file.padEnd(20)} ${f.tests.join(" ")}`);
  }
  Deno.exit(0);
}

const files = [...new Set(faults.flatMap((f) => f.tests))];
console.log(`baseline: ${files.length} test files without faults …`);
const baseline = await runTests(files);
if (!baseline.ok) {
  console.error(`the baseline fails, so no fault can be judged:\n${baseline.output.slice(-3000)}`);
  Deno.exit(1);
}
const results: Result[] = [];
for (const fault of faults) {
  const r = await plant(fault);
  results.push(r);
  console.log(`${r.outcome.padEnd(13)} ${fault.id} (${r.s} s)`);
}
console.log(`\n${table(results)}\n`);
const bad = results.filter((r) => r.outcome !== "caught");
console.log(
  `${results.length - bad.length} of ${results.length} faults caught` +
    (bad.length
      ? `; not caught: ${bad.map((r) => `${r.fault.id} (${r.outcome})`).join(", ")}`
      : ""),
);
Deno.exit(bad.length === 0 ? 0 : 1);
