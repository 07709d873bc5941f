/**
 * @module A small client for vCD's REST API (`/api`), as a system administrator: basic-auth
 * login to a session token, lazy re-login on 401, bounded retries with jittered backoff on
 * 5xx and network errors, per-request timeouts, and errors whose messages never carry a
 * credential. One of the few adapter modules that touch the network and the clock.
 *
 * Beside it, one job each: `errors.ts` (`VcdError`, `parseVcdError`), `session.ts` (login and
 * session headers), `backoff.ts` (the retry wait, `backoffDelay`), `plain_http.ts` (the refusal
 * of `http://`, `PlainHttpRefused`) and `gateway.ts` (`blockingTaskGateway`); this module
 * re-exports the errors, the backoff, the refusal and the gateway for its importers.
 */

import { DEFAULT_API_VERSION } from "../core/vcloud.ts";
import { type Logger, silentLogger } from "../observability/log.ts";
import { scrub } from "../core/redact.ts";
import { backoffDelay, sleepFor } from "./backoff.ts";
import { isTimeout, parseVcdError, reasonOf, shorten, VcdError } from "./errors.ts";
import { refusePlainHttp } from "./plain_http.ts";
import { basicAuth, bearerSession, type Session, sessionOfLogin } from "./session.ts";

export { backoffDelay } from "./backoff.ts";
export { parseVcdError, VcdError, type VcdErrorOptions } from "./errors.ts";
export { blockingTaskGateway } from "./gateway.ts";
export { PLAIN_HTTP_CLI_MESSAGE, PlainHttpRefused, refusePlainHttp } from "./plain_http.ts";

/** Options of {@linkcode VcdClient}. */
export interface VcdClientOptions {
  /** The cell's base URL without `/api`, e.g. `https://vcd.example.com`. */
  readonly baseUrl: string;
  /**
   * vCD API version sent as `Accept: application/*+xml;version=<v>`. Default
   * `DEFAULT_API_VERSION` of `core/vcloud.ts` (`"36.0"`).
   */
  readonly apiVersion?: string;
  /**
   * Basic-auth login (`POST /api/sessions`). `user` is `name@org`, e.g.
   * `administrator@System`; `@System` is appended when no organisation is given.
   */
  readonly credentials?: { readonly user: string; readonly password: string };
  /** A bearer token to use instead of logging in (sent as `Authorization: Bearer`). */
  readonly token?: string;
  /** An extra trusted CA (PEM text; the caller reads the file). Default: system roots only. */
  readonly caCertPem?: string;
  /**
   * Declares that TLS verification is skipped. Deno 2.9 cannot do this per client
   * (`Deno.createHttpClient` has no such option), only for the whole process with
   * `--unsafely-ignore-certificate-errors=<host>`. This flag only makes the client warn at
   * construction and name that Deno flag when a certificate is refused. Default `false`.
   */
  readonly insecure?: boolean;
  /**
   * Permits an `http://` base URL. Off by default: over plain HTTP the Basic-auth password and
   * every session token travel in clear, so it must be asked for (`--vcd-allow-http`), never
   * implied, not even for loopback. When on, the client warns once at construction. Without
   * it an `http://` base URL throws `PlainHttpRefused` (a `TypeError`; see `plain_http.ts`).
   */
  readonly allowHttp?: boolean;
  /** Timeout of each attempt in milliseconds, body included. Default `10_000`. */
  readonly timeoutMs?: number;
  /** Retries after a 5xx or a network error (timeouts included). Default `3`. */
  readonly retries?: number;
  /** Where request lines go (method, path, status, attempt, ms). Default: nowhere. */
  readonly log?: Logger;
  /** Waits between retries; injectable for tests. Default: `setTimeout`. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Options of {@linkcode VcdClient.request}. */
export interface VcdRequestInit {
  /** The request body (XML or JSON text). */
  readonly body?: string;
  /** Its `Content-Type`, e.g. `application/vnd.vmware.admin.service+xml`. */
  readonly contentType?: string;
  /** The `Accept` header. Default `application/*+xml;version=<apiVersion>`. */
  readonly accept?: string;
  /** Statuses that count as success. Default: any 2xx. */
  readonly expect?: readonly number[];
}

/** What {@linkcode VcdClient.request} resolves to: the status, headers and body text. */
export interface VcdResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/**
 * A vCD REST client. Logs in lazily on the first request (or uses the given bearer token),
 * sends `Accept: application/*+xml;version=<v>` and the session header on every request,
 * logs in again once when a request is answered 401, retries 5xx and network errors with
 * {@linkcode backoffDelay}, and turns anything else unexpected into a {@linkcode VcdError}.
 * Redirects are not followed (a redirect could carry the session header to another host);
 * absolute URLs (`Link` hrefs) must be on the base URL's origin. Construction does no I/O.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { VcdClient, VcdError } from "./client.ts";
 * const vcd = new VcdClient({ baseUrl: "https://vcd.example.com/", token: "t0k3n-value" });
 * // A Link href to another host is refused before anything is sent.
 * await assert.rejects(vcd.request("GET", "https://elsewhere.example/api/task/1"), VcdError);
 * vcd.close();
 * ```
 */
export class VcdClient {
  readonly #base: URL;
  /** The base URL's path without a trailing slash or `/api`: `""` or e.g. `"/vcd"`. */
  readonly #basePath: string;
  readonly #apiVersion: string;
  readonly #credentials: { readonly user: string; readonly password: string } | undefined;
  readonly #insecure: boolean;
  readonly #timeoutMs: number;
  readonly #retries: number;
  readonly #log: Logger;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #client: Deno.HttpClient | undefined;
  #session: Session | undefined;
  #login: Promise<Session> | undefined;
  #closed = false;

