/**
 * The layers of the source tree, read from the code itself: every `.ts` file under `lib/` and
 * `handlers/`, and `main.ts`. The rules:
 *
 * - `lib/core/` imports nothing outside `lib/core/` (not `lib/sdk.ts` either; `node:buffer`
 *   only, a pure data type), uses no `Deno` API and reads no clock (`performance.now`,
 *   `Date.now`, `new Date()`) and sets no timer (`setTimeout`, `setInterval`, their `clear*`);
 * - only `main.ts`, `lib/app/` and `lib/sim/` import `lib/sim/`;
 * - only `lib/transport/amqp/` imports `amqplib`, only `lib/transport/mqtt/` imports `mqtt`;
 * - a transport (`lib/transport/<x>/`) imports no other transport (`lib/transport/<y>/`);
 * - `handlers/` import nothing from `lib/` but `lib/sdk.ts`;
 * - no file in `lib/` is over 500 lines, `main.ts` is under 350, and no function in `lib/` is
 *   over 100 lines.
 *
 * The scan is lexical, not a parser: comments are dropped and string, template and regular
 * expression contents blanked (a `/` counts as a regular expression after an operator, an
 * opening bracket or a keyword); imports are the static `import … from "x"`, `import "x"`,
 * `export … from "x"` and `import("x")` with a literal. Functions are `function` declarations
 * and expressions, methods (a name, its parameters, an optional return type, then `{`), arrow
 * functions assigned with `const`/`let`/`var`, and any other arrow function with a block body
 * (`=> {`: callbacks, object properties; named `(arrow)`, counted from the line of its `=>`); a
 * function's length is from the line of its name to the line of its closing brace (or, for an
 * expression body, of the expression's end). An expression-bodied arrow function not assigned
 * to a variable counts only as part of the function around it, and code inside `${…}` of a
 * template literal is not read.
 */

import assert from "node:assert/strict";

// ---- the lexical scan ------------------------------------------------------------------------

/** A source with comments blanked (`code`), and also string contents blanked (`bare`). */
export interface Stripped {
  readonly code: string;
  readonly bare: string;
}

const KEYWORDS_BEFORE_REGEX = new Set([
  "return",
  "typeof",
  "case",
  "of",
  "in",
  "delete",
  "void",
  "throw",
  "new",
  "yield",
  "await",
  "else",
  "do",
]);

function blank(text: string): string {
  return text.replace(/[^\n]/g, " ");
}

/** The index just past the string or template literal that starts at `i`. */
function endOfString(src: string, i: number): number {
  const quote = src[i];
  let j = i + 1;
  while (j < src.length) {
    const c = src[j];
    if (c === "\\") j += 2;
    else if (c === quote) return j + 1;
    else if (quote === "`" && c === "$" && src[j + 1] === "{") j = endOfTemplateExpr(src, j + 2);
    else if (quote !== "`" && c === "\n") return j;
    else j++;
  }
  return src.length;
}

/** The index just past the `}` closing a template literal's `${` expression. */
function endOfTemplateExpr(src: string, j: number): number {
  let depth = 1;
  while (j < src.length) {
    const c = src[j]!;
    if (c === '"' || c === "'" || c === "`") {
      j = endOfString(src, j);
      continue;
    }
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) return j + 1;
    j++;
  }
  return src.length;
}

/** The index just past the regular expression literal at `i`, or `i` when there is none. */
function endOfRegex(src: string, i: number): number {
  let inClass = false;
  for (let j = i + 1; j < src.length; j++) {
    const c = src[j];
    if (c === "\\") j++;
    else if (c === "\n") return i;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) {
      j++;
      while (/[a-z]/i.test(src[j] ?? "")) j++;
      return j;
    }
  }
  return i;
}

function regexMayStart(code: string): boolean {
  const before = code.trimEnd();
  const last = before.at(-1);
  if (last === undefined || "(,=:[!&|?{};+-*%<>~^".includes(last)) return true;
  const word = /([\w$]+)$/.exec(before)?.[1];
  return word !== undefined && KEYWORDS_BEFORE_REGEX.has(word);
}

