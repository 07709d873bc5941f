import assert from "node:assert/strict";
import {
  bindingKeyFor,
  compileTypePattern,
  decodeHeaders,
  decodeNotification,
  decodeRoutingKey,
  type NotificationDelivery,
  NotificationError,
  type NotificationEvent,
  type RoutingKeyParts,
} from "../lib/core/notification.ts";
import {
  encodeNotification,
  jsonNotificationExample,
  type NotificationInput,
  xmlNotificationExample,
} from "../lib/sim/notifications.ts";
import type { XmlNode } from "../lib/core/xml.ts";

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

const VAPP_CREATE = "com/vmware/vcloud/event/vapp/create";
const BT_CREATE = "com/vmware/vcloud/event/blockingtask/create";
const ENTITY = "3f2e0c2d-0000-4e5f-8a9b-0c1d2e3f4c2d";
const ORG = "1a2b3c4d-0000-4e5f-8a9b-0c1d2e3f4a5b";
const USER = "8b7a6c5d-0000-4e3f-9a1b-2c3d4e5f6a7b";
const TASK = "a56be2f7-2cb4-4561-a7ef-ee2fdd2d3a15";
const KEY = `true.${ENTITY}.${ORG}.${USER}.com.vmware.vcloud.event.vapp.create`;

function delivery(over: Partial<NotificationDelivery> = {}): NotificationDelivery {
  return { body: new Uint8Array(), routingKey: "", headers: {}, ...over };
}