  constructor(options: VcdClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch (cause) {
      throw new TypeError("Cannot create the vCD client: baseUrl is not a URL", { cause });
    }
    if (base.protocol !== "https:" && base.protocol !== "http:") {
      throw new TypeError("Cannot create the vCD client: baseUrl must be http(s)");
    }
    if (base.username !== "" || base.password !== "") {
      throw new TypeError(
        "Cannot create the vCD client: put credentials in options, not in baseUrl",
      );
    }
    refusePlainHttp(base, options.allowHttp);
    if (options.credentials === undefined && options.token === undefined) {
      throw new TypeError("Cannot create the vCD client: give credentials or a token");
    }
    const timeoutMs = options.timeoutMs ?? 10_000;
    const retries = options.retries ?? 3;
    if (!(timeoutMs > 0) || !Number.isInteger(retries) || retries < 0) {
      throw new RangeError(
        "Cannot create the vCD client: timeoutMs must be > 0 and retries an integer >= 0",
      );
    }
    this.#base = base;
    this.#basePath = base.pathname.replace(/\/+$/, "").replace(/\/api$/, "");
    this.#apiVersion = options.apiVersion ?? DEFAULT_API_VERSION;
    this.#credentials = options.credentials;
    this.#insecure = options.insecure ?? false;
    this.#timeoutMs = timeoutMs;
    this.#retries = retries;
    this.#log = (options.log ?? silentLogger).child({ component: "vcd" });
    this.#sleep = options.sleep ?? sleepFor;
    this.#client = options.caCertPem === undefined
      ? undefined
      : Deno.createHttpClient({ caCerts: [options.caCertPem] });
    if (base.protocol === "http:") {
      this.#log.warn(
        { host: base.hostname },
        "vcd over plain http: the password and session tokens are sent unencrypted",
      );
    }
    if (this.#insecure) {
      this.#log.warn(
        { host: base.hostname },
        "vcd insecure: TLS is verified unless Deno runs with --unsafely-ignore-certificate-errors",
      );
    }
    if (options.token !== undefined) {
      this.#session = bearerSession(options.token);
    }
  }

  /** The default `Accept` value, `application/*+xml;version=<apiVersion>`. */
  get accept(): string {
    return `application/*+xml;version=${this.#apiVersion}`;
  }

  /**
   * Logs in with the configured credentials (`POST /api/sessions`, Basic auth) and keeps the
   * token from `x-vcloud-authorization`, or from `X-VMWARE-VCLOUD-ACCESS-TOKEN` (then sent as
   * `Authorization: Bearer`). Concurrent callers share one login. Throws {@linkcode VcdError}
   * (401 on wrong credentials) and `TypeError` when the client has no credentials.
   */
  async login(): Promise<void> {
    await this.#newSession(this.#session);
  }

  /**
   * Sends a request to a path (`/api/...`) or an absolute URL on the cell (a `Link` href)
   * and returns the status, headers and body text. Logs in first when needed; on a 401 logs
   * in again once and repeats the request; retries 5xx and network errors up to `retries`
   * times. Throws {@linkcode VcdError} for a status outside `expect` (default: any 2xx),
   * with vCD's `Error` message when it sent one, and when vCD does not answer.
   */
  async request(
    method: string,
    pathOrUrl: string,
    init: VcdRequestInit = {},
  ): Promise<VcdResponse> {
    const url = this.#resolve(method, pathOrUrl);
    let session = this.#session ?? await this.#newSession(undefined);
    let response = await this.#send(method, url, init, session);
    if (response.status === 401 && this.#credentials !== undefined) {
      session = await this.#newSession(session);
      response = await this.#send(method, url, init, session);
    }
    const ok = init.expect === undefined
      ? response.status >= 200 && response.status < 300
      : init.expect.includes(response.status);
    if (!ok) throw this.#statusError(`Cannot ${method} ${url.pathname}`, response, session);
    return response;
  }

  /** Closes the HTTP client created for `caCertPem`, if any; calling it again does nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#client?.close();
  }

  /** Closes the client at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.close();
  }

  #resolve(method: string, pathOrUrl: string): URL {
    if (/^[a-z][a-z0-9+.-]*:/i.test(pathOrUrl)) {
      let url: URL;
      try {
        url = new URL(pathOrUrl);
      } catch (cause) {
        throw new VcdError(`Cannot ${method} ${shorten(pathOrUrl)}: not a URL`, { cause });
      }
      if (url.origin !== this.#base.origin) {
        throw new VcdError(
          `Cannot ${method} ${url.origin}${url.pathname}: not on the vCD origin ${this.#base.origin}`,
        );
      }
      return url;
    }
    const path = pathOrUrl.startsWith("/") ? pathOrUrl : `/${pathOrUrl}`;
    return new URL(`${this.#base.origin}${this.#basePath}${path}`);
  }

  /** Starts (or joins) a login unless the session changed since `stale` was in use. */
  #newSession(stale: Session | undefined): Promise<Session> {
    if (this.#session !== undefined && this.#session !== stale) {
      return Promise.resolve(this.#session);
    }
    this.#session = undefined;
    this.#login ??= this.#doLogin().finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  async #doLogin(): Promise<Session> {
    const credentials = this.#credentials;
    if (credentials === undefined) {
      throw new TypeError("Cannot log in to vCD: the client was given a token, not credentials");
    }
    const basic = basicAuth(credentials.user, credentials.password);
    const url = new URL(`${this.#base.origin}${this.#basePath}/api/sessions`);
    const secrets = [credentials.password, basic];
    const response = await this.#send("POST", url, {}, {
      header: "authorization",
      value: basic,
      token: credentials.password,
    });
    if (response.status !== 200 && response.status !== 201) {
      throw this.#statusError("Cannot log in to vCD", response, undefined, secrets);
    }
    const session = sessionOfLogin(response.headers);
    if (session === undefined) {
      throw new VcdError(
        `Cannot log in to vCD: ${url.pathname} answered ${response.status} without a session token`,
        { status: response.status },
      );
    }
    this.#session = session;
    this.#log.info({ method: "POST", path: url.pathname, status: response.status }, "vcd login");
    return session;
  }

  /** One request with retries on 5xx and network errors; returns the last response. */
  async #send(
    method: string,
    url: URL,
    init: VcdRequestInit,
    session: Session,
  ): Promise<VcdResponse> {
    const path = url.pathname;
    const headers = new Headers({ accept: init.accept ?? this.accept });
    headers.set(session.header, session.value);
    if (init.contentType !== undefined) headers.set("content-type", init.contentType);
    for (let attempt = 1;; attempt++) {
      const started = performance.now();
      let response: VcdResponse | undefined;
      let failure: unknown;
      try {
        const signal = AbortSignal.timeout(this.#timeoutMs);
        const fetched = await fetch(url, {
          method,
          headers,
          body: init.body ?? null,
          redirect: "manual",
          signal,
          ...(this.#client === undefined ? {} : { client: this.#client }),
        });
        response = { status: fetched.status, headers: fetched.headers, text: await fetched.text() };
      } catch (error) {
        failure = error;
      }
      const ms = Math.round(performance.now() - started);
      const retry = attempt <= this.#retries &&
        (response === undefined || response.status >= 500);
      if (response !== undefined) {
        const fields = { method, path, status: response.status, attempt, ms };
        if (retry) this.#log.warn(fields, "vcd request failed, retrying");
        else this.#log.debug(fields, "vcd request");
      } else {
        const error = isTimeout(failure) ? "timeout" : "network";
        this.#log.warn(
          { method, path, error, attempt, ms },
          retry ? "vcd request failed, retrying" : "vcd request failed",
        );
      }
      if (!retry) {
        if (response !== undefined) return response;
        throw this.#networkError(method, path, failure, session);
      }
      await this.#sleep(backoffDelay(attempt - 1));
    }
  }

  #networkError(method: string, path: string, failure: unknown, session: Session): VcdError {
    const secrets = this.#secrets(session);
    if (isTimeout(failure)) {
      return new VcdError(
        `Cannot ${method} ${path}: vCD did not answer within ${this.#timeoutMs} ms`,
        { cause: failure },
      );
    }
    const reason = reasonOf(failure);
    let hint = "";
    if (/certificate/i.test(reason)) {
      hint = this.#insecure
        ? ` (insecure needs Deno run with --unsafely-ignore-certificate-errors=${this.#base.hostname})`
        : " (pass the cell's CA as caCertPem)";
    }
    return new VcdError(
      scrub(`Cannot ${method} ${path}: ${shorten(reason)}${hint}`, secrets),
      { cause: failure },
    );
  }

  #statusError(
    action: string,
    response: VcdResponse,
    session: Session | undefined,
    extraSecrets: readonly string[] = [],
  ): VcdError {
    const parsed = parseVcdError(response.text);
    const detail = parsed?.message ? `: ${shorten(parsed.message)}` : "";
    const secrets = [...this.#secrets(session), ...extraSecrets];
    return new VcdError(scrub(`${action}: vCD answered ${response.status}${detail}`, secrets), {
      status: response.status,
      ...(parsed?.minorErrorCode === undefined ? {} : { minorErrorCode: parsed.minorErrorCode }),
    });
  }

  #secrets(session: Session | undefined): string[] {
    const out: string[] = [];
    if (this.#credentials !== undefined) out.push(this.#credentials.password);
    if (session !== undefined) out.push(session.value, session.token);
    if (this.#session !== undefined) out.push(this.#session.value, this.#session.token);
    return out;
  }
}
