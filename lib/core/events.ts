/**
 * @module Notifications and blocking tasks: decodes each message from the notifications queue,
 * runs the loaded extensions' matching subscriptions, and decides blocking tasks through a
 * gateway to vCD's REST API. Pure apart from the injected gateway and `sleep`.
 *
 * Failure policy: a subscription handler or a `decide` that throws is retried in process
 * (`retries` more attempts, backing off 100 ms, 200 ms, …); if it still fails, the event is
 * rejected without requeue, so the broker dead-letters it when the notifications queue has a
 * dead-letter exchange and drops it otherwise, with one error log line naming the event id.
 * An event no subscription matches is acked. Requeueing was rejected: a classic queue cannot
 * count redeliveries, so a failing handler would loop.
 */

import type { BlockingTask, Decision as BlockingDecision } from "./blocking.ts";
import { blockingTaskId } from "./blocking.ts";
import type { Extension } from "./extension.ts";
import { errorFields, type Logger } from "./logger.ts";
import {
  bindingKeyFor,
  compileTypePattern,
  decodeNotification,
  type NotificationEvent,
} from "./notification.ts";
import { quote, scrub } from "./redact.ts";
import { defaultsOf, type ExtensionConfig, secretValues } from "./config_schema.ts";
import { backoffDelay, EVENT_RETRY } from "./retry.ts";
import type { Decision, Delivery } from "./seam.ts";

/** The slash-form type of the event that announces a blocking task. */
export const BLOCKING_TASK_CREATE = "com/vmware/vcloud/event/blockingtask/create";

/** How blocking tasks are read and decided: vCD's REST API, behind an interface. */
export interface BlockingTaskGateway {
  /** `GET /api/admin/extension/blockingTask/<id>`. */
  fetch(id: string): Promise<BlockingTask>;
  /** Posts the decision (following the task's links). */
  act(task: BlockingTask, decision: BlockingDecision): Promise<void>;
}

/** Options of {@linkcode eventProcessor}. */
export interface EventOptions {
  readonly log: Logger;
  /** Needed only when an extension declares blocking-task rules. */
  readonly gateway?: BlockingTaskGateway | undefined;
  /** Further attempts after a handler throws; default 2. */
  readonly retries?: number;
  /** Waits between attempts; inject a fake in tests. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Called once per event with what happened to it (for metrics). */
  readonly onEvent?: (type: string, outcome: EventOutcome) => void;
  /** Called once per blocking-task decision carried out. */
  readonly onDecision?: (action: string) => void;
  /**
   * Times each notification handler attempt with the injected clock `now` (ms; the core reads
   * none of its own) and reports it to `observe`, failed attempts too.
   */
  readonly handlerTiming?: HandlerTiming;
}

/** How {@linkcode EventOptions.handlerTiming} measures a notification handler. */
export interface HandlerTiming {
  /** Milliseconds from any fixed origin (`performance.now`, or a fake). */
  readonly now: () => number;
  /** One attempt of `extension`'s handler took `ms`. */
  readonly observe: (extension: string, ms: number) => void;
}

/** What became of one notification. */
export type EventOutcome = "handled" | "ignored" | "failed" | "undecodable";

/** Processes the notifications queue for a set of extensions. */
export interface EventProcessor {
  /** Topic binding keys covering every subscription and blocking-task rule, deduplicated. */
  readonly bindingKeys: readonly string[];
  /** Whether any loaded extension subscribes to anything. */
  readonly active: boolean;
  /** Handles one delivery from the notifications queue; never throws. */
  handle<A>(delivery: Delivery<A>, signal: AbortSignal): Promise<Decision<A>>;
}

interface CompiledSubscription {
  readonly extension: string;
  readonly matches: (event: NotificationEvent) => boolean;
  readonly handle: (
    event: NotificationEvent,
    ctx: { log: Logger; signal: AbortSignal; config: ExtensionConfig },
  ) => void | Promise<void>;
  readonly config: Configured;
}

/** An extension's configuration values and the secrets among them (scrubbed from error logs). */
interface Configured {
  readonly values: ExtensionConfig;
  readonly secrets: readonly string[];
}

function configuredOf(ext: Extension): Configured {
  const values = ext.configValues ?? defaultsOf(ext.config);
  return { values, secrets: secretValues(ext.config, values) };
}

const list = <T>(v: T | readonly T[]): readonly T[] => (Array.isArray(v) ? v : [v as T]);

