/** The README's handler example compiles and answers, so the first screen stays true. */

import assert from "node:assert/strict";
import { compile, dispatch } from "../lib/core/dispatch.ts";
import type { Extension } from "../lib/core/extension.ts";
import { vcdRequest } from "./fixtures.ts";

/** Runs `deno check` on a file: examples must type-check, not only run. */
async function typeChecks(file: URL): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", file.pathname],
    env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

Deno.test("the README's ten-line handler answers in XML and JSON", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const code = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(code, "README has no ts block");
  assert.ok(
    code.split("\n").filter((l) => l.trim() !== "").length <= 10,
    "the example grew past ten lines",
  );
  const file = new URL(
    `../handlers/.readme_example_${crypto.randomUUID().slice(0, 8)}.ts`,
    import.meta.url,
  );
  await Deno.writeTextFile(file, code);
  try {
    await typeChecks(file);
    const ext = (await import(file.href)).default as Extension;
    const app = compile(ext);
    const xml = await dispatch(
      app,
      vcdRequest({
        method: "GET",
        path: "/api/org/o1/hello",
        headers: { accept: "application/*+xml;version=36.0" },
      }),
    );
    assert.equal(xml.reply.status, 200);
    assert.equal(
      xml.reply.headers["Content-Type"],
      "application/xml;version=36.0",
    );
    assert.match(xml.reply.body as string, /<Hello>hello, org o1<\/Hello>/);
    const json = await dispatch(
      app,
      vcdRequest({
        method: "GET",
        path: "/api/org/o1/hello",
        headers: { accept: "application/json" },
      }),
    );
    assert.deepEqual(JSON.parse(json.reply.body as string), { s: "hello, org o1" });
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("every other ts block of the README compiles and defines an extension", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).slice(1);
  assert.ok(blocks.length >= 1);
  for (const block of blocks) {
    const code = `import { defineExtension, route } from "../lib/core/extension.ts";\n${block}`;
    const file = new URL(
      `../handlers/.readme_block_${crypto.randomUUID().slice(0, 8)}.ts`,
      import.meta.url,
    );
    await Deno.writeTextFile(file, code);
    try {
      await typeChecks(file);
      const ext = (await import(file.href)).default as Extension;
      assert.ok(ext.name.length > 0);
    } finally {
      await Deno.remove(file);
    }
  }
});

Deno.test("the README's kit example (```ts test blocks) passes with plain deno test, no permission", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  const blocks = [...readme.matchAll(/```ts test\n([\s\S]*?)```/g)].map((m) => m[1]!);
  assert.ok(blocks.length >= 1, "README has no ts test block");
  for (const block of blocks) {
    const file = new URL(
      `./.readme_kit_${crypto.randomUUID().slice(0, 8)}_test.ts`,
      import.meta.url,
    );
    await Deno.writeTextFile(file, block);
    try {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["test", file.pathname], // no --allow-*: an extension's test needs none
        cwd: new URL("..", import.meta.url).pathname,
        env: { NO_COLOR: "1", RUST_BACKTRACE: "0" },
        stdin: "null",
      }).output();
      const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 0, text);
      assert.match(text, /ok \| [1-9]\d* passed \| 0 failed/);
    } finally {
      await Deno.remove(file);
    }
  }
});
