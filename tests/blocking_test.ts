import assert from "node:assert/strict";
import {
  actionRequest,
  type BlockingAction,
  type BlockingTask,
  blockingTaskId,
  type Decision,
  parseBlockingTask,
} from "../lib/core/blocking.ts";

const PROLOG = '<?xml version="1.0" encoding="UTF-8"?>';
const VMEXT = "http://www.vmware.com/vcloud/extension/v1.5";
const BASE = "https://vcd.example.com";
const ID = "41aaf964-7452-42e6-9b8d-772e5f8421d8";
const TASK_URL = `${BASE}/api/admin/extension/blockingTask/${ID}`;
const OPERATION = "application/vnd.vmware.admin.blockingTaskOperationParams+xml";
const PROGRESS = "application/vnd.vmware.admin.blockingTaskUpdateProgressOperationParams+xml";

/** Shaped like `GET /api/admin/extension/blockingTask/<id>` on a real cell. */
const DOCUMENT = `<?xml version="1.0" encoding="UTF-8"?>
<vmext:BlockingTask xmlns="http://www.vmware.com/vcloud/v1.5"
    xmlns:vmext="http://www.vmware.com/vcloud/extension/v1.5"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    status="active" timeoutAction="abort"
    timeoutDate="2024-05-15T09:30:12.345+02:00" createdTime="2024-05-14T09:30:12.345+02:00"
    name="vdcComposeVapp" id="urn:vcloud:blockingTask:${ID}"
    href="${TASK_URL}" type="application/vnd.vmware.admin.blockingTask+xml"
    xsi:schemaLocation="http://www.vmware.com/vcloud/extension/v1.5 ${BASE}/api/v1.5/schema/vmwextensions.xsd">
  <Link rel="resume" href="${TASK_URL}/action/resume" type="${OPERATION}"/>
  <Link rel="abort" href="${TASK_URL}/action/abort" type="${OPERATION}"/>
  <Link rel="fail" href="${TASK_URL}/action/fail" type="${OPERATION}"/>
  <Link rel="updateProgress" href="${TASK_URL}/action/updateProgress" type="${PROGRESS}"/>
  <Link rel="up" href="${BASE}/api/task/a56be2f7-2cb4-4561-a7ef-ee2fdd2d3a15" type="application/vnd.vmware.vcloud.task+xml"/>
  <Description>Compose vApp web-01</Description>
  <Organization href="${BASE}/api/org/1a2b3c4d" name="Default" type="application/vnd.vmware.vcloud.org+xml"/>
  <User href="${BASE}/api/admin/user/8b7a6c5d" name="ann" type="application/vnd.vmware.admin.user+xml"/>
  <TaskOwner href="${BASE}/api/vApp/vapp-26839d04" name="web-01" type="application/vnd.vmware.vcloud.vApp+xml"/>
</vmext:BlockingTask>`;

function withoutRaw(task: BlockingTask): Omit<BlockingTask, "raw"> {
  const { raw: _raw, ...rest } = task;
  return rest;
}

