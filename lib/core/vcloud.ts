/**
 * @module vCloud constants, one home each: XML namespaces, the API version vcdext asks for by
 * default, media-type bases and the default names of the bus objects it shares with vCD.
 */

/** The vCloud API namespace (`Error`, `Link`, `QueryResultRecords`, …). */
export const VCLOUD_NS = "http://www.vmware.com/vcloud/v1.5";

/** The vCloud extension namespace (`vmext:Service`, `vmext:BlockingTask`, notifications). */
export const VMEXT_NS = "http://www.vmware.com/vcloud/extension/v1.5";

/** The vCloud API version vcdext asks for when none is configured (vCD 10.3). */
export const DEFAULT_API_VERSION = "36.0";

/** Base media type of vCloud error documents. */
export const ERROR_MEDIA_BASE = "application/vnd.vmware.vcloud.error";

/** vCD's JSON notification exchange (topic), created by vCD. */
export const DEFAULT_NOTIFICATIONS_EXCHANGE = "vcd.notifications20";

/** The service's own queue for notifications, shared by its instances. */
export const DEFAULT_NOTIFICATIONS_QUEUE = "vcdext.notifications";

/** The direct exchange vCD publishes extension requests to, as vcdext declares it. */
export const DEFAULT_EXCHANGE = "vcdext";

/** The vendor of an extension that names none (vCD's `Vendor`; over MQTT, the triplet's first part). */
export const DEFAULT_VENDOR = "vcdext";

/** The version of an extension that names none (over MQTT, the triplet's third part). */
export const DEFAULT_EXTENSION_VERSION = "1.0.0";