/**
 * Compiles the extensions' subscriptions and blocking-task rules into one processor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventProcessor } from "./events.ts";
 * import { defineExtension } from "./extension.ts";
 * import { silentLogger } from "./logger.ts";
 * const seen: string[] = [];
 * const ext = defineExtension({ name: "audit", namespace: "x", routingKey: "audit", routes: [],
 *   notifications: [{ type: "vapp/*", handle: (e) => void seen.push(e.type) }] });
 * const p = eventProcessor([ext], { log: silentLogger, sleep: async () => {} });
 * assert.deepEqual(p.bindingKeys, ["*.*.*.*.com.vmware.vcloud.event.vapp.*.#"]);
 * const body = new TextEncoder().encode(JSON.stringify({ eventId: "e1", type: "com/vmware/vcloud/event/vapp/create" }));
 * const d = await p.handle({ content: body, topic: "", headers: {} }, new AbortController().signal);
 * assert.equal(d.kind, "ack");
 * assert.deepEqual(seen, ["com/vmware/vcloud/event/vapp/create"]);
 * ```
 */
export function eventProcessor(
  extensions: readonly Extension[],
  options: EventOptions,
): EventProcessor {
  return new Events(compileExtensions(extensions), options);
}

/** A blocking-task rule with the operations it decides. */
interface CompiledRule {
  readonly extension: string;
  readonly operations: ReadonlySet<string>;
  readonly rule: NonNullable<Extension["blockingTasks"]>[number];
  readonly config: Configured;
}

/** The extensions' subscriptions and rules, and the binding keys that cover them. */
interface Compiled {
  readonly subscriptions: readonly CompiledSubscription[];
  readonly rules: readonly CompiledRule[];
  readonly keys: ReadonlySet<string>;
}

function compileExtensions(extensions: readonly Extension[]): Compiled {
  const subscriptions: CompiledSubscription[] = [];
  const rules: CompiledRule[] = [];
  const keys = new Set<string>();
  for (const ext of extensions) {
    const config = configuredOf(ext);
    for (const sub of ext.notifications ?? []) {
      const patterns = list(sub.type).map((p) => {
        keys.add(bindingKeyFor(p));
        return compileTypePattern(p);
      });
      subscriptions.push({
        extension: ext.name,
        matches: (e) =>
          patterns.some((m) => m(e.type)) &&
          (sub.operationSuccess === undefined || e.operationSuccess === sub.operationSuccess) &&
          (sub.entityKind === undefined ||
            e.entityKind.toLowerCase() === sub.entityKind.toLowerCase()),
        handle: sub.handle.bind(sub),
        config,
      });
    }
    for (const rule of ext.blockingTasks ?? []) {
      keys.add(bindingKeyFor(BLOCKING_TASK_CREATE));
      rules.push({
        extension: ext.name,
        operations: new Set(list(rule.operation)),
        rule,
        config,
      });
    }
  }
  return { subscriptions, rules, keys };
}

/** {@linkcode eventProcessor}'s processor. */
class Events implements EventProcessor {
  readonly bindingKeys: readonly string[];
  readonly active: boolean;
  readonly #compiled: Compiled;
  readonly #options: EventOptions;
  readonly #log: Logger;
  readonly #retries: number;

  constructor(compiled: Compiled, options: EventOptions) {
    this.#compiled = compiled;
    this.#options = options;
    this.#log = options.log;
    this.#retries = options.retries ?? 2;
    this.bindingKeys = [...compiled.keys];
    this.active = compiled.keys.size > 0;
  }

  /** Handles one delivery; a property, so it can be handed on unbound. */
  readonly handle = async <A>(delivery: Delivery<A>, signal: AbortSignal): Promise<Decision<A>> => {
    const options = this.#options;
    let event: NotificationEvent;
    try {
      event = decodeNotification({
        body: delivery.content,
        routingKey: delivery.topic ?? "",
        headers: { ...delivery.headers },
      });
    } catch (e) {
      options.onEvent?.("", "undecodable");
      return {
        kind: "reject",
        code: "undecodable",
        reason: `undecodable notification: ${(e as Error).message}`,
      };
    }
    const notified = await this.#notify(event, signal);
    const decided = await this.#blockingTask(event, signal);
    const handled = notified !== undefined || decided !== undefined;
    const failed = notified === false || decided === false;
    const outcome: EventOutcome = failed ? "failed" : handled ? "handled" : "ignored";
    options.onEvent?.(event.type, outcome);
    return failed
      ? {
        kind: "reject",
        code: "handler-failed",
        reason: `event ${quote(event.id) || "(no id)"} of type ${quote(event.type)} failed`,
      }
      : { kind: "ack" };
  };

