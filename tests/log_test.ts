/**
 * The logger (lib/observability/log.ts) as the service uses it: credentials in a message string, in fields
 * and in errors never reach the line that is written.
 */

import assert from "node:assert/strict";
import { createLogger, errorFields } from "../lib/observability/log.ts";

function capture(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger("debug", { write: (line) => lines.push(line) }) };
}

Deno.test("a credential in the message string is scrubbed before the line is written", () => {
  const { lines, log } = capture();
  log.warn({}, "cannot connect to amqp://vcdext:s3cret-pw@rabbit:5672/vcd");
  log.info({ attempt: 2 }, "retrying with Bearer eyJhbGciOi.payload.signature");
  assert.equal(lines.length, 2);
  assert.equal(
    JSON.parse(lines[0]!).msg,
    "cannot connect to amqp://vcdext:[redacted]@rabbit:5672/vcd",
  );
  assert.equal(JSON.parse(lines[1]!).msg, "retrying with Bearer [redacted]");
  assert.doesNotMatch(lines.join(""), /s3cret-pw|eyJhbGciOi/);
});

Deno.test("an Authorization header and a password field are redacted by path", () => {
  const { lines, log } = capture();
  log.info(
    {
      headers: { Authorization: "Basic dXNlcjpwYXNz", Accept: "application/json" },
      password: "pw1",
    },
    "request",
  );
  const line = JSON.parse(lines[0]!);
  assert.equal(line.headers.Authorization, "[redacted]");
  assert.equal(line.headers.Accept, "application/json");
  assert.equal(line.password, "[redacted]");
});

Deno.test("an error logged as err keeps its name and loses the secret in its message", () => {
  const { lines, log } = capture();
  log.error({ err: new TypeError("login with password=hunter2 failed") }, "vcd login");
  const err = JSON.parse(lines[0]!).err;
  assert.equal(err.name, "TypeError");
  assert.equal(err.message, "login with password=[redacted] failed");
  assert.deepEqual(errorFields("plain"), { name: "string", message: "plain" });
});
