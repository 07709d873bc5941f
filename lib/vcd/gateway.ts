/**
 * @module The blocking-task gateway over the vCD client: fetches `BlockingTask` documents and
 * posts decisions, following a task's own action links only where `actionRequest` allows.
 */

import {
  actionRequest,
  type BlockingTask,
  type Decision,
  parseBlockingTask,
} from "../core/blocking.ts";
import type { BlockingTaskGateway } from "../core/events.ts";
import { type Logger, silentLogger } from "../observability/log.ts";
import type { VcdClient } from "./client.ts";
import { shorten } from "./errors.ts";

/** Origin and path of a link, never its credentials or query; cut short. */
function linkForLog(href: string, base: string): string {
  try {
    const url = new URL(href, base);
    return shorten(`${url.origin}${url.pathname}`);
  } catch {
    return "(not a URL)";
  }
}

/**
 * The blocking-task gateway over a `VcdClient`: fetches `BlockingTask` documents and
 * posts decisions, following the task's own action `Link`s only to
 * `…/api/admin/extension/blockingTask/<id>/action/<action>` on the cell (see
 * `actionRequest`); a link it does not follow is logged as a warning and the documented URL is
 * used instead.
 */
export function blockingTaskGateway(
  client: Pick<VcdClient, "request">,
  baseUrl: string,
  log: Logger = silentLogger,
): BlockingTaskGateway {
  return {
    async fetch(id: string): Promise<BlockingTask> {
      const response = await client.request(
        "GET",
        `/api/admin/extension/blockingTask/${encodeURIComponent(id)}`,
        {
          expect: [200],
        },
      );
      return parseBlockingTask(response.text);
    },
    async act(task: BlockingTask, decision: Decision): Promise<void> {
      const r = actionRequest(task, decision, baseUrl);
      if (r.ignoredLink !== undefined) {
        log.warn(
          { task: task.id, action: decision.action, href: linkForLog(r.ignoredLink, baseUrl) },
          "blocking task link not followed: not the task's own action on the vCD origin",
        );
      }
      await client.request(r.method, r.url, {
        body: r.body,
        contentType: r.contentType,
        expect: [r.expect],
      });
    },
  };
}
