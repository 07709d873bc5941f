/**
 * @module The static registry of extension modules. `deno compile` and `deno bundle` embed
 * exactly what is imported here: to add an extension, write `handlers/<name>.ts` and list it.
 */

import type { Extension } from "../lib/sdk.ts";
import ticketing from "./ticketing.ts";
import vappPolicy from "./vapp_policy.ts";

/** Every extension the binary serves, by name. */
export const extensions: readonly Extension[] = [ticketing, vappPolicy];
