/**
 * @module Service subprocesses for tests: `deno run -A <args>` with stderr (the JSON log lines)
 * collected, waited on by content, and ended by pid.
 */

import { eventually } from "./broker.ts";

/** A service subprocess whose stderr (JSON log lines) is collected. */
export class Proc {
  log = "";
  readonly child: Deno.ChildProcess;
  readonly #pump: Promise<void>;

  /** `clearEnv`: the child sees only `env` (and PATH, HOME, DENO_DIR), not this process's. */
  constructor(
    args: string[],
    env: Record<string, string> = {},
    options: { clearEnv?: boolean } = {},
  ) {
    const kept: Record<string, string> = {};
    for (const name of ["PATH", "HOME", "DENO_DIR"]) {
      const value = Deno.env.get(name);
      if (value !== undefined) kept[name] = value;
    }
    this.child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", ...args],
      env: { ...(options.clearEnv ? kept : {}), RUST_BACKTRACE: "0", NO_COLOR: "1", ...env },
      clearEnv: options.clearEnv ?? false,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = this.child.stderr;
    this.#pump = (async () => {
      for await (const chunk of stderr.pipeThrough(new TextDecoderStream())) {
        this.log += chunk;
      }
    })();
  }

  /** Resolves once the log has `n` lines containing `text`. */
  waitFor(text: string, n = 1, ms = 30_000): Promise<void> {
    return eventually(() => this.log.split(text).length - 1 >= n, ms).catch(() => {
      throw new Error(
        `no ${n}× "${text}" in the service log within ${ms} ms:\n${this.log.slice(-2000)}`,
      );
    });
  }

  kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch { /* already gone */ }
  }

  /** Waits for the process to exit by itself, and for its last log lines. */
  async wait(): Promise<Deno.CommandStatus> {
    const status = await this.child.status;
    await this.#pump;
    return status;
  }

  /** Kills the process (SIGKILL) if it still runs, and waits for it. */
  async end(): Promise<Deno.CommandStatus> {
    this.kill("SIGKILL");
    const status = await this.child.status;
    await this.#pump;
    return status;
  }
}