/** Asserts `fn` throws `type` with a message that starts with `prefix` and matches `detail`. */
function assertFails(
  fn: () => unknown,
  type: typeof TypeError | typeof SyntaxError | typeof RangeError,
  prefix: string,
  detail: RegExp = /./,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`);
    assert.ok(e.message.startsWith(prefix), e.message);
    assert.match(e.message, detail);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// parseBlockingTask()
// ---------------------------------------------------------------------------------------------

Deno.test("parseBlockingTask() reads a BlockingTask document from a cell", () => {
  const task = parseBlockingTask(DOCUMENT);
  assert.deepEqual(withoutRaw(task), {
    id: ID,
    href: TASK_URL,
    name: "vdcComposeVapp",
    status: "active",
    timeoutAction: "abort",
    timeoutDate: "2024-05-15T09:30:12.345+02:00",
    createdTime: "2024-05-14T09:30:12.345+02:00",
    operation: "vdcComposeVapp",
    links: [
      { rel: "resume", href: `${TASK_URL}/action/resume`, type: OPERATION },
      { rel: "abort", href: `${TASK_URL}/action/abort`, type: OPERATION },
      { rel: "fail", href: `${TASK_URL}/action/fail`, type: OPERATION },
      { rel: "updateProgress", href: `${TASK_URL}/action/updateProgress`, type: PROGRESS },
      {
        rel: "up",
        href: `${BASE}/api/task/a56be2f7-2cb4-4561-a7ef-ee2fdd2d3a15`,
        type: "application/vnd.vmware.vcloud.task+xml",
      },
    ],
    owner: {
      name: "web-01",
      href: `${BASE}/api/vApp/vapp-26839d04`,
      type: "application/vnd.vmware.vcloud.vApp+xml",
    },
    user: {
      name: "ann",
      href: `${BASE}/api/admin/user/8b7a6c5d`,
      type: "application/vnd.vmware.admin.user+xml",
    },
    organization: {
      name: "Default",
      href: `${BASE}/api/org/1a2b3c4d`,
      type: "application/vnd.vmware.vcloud.org+xml",
    },
  });
  assert.equal(task.raw.name, "BlockingTask");
  assert.equal(task.raw.ns, VMEXT);
});

Deno.test("parseBlockingTask() leaves missing optional parts out", () => {
  const task = parseBlockingTask(`<BlockingTask id="urn:vcloud:blockingTask:${ID}"/>`);
  assert.deepEqual(withoutRaw(task), { id: ID, links: [] });
});

Deno.test("parseBlockingTask() ignores unknown attributes and children", () => {
  const task = parseBlockingTask(
    `<BlockingTask id="${ID}" colour="red" status="active"><Extra a="1"><Link rel="x" href="y"/></Extra></BlockingTask>`,
  );
  assert.deepEqual(withoutRaw(task), { id: ID, status: "active", links: [] });
});

Deno.test("parseBlockingTask() prefers operationName, then operation, then name", () => {
  const doc = (attrs: string) => `<BlockingTask id="${ID}" ${attrs}/>`;
  assert.equal(
    parseBlockingTask(doc('name="n" operation="o" operationName="on"')).operation,
    "on",
  );
  assert.equal(parseBlockingTask(doc('name="n" operation="o"')).operation, "o");
  assert.equal(parseBlockingTask(doc('name="n"')).operation, "n");
});

Deno.test("parseBlockingTask() accepts Owner where TaskOwner is expected", () => {
  const task = parseBlockingTask(
    `<BlockingTask id="${ID}"><Owner name="vm-1" id="urn:vcloud:vm:1"/></BlockingTask>`,
  );
  assert.deepEqual(task.owner, { name: "vm-1", id: "urn:vcloud:vm:1" });
});

Deno.test("parseBlockingTask() takes the id from the href when the id attribute is missing", () => {
  const task = parseBlockingTask(`<BlockingTask href="${TASK_URL}"/>`);
  assert.equal(task.id, ID);
});

Deno.test("parseBlockingTask() takes the id from the href when the id attribute is unusable", () => {
  const task = parseBlockingTask(`<BlockingTask id="urn:vcloud:task:x" href="${TASK_URL}/"/>`);
  assert.equal(task.id, ID);
});

Deno.test("parseBlockingTask() skips links without a rel or an href", () => {
  const task = parseBlockingTask(
    `<BlockingTask id="${ID}"><Link rel="resume"/><Link href="h"/><Link rel=" " href="h"/>` +
      '<Link rel="abort" href="https://h/abort"/></BlockingTask>',
  );
  assert.deepEqual(task.links, [{ rel: "abort", href: "https://h/abort" }]);
});

Deno.test("parseBlockingTask() decodes entities in attribute values", () => {
  const task = parseBlockingTask(
    `<BlockingTask id="${ID}"><User name="Ann &amp; Bob"/></BlockingTask>`,
  );
  assert.equal(task.user?.name, "Ann & Bob");
});

const JUNK: readonly [string, string, RegExp][] = [
  ["text that is not XML", "not xml at all", /Cannot parse XML: /],
  ["an empty document", "", /the document is empty/],
  ["an unclosed element", "<BlockingTask>", /Cannot parse XML: /],
  ["a DOCTYPE", '<!DOCTYPE b [<!ENTITY x "y">]><BlockingTask id="1"/>', /DOCTYPE/],
  [
    "a vCloud Error document",
    '<Error xmlns="http://www.vmware.com/vcloud/v1.5" majorErrorCode="404" minorErrorCode="NOT_FOUND" message="no"/>',
    /the document is <Error>, not <BlockingTask>$/,
  ],
  ["a task without id or href", '<BlockingTask status="active"/>', /no usable id or href$/],
  ["a task whose id is junk", '<BlockingTask id="../../admin"/>', /no usable id or href$/],
];

for (const [what, xml, detail] of JUNK) {
  Deno.test(`parseBlockingTask() throws a clear SyntaxError for ${what}`, () => {
    assertFails(() => parseBlockingTask(xml), SyntaxError, "Cannot parse blocking task: ", detail);
  });
}

Deno.test("parseBlockingTask() keeps the XML error as the cause", () => {
  try {
    parseBlockingTask("<a>");
    assert.fail("no error");
  } catch (e) {
    assert.ok(e instanceof SyntaxError);
    assert.equal((e.cause as Error).name, "XmlError");
  }
});

// ---------------------------------------------------------------------------------------------
// blockingTaskId()
// ---------------------------------------------------------------------------------------------

const IDS: readonly [string, string][] = [
  [`urn:vcloud:blockingTask:${ID}`, ID],
  [`URN:VCLOUD:BLOCKINGTASK:${ID}`, ID],
  [`urn:vcloud:blockingtask:${ID}`, ID],
  [ID, ID],
  [` ${ID} `, ID],
  ["25", "25"],
  [TASK_URL, ID],
  [`${TASK_URL}/`, ID],
];

for (const [input, want] of IDS) {
  Deno.test(`blockingTaskId(${JSON.stringify(input)}) is ${want}`, () => {
    assert.equal(blockingTaskId(input), want);
  });
}

const BAD_IDS: readonly string[] = [
  "",
  "   ",
  `urn:vcloud:vapp:${ID}`,
  "urn:vcloud:blockingTask:",
  "../admin",
  "a/b",
  "a?b",
  "a b",
  "-leading-dash",
];

for (const input of BAD_IDS) {
  Deno.test(`blockingTaskId() refuses ${JSON.stringify(input)}`, () => {
    assertFails(() => blockingTaskId(input), TypeError, "Cannot read blocking task id");
  });
}

// ---------------------------------------------------------------------------------------------
// actionRequest()
// ---------------------------------------------------------------------------------------------

const ACTIONS: readonly {
  readonly decision: Decision;
  readonly contentType: string;
  readonly body: string;
  readonly expect: number;
}[] = [
  {
    decision: { action: "resume", message: "approved by ops" },
    contentType: OPERATION,
    body: `${PROLOG}<vmext:BlockingTaskOperationParams xmlns:vmext="${VMEXT}">` +
      "<vmext:Message>approved by ops</vmext:Message></vmext:BlockingTaskOperationParams>",
    expect: 204,
  },
  {
    decision: { action: "abort", message: "quota exceeded" },
    contentType: OPERATION,
    body: `${PROLOG}<vmext:BlockingTaskOperationParams xmlns:vmext="${VMEXT}">` +
      "<vmext:Message>quota exceeded</vmext:Message></vmext:BlockingTaskOperationParams>",
    expect: 204,
  },
  {
    decision: { action: "fail", message: "ticket rejected" },
    contentType: OPERATION,
    body: `${PROLOG}<vmext:BlockingTaskOperationParams xmlns:vmext="${VMEXT}">` +
      "<vmext:Message>ticket rejected</vmext:Message></vmext:BlockingTaskOperationParams>",
    expect: 204,
  },
  {
    decision: { action: "updateProgress", message: "waiting for approval", timeoutMs: 600000 },
    contentType: PROGRESS,
    body: `${PROLOG}<vmext:BlockingTaskUpdateProgressParams xmlns:vmext="${VMEXT}">` +
      "<vmext:Message>waiting for approval</vmext:Message>" +
      "<vmext:TimeoutValueInMilliseconds>600000</vmext:TimeoutValueInMilliseconds>" +
      "</vmext:BlockingTaskUpdateProgressParams>",
    expect: 200,
  },
  {
    decision: { action: "updateProgress", message: "still waiting" },
    contentType: PROGRESS,
    body: `${PROLOG}<vmext:BlockingTaskUpdateProgressParams xmlns:vmext="${VMEXT}">` +
      "<vmext:Message>still waiting</vmext:Message></vmext:BlockingTaskUpdateProgressParams>",
    expect: 200,
  },
];

for (const c of ACTIONS) {
  const label = `${c.decision.action}${"timeoutMs" in c.decision ? " with a timeout" : ""}`;

  Deno.test(`actionRequest() builds the exact ${label} request from the task's link`, () => {
    // A proxy prefix the base URL does not have: the link is followed, not rebuilt.
    const task = parseBlockingTask(DOCUMENT.replaceAll(`${BASE}/api/`, `${BASE}/cloud/api/`));
    assert.deepEqual(actionRequest(task, c.decision, BASE), {
      method: "POST",
      url: `${BASE}/cloud/api/admin/extension/blockingTask/${ID}/action/${c.decision.action}`,
      contentType: c.contentType,
      body: c.body,
      expect: c.expect,
    });
  });

  Deno.test(`actionRequest() builds the ${label} URL itself when the task has no link`, () => {
    const req = actionRequest({ id: ID, links: [] }, c.decision, BASE);
    assert.equal(req.url, `${TASK_URL}/action/${c.decision.action}`);
    assert.equal(req.body, c.body);
    assert.equal(req.contentType, c.contentType);
  });
}

