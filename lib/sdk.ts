/**
 * @module The one module an extension imports: how to declare routes, representations,
 * notification subscriptions and blocking-task rules, and the helpers a handler needs (vCloud
 * errors, XML building and reading, quoting client input into a message). Everything else in
 * `lib/` is the host's business; a test holds that `handlers/` imports nothing else.
 *
 * An extension's tests import `lib/testing.ts` as well: `request()`, `notify()` and `decide()`
 * call the extension as vCD would, through the host's own decoder and dispatcher, with no broker
 * and no permission (README, "Testing your extension"). Handlers never import it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defineExtension, el, route } from "./sdk.ts";
 * const hello = route({
 *   method: "GET",
 *   path: "/api/org/{org}/hello",
 *   produces: { json: (s: string) => ({ s }), xml: (s: string) => el("Hello", {}, s) },
 *   handle: (ctx) => ({ body: `hello, org ${ctx.params.org}` }),
 * });
 * const ext = defineExtension({ name: "hello", namespace: "com.example.hello", routingKey: "hello", routes: [hello] });
 * assert.equal(ext.routes.length, 1);
 * ```
 */

export {
  type AnyRoute,
  type BlockingContext,
  type BlockingTaskRule,
  type BodyDecoder,
  defineExtension,
  type EventContext,
  type Extension,
  type HandlerContext,
  type HandlerResult,
  type Method,
  type PathParams,
  type Representation,
  representation,
  type Route,
  route,
  type Subscription,
} from "./core/extension.ts";
export type {
  ConfigField,
  ConfigOf,
  ConfigSchema,
  ConfigType,
  ConfigValue,
  ExtensionConfig,
} from "./core/config_schema.ts";
export { HttpError, type HttpErrorOptions } from "./core/errors.ts";
export { quote } from "./core/redact.ts";
export {
  child,
  childrenNamed,
  childText,
  el,
  type XmlChild,
  type XmlElement,
  type XmlNode,
} from "./core/xml.ts";
export type { BlockingTask, Decision as BlockingDecision } from "./core/blocking.ts";
export type { NotificationEvent } from "./core/notification.ts";
export type { SecurityContext } from "./core/envelope.ts";
export type { Format } from "./core/negotiate.ts";
export type { Logger } from "./core/logger.ts";
