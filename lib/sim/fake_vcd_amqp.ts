/**
 * @module The fake vCD's AMQP broker settings: `GET /api/admin/extension/settings/amqp` answers
 * the configured `vmext:AmqpSettings` (without `AmqpPassword`, as a real cell, unless
 * `returnPassword`), `POST …/settings/amqp/action/test` parses the posted settings, records
 * them and answers an `AmqpSettingsTest` whose `Valid` follows the configured rule, and a
 * `PUT` is refused 405: nothing here may change the settings (tests assert none was tried).
 */

import {
  AMQP_SETTING_FIELDS,
  AMQP_SETTINGS_MEDIA,
  AMQP_SETTINGS_TEST_MEDIA,
  parseAmqpSettings,
  type VcdAmqpSettings,
} from "../core/amqp_settings.ts";
import { VCLOUD_NS, VMEXT_NS } from "../core/vcloud.ts";
import { el, parseXml, renderXml } from "../core/xml.ts";
import type { FakeVcdState } from "./fake_vcd_state.ts";
import { checkType, errorReply, Reply, respond } from "./fake_vcd_wire.ts";

/** The settings resource; its test is `…/action/test`. */
export const FAKE_AMQP_PATH = "/api/admin/extension/settings/amqp";

/** How the fake's AMQP settings behave (option `amqp` of `startFakeVcd`). */
export interface FakeAmqpOptions {
  /** The settings `GET` answers. Default: the local broker, `guest`, vhost `/`, prefix `vcd`. */
  readonly settings?: VcdAmqpSettings;
  /** Answer `AmqpPassword` too (a real cell leaves it out). Default `false`. */
  readonly returnPassword?: boolean;
  /** `Valid` of every test, or a rule over the posted settings. Default `true`. */
  readonly valid?: boolean | ((posted: VcdAmqpSettings) => boolean | Promise<boolean>);
}

/** The settings of a fake started without any. */
export const DEFAULT_FAKE_AMQP: VcdAmqpSettings = {
  AmqpHost: "127.0.0.1",
  AmqpPort: "5672",
  AmqpUsername: "guest",
  AmqpExchange: "systemExchange",
  AmqpVHost: "/",
  AmqpUseSSL: "false",
  AmqpSslAcceptAll: "false",
  AmqpPrefix: "vcd",
};

/** The `GET` answer: the settings in schema order, with `href`, `type` and a link. */
function settingsDocument(state: FakeVcdState): string {
  const all = state.amqp.settings ?? DEFAULT_FAKE_AMQP;
  const href = `${state.base}${FAKE_AMQP_PATH}`;
  return renderXml(el(
    "vmext:AmqpSettings",
    { xmlns: VCLOUD_NS, "xmlns:vmext": VMEXT_NS, type: AMQP_SETTINGS_MEDIA, href },
    el("Link", { rel: "test", href: `${href}/action/test`, type: AMQP_SETTINGS_MEDIA }),
    ...AMQP_SETTING_FIELDS.map((f) =>
      all[f] === undefined || (f === "AmqpPassword" && !state.amqp.returnPassword)
        ? undefined
        : el(`vmext:${f}`, {}, all[f])
    ),
  ));
}

/**
 * Answers a request under {@linkcode FAKE_AMQP_PATH} (`rest` is the path after it); a
 * {@linkcode Reply} becomes a vCloud `Error` document here, the route being asynchronous.
 */
export function amqpRoute(
  state: FakeVcdState,
  req: Request,
  rest: string,
  body: string,
  version: string,
): Promise<Response> {
  return answer(state, req, rest, body, version).catch((e) => {
    if (e instanceof Reply) return errorReply(e, version);
    throw e;
  });
}

async function answer(
  state: FakeVcdState,
  req: Request,
  rest: string,
  body: string,
  version: string,
): Promise<Response> {
  if (rest === "") {
    if (req.method !== "GET") throw new Reply(405, "METHOD_NOT_ALLOWED", `${req.method} refused`);
    return respond(200, version, AMQP_SETTINGS_MEDIA, settingsDocument(state));
  }
  if (rest !== "/action/test") throw new Reply(404, "NOT_FOUND", `No resource at ${rest}`);
  if (req.method !== "POST") throw new Reply(405, "METHOD_NOT_ALLOWED", "use POST");
  checkType(req, AMQP_SETTINGS_MEDIA);
  let posted: VcdAmqpSettings;
  try {
    if (parseXml(body).name !== "AmqpSettings") throw new Error("expected AmqpSettings");
    posted = parseAmqpSettings(body);
  } catch (e) {
    throw new Reply(400, "BAD_REQUEST", `Bad AmqpSettings: ${(e as Error).message}`);
  }
  state.amqpTests.push(posted);
  const rule = state.amqp.valid ?? true;
  let valid: boolean;
  try {
    valid = typeof rule === "boolean" ? rule : await rule(posted);
  } catch (e) {
    throw new Reply(500, "INTERNAL_SERVER_ERROR", (e as Error).message);
  }
  return respond(
    200,
    version,
    AMQP_SETTINGS_TEST_MEDIA,
    renderXml(el(
      "vmext:AmqpSettingsTest",
      { xmlns: VCLOUD_NS, "xmlns:vmext": VMEXT_NS, type: AMQP_SETTINGS_TEST_MEDIA },
      el("vmext:Valid", {}, valid),
    )),
  );
}
