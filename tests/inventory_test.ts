import assert from "node:assert/strict";
import ticketing from "../handlers/ticketing.ts";
import vappPolicy from "../handlers/vapp_policy.ts";
import { defineExtension } from "../lib/core/extension.ts";
import { describeExtensions, inventoryJson } from "../lib/app/inventory.ts";
import { bindingKeyFor } from "../lib/core/notification.ts";
import { urlPattern } from "../lib/core/register.ts";

const OPTIONS = { exchange: "vcdext", notificationsExchange: "vcd.notifications20" } as const;
const LOADED = [ticketing, vappPolicy];

/** The line of `text` that contains every one of `parts`, in order, or undefined. */
function lineWith(text: string, ...parts: string[]): string | undefined {
  return text.split("\n").find((line) => {
    let at = 0;
    for (const p of parts) {
      const i = line.indexOf(p, at);
      if (i === -1) return false;
      at = i + p.length;
    }
    return true;
  });
}

Deno.test("describeExtensions() lists each ticketing route with its media types and rights", () => {
  const text = describeExtensions(LOADED, OPTIONS);
  for (const r of ticketing.routes) {
    const produces = r.path.endsWith("{id}") || r.method === "POST"
      ? "application/vnd.example.ticket+xml|+json"
      : "application/vnd.example.tickets+xml|+json";
    assert.ok(
      lineWith(text, `${r.method} `, ` ${r.path} `, ` ${produces} `, " 0"),
      `no line for ${r.method} ${r.path} in:\n${text}`,
    );
  }
  assert.ok(
    lineWith(text, "requests", "exchange vcdext (direct)", "routing key gcp-ticketing") !==
      undefined,
  );
});

Deno.test("describeExtensions() lists each derived API filter of the ticketing extension", () => {
  const text = describeExtensions(LOADED, OPTIONS);
  const filters = [...new Set(ticketing.routes.map((r) => urlPattern(r.path)))];
  assert.deepEqual(filters, ["/api/org/[^/]+/ticketing/?", "/api/org/[^/]+/ticketing/[^/]+/?"]);
  const lines = text.split("\n");
  const header = lines.indexOf("  vCD API filters (UrlPattern):");
  assert.notEqual(header, -1);
  assert.deepEqual(lines.slice(header + 1, header + 3), filters.map((f) => `    ${f}`));
});

Deno.test("describeExtensions() lists vapp-policy's subscriptions and blocking operations", () => {
  const text = describeExtensions(LOADED, OPTIONS);
  assert.ok(
    lineWith(
      text,
      "notifications (exchange vcd.notifications20, queue vcdext.notifications)",
    ),
  );
  for (const type of ["vapp/create", "vapp/delete"]) {
    assert.ok(lineWith(text, type, " - ", bindingKeyFor(type)), `no line for ${type}`);
  }
  const blockingKey = "*.*.*.*.com.vmware.vcloud.event.blockingtask.create.#";
  for (const op of ["vdcComposeVapp", "vdcInstantiateVapp"]) {
    assert.ok(lineWith(text, op, blockingKey), `no line for ${op}`);
  }
  const block = text.slice(text.indexOf("\nvapp-policy: "));
  assert.ok(lineWith(block, "requests", "none (no routes: not registered in vCD"), block);
});

Deno.test("describeExtensions() shows subscription filters and says when notifications are off", () => {
  const ext = defineExtension({
    name: "audit",
    namespace: "com.example.audit",
    routingKey: "audit",
    routes: [],
    notifications: [{
      type: "vm/**",
      operationSuccess: false,
      entityKind: "vm",
      handle: () => {},
    }],
  });
  const text = describeExtensions([ext], { exchange: "vcdext" });
  assert.ok(lineWith(text, "notifications (not consumed: no notifications exchange)"));
  assert.ok(
    lineWith(text, "vm/**", "operationSuccess=false, entityKind=vm", bindingKeyFor("vm/**")),
    text,
  );
  assert.equal(describeExtensions([], OPTIONS), "no extensions loaded\n");
});

