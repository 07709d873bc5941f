/**
 * @module vCD's AMQP broker settings as documents (wire format, section 9): the
 * `vmext:AmqpSettings` that `GET /api/admin/extension/settings/amqp` answers and that
 * `POST …/settings/amqp/action/test` takes, and the `vmext:AmqpSettingsTest` the test answers.
 * Decoding is lenient: any root, any namespace or prefix, unknown children ignored, a missing
 * field left `undefined` (a real cell leaves `AmqpPassword` out). Pure: the comparison with
 * vcdext's own broker list is lib/core/amqp_compare.ts.
 */

import { VCLOUD_NS, VMEXT_NS } from "./vcloud.ts";
import { child, el, parseXml, renderXml } from "./xml.ts";

/** The media type of an `AmqpSettings` document. */
export const AMQP_SETTINGS_MEDIA = "application/vnd.vmware.admin.amqpSettings+xml";

/** The media type of an `AmqpSettingsTest` document. */
export const AMQP_SETTINGS_TEST_MEDIA = "application/vnd.vmware.admin.amqpSettingsTest+xml";

/** The fields of `vmext:AmqpSettings`, in schema order. */
export const AMQP_SETTING_FIELDS = [
  "AmqpHost",
  "AmqpPort",
  "AmqpUsername",
  "AmqpPassword",
  "AmqpExchange",
  "AmqpVHost",
  "AmqpUseSSL",
  "AmqpSslAcceptAll",
  "AmqpPrefix",
] as const;

/** One field of `vmext:AmqpSettings`. */
export type AmqpSettingField = (typeof AMQP_SETTING_FIELDS)[number];

/**
 * vCD's AMQP settings as its document gives them: each field's text (trimmed, except the
 * password), absent when vCD left the element out. Kept as text so that the test sends back
 * exactly what vCD returned.
 */
export type VcdAmqpSettings = { readonly [F in AmqpSettingField]?: string };

/**
 * Reads an `AmqpSettings` document leniently: the fields by local name in any namespace,
 * anything else ignored. Throws `XmlError` only when the text is not XML.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAmqpSettings } from "./amqp_settings.ts";
 * const s = parseAmqpSettings(
 *   '<vmext:AmqpSettings xmlns:vmext="http://www.vmware.com/vcloud/extension/v1.5">' +
 *     "<vmext:AmqpHost> rabbit.example </vmext:AmqpHost><vmext:AmqpPort>5672</vmext:AmqpPort>" +
 *     "<vmext:SomethingNew>x</vmext:SomethingNew></vmext:AmqpSettings>",
 * );
 * assert.deepEqual(s, { AmqpHost: "rabbit.example", AmqpPort: "5672" });
 * ```
 */
export function parseAmqpSettings(xml: string): VcdAmqpSettings {
  const root = parseXml(xml);
  const out: { [F in AmqpSettingField]?: string } = {};
  for (const field of AMQP_SETTING_FIELDS) {
    const text = child(root, field)?.text;
    if (text === undefined) continue;
    out[field] = field === "AmqpPassword" ? text : text.trim();
  }
  return out;
}

/**
 * The `AmqpSettings` document to post: the given fields in schema order, absent ones left out.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAmqpSettings, renderAmqpSettings } from "./amqp_settings.ts";
 * const xml = renderAmqpSettings({ AmqpVHost: "/", AmqpHost: "rabbit" });
 * assert.match(xml, /<vmext:AmqpHost>rabbit<\/vmext:AmqpHost><vmext:AmqpVHost>\/</);
 * assert.deepEqual(parseAmqpSettings(xml), { AmqpHost: "rabbit", AmqpVHost: "/" });
 * ```
 */
export function renderAmqpSettings(settings: VcdAmqpSettings): string {
  return renderXml(el(
    "vmext:AmqpSettings",
    { xmlns: VCLOUD_NS, "xmlns:vmext": VMEXT_NS },
    ...AMQP_SETTING_FIELDS.map((f) =>
      settings[f] === undefined ? undefined : el(`vmext:${f}`, {}, settings[f])
    ),
  ));
}

/**
 * vCD's verdict in an `AmqpSettingsTest` document: its `Valid` element, `undefined` when it is
 * missing or neither `true` nor `false` (case and spaces ignored).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAmqpSettingsTest } from "./amqp_settings.ts";
 * assert.equal(parseAmqpSettingsTest("<AmqpSettingsTest><Valid> TRUE </Valid></AmqpSettingsTest>"), true);
 * assert.equal(parseAmqpSettingsTest("<AmqpSettingsTest><Valid>false</Valid></AmqpSettingsTest>"), false);
 * assert.equal(parseAmqpSettingsTest("<AmqpSettingsTest/>"), undefined);
 * ```
 */
export function parseAmqpSettingsTest(xml: string): boolean | undefined {
  return settingBool(child(parseXml(xml), "Valid")?.text);
}

/**
 * A boolean field's value: `true`/`false` (or `1`/`0`), case and spaces ignored; `undefined`
 * for anything else or nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { settingBool } from "./amqp_settings.ts";
 * assert.equal(settingBool("True"), true);
 * assert.equal(settingBool("0"), false);
 * assert.equal(settingBool("yes"), undefined);
 * ```
 */
export function settingBool(text: string | undefined): boolean | undefined {
  const t = text?.trim().toLowerCase();
  return t === "true" || t === "1" ? true : t === "false" || t === "0" ? false : undefined;
}
