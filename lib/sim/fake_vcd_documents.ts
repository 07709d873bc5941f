/**
 * @module The documents the fake vCD answers with: `Session`, `vmext:BlockingTask` (with its
 * action links while active) and `vmext:Service` (with its edit, remove and rights links).
 */

import { el, renderXml, type XmlElement } from "../core/xml.ts";
import { VCLOUD_NS, VMEXT_NS } from "../core/vcloud.ts";
import type { FakeService, TaskState } from "./fake_vcd_state.ts";
import { MEDIA } from "./fake_vcd_wire.ts";

/** The href of blocking task `id` on the fake at `base`. */
export function taskHref(base: string, id: string): string {
  return `${base}/api/admin/extension/blockingTask/${id}`;
}

/** The href of extension service `id` on the fake at `base`. */
export function serviceHref(base: string, id: string): string {
  return `${base}/api/admin/extension/service/${id}`;
}

/** A `vmext:BlockingTask` document; the action links only while the task is active. */
export function renderTask(base: string, id: string, t: TaskState): string {
  const href = taskHref(base, id);
  const actions = t.status !== "active" ? [] : [
    el("Link", { rel: "resume", href: `${href}/action/resume`, type: MEDIA.taskOperation }),
    el("Link", { rel: "abort", href: `${href}/action/abort`, type: MEDIA.taskOperation }),
    el("Link", { rel: "fail", href: `${href}/action/fail`, type: MEDIA.taskOperation }),
    el("Link", {
      rel: "updateProgress",
      href: `${href}/action/updateProgress`,
      type: MEDIA.taskProgress,
    }),
  ];
  return renderXml(el(
    "vmext:BlockingTask",
    {
      xmlns: VCLOUD_NS,
      "xmlns:vmext": VMEXT_NS,
      status: t.status,
      timeoutAction: "abort",
      timeoutMs: t.timeoutMs,
      createdTime: t.createdTime,
      name: t.operation,
      id: `urn:vcloud:blockingTask:${id}`,
      href,
      type: MEDIA.blockingTask,
    },
    ...actions,
    t.target === undefined ? null : el("vmext:TaskOwner", {
      name: t.target.name,
      href: t.target.href,
      type: t.target.type ?? "application/vnd.vmware.vcloud.vApp+xml",
    }),
    t.owner === undefined
      ? null
      : el("Link", { rel: "up", href: t.owner, type: "application/vnd.vmware.vcloud.task+xml" }),
  ));
}

/** A `vmext:Service` document, children in schema order. */
export function renderService(base: string, s: FakeService): string {
  const href = serviceHref(base, s.id);
  const v = (name: string, value: string | number | boolean | undefined): XmlElement | null =>
    value === undefined ? null : el(`vmext:${name}`, {}, value);
  return renderXml(el(
    "vmext:Service",
    {
      xmlns: VCLOUD_NS,
      "xmlns:vmext": VMEXT_NS,
      name: s.name,
      id: `urn:vcloud:service:${s.id}`,
      href,
      type: MEDIA.service,
    },
    el("Link", { rel: "edit", href, type: MEDIA.service }),
    el("Link", { rel: "remove", href }),
    el("Link", { rel: "rights", href: `${href}/rights`, type: MEDIA.right }),
    s.description === undefined ? null : el("Description", {}, s.description),
    v("Namespace", s.namespace),
    v("Enabled", s.enabled),
    v("AuthorizationEnabled", s.authorizationEnabled),
    v("RoutingKey", s.routingKey),
    v("Priority", s.priority),
    v("Exchange", s.exchange),
    v("Vendor", s.vendor),
    s.apiFilters.length === 0 ? null : el(
      "vmext:ApiFilters",
      {},
      ...s.apiFilters.map((p) => el("vmext:ApiFilter", {}, el("vmext:UrlPattern", {}, p))),
    ),
  ));
}

/** The `Session` document of `user` (`name@org`). */
export function renderSession(base: string, user: string): string {
  return renderXml(el(
    "Session",
    {
      xmlns: VCLOUD_NS,
      user: user.split("@")[0],
      org: user.split("@")[1] ?? "System",
      href: `${base}/api/session`,
      type: MEDIA.session,
    },
    el("Link", { rel: "remove", href: `${base}/api/session` }),
    el("Link", {
      rel: "down",
      href: `${base}/api/admin`,
      type: "application/vnd.vmware.admin.vcloud+xml",
    }),
  ));
}
