/**
 * @module The rights of a registered extension service, through its `rel="rights"` link (wire
 * format, section 8): `GET` lists them (`RightReferences`), `POST` of a `Right` document creates
 * one, which vCD names `{namespace}:Name`. {@linkcode serviceRightIds} maps the names to ids for
 * `serve`; {@linkcode ensureServiceRights} creates the missing ones for `register`.
 */

import type { Extension } from "../core/extension.ts";
import { linkHref } from "../core/register.ts";
import { qualifiedRightName, RIGHT_ID_PREFIX, shortRightName } from "../core/rights.ts";
import { VCLOUD_NS } from "../core/vcloud.ts";
import { childrenNamed, el, parseXml, renderXml } from "../core/xml.ts";
import type { RestClient } from "./registrar.ts";

/** Media type of a `Right` document. */
export const RIGHT_MEDIA_TYPE = "application/vnd.vmware.admin.right+xml";

/**
 * The href of a service's rights: its document's `rel="rights"` link, else `<service>/rights`.
 */
export async function rightsHref(client: RestClient, serviceHref: string): Promise<string> {
  const response = await client.request("GET", serviceHref, { expect: [200] });
  try {
    const link = linkHref(parseXml(response.text), "rights");
    if (link !== undefined) return link;
  } catch {
    // An odd document: the conventional path still names the rights.
  }
  return `${serviceHref.replace(/\/+$/, "")}/rights`;
}

/**
 * The service's rights as `{namespace}:Name` → `urn:vcloud:right:<uuid>` (a short name in the
 * list is qualified with `namespace`; an id missing is taken from the right's href).
 */
export async function serviceRightIds(
  client: RestClient,
  href: string,
  namespace: string,
): Promise<Map<string, string>> {
  const response = await client.request("GET", href, { expect: [200] });
  const ids = new Map<string, string>();
  for (const ref of childrenNamed(parseXml(response.text), "RightReference")) {
    const name = ref.attrs.name;
    const id = ref.attrs.id ?? idFromHref(ref.attrs.href);
    if (name !== undefined && id !== undefined) ids.set(qualifiedRightName(namespace, name), id);
  }
  return ids;
}

/** `urn:vcloud:right:<uuid>` from `…/api/admin/right/<uuid>`. */
function idFromHref(href: string | undefined): string | undefined {
  const uuid = href === undefined ? undefined : /\/right\/([^/?#]+)\/?$/.exec(href)?.[1];
  return uuid === undefined ? undefined : `${RIGHT_ID_PREFIX}${uuid}`;
}

/** The `Right` document that creates `name` (short) on a service. */
export function rightDocument(name: string, description: string): string {
  return renderXml(
    el("Right", { xmlns: VCLOUD_NS, name }, el("Description", {}, description)),
  );
}

/**
 * Creates each of `names` (qualified or short) that the service at `href` (its rights link)
 * does not have yet; resolves to the qualified names created. Idempotent: a second run
 * creates nothing.
 */
export async function ensureServiceRights(
  client: RestClient,
  href: string,
  extension: Pick<Extension, "name" | "namespace">,
  names: readonly string[],
): Promise<string[]> {
  const existing = await serviceRightIds(client, href, extension.namespace);
  const created: string[] = [];
  for (const name of new Set(names.map((n) => qualifiedRightName(extension.namespace, n)))) {
    if (existing.has(name)) continue;
    const short = shortRightName(extension.namespace, name);
    await client.request("POST", href, {
      body: rightDocument(short, `Declared by extension ${extension.name}`),
      contentType: RIGHT_MEDIA_TYPE,
      expect: [201, 200],
    });
    created.push(name);
  }
  return created;
}