Deno.test("inventoryJson() gives the ticketing and vapp-policy inventory as plain data", () => {
  const inv = inventoryJson(LOADED, OPTIONS);
  assert.equal(inv.exchange, "vcdext");
  assert.equal(inv.notificationsExchange, "vcd.notifications20");
  assert.equal(inv.notificationsQueue, "vcdext.notifications");
  assert.deepEqual(inv.extensions.map((e) => e.name), ["gcp-ticketing", "vapp-policy"]);

  const [t, v] = inv.extensions;
  assert.ok(t !== undefined && v !== undefined);
  assert.deepEqual(
    { ...t, routes: t.routes.length },
    {
      name: "gcp-ticketing",
      namespace: "com.example.ticketing",
      vendor: "example",
      description: "Ticketing extension: an organisation's support tickets",
      routingKey: "gcp-ticketing",
      queue: "gcp-ticketing",
      registered: true,
      triplet: "example/gcp-ticketing/1.0.0",
      mqttTopics: {
        monitor: "topic/extension/example/gcp-ticketing/1.0.0/ext",
        respond: "topic/extension/example/gcp-ticketing/1.0.0/vcd",
      },
      routes: 5,
      apiFilters: ["/api/org/[^/]+/ticketing/?", "/api/org/[^/]+/ticketing/[^/]+/?"],
      notifications: [],
      blockingTasks: [],
    },
  );
  assert.deepEqual(t.routes[1], {
    method: "POST",
    path: "/api/org/{org}/ticketing",
    produces: ["application/vnd.example.ticket+xml", "application/vnd.example.ticket+json"],
    consumes: ["xml", "json"],
    rights: 0,
    filter: "/api/org/[^/]+/ticketing/?",
  });

  assert.deepEqual(v, {
    name: "vapp-policy",
    namespace: "com.example.vapppolicy",
    description: "Audits vApp lifecycle events and enforces a vApp naming policy",
    routingKey: "vapp-policy",
    queue: null,
    registered: false,
    triplet: "vcdext/vapp-policy/1.0.0",
    mqttTopics: null,
    routes: [],
    apiFilters: [],
    notifications: [{
      types: ["vapp/create", "vapp/delete"],
      filters: {},
      bindingKeys: [
        "*.*.*.*.com.vmware.vcloud.event.vapp.create.#",
        "*.*.*.*.com.vmware.vcloud.event.vapp.delete.#",
      ],
    }],
    blockingTasks: [{
      operations: ["vdcComposeVapp", "vdcInstantiateVapp"],
      bindingKey: "*.*.*.*.com.vmware.vcloud.event.blockingtask.create.#",
    }],
  });
  // Plain data: survives a JSON round trip unchanged.
  assert.deepEqual(JSON.parse(JSON.stringify(inv)), inv);
});

Deno.test("inventoryJson() reports rights, formats and media types without a vendor base", () => {
  const ext = defineExtension({
    name: "x",
    namespace: "x",
    routingKey: "x",
    routes: [
      {
        method: "GET",
        path: "/api/x",
        produces: { json: (v: unknown) => v, xml: () => ({ name: "X" }), formats: ["json", "xml"] },
        rights: ["urn:vcloud:right:1", "urn:vcloud:right:2"],
        handle: () => ({}),
      },
      {
        method: "PUT",
        path: "/api/x/{id}",
        consumes: { json: (v: unknown) => v },
        handle: () => ({}),
      },
    ],
  });
  const [e] = inventoryJson([ext], OPTIONS).extensions;
  assert.deepEqual(e?.routes.map((r) => [r.produces, r.consumes, r.rights]), [
    [["application/json", "application/xml"], [], 2],
    [["application/json"], ["json"], 0],
  ]);
  const text = describeExtensions([ext], OPTIONS);
  assert.ok(lineWith(text, "GET ", "/api/x ", "application/json|xml ", " 2"), text);
  assert.ok(lineWith(text, "PUT ", "/api/x/{id} ", "application/json ", " 0"), text);
});
