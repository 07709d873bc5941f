/**
 * @module The way to give request queues that already exist vCD's timeout as their message TTL
 * without recreating them: a RabbitMQ policy. Queue arguments cannot change in place, but a
 * policy applies to the queues its pattern matches at once, and its `message-ttl` counts where
 * the queue has no `x-message-ttl` argument (where both are set the lower one wins, so a queue
 * declared later with the argument keeps it). `dead-letter-exchange` in a policy counts only
 * where the queue has no `x-dead-letter-exchange` argument. Only one policy applies to a queue
 * (the highest priority): when one matches these queues already, its definition needs these
 * keys added instead. An AMQP client cannot see policies, so `serve` keeps warning about such
 * a queue on every start (once per process) until it is recreated with the argument.
 */

/** What {@linkcode ttlPolicyCommand} needs. */
export interface TtlPolicy {
  /** The virtual host of the queues ({@linkcode vhostOf}). */
  readonly vhost: string;
  /** The request queues to cover. */
  readonly queues: readonly string[];
  /** The message TTL, ms: vCD's timeout. */
  readonly ttlMs: number;
  /** The dead-letter exchange given to serve, if any. */
  readonly deadLetterExchange?: string | undefined;
}

/** The name of the policy {@linkcode ttlPolicyCommand} sets. */
export const TTL_POLICY_NAME = "vcdext-request-ttl";

/** A shell word: as it is when it needs no quoting, else single-quoted. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** A regular expression matching exactly `name`. */
function exactly(name: string): string {
  return name.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&");
}

/**
 * The `rabbitmqctl set_policy` command that gives `queues` the message TTL (and the
 * dead-letter exchange, when one is set) in place, ready to paste into a shell.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ttlPolicyCommand } from "./ttl_policy.ts";
 * assert.equal(
 *   ttlPolicyCommand({ vhost: "/", queues: ["gcp-ticketing"], ttlMs: 10_000 }),
 *   `rabbitmqctl set_policy -p / --apply-to queues vcdext-request-ttl '^gcp-ticketing$' '{"message-ttl":10000}'`,
 * );
 * assert.equal(
 *   ttlPolicyCommand({
 *     vhost: "vcd",
 *     queues: ["a.q", "b"],
 *     ttlMs: 5_000,
 *     deadLetterExchange: "vcdext.dlx",
 *   }),
 *   `rabbitmqctl set_policy -p vcd --apply-to queues vcdext-request-ttl '^(a\\.q|b)$' ` +
 *     `'{"message-ttl":5000,"dead-letter-exchange":"vcdext.dlx"}'`,
 * );
 * ```
 */
export function ttlPolicyCommand(policy: TtlPolicy): string {
  const names = [...new Set(policy.queues)].map(exactly);
  const pattern = names.length === 1 ? `^${names[0]}$` : `^(${names.join("|")})$`;
  const definition = JSON.stringify({
    "message-ttl": policy.ttlMs,
    ...(policy.deadLetterExchange ? { "dead-letter-exchange": policy.deadLetterExchange } : {}),
  });
  return [
    "rabbitmqctl set_policy -p",
    shellWord(policy.vhost),
    "--apply-to queues",
    TTL_POLICY_NAME,
    shellWord(pattern),
    shellWord(definition),
  ].join(" ");
}

/**
 * The virtual host an AMQP URL names, as amqplib reads it: the path without its first slash,
 * percent-decoded; `/` when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { vhostOf } from "./ttl_policy.ts";
 * assert.equal(vhostOf("amqp://u:p@h:5672"), "/");
 * assert.equal(vhostOf("amqp://h/"), "/");
 * assert.equal(vhostOf("amqps://h/%2f"), "/");
 * assert.equal(vhostOf("amqp://h/vcd?heartbeat=5"), "vcd");
 * ```
 */
export function vhostOf(url: string): string {
  const path = new URL(url).pathname.slice(1);
  return path === "" ? "/" : decodeURIComponent(path);
}

/**
 * What to tell the operator about a request queue used with another message TTL than vCD's
 * timeout (`found`: its TTL, `undefined` for none): the consequence and the two ways out, the
 * policy being {@linkcode ttlPolicyCommand}'s, shown beside this text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ttlAdvice } from "./ttl_policy.ts";
 * assert.match(ttlAdvice(undefined, 10_000), /^declared with no message TTL, not vCD's timeout \(10000 ms\)/);
 * assert.match(ttlAdvice(30_000, 10_000), /^declared with a message TTL of 30000 ms/);
 * ```
 */
export function ttlAdvice(found: number | undefined, wanted: number): string {
  const has = found === undefined ? "no message TTL" : `a message TTL of ${found} ms`;
  return `declared with ${has}, not vCD's timeout (${wanted} ms), and queue arguments cannot ` +
    `change in place, so it is used as it is: unless a policy gives it message-ttl, requests ` +
    `older than vCD's timeout are not expired on the broker. Apply the policy (if another ` +
    `policy matches the queue already, add its keys to that one instead), or delete the queue ` +
    `while it is empty and no instance consumes it: serve declares it again with the TTL`;
}