const PROXIED = `${BASE}/cloud/api/admin/extension/blockingTask/${ID}/action`;

Deno.test("actionRequest() matches link rels ignoring case", () => {
  const links = [{ rel: "UpdateProgress", href: `${PROXIED}/updateProgress` }];
  const req = actionRequest({ id: ID, links }, { action: "updateProgress", message: "m" }, BASE);
  assert.equal(req.url, `${PROXIED}/updateProgress`);
  assert.equal("ignoredLink" in req, false);
});

Deno.test("actionRequest() does not follow a link for another action", () => {
  const links = [{ rel: "abort", href: `${PROXIED}/abort` }];
  const req = actionRequest({ id: ID, links }, { action: "resume", message: "m" }, BASE);
  assert.equal(req.url, `${TASK_URL}/action/resume`);
});

Deno.test("actionRequest() resolves a relative link against the base URL", () => {
  const links = [{
    rel: "resume",
    href: `/cloud/api/admin/extension/blockingTask/${ID}/action/resume`,
  }];
  const req = actionRequest({ id: ID, links }, { action: "resume", message: "m" }, BASE);
  assert.equal(req.url, `${PROXIED}/resume`);
});

Deno.test("actionRequest() never follows a link to another host", () => {
  const path = `/api/admin/extension/blockingTask/${ID}/action/resume`;
  for (
    const href of [
      "https://evil.example.net/steal",
      `https://evil.example.net${path}`,
      `http://vcd.example.com${path}`,
      `https://vcd.example.com:8443${path}`,
      `https://user:pw@vcd.example.com${path}`,
      "javascript:alert(1)",
      `//evil.example.net${path}`,
    ]
  ) {
    const links = [{ rel: "resume", href }];
    const req = actionRequest({ id: ID, links }, { action: "resume", message: "m" }, BASE);
    assert.equal(req.url, `${TASK_URL}/action/resume`, href);
    assert.equal(req.ignoredLink, href);
  }
});