  /** Runs the matching subscriptions: `undefined` when none matched, else whether all succeeded. */
  async #notify(event: NotificationEvent, signal: AbortSignal): Promise<boolean | undefined> {
    let result: boolean | undefined;
    for (const sub of this.#compiled.subscriptions) {
      if (!sub.matches(event)) continue;
      result ??= true;
      const eventId = quote(event.id);
      const ctx = {
        log: this.#log.child({ eventId, extension: sub.extension }),
        signal,
        config: sub.config.values,
      };
      const fields = { eventId, type: quote(event.type), extension: sub.extension };
      const timing = this.#options.handlerTiming;
      const run = timing
        ? async () => {
          const start = timing.now();
          try {
            await sub.handle(event, ctx);
          } finally {
            timing.observe(sub.extension, timing.now() - start);
          }
        }
        : () => sub.handle(event, ctx);
      if (!(await this.#attempt("notification handler", fields, run, sub.config.secrets))) {
        result = false;
      }
    }
    return result;
  }

  /** Runs `fn` with bounded retries (`EVENT_RETRY` apart); true when it finally succeeded. */
  async #attempt(
    what: string,
    fields: object,
    fn: () => unknown,
    secrets: readonly string[] = [],
  ): Promise<boolean> {
    const retries = this.#retries;
    for (let n = 0; n <= retries; n++) {
      try {
        await fn();
        return true;
      } catch (e) {
        const last = n === retries;
        this.#log[last ? "error" : "warn"](
          { ...fields, attempt: n + 1, err: scrubbedFields(errorFields(e), secrets) },
          last ? `${what} failed ${n + 1} times; giving up` : `${what} failed; retrying`,
        );
        if (!last) await this.#options.sleep(backoffDelay(n, EVENT_RETRY));
      }
    }
    return false;
  }

  /**
   * Decides a blocking task when the event announces one that a rule covers: `undefined` when
   * it is none of this service's business, else whether the decision was carried out.
   */
  async #blockingTask(event: NotificationEvent, signal: AbortSignal): Promise<boolean | undefined> {
    const { rules } = this.#compiled;
    if (rules.length === 0 || event.type !== BLOCKING_TASK_CREATE) return undefined;
    const byName = event.taskName ? rules.filter((r) => r.operations.has(event.taskName!)) : rules;
    if (byName.length === 0) return undefined; // some other extension's operation
    // What the notification says is quoted short in logs: a tenant can put anything in it.
    const fields = {
      eventId: quote(event.id),
      blockingTask: quote(event.entity),
      operation: event.taskName === undefined ? undefined : quote(event.taskName),
    };
    const gateway = this.#options.gateway;
    if (!gateway) {
      this.#log.error(
        fields,
        "a blocking task needs a decision but no vCD REST API is configured (--vcd-url)",
      );
      return false;
    }
    let id: string;
    try {
      id = blockingTaskId(event.entity || event.task || "");
    } catch (e) {
      this.#log.error(
        { ...fields, err: errorFields(e) },
        "blocking-task event without a usable task id",
      );
      return false;
    }
    let task: BlockingTask | undefined;
    const fetch = async () => (task = await gateway.fetch(id));
    if (!(await this.#attempt("fetching the blocking task", fields, fetch))) return false;
    const operation = task!.operation ?? event.taskName;
    const match = rules.find((r) => operation !== undefined && r.operations.has(operation));
    if (!match) return undefined;
    return await this.#decide(gateway, task!, match, fields, { id, event, signal });
  }

  /** Asks the rule and posts its decision, with retries. */
  #decide(
    gateway: BlockingTaskGateway,
    task: BlockingTask,
    match: CompiledRule,
    fields: { eventId: string; blockingTask: string; operation: string | undefined },
    about: { id: string; event: NotificationEvent; signal: AbortSignal },
  ): Promise<boolean> {
    const { id, event, signal } = about;
    const ctx = {
      log: this.#log.child({ eventId: fields.eventId, blockingTask: id }),
      signal,
      event,
      config: match.config.values,
    };
    const logged = { ...fields, extension: match.extension };
    return this.#attempt("deciding the blocking task", logged, async () => {
      const decision = await match.rule.decide(task, ctx);
      await gateway.act(task, decision);
      this.#options.onDecision?.(decision.action);
      this.#log.info({ ...logged, action: decision.action }, "blocking task decided");
    }, match.config.secrets);
  }
}

/** An error's log fields with the configuration's secrets scrubbed from every string. */
function scrubbedFields<T>(fields: T, secrets: readonly string[]): T {
  if (secrets.length === 0 || typeof fields !== "object" || fields === null) return fields;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) {
    out[k] = typeof v === "string" ? scrub(v, secrets) : v;
  }
  return out as T;
}