/** Blanks comments (both outputs) and literal contents (`bare` only), keeping every newline. */
export function strip(src: string): Stripped {
  let code = "";
  let bare = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    const d = src[i + 1];
    let end = i;
    if (c === "/" && d === "/") {
      end = src.indexOf("\n", i);
      if (end < 0) end = src.length;
    } else if (c === "/" && d === "*") {
      end = src.indexOf("*/", i + 2);
      end = end < 0 ? src.length : end + 2;
    }
    if (end > i) {
      code += blank(src.slice(i, end));
      bare += blank(src.slice(i, end));
      i = end;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") end = endOfString(src, i);
    else if (c === "/" && regexMayStart(code)) end = endOfRegex(src, i);
    if (end > i + 1) {
      const literal = src.slice(i, end);
      code += literal;
      bare += literal[0] + blank(literal.slice(1, -1)) + literal.at(-1);
      i = end;
      continue;
    }
    code += c;
    bare += c;
    i++;
  }
  return { code, bare };
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** One import of a module: its specifier and the line it is on. */
export interface ImportRef {
  readonly specifier: string;
  readonly line: number;
}

const STATIC_IMPORT =
  /(?:^|[;}\n])[ \t]*(?:import|export)\s+(?:type\s+)?(?:[\w$*{}\s,]+?\s*from\s*)?["']([^"'\n]+)["']/g;
