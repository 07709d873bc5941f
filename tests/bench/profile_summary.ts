/**
 * @module Summarises a V8 `.cpuprofile` (as written by `deno run --cpu-prof`, e.g. through
 * `tests/bench/run.ts --cpu-prof DIR`): self time by source file and the functions with the
 * most self and inclusive time, so the cost of vcdext per request can be split by module.
 *
 * ```
 * deno run --allow-read tests/bench/profile_summary.ts DIR/*.cpuprofile [--top 25]
 * ```
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const files = Deno.args.filter((a) => a.endsWith(".cpuprofile"));
const topIndex = Deno.args.indexOf("--top");
const TOP = topIndex >= 0 ? Number(Deno.args[topIndex + 1]) : 25;

/** Where a frame's code lives, shortened: `lib/transport/amqp/service.ts`, `npm:amqplib/lib/…`, `(native)`. */
function place(url: string): string {
  if (url === "") return "(native / V8)";
  const npm = /node_modules\/(?:\.deno\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)\/(.*)$/
    .exec(url);
  if (npm) return `npm:${npm[1]}/${npm[2]}`;
  const local = /\/work\/[^/]+\/(.*)$/.exec(url);
  if (local) return local[1]!;
  return url.replace(/^ext:/, "ext:");
}

function pct(n: number, total: number): string {
  return `${((100 * n) / total).toFixed(1).padStart(5)}%`;
}

for (const file of files) {
  const profile = JSON.parse(await Deno.readTextFile(file)) as Profile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self].filter(([id]) => byId.get(id)?.callFrame.functionName === "(idle)")
    .reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;

  const fileSelf = new Map<string, number>();
  const fnSelf = new Map<string, number>();
  const fnTotal = new Map<string, number>();
  for (const [id, t] of self) {
    const node = byId.get(id)!;
    const name = node.callFrame.functionName || "(anonymous)";
    if (name === "(idle)") continue;
    fileSelf.set(place(node.callFrame.url), (fileSelf.get(place(node.callFrame.url)) ?? 0) + t);
    const key = `${name}  ${place(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
    fnSelf.set(key, (fnSelf.get(key) ?? 0) + t);
    // Inclusive: every distinct function on the stack of this sample gets its time once.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const f = byId.get(at)!.callFrame;
      const k = `${f.functionName || "(anonymous)"}  ${place(f.url)}:${f.lineNumber + 1}`;
      if (seen.has(k)) continue;
      seen.add(k);
      fnTotal.set(k, (fnTotal.get(k) ?? 0) + t);
    }
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  console.log(
    `${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(2)} s busy on the ` +
      `main thread (percentages are of busy time)\n\nself time by file:`,
  );
  for (const [k, t] of sorted(fileSelf).slice(0, TOP)) console.log(`  ${pct(t, busy)}  ${k}`);
  console.log("\nself time by function:");
  for (const [k, t] of sorted(fnSelf).slice(0, TOP)) console.log(`  ${pct(t, busy)}  ${k}`);
  console.log("\ninclusive time by function:");
  for (const [k, t] of sorted(fnTotal).slice(0, TOP)) console.log(`  ${pct(t, busy)}  ${k}`);
}
