/**
 * @module The permissions a `deno.json` task grants, as explicit flags: the permission set it
 * loads with `-P`/`--permission-set[=<name>]` (deno.json's `permissions`, `default` when
 * unnamed) as `--allow-*` (and `--deny-*`, `--ignore-*`) flags, overridden per permission by
 * the task's own `--allow-*`/`--deny-*`/`--ignore-*` flags. For running the same program with explicit flags, or with `--no-config`
 * (the bundle), so that the tests cannot drift from the tasks.
 */

const ROOT = new URL("..", import.meta.url);

/** All, none, or these values. */
type Values = boolean | string[];

/**
 * One permission of a set: all, none or these values, or an object of them by kind (`allow`,
 * `deny`, `ignore`: an ignored read answers "not there" instead of failing, see deno.json).
 */
type Grant = Values | { allow?: Values; deny?: Values; ignore?: Values };

/** `--<kind>-<permission>` with its values, or nothing for `false`. */
function flagOf(kind: string, permission: string, values: Values, where: string): string[] {
  if (values === false) return [];
  if (values !== true && !Array.isArray(values)) {
    throw new Error(`${where}: true, false or a list`);
  }
  const flag = `--${kind}-${permission}`;
  return [values === true ? flag : `${flag}=${values.join(",")}`];
}

/** The flags `deno.json`'s task `task` grants its program with (no `--v8-flags`). */
export async function taskPermissions(task: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const entry = config.tasks[task];
  const command: string = typeof entry === "string" ? entry : entry.command;
  const words = command.split(/\s+/);
  const byName = new Map<string, string>();
  const set = words
    .map((w) => /^(?:-P|--permission-set)(?:=(.+))?$/.exec(w))
    .find((m) => m !== null);
  if (set) {
    const name = set[1] ?? "default";
    const grants: Record<string, Grant> | undefined = config.permissions?.[name];
    if (!grants) throw new Error(`task ${task} loads permission set ${name}, not in deno.json`);
    for (const [permission, grant] of Object.entries(grants)) {
      const where = `permission ${permission} of set ${name}`;
      const byKind = typeof grant === "object" && !Array.isArray(grant) ? grant : { allow: grant };
      for (const [kind, values] of Object.entries(byKind)) {
        for (const flag of flagOf(kind, permission, values, `${where} (${kind})`)) {
          byName.set(`--${kind}-${permission}`, flag);
        }
      }
    }
  }
  for (const w of words) {
    const flag = /^--(allow|deny|ignore)-[a-z]+/.exec(w)?.[0];
    if (flag) byName.set(flag, w);
  }
  return [...byName.values()];
}

/** The task's `--v8-flags=…`, which `deno compile` bakes into the binary as well. */
export async function taskV8Flags(task: string): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT)));
  const entry = config.tasks[task];
  const command: string = typeof entry === "string" ? entry : entry.command;
  return command.split(/\s+/).filter((w) => w.startsWith("--v8-flags="));
}
