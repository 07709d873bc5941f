/**
 * @module vcdext's only entrypoint. It owns the process: declares the commands (their flags in
 * lib/app/flags.ts), parses the command line once, calls lib/app/ (and lib/sim/demo.ts), maps
 * errors to exit codes (2 for a usage error, 1 otherwise), handles SIGTERM/SIGINT, and decides
 * where logs go.
 *
 * Logs are JSON lines on stderr, batched ({@linkcode batchingSink}); stdout is kept for command
 * output (`request`, `routes`, `register`, `check`, `demo`).
 */

import { Command, Option } from "@commander-js/extra-typings";
import process from "node:process";
import {
  type AmqpTls,
  BrokerAdmin,
  CellClient,
  type RunningService,
  safeUrl,
  startService,
} from "./lib/transport/amqp/amqp.ts";
import { buildRequest, decodeReply, sampleRequest } from "./lib/sim/cell.ts";
import type { Extension } from "./lib/core/extension.ts";
import { createLogger, silentLogger } from "./lib/observability/log.ts";
import { batchingSink } from "./lib/observability/sink.ts";
import { scrub } from "./lib/core/redact.ts";
import { endpoint } from "./lib/core/service.ts";
import { describeExtensions, inventoryJson } from "./lib/app/inventory.ts";
import {
  amqpTls,
  positiveInt,
  queueArguments,
  selectExtensions as select,
  settingsForLog,
  UsageError,
} from "./lib/app/config.ts";
import {
  amqpTlsOption,
  amqpUrlOption,
  demoCommand,
  exchangeOption,
  registerCommand,
  requestCommand,
  routesCommand,
  serveCommand,
} from "./lib/app/flags.ts";
import { serve, type Served } from "./lib/app/serve.ts";
import { sendRequest } from "./lib/app/request.ts";
import { registerExtensions } from "./lib/app/register.ts";
import { runDemo } from "./lib/sim/demo.ts";
import { extensions } from "./handlers/mod.ts";

const VERSION = "0.1.0";

/** Where every log line goes: stderr, batched per event-loop turn. */
const stderrSink = batchingSink(Deno.stderr);

/** Flushes the logs, then exits. */
function exit(code: number): never {
  stderrSink.flush();
  Deno.exit(code);
}

/** The extensions of the registry named by `--extension` (all when none is named). */
function selectExtensions(names: readonly string[] | undefined): Extension[] {
  return select(extensions, names);
}

/**
 * SIGTERM/SIGINT: `stop()` once (later signals are ignored while it runs), then exit 0, or 1 if
 * stopping failed. Installed before connecting, so a signal during start-up (broker down,
 * retries) ends the process at once rather than after the retries.
 */
function onSignals(stop: () => Promise<void>): void {
  let stopping = false;
  const handler = () => {
    if (stopping) return;
    stopping = true;
    stop().then(() => exit(0), () => exit(1));
  };
  Deno.addSignalListener("SIGTERM", handler);
  Deno.addSignalListener("SIGINT", handler);
}

const program = new Command()
  .name("vcdext")
  .version(VERSION)
  .description(
    "Hosts VMware Cloud Director API extensions on RabbitMQ. A vCD cell publishes each matching " +
      "REST call to the extension's queue; vcdext routes it to a handler module, renders the " +
      "answer as XML or JSON per Accept, and replies to the cell.",
  )
  .showHelpAfterError()
  .configureHelp({ sortSubcommands: false, showGlobalOptions: true, helpWidth: 100 });

serveCommand(program).action(async (options) => {
  const log = createLogger(options.logLevel, stderrSink);
  const started: { service?: Served } = {};
  onSignals(async () => {
    if (started.service) await started.service.stop(options.drainMs);
    else log.info({ consuming: false }, "stopped during start-up");
  });
  log.info({ settings: settingsForLog(options) }, "serve settings");
  started.service = await serve(options, { registry: extensions, log, sink: stderrSink });
});

requestCommand(program).action(async (method, path, options) => {
  console.log(await sendRequest(extensions, method, path, options));
});

routesCommand(program).action((options) => {
  const inventory = {
    exchange: options.exchange,
    notificationsExchange: options.notificationsExchange,
    notificationsQueue: options.notificationsQueue,
  };
  console.log(
    options.json
      ? JSON.stringify(inventoryJson(extensions, inventory), null, 2)
      : describeExtensions(extensions, inventory),
  );
});

registerCommand(program).action(async (options) => {
  const log = createLogger("warn", stderrSink);
  await registerExtensions(extensions, options, log, (text) => console.log(text));
});

