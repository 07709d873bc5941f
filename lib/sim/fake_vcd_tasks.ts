/**
 * @module The fake vCD's blocking tasks: `GET /api/admin/extension/blockingTask/<id>` and the
 * actions `POST …/action/{resume,abort,fail}` (204, decided once) and
 * `POST …/action/updateProgress` (200 with the task), each checked as a cell checks it
 * (`Content-Type`, document name, a non-empty `Message`) and recorded in `taskActions`.
 */

import { child } from "../core/xml.ts";
import type { FakeVcdState, TaskState } from "./fake_vcd_state.ts";
import { checkType, MEDIA, parseBody, Reply, requireText, respond } from "./fake_vcd_wire.ts";

/** The task path: group 1 the id, group 2 the action when there is one. */
export const TASK_PATH = /^\/api\/admin\/extension\/blockingTask\/([^/]+)(?:\/action\/([^/]+))?$/;

/** Answers a request to blocking task `id`, or to its `action` when given. */
export function taskRoute(
  state: FakeVcdState,
  req: Request,
  id: string,
  action: string | undefined,
  body: string,
  version: string,
): Response {
  if (action !== undefined) {
    if (req.method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", "use POST");
    const task = state.taskState.get(id);
    if (task === undefined) throw new Reply(404, "NOT_FOUND", `no blocking task ${id}`);
    if (action === "updateProgress") return updateProgress(state, task, id, req, body, version);
    return decide(state, task, id, action, req, body, version);
  }
  if (req.method !== "GET") throw new Reply(405, "METHOD_NOT_ALLOWED", "use GET");
  const xml = state.tasks.get(id);
  if (xml === undefined) throw new Reply(404, "NOT_FOUND", `no blocking task ${id}`);
  return respond(200, version, MEDIA.blockingTask, xml);
}

function updateProgress(
  state: FakeVcdState,
  task: TaskState,
  id: string,
  req: Request,
  body: string,
  version: string,
): Response {
  checkType(req, MEDIA.taskProgress);
  const root = parseBody(body, "Bad BlockingTaskUpdateProgressParams");
  if (root.name !== "BlockingTaskUpdateProgressParams") {
    throw new Reply(400, "BAD_REQUEST", "expected BlockingTaskUpdateProgressParams");
  }
  const message = requireText(root, "Message", "updateProgress");
  const timeoutText = child(root, "TimeoutValueInMilliseconds")?.text.trim();
  const timeoutMs = timeoutText === undefined ? undefined : Number(timeoutText);
  if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs >= 0)) {
    throw new Reply(400, "BAD_REQUEST", "TimeoutValueInMilliseconds must be an integer");
  }
  if (task.status !== "active") {
    throw new Reply(400, "BAD_REQUEST", `task ${id} is ${task.status}`);
  }
  if (timeoutMs !== undefined) task.timeoutMs = timeoutMs;
  const action = "updateProgress";
  state.taskActions.push(
    timeoutMs === undefined ? { id, action, message } : { id, action, message, timeoutMs },
  );
  return respond(200, version, MEDIA.blockingTask, state.updateTask(id, task));
}

function decide(
  state: FakeVcdState,
  task: TaskState,
  id: string,
  action: string,
  req: Request,
  body: string,
  version: string,
): Response {
  if (action !== "resume" && action !== "abort" && action !== "fail") {
    throw new Reply(404, "NOT_FOUND", `no action ${action}`);
  }
  checkType(req, MEDIA.taskOperation);
  const root = parseBody(body, "Bad BlockingTaskOperationParams");
  if (root.name !== "BlockingTaskOperationParams") {
    throw new Reply(400, "BAD_REQUEST", "expected BlockingTaskOperationParams");
  }
  const message = requireText(root, "Message", action);
  if (task.status !== "active") {
    throw new Reply(400, "BAD_REQUEST", `task ${id} is ${task.status}`);
  }
  task.status = action === "resume" ? "resumed" : action === "abort" ? "aborted" : "failed";
  state.taskActions.push({ id, action, message });
  state.updateTask(id, task);
  return respond(204, version);
}
