/**
 * @module vCD's AMQP broker settings through its REST API, read-only (wire format, section 9):
 * `GET /api/admin/extension/settings/amqp` and vCD's own test of a set of settings,
 * `POST …/settings/amqp/action/test`. Nothing here changes vCD's settings: other extensions
 * share them, so there is no `PUT`. The HTTP client is injected (`VcdClient` satisfies
 * {@linkcode RestClient}); the documents are lib/core/amqp_settings.ts's.
 */

import {
  AMQP_SETTINGS_MEDIA,
  parseAmqpSettings,
  parseAmqpSettingsTest,
  renderAmqpSettings,
  type VcdAmqpSettings,
} from "../core/amqp_settings.ts";
import { VcdError } from "./errors.ts";
import type { RestClient } from "./registrar.ts";

export type { RestClient } from "./registrar.ts";

/** The settings resource. */
export const AMQP_SETTINGS_PATH = "/api/admin/extension/settings/amqp";

/** vCD's test of a set of settings. */
export const AMQP_TEST_PATH = `${AMQP_SETTINGS_PATH}/action/test`;

/**
 * vCD's AMQP settings (a system administrator's session). Rejects with `VcdError` when vCD
 * refuses or does not answer, or when its answer is not XML.
 */
export async function readAmqpSettings(vcd: RestClient): Promise<VcdAmqpSettings> {
  const response = await vcd.request("GET", AMQP_SETTINGS_PATH);
  try {
    return parseAmqpSettings(response.text);
  } catch (e) {
    throw new VcdError(
      `Cannot read vCD's AMQP settings: the answer is not XML (${(e as Error).message})`,
    );
  }
}

/**
 * vCD's verdict on `settings` (sent as given, fields in schema order): its `AmqpSettingsTest`
 * `Valid`, `undefined` when the answer has none. Rejects with `VcdError` when vCD refuses or
 * does not answer. The password in `settings` travels in the body only; vCD's error messages
 * are the caller's to scrub of it.
 */
export async function testAmqpSettings(
  vcd: RestClient,
  settings: VcdAmqpSettings,
): Promise<boolean | undefined> {
  const response = await vcd.request("POST", AMQP_TEST_PATH, {
    body: renderAmqpSettings(settings),
    contentType: AMQP_SETTINGS_MEDIA,
  });
  try {
    return parseAmqpSettingsTest(response.text);
  } catch {
    return undefined;
  }
}