program
  .command("check")
  .description(
    "check the broker side: connection and credentials, exchange type, queue declaration and " +
      "binding, and a full round trip through the broker (an in-process dispatcher, or the " +
      "running instances with --live); prints a table, exits 1 on any failure",
  )
  .optionsGroup("Broker:")
  .addOption(amqpUrlOption())
  .addOption(exchangeOption())
  .addOption(amqpTlsOption.ca())
  .addOption(amqpTlsOption.cert())
  .addOption(amqpTlsOption.key())
  .addOption(amqpTlsOption.insecure())
  .addOption(new Option("--dead-letter-exchange <name>", "as given to serve"))
  .addOption(
    new Option("--queue-type <type>", "as given to serve").choices(["classic", "quorum"] as const)
      .default("classic" as const),
  )
  .addOption(
    new Option("--delivery-limit <n>", "as given to serve").argParser(
      positiveInt("--delivery-limit"),
    ),
  )
  .optionsGroup("Check:")
  .addOption(
    new Option("--extension <name...>", "check only these extensions (default: all with routes)"),
  )
  .addOption(new Option("--queue <name>", "queue name, as given to serve; one extension only"))
  .addOption(
    new Option("--live", "round trip through the running instances on the real routing key"),
  )
  .addOption(
    new Option("--timeout <ms>", "how long to wait for each reply").argParser(
      positiveInt("--timeout"),
    ).default(5000),
  )
  .action(async (options) => {
    const rows: [string, boolean, string][] = [];
    const tls = await amqpTls(options);
    const args = queueArguments(options);
    const selected = selectExtensions(options.extension).filter((e) => e.routes.length > 0);
    if (options.queue !== undefined && selected.length !== 1) {
      throw new UsageError("--queue names the queue of one extension; add --extension NAME");
    }
    let admin: BrokerAdmin | undefined;
    try {
      admin = await BrokerAdmin.connect(options.amqpUrl, tls);
      rows.push([`connect ${safeUrl(options.amqpUrl)}`, true, admin.serverVersion()]);
    } catch (e) {
      // BrokerAdmin.connect's message leaves the URL's password out already (connectError).
      rows.push([`connect ${safeUrl(options.amqpUrl)}`, false, scrub((e as Error).message)]);
    }
    if (admin) {
      try {
        const x = await admin.checkExchange(options.exchange, "direct");
        rows.push([
          `exchange ${options.exchange} (direct, durable)`,
          x === "ok",
          x === "ok"
            ? ""
            : x === "missing"
            ? "missing: start `vcdext serve` once to declare it"
            : x,
        ]);
        for (const ext of selected) {
          const queue = options.queue ?? ext.routingKey;
          const what = `queue ${queue} declared and bound`;
          try {
            await admin.declareDurableQueue(queue, args, {
              exchange: options.exchange,
              keys: [ext.routingKey],
            });
            const info = await admin.queueInfo(queue);
            rows.push([
              what,
              true,
              `${info?.messages ?? 0} ready, ${info?.consumers ?? 0} consumers`,
            ]);
          } catch (e) {
            rows.push([what, false, scrub((e as Error).message)]);
          }
          rows.push(await roundTrip(options, tls, ext, admin));
        }
      } finally {
        await admin.close();
      }
    }
    const width = Math.max(...rows.map((r) => r[0].length), 5);
    console.log(`${"CHECK".padEnd(width)}  RESULT  DETAIL`);
    for (const [what, ok, detail] of rows) {
      console.log(`${what.padEnd(width)}  ${ok ? "pass  " : "FAIL  "}  ${detail}`);
    }
    if (rows.some((r) => !r[1])) exit(1);
  });

/**
 * One round trip through the broker: to the running instances on the real routing key (--live),
 * or to an in-process dispatcher on a temporary queue and routing key, so that real vCD traffic
 * is never copied to it.
 */
async function roundTrip(
  options: { amqpUrl: string; exchange: string; live?: true | undefined; timeout: number },
  tls: AmqpTls | undefined,
  ext: Extension,
  admin: BrokerAdmin,
): Promise<[string, boolean, string]> {
  const what = `round trip ${ext.name} (${options.live ? "running instances" : "in-process"})`;
  const temp = `vcdext.check.${crypto.randomUUID().slice(0, 8)}`;
  let service: RunningService | undefined;
  let cell: CellClient | undefined;
  try {
    if (!options.live) {
      service = await startService({
        url: options.amqpUrl,
        ...(tls ? { tls } : {}),
        prefetch: 1,
        log: silentLogger,
        consumers: [{
          label: ext.name,
          queue: temp,
          bindings: [{ exchange: options.exchange, type: "direct", keys: [temp], declare: true }],
          queueArguments: { "x-expires": 30_000 },
          handle: endpoint(ext).handle,
        }],
      });
    }
    cell = await CellClient.connect(options.amqpUrl, tls ? { tls } : {});
    const request = sampleRequest(ext);
    const started = performance.now();
    const reply = decodeReply(
      await cell.send(
        options.exchange,
        options.live ? ext.routingKey : temp,
        buildRequest(request),
        {
          timeoutMs: options.timeout,
        },
      ),
    );
    const ms = (performance.now() - started).toFixed(1);
    return [what, true, `${request.method} ${request.path} → ${reply.status} in ${ms} ms`];
  } catch (e) {
    return [what, false, scrub((e as Error).message)];
  } finally {
    await cell?.close();
    await service?.stop(500);
    // The temporary queue goes now; its x-expires only covers a check that was killed.
    if (!options.live) await admin.delete({ queues: [temp] });
  }
}

demoCommand(program).action(async (options) => {
  await runDemo({
    amqpUrl: options.amqpUrl,
    registry: extensions,
    warnings: stderrSink,
    print: (text) => console.log(text),
  });
});

try {
  await program.parseAsync(process.argv);
} catch (e) {
  // Connection errors come from lib/transport/amqp/amqp.ts with the broker URL's password already left out.
  const message = scrub(e instanceof Error ? e.message : String(e));
  stderrSink.flush();
  console.error(`vcdext: ${message}`);
  exit(e instanceof UsageError ? 2 : 1);
}
