/**
 * @module A private Mosquitto for tests that restart the broker or need a password file: a
 * `mosquitto -c <temp config>` child process on a free port of 127.0.0.1, killed and started
 * again by its own pid. The shared broker on 1883 is never touched.
 */

/** Whether `mosquitto` can be started here. */
export function mosquittoAvailable(): { ok: true } | { ok: false; reason: string } {
  try {
    const out = new Deno.Command("mosquitto", { args: ["-h"], stdout: "null", stderr: "null" })
      .outputSync();
    return out.code === 0 || out.code === 3
      ? { ok: true }
      : { ok: false, reason: "mosquitto -h failed" };
  } catch (e) {
    return { ok: false, reason: `mosquitto is not installed (${(e as Error).name})` };
  }
}

/** A free TCP port on 127.0.0.1 (free when asked; the broker binds it right after). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function portOpen(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** Runs `openssl …args` in `cwd` without site configuration; throws with its output. */
async function openssl(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd,
    stdin: "null",
    env: { OPENSSL_CONF: "/dev/null" },
  }).output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
}

/** A CA and a server certificate for 127.0.0.1 in `dir`, valid two days; returns the CA PEM. */
async function makeCertificates(dir: string): Promise<string> {
  const key = ["-newkey", "rsa:2048", "-nodes"];
  await openssl(
    dir,
    "req",
    "-x509",
    ...key,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=vcdext MQTT test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
  await openssl(
    dir,
    "req",
    ...key,
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  );
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
  );
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.pem",
    "-days",
    "2",
    "-extfile",
    "server.ext",
  );
  return await Deno.readTextFile(`${dir}/ca.pem`);
}

/** Options of {@linkcode startPrivateMosquitto}. */
export interface PrivateMosquittoOptions {
  /** Users and passwords: anonymous clients are refused when given. Default: anonymous allowed. */
  readonly users?: Readonly<Record<string, string>>;
  /** Serve MQTT over TLS only (`mqtts://`), with a throw-away CA made by `openssl`. */
  readonly tls?: boolean;
}

/** A running private broker. */
export interface PrivateMosquitto {
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>`, or `mqtts://` with `tls`. */
  readonly url: string;
  /** PEM of the CA that signed the broker's certificate (with `tls`). */
  readonly ca?: string;
  /** The broker's log so far (connections, refusals), across restarts. */
  log(): string;
  /** Kills the broker process (SIGKILL) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and config. */
  start(): Promise<void>;
  /** Kills it and removes its files. */
  close(): Promise<void>;
}

/** Starts a private Mosquitto; resolves once it accepts connections. */
export async function startPrivateMosquitto(
  options: PrivateMosquittoOptions = {},
): Promise<PrivateMosquitto> {
  const dir = await Deno.makeTempDir({ prefix: "vcdext-mosquitto-" });
  const port = freePort();
  const lines = [
    `listener ${port} 127.0.0.1`,
    "persistence false",
    "log_dest stderr",
    "log_type all",
    "user root",
  ];
  let ca: string | undefined;
  if (options.tls) {
    ca = await makeCertificates(dir);
    lines.push(`certfile ${dir}/server.pem`, `keyfile ${dir}/server.key`);
  }
  if (options.users) {
    const file = `${dir}/passwd`;
    await Deno.writeTextFile(file, "");
    await Deno.chmod(file, 0o600);
    for (const [user, password] of Object.entries(options.users)) {
      const out = await new Deno.Command("mosquitto_passwd", {
        args: ["-b", file, user, password],
        stdout: "null",
        stderr: "piped",
      }).output();
      if (out.code !== 0) {
        throw new Error(`mosquitto_passwd: ${new TextDecoder().decode(out.stderr)}`);
      }
    }
    lines.push("allow_anonymous false", `password_file ${file}`);
  } else {
    lines.push("allow_anonymous true");
  }
  const config = `${dir}/mosquitto.conf`;
  await Deno.writeTextFile(config, lines.join("\n") + "\n");

  let log = "";
  let child: Deno.ChildProcess | undefined;
  let pump: Promise<void> = Promise.resolve();

  async function start(): Promise<void> {
    child = new Deno.Command("mosquitto", {
      args: ["-c", config],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = child.stderr;
    pump = (async () => {
      for await (const chunk of stderr.pipeThrough(new TextDecoderStream())) log += chunk;
    })();
    for (let i = 0; i < 100; i++) {
      if (await portOpen(port)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`private mosquitto did not listen on ${port}:\n${log.slice(-2000)}`);
  }

  async function kill(): Promise<void> {
    const c = child;
    child = undefined;
    if (!c) return;
    try {
      c.kill("SIGKILL");
    } catch { /* gone already */ }
    await c.status;
    await pump;
  }

  await start();
  return {
    port,
    url: `${options.tls ? "mqtts" : "mqtt"}://127.0.0.1:${port}`,
    ...(ca === undefined ? {} : { ca }),
    log: () => log,
    kill,
    start,
    async close() {
      await kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