/** The event minus `raw`, for comparisons. */
function fields(event: NotificationEvent): Omit<NotificationEvent, "raw"> {
  const { raw: _raw, ...rest } = event;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// decodeRoutingKey()
// ---------------------------------------------------------------------------------------------

const KEY_CASES: readonly {
  readonly name: string;
  readonly key: string;
  readonly known?: string;
  readonly want: RoutingKeyParts;
}[] = [
  {
    name: "takes every word after the fourth as the type when no type is known",
    key: KEY,
    want: {
      operationSuccess: true,
      entity: ENTITY,
      org: ORG,
      user: USER,
      typeSegments: ["com", "vmware", "vcloud", "event", "vapp", "create"],
    },
  },
  {
    name: "splits off the task name when the known type prefixes the words",
    key: `true.e.o.u.com.vmware.vcloud.event.blockingtask.create.vdcComposeVapp`,
    known: BT_CREATE,
    want: {
      operationSuccess: true,
      entity: "e",
      org: "o",
      user: "u",
      typeSegments: ["com", "vmware", "vcloud", "event", "blockingtask", "create"],
      taskName: "vdcComposeVapp",
    },
  },
  {
    name: "finds no task name when the key ends with the known type",
    key: KEY,
    known: VAPP_CREATE,
    want: {
      operationSuccess: true,
      entity: ENTITY,
      org: ORG,
      user: USER,
      typeSegments: ["com", "vmware", "vcloud", "event", "vapp", "create"],
    },
  },
  {
    name: "ignores a known type the key does not start with",
    key: "false.e.o.u.com.vmware.vcloud.event.vm.delete",
    known: VAPP_CREATE,
    want: {
      operationSuccess: false,
      entity: "e",
      org: "o",
      user: "u",
      typeSegments: ["com", "vmware", "vcloud", "event", "vm", "delete"],
    },
  },
  {
    name: "accepts a known type in dotted form",
    key: "true.e.o.u.com.vmware.vcloud.event.task.create.vappDeploy",
    known: "com.vmware.vcloud.event.task.create",
    want: {
      operationSuccess: true,
      entity: "e",
      org: "o",
      user: "u",
      typeSegments: ["com", "vmware", "vcloud", "event", "task", "create"],
      taskName: "vappDeploy",
    },
  },
  {
    name: "reads TRUE in upper case",
    key: "TRUE.e.o.u.x",
    want: { operationSuccess: true, entity: "e", org: "o", user: "u", typeSegments: ["x"] },
  },
  {
    name: "leaves out a success word that is not a boolean",
    key: "maybe.e.o.u.x",
    want: { entity: "e", org: "o", user: "u", typeSegments: ["x"] },
  },
  {
    name: "leaves out empty words",
    key: "true...u.x",
    want: { operationSuccess: true, user: "u", typeSegments: ["x"] },
  },
  {
    name: "returns what a short key has",
    key: "false.e",
    want: { operationSuccess: false, entity: "e", typeSegments: [] },
  },
  { name: "returns no type for an empty key", key: "", want: { typeSegments: [] } },
  { name: "returns no type for a junk key", key: "#", want: { typeSegments: [] } },
];

for (const c of KEY_CASES) {
  Deno.test(`decodeRoutingKey() ${c.name}`, () => {
    assert.deepEqual(decodeRoutingKey(c.key, c.known), c.want);
  });
}

Deno.test("decodeRoutingKey() does not throw on a key that is not a string", () => {
  assert.deepEqual(decodeRoutingKey(42 as unknown as string), { typeSegments: [] });
  assert.deepEqual(decodeRoutingKey(KEY, 7 as unknown as string).typeSegments.length, 6);
});

// ---------------------------------------------------------------------------------------------
// decodeHeaders()
// ---------------------------------------------------------------------------------------------

Deno.test("decodeHeaders() reads every notification header", () => {
  assert.deepEqual(
    decodeHeaders({
      "notification.type": VAPP_CREATE,
      "notification.entityType": "vapp",
      "notification.entityUUID": ENTITY,
      "notification.orgUUID": `urn:vcloud:org:${ORG}`,
      "notification.userUUID": USER,
      "notification.operationSuccess": true,
      "notification.taskUUID": TASK,
      "notification.somethingNew": "kept out",
    }),
    {
      type: VAPP_CREATE,
      entityKind: "vapp",
      entity: ENTITY,
      org: `urn:vcloud:org:${ORG}`,
      user: USER,
      operationSuccess: true,
      task: TASK,
    },
  );
});

const SUCCESS_CASES: readonly [unknown, boolean | undefined][] = [
  [true, true],
  [false, false],
  ["true", true],
  ["TRUE", true],
  [" False ", false],
  [utf8("true"), true],
  [1, true],
  [0, false],
  ["yes", undefined],
  [2, undefined],
  [null, undefined],
  [{}, undefined],
];

for (const [value, want] of SUCCESS_CASES) {
  Deno.test(`decodeHeaders() reads operationSuccess ${Deno.inspect(value)} as ${want}`, () => {
    assert.equal(decodeHeaders({ "notification.operationSuccess": value }).operationSuccess, want);
  });
}

Deno.test("decodeHeaders() decodes AMQP longstr bytes and numbers as text", () => {
  const h = decodeHeaders({ "notification.type": utf8(VAPP_CREATE), "notification.orgUUID": 42 });
  assert.deepEqual(h, { type: VAPP_CREATE, org: "42" });
});

Deno.test("decodeHeaders() finds header names in another case", () => {
  assert.deepEqual(decodeHeaders({ "Notification.EntityUUID": ENTITY }), { entity: ENTITY });
});

Deno.test("decodeHeaders() prefers the exact name over one in another case", () => {
  const h = decodeHeaders({ "NOTIFICATION.ORGUUID": "other", "notification.orgUUID": ORG });
  assert.equal(h.org, ORG);
});

Deno.test("decodeHeaders() converts a dotted type to slash form", () => {
  assert.equal(
    decodeHeaders({ "notification.type": "com.vmware.vcloud.event.vm.create" }).type,
    "com/vmware/vcloud/event/vm/create",
  );
});

Deno.test("decodeHeaders() leaves out empty, blank and non-text values", () => {
  assert.deepEqual(
    decodeHeaders({
      "notification.type": "",
      "notification.entityUUID": "   ",
      "notification.orgUUID": { id: ORG },
      "notification.userUUID": true,
      "notification.taskUUID": Number.NaN,
    }),
    {},
  );
});

Deno.test("decodeHeaders() reads own properties only", () => {
  const inherited = Object.create({ "notification.type": VAPP_CREATE }) as Record<string, unknown>;
  assert.deepEqual(decodeHeaders(inherited), {});
});

Deno.test("decodeHeaders() returns nothing for headers that are not an object", () => {
  assert.deepEqual(decodeHeaders(null as unknown as Record<string, unknown>), {});
  assert.deepEqual(decodeHeaders(["x"] as unknown as Record<string, unknown>), {});
});

// ---------------------------------------------------------------------------------------------
// decodeNotification(): JSON
// ---------------------------------------------------------------------------------------------

const JSON_BODY = {
  eventId: "55aba16e-427c-431a-9949-00db6aa78e5b",
  type: BT_CREATE,
  operationSuccess: true,
  timestamp: "2024-05-14T09:30:12.345+02:00",
  user: `urn:vcloud:user:${USER}`,
  org: `urn:vcloud:org:${ORG}`,
  entity: `urn:vcloud:blockingTask:${ENTITY}`,
  task: `urn:vcloud:task:${TASK}`,
  taskOwner: `urn:vcloud:vapp:${ENTITY}`,
  somethingNew: { nested: [1, 2] },
};
const BT_KEY =
  `true.${ENTITY}.${ORG}.${USER}.com.vmware.vcloud.event.blockingtask.create.vdcComposeVapp`;

Deno.test("decodeNotification() decodes a JSON blocking-task notification", () => {
  const event = decodeNotification(
    delivery({ body: utf8(JSON.stringify(JSON_BODY)), routingKey: BT_KEY }),
  );
  assert.deepEqual(fields(event), {
    id: JSON_BODY.eventId,
    type: BT_CREATE,
    entity: JSON_BODY.entity,
    entityKind: "blockingTask",
    entityId: ENTITY,
    org: JSON_BODY.org,
    user: JSON_BODY.user,
    operationSuccess: true,
    timestamp: JSON_BODY.timestamp,
    task: JSON_BODY.task,
    taskOwner: JSON_BODY.taskOwner,
    taskName: "vdcComposeVapp",
    format: "json",
  });
});

Deno.test("decodeNotification() keeps unknown JSON fields in raw", () => {
  const event = decodeNotification(delivery({ body: utf8(JSON.stringify(JSON_BODY)) }));
  assert.deepEqual(event.raw, JSON_BODY);
});

Deno.test("decodeNotification() drops __proto__ keys from a JSON body", () => {
  const body = utf8(`{"type":"${VAPP_CREATE}","__proto__":{"polluted":true}}`);
  const raw = decodeNotification(delivery({ body })).raw as Record<string, unknown>;
  assert.deepEqual(Object.keys(raw), ["type"]);
  assert.equal(Object.getPrototypeOf(raw), Object.prototype);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("decodeNotification() prefers the body over headers and routing key", () => {
  const event = decodeNotification({
    body: utf8(JSON.stringify({
      type: VAPP_CREATE,
      operationSuccess: false,
      entity: "urn:vcloud:vapp:from-body",
      org: "urn:vcloud:org:from-body",
      user: "urn:vcloud:user:from-body",
      task: "urn:vcloud:task:from-body",
    })),
    routingKey: "true.key-e.key-o.key-u.com.vmware.vcloud.event.vm.create",
    headers: {
      "notification.type": "com/vmware/vcloud/event/vm/create",
      "notification.entityType": "vm",
      "notification.entityUUID": "header-e",
      "notification.orgUUID": "header-o",
      "notification.userUUID": "header-u",
      "notification.operationSuccess": "true",
      "notification.taskUUID": "header-t",
    },
  });
  assert.deepEqual(
    [event.type, event.entity, event.entityKind, event.org, event.user, event.task],
    [
      VAPP_CREATE,
      "urn:vcloud:vapp:from-body",
      "vapp",
      "urn:vcloud:org:from-body",
      "urn:vcloud:user:from-body",
      "urn:vcloud:task:from-body",
    ],
  );
  assert.equal(event.operationSuccess, false);
});

Deno.test("decodeNotification() prefers headers over the routing key", () => {
  const event = decodeNotification(delivery({
    routingKey: "false.key-e.key-o.key-u.com.vmware.vcloud.event.vm.create",
    headers: {
      "notification.type": "com/vmware/vcloud/event/vm/create",
      "notification.entityType": "vm",
      "notification.entityUUID": "header-e",
      "notification.orgUUID": "header-o",
      "notification.userUUID": "header-u",
      "notification.operationSuccess": "true",
    },
  }));
  assert.deepEqual(
    [event.entity, event.entityKind, event.entityId, event.org, event.user, event.operationSuccess],
    ["header-e", "vm", "header-e", "header-o", "header-u", true],
  );
});

Deno.test("decodeNotification() falls back to the routing key alone", () => {
  const event = decodeNotification(delivery({ routingKey: KEY }));
  assert.deepEqual(fields(event), {
    id: "",
    type: VAPP_CREATE,
    entity: ENTITY,
    entityKind: "",
    entityId: ENTITY,
    org: ORG,
    user: USER,
    operationSuccess: true,
    timestamp: undefined,
    format: "json",
  });
  assert.equal(event.raw, undefined);
});

Deno.test("decodeNotification() uses the header type to find the task name in the key", () => {
  const event = decodeNotification(delivery({
    routingKey: BT_KEY,
    headers: { "notification.type": BT_CREATE, "notification.taskUUID": TASK },
  }));
  assert.equal(event.type, BT_CREATE);
  assert.equal(event.taskName, "vdcComposeVapp");
  assert.equal(event.task, TASK);
});

Deno.test("decodeNotification() takes the entity kind from the URN before the header", () => {
  const event = decodeNotification(delivery({
    body: utf8(JSON.stringify({ type: VAPP_CREATE, entity: `urn:vcloud:vapp:${ENTITY}` })),
    headers: { "notification.entityType": "vm" },
  }));
  assert.equal(event.entityKind, "vapp");
});

Deno.test("decodeNotification() reads operationSuccess sent as a string in JSON", () => {
  const body = utf8(JSON.stringify({ type: VAPP_CREATE, operationSuccess: "false" }));
  assert.equal(decodeNotification(delivery({ body })).operationSuccess, false);
});

Deno.test("decodeNotification() ignores JSON fields of the wrong type", () => {
  const body = utf8(JSON.stringify({
    type: VAPP_CREATE,
    eventId: 7,
    entity: { id: ENTITY },
    timestamp: 1715671812345,
    task: ["t"],
  }));
  const event = decodeNotification(delivery({ body, routingKey: KEY }));
  assert.deepEqual([event.id, event.entity, event.timestamp, event.task], [
    "",
    ENTITY,
    undefined,
    undefined,
  ]);
});

Deno.test("decodeNotification() keeps a JSON body that is not an object and uses headers", () => {
  const event = decodeNotification(delivery({
    body: utf8("[1,2,3]"),
    headers: { "notification.type": VAPP_CREATE },
  }));
  assert.deepEqual(event.raw, [1, 2, 3]);
  assert.equal(event.type, VAPP_CREATE);
});

Deno.test("decodeNotification() survives a body that is not JSON", () => {
  const event = decodeNotification(delivery({ body: utf8("{not json"), routingKey: KEY }));
  assert.equal(event.type, VAPP_CREATE);
  assert.equal(event.format, "json");
  assert.equal(event.raw, undefined);
});

Deno.test("decodeNotification() survives bytes that are not UTF-8", () => {
  const body = new Uint8Array([0xff, 0xfe, 0x00, 0x7b]);
  assert.equal(decodeNotification(delivery({ body, routingKey: KEY })).type, VAPP_CREATE);
});

// ---------------------------------------------------------------------------------------------
// decodeNotification(): XML
// ---------------------------------------------------------------------------------------------

/** Shaped like a legacy notification from a real cell (CRLF, xsi, schemaLocation). */
const LEGACY_XML = '<?xml version="1.0" encoding="UTF-8"?>\r\n' +
  '<vmext:Notification xmlns:vmext="http://www.vmware.com/vcloud/extension/v1.5"' +
  ` type="${BT_CREATE}" eventId="55aba16e-427c-431a-9949-00db6aa78e5a"` +
  ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' +
  ' xsi:schemaLocation="http://www.vmware.com/vcloud/extension/v1.5 https://vcd.example.com/api/v1.5/schema/vmwextensions.xsd">\r\n' +
  '    <vmext:Link rel="entityResolver" href="https://vcd.example.com/api/entity/"/>\r\n' +
  `    <vmext:EntityLink rel="entity" type="vcloud:blockingTask" name="vappUpdateVm" id="urn:vcloud:blockingTask:${ENTITY}"/>\r\n` +
  `    <vmext:EntityLink rel="down" type="vcloud:user" name="vcloud" id="urn:vcloud:user:${USER}"/>\r\n` +
  `    <vmext:EntityLink rel="up" type="vcloud:org" name="Default" id="urn:vcloud:org:${ORG}"/>\r\n` +
  `    <vmext:EntityLink rel="task" type="vcloud:task" name="vappUpdateVm" id="urn:vcloud:task:${TASK}"/>\r\n` +
  `    <vmext:EntityLink rel="task:owner" type="vcloud:vm" id="urn:vcloud:vm:${ENTITY}"/>\r\n` +
  "    <vmext:Timestamp>2011-06-10T10:04:49.047+01:00</vmext:Timestamp>\r\n" +
  "    <vmext:OperationSuccess>true</vmext:OperationSuccess>\r\n" +
  "</vmext:Notification>";

Deno.test("decodeNotification() decodes a legacy XML notification", () => {
  const event = decodeNotification(delivery({ body: utf8(LEGACY_XML) }));
  assert.deepEqual(fields(event), {
    id: "55aba16e-427c-431a-9949-00db6aa78e5a",
    type: BT_CREATE,
    entity: `urn:vcloud:blockingTask:${ENTITY}`,
    entityKind: "blockingTask",
    entityId: ENTITY,
    org: `urn:vcloud:org:${ORG}`,
    user: `urn:vcloud:user:${USER}`,
    operationSuccess: true,
    timestamp: "2011-06-10T10:04:49.047+01:00",
    task: `urn:vcloud:task:${TASK}`,
    taskOwner: `urn:vcloud:vm:${ENTITY}`,
    taskName: "vappUpdateVm",
    format: "xml",
  });
  assert.equal((event.raw as XmlNode).name, "Notification");
});

Deno.test("decodeNotification() reads XML whatever its prefix or namespace", () => {
  const body = `  <Notification xmlns="urn:other" type="${VAPP_CREATE}" eventId="e2">` +
    `<EntityLink rel="ENTITY" type="vcloud:vapp" id="urn:vcloud:vapp:${ENTITY}"/>` +
    "<OperationSuccess> FALSE </OperationSuccess><Unknown/></Notification>";
  const event = decodeNotification(delivery({ body: utf8(body) }));
  assert.deepEqual([event.id, event.type, event.entity, event.operationSuccess, event.format], [
    "e2",
    VAPP_CREATE,
    `urn:vcloud:vapp:${ENTITY}`,
    false,
    "xml",
  ]);
});

Deno.test("decodeNotification() takes the entity kind from the XML link type for a bare id", () => {
  const body = `<Notification type="${VAPP_CREATE}">` +
    `<EntityLink rel="entity" type="vcloud:vapp" id="${ENTITY}"/></Notification>`;
  const event = decodeNotification(delivery({ body: utf8(body) }));
  assert.deepEqual([event.entity, event.entityKind], [ENTITY, "vapp"]);
});

Deno.test("decodeNotification() takes the task name from a blocking-task entity link", () => {
  const body = `<Notification type="${BT_CREATE}">` +
    `<EntityLink rel="entity" type="vcloud:blockingTask" name="vappDeploy" id="urn:vcloud:blockingTask:${ENTITY}"/>` +
    "</Notification>";
  assert.equal(decodeNotification(delivery({ body: utf8(body) })).taskName, "vappDeploy");
});

Deno.test("decodeNotification() sniffs XML after a byte-order mark and whitespace", () => {
  const body = utf8(`\uFEFF \n<Notification type="${VAPP_CREATE}"/>`);
  const event = decodeNotification(delivery({ body }));
  assert.deepEqual([event.format, event.type], ["xml", VAPP_CREATE]);
});

Deno.test("decodeNotification() keeps an XML document of another kind and uses the key", () => {
  const body = utf8(`<Error type="${BT_CREATE}" message="nope"/>`);
  const event = decodeNotification(delivery({ body, routingKey: KEY }));
  assert.equal(event.type, VAPP_CREATE);
  assert.equal((event.raw as XmlNode).name, "Error");
});

Deno.test("decodeNotification() survives broken XML when the key gives the type", () => {
  const event = decodeNotification(delivery({ body: utf8("<Notification"), routingKey: KEY }));
  assert.deepEqual([event.type, event.format, event.raw], [VAPP_CREATE, "xml", undefined]);
});

Deno.test("decodeNotification() refuses an XML body with a DOCTYPE as a source", () => {
  const body = utf8(
    `<!DOCTYPE n [<!ENTITY t "${VAPP_CREATE}">]><Notification type="&t;"/>`,
  );
  assert.throws(() => decodeNotification(delivery({ body })), NotificationError);
});

// ---------------------------------------------------------------------------------------------
// decodeNotification(): nothing usable
// ---------------------------------------------------------------------------------------------

const HOPELESS: readonly [string, NotificationDelivery][] = [
  ["an empty message", delivery()],
  ["a JSON body without a type", delivery({ body: utf8('{"eventId":"e1"}') })],
  ["a blank JSON type", delivery({ body: utf8('{"type":"  "}') })],
  ["a key with only four words", delivery({ routingKey: "true.e.o.u" })],
  ["broken XML", delivery({ body: utf8("<<<") })],
];

for (const [what, input] of HOPELESS) {
  Deno.test(`decodeNotification() throws NotificationError for ${what}`, () => {
    assert.throws(
      () => decodeNotification(input),
      (e: unknown) =>
        e instanceof NotificationError && e.name === "NotificationError" &&
        e.message ===
          "Cannot decode notification: no event type in the body, the headers or the routing key",
    );
  });
}

Deno.test("decodeNotification() throws NotificationError, not TypeError, for junk input", () => {
  assert.throws(
    () => decodeNotification(null as unknown as NotificationDelivery),
    NotificationError,
  );
  const junk = { body: "text", routingKey: 5, headers: "h" } as unknown as NotificationDelivery;
  assert.throws(() => decodeNotification(junk), NotificationError);
});

// ---------------------------------------------------------------------------------------------
// compileTypePattern() and bindingKeyFor()
// ---------------------------------------------------------------------------------------------

const E = "com/vmware/vcloud/event";

const MATCH_CASES: readonly { pattern: string; type: string; want: boolean }[] = [
  { pattern: "vapp/*", type: `${E}/vapp/create`, want: true },
  { pattern: "vapp/*", type: `${E}/vapp/delete`, want: true },
  { pattern: "vapp/*", type: `${E}/vm/create`, want: false },
  { pattern: "vapp/*", type: `${E}/vapp`, want: false },
  { pattern: "vapp/*", type: `${E}/vapp/create/extra`, want: false },
  { pattern: "*/create", type: `${E}/vapp/create`, want: true },
  { pattern: "*/create", type: `${E}/vc/create`, want: true },
  { pattern: "*/create", type: `${E}/vc/modify`, want: false },
  { pattern: "vapp/create", type: `${E}/vapp/create`, want: true },
  { pattern: "vapp/create", type: `${E}/vApp/create`, want: false },
  { pattern: `${E}/vapp/create`, type: `${E}/vapp/create`, want: true },
  { pattern: `${E}/**`, type: `${E}/user/lock_expired`, want: true },
  { pattern: `${E}/**`, type: E, want: true },
  { pattern: `${E}/**`, type: "com/vmware/foobar", want: false },
  { pattern: "**", type: "com/vmware/foobar", want: true },
  { pattern: "**", type: "", want: true },
  { pattern: "user/**", type: `${E}/user/lockout`, want: true },
  { pattern: "user/**", type: `${E}/user`, want: true },
  { pattern: "user/**", type: `${E}/users/lockout`, want: false },
  { pattern: "**/create", type: `${E}/vapp/create`, want: true },
  { pattern: "**/create", type: "com/vmware/foobar/create", want: true },
  { pattern: "**/create", type: `${E}/vapp/create/x`, want: false },
  { pattern: "**/vapp/**", type: `${E}/vapp/create`, want: true },
  { pattern: "**/vapp/**", type: `${E}/vm/create`, want: false },
  { pattern: "com/**/create", type: `${E}/vm/create`, want: true },
  { pattern: "com/**/**/create", type: `${E}/vm/create`, want: true },
  { pattern: "/*/vmware/**", type: "com/vmware/foobar", want: true },
  { pattern: "/*/vmware/**", type: "org/vmware/foobar", want: true },
  { pattern: "/*/vmware/**", type: "vmware/foobar", want: false },
  { pattern: " vapp/* ", type: `${E}/vapp/create`, want: true },
  { pattern: "*/*", type: `${E}/session/login`, want: true },
  { pattern: "vapp/*", type: "com.vmware.vcloud.event.vapp.create", want: false },
];

for (const c of MATCH_CASES) {
  Deno.test(
    `compileTypePattern(${JSON.stringify(c.pattern)}) ${c.want ? "matches" : "does not match"} ${
      JSON.stringify(c.type)
    }`,
    () => assert.equal(compileTypePattern(c.pattern)(c.type), c.want),
  );
}

Deno.test("compileTypePattern() returns false for a type that is not a string", () => {
  assert.equal(compileTypePattern("**")(undefined as unknown as string), false);
});

const BINDING_CASES: readonly [string, string][] = [
  ["vapp/*", "*.*.*.*.com.vmware.vcloud.event.vapp.*.#"],
  ["vapp/create", "*.*.*.*.com.vmware.vcloud.event.vapp.create.#"],
  ["*/create", "*.*.*.*.com.vmware.vcloud.event.*.create.#"],
  [`${E}/vapp/create`, "*.*.*.*.com.vmware.vcloud.event.vapp.create.#"],
  [`${E}/**`, "*.*.*.*.com.vmware.vcloud.event.#"],
  ["user/**", "*.*.*.*.com.vmware.vcloud.event.user.#"],
  ["**", "*.*.*.*.#"],
  ["**/**", "*.*.*.*.#"],
  ["**/create", "*.*.*.*.#.create.#"],
  ["/*/vmware/**", "*.*.*.*.*.vmware.#"],
  ["blockingtask/create", "*.*.*.*.com.vmware.vcloud.event.blockingtask.create.#"],
];

for (const [pattern, want] of BINDING_CASES) {
  Deno.test(`bindingKeyFor(${JSON.stringify(pattern)}) is ${want}`, () => {
    assert.equal(bindingKeyFor(pattern), want);
  });
}

const BAD_PATTERNS: readonly [string, RegExp][] = [
  ["", /it is empty/],
  ["   ", /it is empty/],
  ["/", /it is empty/],
  ["vapp//create", /empty segment/],
  ["vapp/", /empty segment/],
  ["vapp/cre*", /segment "cre\*"/],
  ["vapp/***", /segment "\*\*\*"/],
  ["vapp/#", /segment "#"/],
  ["vapp/create.x", /segment "create.x"/],
  ["com.vmware.vcloud.event.vapp.create", /segment "com.vmware/],
  ["vapp/cre ate", /segment "cre ate"/],
];

for (const [pattern, detail] of BAD_PATTERNS) {
  Deno.test(`compileTypePattern() and bindingKeyFor() reject ${JSON.stringify(pattern)}`, () => {
    for (const f of [compileTypePattern, bindingKeyFor]) {
      assert.throws(
        () => f(pattern),
        (e: unknown) =>
          e instanceof TypeError &&
          e.message.startsWith(`Invalid event type pattern ${JSON.stringify(pattern)}: `) &&
          detail.test(e.message),
      );
    }
  });
}

/** RabbitMQ topic matching: `*` one word, `#` zero or more words. */
function topicMatches(binding: string, key: string): boolean {
  const b = binding.split(".");
  const k = key.split(".");
  const go = (i: number, j: number): boolean => {
    if (i === b.length) return j === k.length;
    if (b[i] === "#") return go(i + 1, j) || (j < k.length && go(i, j + 1));
    return j < k.length && (b[i] === "*" || b[i] === k[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

Deno.test("bindingKeyFor() lets through every notification its pattern matches", () => {
  const types = [
    `${E}/vapp/create`,
    `${E}/vm/create`,
    `${E}/blockingtask/create`,
    `${E}/user/lock_expired`,
    `${E}/vc/refresh`,
    "com/vmware/foobar",
  ];
  const patterns = [...MATCH_CASES.map((c) => c.pattern), ...BINDING_CASES.map(([p]) => p)];
  let checked = 0;
  for (const pattern of patterns) {
    const matches = compileTypePattern(pattern);
    const binding = bindingKeyFor(pattern);
    for (const type of types) {
      for (const taskName of [undefined, "vdcComposeVapp"]) {
        const key = [`true.${ENTITY}.${ORG}.${USER}`, type.replaceAll("/", "."), taskName]
          .filter((w) => w !== undefined).join(".");
        if (matches(type)) {
          checked++;
          assert.ok(topicMatches(binding, key), `${binding} should let through ${key}`);
        }
      }
    }
  }
  assert.ok(checked > 50, `only ${checked} combinations checked`);
});

Deno.test("bindingKeyFor() keeps out notifications of other types", () => {
  const key = `true.${ENTITY}.${ORG}.${USER}.com.vmware.vcloud.event.vm.create`;
  assert.equal(topicMatches(bindingKeyFor("vapp/*"), key), false);
  assert.equal(topicMatches(bindingKeyFor("*/create"), key), true);
});

// ---------------------------------------------------------------------------------------------
// encodeNotification()
// ---------------------------------------------------------------------------------------------

const TASK_EVENT: NotificationInput = {
  eventId: "55aba16e-427c-431a-9949-00db6aa78e5a",
  type: BT_CREATE,
  entity: `urn:vcloud:blockingTask:${ENTITY}`,
  org: `urn:vcloud:org:${ORG}`,
  user: `urn:vcloud:user:${USER}`,
  operationSuccess: true,
  timestamp: "2024-05-14T09:30:12.345+02:00",
  task: `urn:vcloud:task:${TASK}`,
  taskOwner: `urn:vcloud:vapp:${ENTITY}`,
  taskName: "vdcComposeVapp",
  entityResolver: "https://vcd.example.com/api/entity/",
};

const PLAIN_EVENT: NotificationInput = {
  eventId: "0f1e2d3c-0000-4b5a-9c8d-7e6f5a4b3c2d",
  type: VAPP_CREATE,
  entity: `urn:vcloud:vapp:${ENTITY}`,
  org: `urn:vcloud:org:${ORG}`,
  user: `urn:vcloud:user:${USER}`,
  operationSuccess: false,
  timestamp: "2024-05-14T07:30:12.345Z",
};

Deno.test("encodeNotification() builds the routing key with bare ids and the task name", () => {
  assert.equal(encodeNotification(TASK_EVENT, "json").routingKey, BT_KEY);
  assert.equal(
    encodeNotification(PLAIN_EVENT, "xml").routingKey,
    `false.${ENTITY}.${ORG}.${USER}.com.vmware.vcloud.event.vapp.create`,
  );
});

Deno.test("encodeNotification() sets the notification headers with bare ids", () => {
  assert.deepEqual(encodeNotification(TASK_EVENT, "json").headers, {
    "notification.type": BT_CREATE,
    "notification.entityType": "blockingTask",
    "notification.entityUUID": ENTITY,
    "notification.orgUUID": ORG,
    "notification.userUUID": USER,
    "notification.operationSuccess": "true",
    "notification.taskUUID": TASK,
  });
  assert.equal(encodeNotification(PLAIN_EVENT, "json").headers["notification.taskUUID"], undefined);
});

Deno.test("encodeNotification() writes the JSON body with URNs", () => {
  assert.equal(
    text(encodeNotification(TASK_EVENT, "json").body),
    `{"eventId":"${TASK_EVENT.eventId}","type":"${BT_CREATE}","operationSuccess":true,` +
      `"timestamp":"${TASK_EVENT.timestamp}","user":"urn:vcloud:user:${USER}",` +
      `"org":"urn:vcloud:org:${ORG}","entity":"urn:vcloud:blockingTask:${ENTITY}",` +
      `"task":"urn:vcloud:task:${TASK}","taskOwner":"urn:vcloud:vapp:${ENTITY}"}`,
  );
});

Deno.test("encodeNotification() writes the legacy XML body", () => {
  assert.equal(
    text(encodeNotification(TASK_EVENT, "xml").body),
    '<?xml version="1.0" encoding="UTF-8"?>' +
      '<vmext:Notification xmlns:vmext="http://www.vmware.com/vcloud/extension/v1.5"' +
      ` type="${BT_CREATE}" eventId="${TASK_EVENT.eventId}">` +
      '<vmext:Link rel="entityResolver" href="https://vcd.example.com/api/entity/"/>' +
      `<vmext:EntityLink rel="entity" type="vcloud:blockingTask" name="vdcComposeVapp" id="urn:vcloud:blockingTask:${ENTITY}"/>` +
      `<vmext:EntityLink rel="down" type="vcloud:user" id="urn:vcloud:user:${USER}"/>` +
      `<vmext:EntityLink rel="up" type="vcloud:org" id="urn:vcloud:org:${ORG}"/>` +
      `<vmext:EntityLink rel="task" type="vcloud:task" name="vdcComposeVapp" id="urn:vcloud:task:${TASK}"/>` +
      `<vmext:EntityLink rel="task:owner" type="vcloud:vapp" id="urn:vcloud:vapp:${ENTITY}"/>` +
      `<vmext:Timestamp>${TASK_EVENT.timestamp}</vmext:Timestamp>` +
      "<vmext:OperationSuccess>true</vmext:OperationSuccess></vmext:Notification>",
  );
});

Deno.test("encodeNotification() leaves the entity resolver out when none is given", () => {
  const body = text(encodeNotification(PLAIN_EVENT, "xml").body);
  assert.ok(!body.includes("entityResolver"));
  assert.ok(
    body.includes(
      `<vmext:EntityLink rel="entity" type="vcloud:vapp" id="urn:vcloud:vapp:${ENTITY}"/>`,
    ),
  );
});

function expectedEvent(input: NotificationInput, format: "json" | "xml") {
  const kind = input.entity.split(":")[2];
  return {
    id: input.eventId,
    type: input.type,
    entity: input.entity,
    entityKind: kind,
    entityId: input.entity.split(":")[3],
    org: input.org,
    user: input.user,
    operationSuccess: input.operationSuccess,
    timestamp: input.timestamp,
    ...(input.task === undefined ? {} : { task: input.task }),
    ...(input.taskOwner === undefined ? {} : { taskOwner: input.taskOwner }),
    ...(input.taskName === undefined ? {} : { taskName: input.taskName }),
    format,
  };
}

for (const format of ["json", "xml"] as const) {
  for (const [what, input] of [["task", TASK_EVENT], ["plain", PLAIN_EVENT]] as const) {
    Deno.test(`encodeNotification() then decodeNotification() round-trips a ${what} event as ${format}`, () => {
      assert.deepEqual(
        fields(decodeNotification(encodeNotification(input, format))),
        expectedEvent(input, format),
      );
    });
  }
}

Deno.test("decodeNotification() finds the task name from the key alone, whatever the body", () => {
  const { body: _body, ...message } = encodeNotification(TASK_EVENT, "json");
  const event = decodeNotification({ ...message, body: new Uint8Array() });
  assert.equal(event.taskName, "vdcComposeVapp");
  assert.equal(event.task, TASK);
});

Deno.test("encodeNotification() escapes markup in XML attribute values", () => {
  const body = text(encodeNotification({ ...PLAIN_EVENT, eventId: 'a"<b>&' }, "xml").body);
  assert.ok(body.includes('eventId="a&quot;&lt;b&gt;&amp;"'));
  assert.equal(
    decodeNotification({ ...encodeNotification({ ...PLAIN_EVENT, eventId: 'a"<b>&' }, "xml") }).id,
    'a"<b>&',
  );
});

const BAD_INPUTS: readonly [string, Record<string, unknown>, RegExp][] = [
  ["a bare entity id", { entity: ENTITY }, /entity must be a urn:vcloud:<kind>:<id> URN/],
  ["an org URN with dots", { org: "urn:vcloud:org:a.b" }, /org must be/],
  ["a user that is not a string", { user: 42 }, /user must be/],
  ["a task that is not a URN", { task: TASK }, /task must be/],
  ["a task owner that is not a URN", { taskOwner: "vm-1" }, /taskOwner must be/],
  ["a dotted type", { type: "com.vmware.vcloud.event.vapp.create" }, /segment of type/],
  ["a type with an empty segment", { type: "com//create" }, /segment of type/],
  ["a type with a wildcard", { type: "vapp/*" }, /segment of type/],
  ["an empty type", { type: "" }, /type must be a non-empty string/],
  ["a task name with a dot", { taskName: "a.b" }, /taskName must be/],
  ["an empty task name", { taskName: "" }, /taskName must be/],
  ["an empty event id", { eventId: "" }, /eventId must be/],
  ["an empty timestamp", { timestamp: "" }, /timestamp must be/],
  [
    "operationSuccess as a string",
    { operationSuccess: "true" },
    /operationSuccess must be a boolean/,
  ],
];

for (const [what, override, detail] of BAD_INPUTS) {
  Deno.test(`encodeNotification() refuses ${what}`, () => {
    const input = { ...PLAIN_EVENT, ...override } as NotificationInput;
    for (const format of ["json", "xml"] as const) {
      assert.throws(
        () => encodeNotification(input, format),
        (e: unknown) =>
          e instanceof TypeError && e.message.startsWith("Cannot encode notification: ") &&
          detail.test(e.message),
      );
    }
  });
}

Deno.test("encodeNotification() refuses an unknown format", () => {
  assert.throws(
    () => encodeNotification(PLAIN_EVENT, "yaml" as "json"),
    /Cannot encode notification: unknown format "yaml"/,
  );
});

// ---------------------------------------------------------------------------------------------
// Example builders
// ---------------------------------------------------------------------------------------------

Deno.test("jsonNotificationExample() is a blocking-task notification by default", () => {
  const event = decodeNotification(jsonNotificationExample());
  assert.deepEqual(
    [event.type, event.entityKind, event.taskName, event.format, event.operationSuccess],
    [BT_CREATE, "blockingTask", "vdcComposeVapp", "json", true],
  );
  assert.match(event.task ?? "", /^urn:vcloud:task:/);
});

Deno.test("xmlNotificationExample() encodes the same event as XML", () => {
  const json = fields(decodeNotification(jsonNotificationExample()));
  const xml = fields(decodeNotification(xmlNotificationExample()));
  assert.deepEqual({ ...xml, format: "json" }, json);
  assert.equal(xml.format, "xml");
});

Deno.test("the example builders apply overrides and drop optional fields set to undefined", () => {
  const message = jsonNotificationExample({
    type: VAPP_CREATE,
    entity: `urn:vcloud:vapp:${ENTITY}`,
    task: undefined,
    taskOwner: undefined,
    taskName: undefined,
  });
  const event = decodeNotification(message);
  assert.deepEqual([event.type, event.entityKind], [VAPP_CREATE, "vapp"]);
  assert.ok(!("task" in event) && !("taskOwner" in event) && !("taskName" in event));
  assert.ok(message.routingKey.endsWith(".vapp.create"));
});

Deno.test("the example builders still validate overrides", () => {
  assert.throws(() => xmlNotificationExample({ entity: "not-a-urn" }), TypeError);
  assert.throws(() => jsonNotificationExample({ eventId: undefined }), TypeError);
});