const DYNAMIC_IMPORT = /\bimport\s*\(\s*["'`]([^"'`\n]+)["'`]\s*[,)]/g;

/** The static, re-export and literal dynamic imports of a source file. */
export function importsOf(src: string): ImportRef[] {
  const { code } = strip(src);
  const out: ImportRef[] = [];
  for (const pattern of [STATIC_IMPORT, DYNAMIC_IMPORT]) {
    for (const m of code.matchAll(pattern)) {
      const at = m.index + m[0].lastIndexOf(m[1]!);
      out.push({ specifier: m[1]!, line: lineAt(code, at) });
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

/** A function found by {@linkcode functionsOf}: its name, first line and length in lines. */
export interface FunctionSpan {
  readonly name: string;
  readonly line: number;
  readonly lines: number;
}

const NOT_METHOD_NAMES = new Set([
  "if",
  "for",
  "while",
  "switch",
  "catch",
  "return",
  "function",
  "typeof",
  "await",
  "new",
  "super",
  "with",
  "else",
  "do",
  "yield",
  "import",
  "export",
  "throw",
  "case",
  "delete",
  "void",
]);

const FUNCTION_HEADS = [
  // function declarations and expressions
  /\bfunction\b\s*\*?\s*([\w$]*)\s*(?:<[^>()]*>)?\s*\(/g,
  // methods, getters, setters, constructors (in classes and object literals)
  /(?:^|\n)[ \t]*(?:(?:public|private|protected|static|readonly|override|async|get|set)\s+)*\*?(#?[\w$]+)\s*(?:<[^>()]*>)?\s*\(/g,
  // arrow functions assigned with const / let / var
  /\b(?:const|let|var)\s+([\w$]+)\s*(?::[^=;]+)?=\s*(?:async\s+)?(?:<[^>()]*>)?\s*(\(|[\w$]+\s*=>)/g,
  // any other arrow function with a block body
  /=>\s*\{/g,
];

/** The index of the bracket closing the one at `open` (any of `(`, `[`, `{`), or -1. */
function closing(code: string, open: number): number {
  let depth = 0;
  for (let i = open; i < code.length; i++) {
    const c = code[i]!;
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      if (--depth === 0) return i;
      if (depth < 0) return -1;
    }
  }
  return -1;
}

/**
 * After a parameter list: skips an optional return type and answers where the body starts (a
 * `{` in body position), or `undefined` when what follows is not a body (a call, a signature).
 * With `arrow`, the body follows `=>` and may be an expression.
 */
function bodyStart(code: string, from: number, arrow: boolean): number | undefined {
  let depth = 0;
  let first = true;
  let lastSignificant = ")";
  for (let i = from; i < code.length; i++) {
    const c = code[i]!;
    if (/\s/.test(c)) continue;
    if (c === "=" && code[i + 1] === ">") {
      if (arrow && depth === 0) {
        let j = i + 2;
        while (/\s/.test(code[j] ?? "")) j++;
        return j;
      }
      lastSignificant = ">";
      i++;
      continue;
    }
    if (depth === 0) {
      // Right after the parameters only a return type or the body may come.
      if (first && !arrow && c !== ":" && c !== "{") return undefined;
      // A `{` after `:`, `|`, `&`, `,` or `(` opens an object type; after a type, the body.
      if (c === "{" && !arrow && /[\w$)\]}>]/.test(lastSignificant)) return i;
      if (c === ";" || c === "," || c === "=") return undefined;
    }
    first = false;
    if (c === "(" || c === "[" || c === "{" || c === "<") depth++;
    else if (c === ")" || c === "]" || c === "}" || c === ">") {
      if (--depth < 0) return undefined;
    }
    lastSignificant = c;
  }
  return undefined;
}

/** The index where an expression that starts at `from` ends (a `;`/`,` or a closing bracket). */
function endOfExpression(code: string, from: number): number {
  let depth = 0;
  for (let i = from; i < code.length; i++) {
    const c = code[i]!;
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      if (--depth < 0) return i - 1;
    } else if ((c === ";" || c === ",") && depth === 0) return i - 1;
  }
  return code.length - 1;
}

/** The functions of a source file with their lengths (see the module comment for what counts). */
export function functionsOf(src: string): FunctionSpan[] {
  const { bare } = strip(src);
  const seen = new Set<number>();
  const out: FunctionSpan[] = [];
  FUNCTION_HEADS.forEach((pattern, kind) => {
    for (const m of bare.matchAll(pattern)) {
      const name = kind === 3 ? "(arrow)" : m[1] || "(anonymous)";
      if (kind === 1 && NOT_METHOD_NAMES.has(name)) continue;
      const head = kind === 3 ? m.index : m.index + m[0].lastIndexOf(m[1] ?? "");
      let body: number | undefined;
      const arrow = kind === 2;
      const last = m[0].at(-1);
      if (kind === 3) body = m.index + m[0].length - 1;
      else if (arrow && last === ">") body = bodyStart(bare, m.index + m[0].length - 2, true);
      else {
        const paren = m.index + m[0].length - 1;
        const close = closing(bare, paren);
        if (close < 0) continue;
        body = bodyStart(bare, close + 1, arrow);
      }
      if (body === undefined || seen.has(body)) continue;
      seen.add(body);
      const end = bare[body] === "{" ? closing(bare, body) : endOfExpression(bare, body);
      if (end < 0) continue;
      const line = lineAt(bare, head);
      out.push({ name, line, lines: lineAt(bare, end) - line + 1 });
    }
  });
  return out.sort((a, b) => a.line - b.line);
}

// ---- the tree ------------------------------------------------------------------------------

const ROOT = new URL("../", import.meta.url);

async function tsFilesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const entry of Deno.readDir(new URL(dir, ROOT))) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await tsFilesUnder(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

interface Source {
  /** Path from the repository root, with `/`. */
  readonly path: string;
  readonly text: string;
}

async function sources(): Promise<Source[]> {
  const paths = [...await tsFilesUnder("lib"), ...await tsFilesUnder("handlers"), "main.ts"];
  return await Promise.all(
    paths.sort().map(async (path) => ({
      path,
      text: await Deno.readTextFile(new URL(path, ROOT)),
    })),
  );
}

/** A relative specifier resolved to a path from the repository root; others as they are. */
function resolve(from: string, specifier: string): string {
  if (!specifier.startsWith(".")) return specifier;
  return new URL(specifier, `file:///${from}`).pathname.slice(1);
}

/** Where `path` lives: the part of `lib/transport/<x>/` that names `x`, or undefined. */
function transportOf(path: string): string | undefined {
  return /^lib\/transport\/([^/]+)\//.exec(path)?.[1];
}

function isPackage(specifier: string, name: string): boolean {
  const bare = specifier.replace(/^npm:/, "");
  return bare === name || bare.startsWith(`${name}/`) || bare.startsWith(`${name}@`);
}

/** The layer rules an import breaks, as messages (empty when it keeps to them). */
export function importViolations(file: string, specifier: string): string[] {
  const target = resolve(file, specifier);
  const out: string[] = [];
  if (file.startsWith("lib/core/")) {
    if (target === "lib/sdk.ts") out.push("lib/core/ must not import lib/sdk.ts");
    else if (!target.startsWith("lib/core/") && target !== "node:buffer") {
      out.push("lib/core/ imports nothing outside lib/core/ (but node:buffer)");
    }
  }
  const simUser = file === "main.ts" || file.startsWith("lib/app/") || file.startsWith("lib/sim/");
  if (target.startsWith("lib/sim/") && !simUser) {
    out.push("only main.ts, lib/app/ and lib/sim/ import lib/sim/");
  }
  if (isPackage(specifier, "amqplib") && !file.startsWith("lib/transport/amqp/")) {
    out.push("only lib/transport/amqp/ imports amqplib");
  }
  if (isPackage(specifier, "mqtt") && !file.startsWith("lib/transport/mqtt/")) {
    out.push("only lib/transport/mqtt/ imports mqtt");
  }
  const from = transportOf(file);
  const to = transportOf(target);
  if (from !== undefined && to !== undefined && from !== to) {
    out.push(`lib/transport/${from}/ must not import another transport (lib/transport/${to}/)`);
  }
  if (file.startsWith("handlers/") && target.startsWith("lib/") && target !== "lib/sdk.ts") {
    out.push("handlers/ import nothing from lib/ but lib/sdk.ts");
  }
  return out;
}

const IMPURE_IN_CORE: readonly [RegExp, string][] = [
  [/\bDeno\s*\.\s*[\w$]+/g, "a Deno API"],
  [/\bperformance\s*\.\s*now\b/g, "a clock read"],
  [/\bDate\s*\.\s*now\b/g, "a clock read"],
  [/\bnew\s+Date\s*\(\s*\)/g, "a clock read"],
  [/\b(?:setTimeout|setInterval|clearTimeout|clearInterval)\b/g, "a timer"],
];

/** Uses of a `Deno` API, a clock or a timer in a core file's code (comments and strings aside). */
export function impurities(src: string): { line: number; what: string; text: string }[] {
  const { bare } = strip(src);
  const out: { line: number; what: string; text: string }[] = [];
  for (const [pattern, what] of IMPURE_IN_CORE) {
    for (const m of bare.matchAll(pattern)) {
      out.push({ line: lineAt(bare, m.index), what, text: m[0].replace(/\s+/g, "") });
    }
  }
  return out.sort((a, b) => a.line - b.line);
}

function report(title: string, violations: readonly string[]): void {
  if (violations.length > 0) {
    assert.fail(`${title}: ${violations.length}\n  ${violations.join("\n  ")}`);
  }
}

// ---- the tests -----------------------------------------------------------------------------

Deno.test("the scan finds multi-line, re-export and dynamic imports, not those in comments or strings", () => {
  const src = [
    'import {\n  a,\n  type B,\n} from "./a.ts";',
    'export * from "./b.ts";',
    'export { c } from "./c.ts";',
    'import "./d.ts";',
    'const e = await import("./e.ts");',
    '// import x from "./no1.ts";',
    '/** ```ts\n * import y from "./no2.ts";\n * ``` */',
    "const s = \"import z from './no3.ts'\";",
    'const r = /"/; import f from "./f.ts";',
  ].join("\n");
  assert.deepEqual(
    importsOf(src).map((i) => `${i.line}:${i.specifier}`),
    ["4:./a.ts", "5:./b.ts", "6:./c.ts", "7:./d.ts", "8:./e.ts", "14:./f.ts"],
  );
});

Deno.test("the scan measures functions, methods and arrow functions", () => {
  const body = (n: number) => Array.from({ length: n }, (_, i) => `  x(${i});`).join("\n");
  const src = [
    `export function long(a: { b: string }): { c: number } {\n${body(100)}\n}`,
    `const arrow = async (a: number): Promise<void> => {\n${body(3)}\n};`,
    `class K {\n  async #method(x = "}"): Promise<void> {\n${
      body(2)
    }\n  }\n  get g(): string {\n    return "{";\n  }\n}`,
    "interface I {\n  sig(a: string): void;\n}",
    "call(1);",
    "const expr = (a: number) =>\n  a +\n  1;",
    "list.forEach((x) => {\n  x(1);\n});",
  ].join("\n");
  assert.deepEqual(
    functionsOf(src).map((f) => `${f.name}:${f.line}+${f.lines}`),
    ["long:1+102", "arrow:103+5", "#method:109+4", "g:113+3", "expr:121+3", "(arrow):124+3"],
  );
});

Deno.test("each layer rule names what an import breaks", () => {
  const cases: [string, string, string[]][] = [
    ["lib/core/a.ts", "./b.ts", []],
    ["lib/core/a.ts", "node:buffer", []],
    ["lib/core/a.ts", "../sdk.ts", ["lib/core/ must not import lib/sdk.ts"]],
    ["lib/core/a.ts", "node:fs", ["lib/core/ imports nothing outside lib/core/ (but node:buffer)"]],
    ["lib/core/a.ts", "../observability/log.ts", [
      "lib/core/ imports nothing outside lib/core/ (but node:buffer)",
    ]],
    ["lib/vcd/a.ts", "../sim/cell.ts", ["only main.ts, lib/app/ and lib/sim/ import lib/sim/"]],
    ["lib/app/a.ts", "../sim/cell.ts", []],
    ["lib/sim/a.ts", "./cell.ts", []],
    ["main.ts", "./lib/sim/fake_vcd.ts", []],
    ["lib/vcd/a.ts", "npm:amqplib@0.10", ["only lib/transport/amqp/ imports amqplib"]],
    ["main.ts", "amqplib", ["only lib/transport/amqp/ imports amqplib"]],
    ["lib/transport/amqp/a.ts", "amqplib", []],
    ["lib/observability/a.ts", "mqtt", ["only lib/transport/mqtt/ imports mqtt"]],
    ["lib/transport/mqtt/a.ts", "mqtt", []],
    ["lib/transport/mqtt/a.ts", "../amqp/amqp.ts", [
      "lib/transport/mqtt/ must not import another transport (lib/transport/amqp/)",
    ]],
    ["lib/transport/mqtt/a.ts", "../port.ts", []],
    ["handlers/a.ts", "../lib/core/xml.ts", ["handlers/ import nothing from lib/ but lib/sdk.ts"]],
    ["handlers/a.ts", "../lib/sdk.ts", []],
    ["handlers/a.ts", "./b.ts", []],
  ];
  for (const [file, specifier, expected] of cases) {
    assert.deepEqual(importViolations(file, specifier), expected, `${file} -> ${specifier}`);
  }
});

Deno.test("the purity scan reads code, not comments or strings", () => {
  const src = [
    "// setTimeout(f, 1) in a comment",
    'const s = "Date.now() in a string";',
    "const t = performance.now();",
    "let h: ReturnType<typeof setInterval>;",
    "const d = new Date();",
    "const e = new Date(0);",
    "Deno.exit(1);",
  ].join("\n");
  assert.deepEqual(
    impurities(src).map((i) => `${i.line}:${i.text}`),
    ["3:performance.now", "4:setInterval", "5:newDate()", "7:Deno.exit"],
  );
});

Deno.test("imports keep to the layers", async () => {
  const violations: string[] = [];
  for (const { path, text } of await sources()) {
    for (const { specifier, line } of importsOf(text)) {
      const broken = importViolations(path, specifier);
      if (broken.length === 0) continue;
      for (const rule of broken) violations.push(`${path}:${line} imports "${specifier}": ${rule}`);
    }
  }
  report("imports that break a layer rule", violations);
});

Deno.test("lib/core/ uses no Deno API, clock or timer", async () => {
  const violations: string[] = [];
  for (const { path, text } of await sources()) {
    if (!path.startsWith("lib/core/")) continue;
    for (const { line, what, text: found } of impurities(text)) {
      violations.push(`${path}:${line} uses ${found}: ${what}; core is pure (inject it)`);
    }
  }
  report("Deno APIs, clocks or timers in lib/core/", violations);
});

Deno.test("no file in lib/ over 500 lines, main.ts under 350", async () => {
  const violations: string[] = [];
  for (const { path, text } of await sources()) {
    const limit = path === "main.ts" ? 349 : path.startsWith("lib/") ? 500 : Infinity;
    const lines = text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
    if (lines <= limit) continue;
    violations.push(`${path} has ${lines} lines (at most ${limit}): split it by job`);
  }
  report("files over the size limit", violations);
});

Deno.test("no function in lib/ over 100 lines", async () => {
  const violations: string[] = [];
  for (const { path, text } of await sources()) {
    if (!path.startsWith("lib/")) continue;
    for (const { name, line, lines } of functionsOf(text)) {
      if (lines <= 100) continue;
      violations.push(`${path}:${line} ${name} has ${lines} lines (at most 100)`);
    }
  }
  report("functions over 100 lines", violations);
});
