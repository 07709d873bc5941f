/**
 * @module When a test cannot run here (no private RabbitMQ node, no openssl, a missing
 * permission): outside CI it is skipped with a line on stderr that says why; in CI (env
 * `CI=true`, which `.ci/run` sets) it is not skipped but run, so that it fails with the same
 * reason instead of vanishing from the count. `.ci/run` also counts what was ignored and fails
 * when anything was: a group of tests cannot drop out of CI silently.
 */

/** Whether this process runs in CI: env `CI` is `true` or `1` (readable only with `--allow-env`;
 * without it `.ci/run`'s count of ignored tests still catches the skip). */
export function inCI(): boolean {
  if (Deno.permissions.querySync({ name: "env", variable: "CI" }).state !== "granted") {
    return false;
  }
  const value = Deno.env.get("CI")?.toLowerCase();
  return value === "true" || value === "1";
}

/**
 * The `ignore` of a `Deno.test` that needs something this machine may lack: `false` when it is
 * there. When it is not, prints `SKIPPED <what>: <reason>` on stderr and returns `true`, except
 * in CI, where it prints that the test will fail and returns `false`.
 */
export function ignoreUnless(
  what: string,
  available: { ok: true } | { ok: false; reason: string },
): boolean {
  if (available.ok) return false;
  if (inCI()) {
    console.error(`NOT SKIPPED in CI, will fail: ${what}: ${available.reason}`);
    return false;
  }
  console.error(
    `SKIPPED ${what}: ${available.reason} (with CI=true this test fails instead)`,
  );
  return true;
}