Deno.test("actionRequest() follows a link only to the task's own action endpoint on the cell", () => {
  const OTHER_ID = "00000000-0000-4000-8000-000000000001";
  for (
    const href of [
      // Other admin APIs on the same origin, which the admin session would otherwise reach.
      `${BASE}/api/admin/extension/service`,
      `${BASE}/api/admin/user/1234/action/unlock`,
      `${BASE}/api/linked/${ID}/resume`,
      `${BASE}/cloudapi/1.0.0/sessions/provider`,
      // Another task's action, and the right one with the wrong action.
      `${BASE}/api/admin/extension/blockingTask/${OTHER_ID}/action/resume`,
      `${TASK_URL}/action/abort`,
      `${TASK_URL}/action/resume/more`,
      `${TASK_URL}x/action/resume`,
      // Tricks that must not pass as the endpoint.
      `${TASK_URL}/action/resume?next=/api/admin/user`,
      `${TASK_URL}/action/resume#frag`,
      `${BASE}/api/admin/user/1/../../extension/blockingTask/${OTHER_ID}/action/resume`,
      `${BASE}/api/admin/extension/blockingTask/${ID}%2Faction%2Fresume`,
    ]
  ) {
    const links = [{ rel: "resume", href }];
    const req = actionRequest({ id: ID, links }, { action: "resume", message: "m" }, BASE);
    assert.equal(req.url, `${TASK_URL}/action/resume`, href);
    assert.equal(req.ignoredLink, href);
  }
  // Dot segments that resolve to the task's own endpoint are the endpoint.
  const dotted = `${BASE}/api/x/../admin/extension/blockingTask/${ID}/action/resume`;
  const req = actionRequest({ id: ID, links: [{ rel: "resume", href: dotted }] }, {
    action: "resume",
    message: "m",
  }, BASE);
  assert.equal(req.url, `${TASK_URL}/action/resume`);
  assert.equal("ignoredLink" in req, false);
});

