/**
 * @module Example of notifications and blocking tasks: audits vApp creation and deletion, and
 * decides blocked vApp compositions and instantiations by a naming policy.
 *
 * Policy: a vApp name must be `<env>-<name>` where `<env>` is `dev`, `test` or `prod` and
 * `<name>` is 2–48 lower-case letters, digits or dashes (e.g. `prod-billing-api`). The blocked
 * task's owner (`TaskOwner`: the vApp being built) is resumed when its name matches, aborted
 * otherwise with a message that states the rule. Configure vCD to block `vdcComposeVapp` and
 * `vdcInstantiateVapp` (Administration → Blocking Tasks) for this to take effect.
 */

import { defineExtension } from "../lib/sdk.ts";

/** The naming rule, exported for tests and documentation. */
export const VAPP_NAME = /^(dev|test|prod)-[a-z0-9][a-z0-9-]{1,47}$/;

export default defineExtension({
  name: "vapp-policy",
  namespace: "com.example.vapppolicy",
  routingKey: "vapp-policy",
  description: "Audits vApp lifecycle events and enforces a vApp naming policy",
  routes: [],
  notifications: [{
    type: ["vapp/create", "vapp/delete"],
    handle(event, ctx) {
      ctx.log.info({
        audit: "vapp",
        type: event.type,
        vapp: event.entity,
        org: event.org,
        user: event.user,
        success: event.operationSuccess,
        at: event.timestamp,
      }, "vApp lifecycle event");
    },
  }],
  blockingTasks: [{
    operation: ["vdcComposeVapp", "vdcInstantiateVapp"],
    decide(task) {
      const name = task.owner?.name ?? "";
      return VAPP_NAME.test(name)
        ? { action: "resume", message: `vApp name ${name} follows the naming policy` }
        : {
          action: "abort",
          message: `vApp name "${name}" breaks the naming policy: use <dev|test|prod>-<name>, ` +
            "lower-case letters, digits and dashes",
        };
    },
  }],
});
