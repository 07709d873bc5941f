/**
 * @module vcdext's only entrypoint. It owns the process: declares the commands (their flags in
 * lib/app/flags.ts), parses the command line once, calls lib/app/ (and lib/sim/demo.ts), maps
 * errors to exit codes (2 for a usage error, 1 otherwise), handles SIGTERM/SIGINT, and decides
 * where logs go.
 *
 * Logs are JSON lines on stderr, batched ({@linkcode batchingSink}); stdout is kept for command
 * output (`request`, `notify`, `routes`, `register`, `check`, `demo`).
 */

import { Command } from "@commander-js/extra-typings";
import process from "node:process";
import { createLogger } from "./lib/observability/log.ts";
import { batchingSink } from "./lib/observability/sink.ts";
import { scrub } from "./lib/core/redact.ts";
import { describeExtensions, inventoryJson } from "./lib/app/inventory.ts";
import {
  amqpTls,
  queueArguments,
  selectExtensions,
  settingsForLog,
  UsageError,
} from "./lib/app/config.ts";
import { renderCheckTable, runCheck } from "./lib/app/check.ts";
import {
  addVcdCheckOptions,
  type OptionHost,
  type VcdCheckFlags,
  vcdCheckInputs,
} from "./lib/app/check_vcd.ts";
import {
  checkCommand,
  demoCommand,
  requestCommand,
  routesCommand,
  serveCommand,
  vcdOption,
} from "./lib/app/flags.ts";
import { serve, type Served } from "./lib/app/serve.ts";
import { cellMqtt, sendRequest } from "./lib/app/request.ts";
import { notifyCommand, sendNotification } from "./lib/app/notify.ts";
import { mqttSettings } from "./lib/app/mqtt_config.ts";
import { registerCommand, registerExtensions } from "./lib/app/register.ts";
import { runDemo } from "./lib/sim/demo.ts";
import { commandOf, unknownCommand, usageHint } from "./lib/app/usage.ts";
import { extensions } from "./handlers/mod.ts";

const VERSION = "0.1.0";

/** Where every log line goes: stderr, batched per event-loop turn. */
const stderrSink = batchingSink(Deno.stderr);

/** Flushes the logs, then exits. */
function exit(code: number): never {
  stderrSink.flush();
  Deno.exit(code);
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

/**
 * Where commander ends: help and version exit 0; every usage error it reports (unknown option,
 * missing or excess argument, invalid choice) exits 2, after one line and the hint.
 */
function usageExit(e: { exitCode: number }): never {
  exit(e.exitCode === 0 ? 0 : 2);
}

const program = new Command()
  .name("vcdext")
  .version(VERSION)
  .description(
    "Hosts VMware Cloud Director API extensions on RabbitMQ. A vCD cell publishes each matching " +
      "REST call to the extension's queue; vcdext routes it to a handler module, renders the " +
      "answer as XML or JSON per Accept, and replies to the cell.",
  )
  // A usage error is one line, the hint where the help is, and exit 2 (see `usageExit`).
  .showHelpAfterError(usageHint())
  .configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, "vcdext: ")) })
  .exitOverride((e) => usageExit(e))
  .configureHelp({ sortSubcommands: false, showGlobalOptions: true, helpWidth: 100 });

serveCommand(program).action(async (options) => {
  const log = createLogger(options.logLevel, stderrSink);
  const started: { service?: Served } = {};
  onSignals(async () => {
    if (started.service) await started.service.stop(options.drainMs);
    else log.info({ consuming: false }, "stopped during start-up");
  });
  log.info({ settings: settingsForLog(options) }, "serve settings");
  started.service = await serve(options, {
    registry: extensions,
    log,
    sink: stderrSink,
    version: VERSION,
  });
});

requestCommand(program).action(async (method, path, options) => {
  console.log(await sendRequest(extensions, method, path, options));
});

notifyCommand(program).action(async (type, options) => {
  console.log(await sendNotification(type, options));
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

const check = checkCommand(program);
addVcdCheckOptions(check as unknown as OptionHost, vcdOption);
check.action(async (options) => {
  const selected = selectExtensions(extensions, options.extension).filter((e) =>
    e.routes.length > 0
  );
  if (options.queue !== undefined && selected.length !== 1) {
    throw new UsageError("--queue names the queue of one extension; add --extension NAME");
  }
  const mqtt = options.transport === "amqp" ? undefined : {
    settings: await mqttSettings(options, selected),
    cell: await cellMqtt(options),
    live: options.live,
    timeout: options.timeout,
  };
  const rows = await runCheck(options, {
    extensions: selected,
    queueArguments: queueArguments(options),
    tls: await amqpTls(options),
    mqtt,
    // The vCD flags are added untyped (addVcdCheckOptions).
    vcd: await vcdCheckInputs(
      options as unknown as VcdCheckFlags,
      createLogger("warn", stderrSink),
    ),
  });
  console.log(renderCheckTable(rows));
  if (rows.some((r) => !r.ok)) exit(1);
});

demoCommand(program).action(async (options) => {
  await runDemo({
    amqpUrl: options.amqpUrl,
    registry: extensions,
    warnings: stderrSink,
    print: (text) => console.log(text),
  });
});

const args = process.argv.slice(2);
const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
for (const command of program.commands) command.showHelpAfterError(usageHint(command.name()));

try {
  const unknown = unknownCommand(args, names);
  if (unknown !== undefined) throw new UsageError(unknown);
  await program.parseAsync(process.argv);
} catch (e) {
  // Connection errors come from lib/transport/amqp/connection.ts with the broker URL's password already left out.
  const message = scrub(e instanceof Error ? e.message : String(e));
  if (!(e instanceof UsageError)) {
    // For log collectors: the fatal error as a JSON line too (scrubbed), before the human line.
    createLogger("error", stderrSink).error({ err: e, exitCode: 1 }, "fatal");
  }
  stderrSink.flush();
  console.error(`vcdext: ${message}`);
  if (e instanceof UsageError) {
    const unknown = unknownCommand(args, names) !== undefined;
    console.error(usageHint(unknown ? undefined : commandOf(args, names, "serve")));
  }
  exit(e instanceof UsageError ? 2 : 1);
}