Deno.test("actionRequest() keeps the base URL's path and drops its trailing slash", () => {
  const req = actionRequest(
    { id: ID, links: [] },
    { action: "fail", message: "m" },
    `${BASE}/cloud/`,
  );
  assert.equal(req.url, `${BASE}/cloud/api/admin/extension/blockingTask/${ID}/action/fail`);
});

Deno.test("actionRequest() takes the id from a blocking-task URN", () => {
  const req = actionRequest(
    { id: `urn:vcloud:blockingTask:${ID}`, links: [] },
    { action: "abort", message: "m" },
    BASE,
  );
  assert.equal(req.url, `${TASK_URL}/action/abort`);
});

Deno.test("actionRequest() escapes the message", () => {
  const message = `Tom & Jerry's <b>"quota"</b>\r\nnext line`;
  const req = actionRequest({ id: ID, links: [] }, { action: "abort", message }, BASE);
  assert.ok(
    req.body.includes(
      "<vmext:Message>Tom &amp; Jerry&apos;s &lt;b&gt;&quot;quota&quot;&lt;/b&gt;&#13;\nnext line</vmext:Message>",
    ),
    req.body,
  );
});

Deno.test("actionRequest() sets Accept only when given an API version", () => {
  const decision: Decision = { action: "resume", message: "m" };
  assert.equal("accept" in actionRequest({ id: ID, links: [] }, decision, BASE), false);
  const req = actionRequest({ id: ID, links: [] }, decision, BASE, { apiVersion: "36.0" });
  assert.equal(req.accept, "application/*+xml;version=36.0");
});

Deno.test("actionRequest() accepts a zero timeout", () => {
  const req = actionRequest(
    { id: ID, links: [] },
    { action: "updateProgress", message: "m", timeoutMs: 0 },
    BASE,
  );
  assert.ok(req.body.includes("<vmext:TimeoutValueInMilliseconds>0</"));
});

for (const message of ["", "   ", "\n\t"]) {
  Deno.test(`actionRequest() rejects the message ${JSON.stringify(message)}`, () => {
    for (const action of ["resume", "abort", "fail", "updateProgress"] as BlockingAction[]) {
      assertFails(
        () => actionRequest({ id: ID, links: [] }, { action, message } as Decision, BASE),
        TypeError,
        "Cannot build blocking task action: ",
        /a message is required/,
      );
    }
  });
}

Deno.test("actionRequest() rejects a message that is not a string", () => {
  const decision = { action: "resume", message: 42 } as unknown as Decision;
  assertFails(
    () => actionRequest({ id: ID, links: [] }, decision, BASE),
    TypeError,
    "Cannot build",
  );
});

Deno.test("actionRequest() rejects an unknown action", () => {
  for (const action of ["approve", "Resume", "", undefined]) {
    const decision = { action, message: "m" } as unknown as Decision;
    assertFails(
      () => actionRequest({ id: ID, links: [] }, decision, BASE),
      TypeError,
      "Cannot build blocking task action: unknown action",
    );
  }
});

for (const timeoutMs of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) {
  Deno.test(`actionRequest() rejects timeoutMs ${timeoutMs}`, () => {
    assertFails(
      () =>
        actionRequest(
          { id: ID, links: [] },
          { action: "updateProgress", message: "m", timeoutMs },
          BASE,
        ),
      RangeError,
      "Cannot build blocking task action: timeoutMs",
    );
  });
}

for (
  const base of [
    "",
    "vcd.example.com",
    "ftp://vcd.example.com",
    `${BASE}/?x=1`,
    `${BASE}/#f`,
    "https://u:p@vcd.example.com",
  ]
) {
  Deno.test(`actionRequest() rejects the base URL ${JSON.stringify(base)}`, () => {
    assertFails(
      () => actionRequest({ id: ID, links: [] }, { action: "resume", message: "m" }, base),
      TypeError,
      "Cannot build blocking task action: base URL",
    );
  });
}

Deno.test("actionRequest() rejects an API version that could inject a header value", () => {
  assertFails(
    () =>
      actionRequest({ id: ID, links: [] }, { action: "resume", message: "m" }, BASE, {
        apiVersion: "36.0\r\nX-Evil: 1",
      }),
    TypeError,
    "Cannot build blocking task action: API version",
  );
});

Deno.test("actionRequest() rejects a task id that could change the URL path", () => {
  assertFails(
    () =>
      actionRequest({ id: "../../sessions", links: [] }, { action: "resume", message: "m" }, BASE),
    TypeError,
    "Cannot read blocking task id",
  );
});
