#!/usr/bin/env node
import { randomBytes } from "node:crypto";
import type { ProgressEvent } from "../core/progress.js";
import { UsageError } from "../errors.js";
import { humanTerminal, type RetryNotice } from "../log/human.js";
import { createJsonLogger, type LineSinks } from "../log/json.js";
import { type CoalescedSinks, coalescedSinks } from "../log/line-writer.js";
import { Redactor, secretsOfUrl } from "../log/redact.js";
import { PROXY_ENV_NAMES } from "../options/network.js";
import { isInstalled, packageVersion } from "../options/package.js";
import { EXIT, Tally } from "../run/report.js";
/**
 * The command line: argv → options → sync → exit code. A thin layer over `sync()`: it owns only
 * what a process owns — argv, stdout/stderr, signals and the exit code.
 */
import { redisPasswordsOf } from "../state/redis/location.js";
import { type CliOptions, parseCommandLine } from "./args.js";
import { OutputStreams } from "./closed-output.js";
import { failureExit } from "./failure.js";
import { JsonDocument } from "./json-document.js";
import { LegacyJsonDocument } from "./json-legacy.js";
import { routeConsoleTo } from "./library-output.js";
import { Interrupted, trapSignals } from "./signals.js";
import { testHooksFromEnv } from "./test-hooks.js";

/** stdout and stderr, whose writes are dropped once their reader has gone (closed-output.ts). */
const outputs = new OutputStreams([process.stdout, process.stderr]);

/** The fleet's commands (`resilient-sync enqueue …`, `resilient-sync worker …`): cli/fleet.ts. */
const FLEET_COMMANDS = new Set(["enqueue", "worker"]);

export async function main(argv: readonly string[]): Promise<number> {
  // A first argument naming a command is the command (a file of that name: `./enqueue`).
  const command = FLEET_COMMANDS.has(argv[0] ?? "") ? (argv[0] as "enqueue" | "worker") : undefined;
  const args = command ? argv.slice(1) : argv;
  const version = packageVersion();
  // A sync's malformed $RUN_ID is refused below; its own lines carry a fresh one meanwhile. (A
  // fleet command's $RUN_ID names a batch, `nightly` say: cli/fleet.ts checks it.)
  const givenRunId = process.env.RUN_ID || undefined;
  const runIdRefused =
    command === undefined && givenRunId !== undefined && !/^[0-9a-f]{32}$/.test(givenRunId);
  const runId = givenRunId && !runIdRefused ? givenRunId : randomBytes(16).toString("hex");
  const redactor = new Redactor();
  const loggerFor = (
    options: CliOptions,
    sinks: LineSinks | CoalescedSinks = {
      out: outputs.lines(process.stdout),
      err: outputs.lines(process.stderr),
    },
    terminal: { onRetry?: (notice: RetryNotice) => void; summaryShown?: boolean } = {},
  ) => {
    const minLevel = options.quiet ? "warning" : (options.logLevel ?? "info");
    const json = createJsonLogger({
      runId,
      version,
      pid: process.pid,
      minLevel,
      sinks,
      ...("urgent" in sinks ? { urgentSinks: sinks.urgent } : {}),
      // With --json or -o -, stdout carries the data: every log line goes to stderr.
      allToErr: (options.json ?? false) || (options.toStdout ?? false),
      redactor,
      ...(options.scriptName === undefined ? {} : { script: options.scriptName }),
    });
    // A person reads a terminal: warnings and errors as short lines there. Scripts reading a
    // pipe or a file, and anyone asking for --json, keep the JSON lines.
    if (process.stderr.isTTY !== true || options.json) return json;
    const infoTo = options.toStdout ? process.stderr : process.stdout;
    return humanTerminal({
      json,
      write: sinks.err,
      redactor,
      minLevel,
      infoOnTerminal: infoTo.isTTY === true,
      ...terminal,
    });
  };

  // Installed, there is no bundled sample to sync: a bare invocation is a request for usage.
  if (args.length === 0 && !command && process.env.REPO_ROOT === undefined && isInstalled()) {
    process.stderr.write(
      "usage: resilient-sync [options] SOURCE...   (resilient-sync --help for the options)\n",
    );
    return EXIT.usage;
  }
  let options: CliOptions;
  try {
    options = parseCommandLine(args);
    if (runIdRefused)
      throw new UsageError("$RUN_ID", "$RUN_ID must be 32 lowercase hex characters, or unset");
  } catch (error) {
    if (error instanceof UsageError) {
      // The rest of the line could not be read, but a script's own name may still be found.
      const named = args.indexOf("--script-name");
      const inline = args.find((arg) => arg.startsWith("--script-name="));
      const scriptName = inline?.slice("--script-name=".length) ?? args[named + 1];
      loggerFor(named >= 0 || inline ? { scriptName } : {}).emit("error", error.kind, {
        argument: error.argument,
        reason: error.message,
      });
      return EXIT.usage;
    }
    throw error;
  }
  // The shared state's and the queue's passwords: secrets from the first line on.
  redactor.add(...redisPasswordsOf([options.state, options.queue], process.env));
  if (options.help) {
    const { renderHelp } = await import("./help.js");
    const width = process.stdout.isTTY ? process.stdout.columns : 80;
    process.stdout.write(renderHelp(version, width, isInstalled()));
    return EXIT.ok;
  }
  if (options.version) {
    process.stdout.write(`${version}\n`);
    return EXIT.ok;
  }

  // A long batch would otherwise let V8's heap grow to several times what is live (heap-limits.ts).
  const heapUnderWay = (await import("./heap-limits.js")).limitHeapForBatches();

  if (command) {
    const { runFleetCommand } = await import("./fleet.js");
    const logger = loggerFor(options);
    routeConsoleTo(logger);
    return runFleetCommand(command, options, {
      logger,
      outputs,
      redactor,
      runId,
      version,
      heapUnderWay,
    });
  }

  const showProgress =
    options.noProgress || options.toStdout
      ? false
      : // -q is quiet as curl -s and wget -q are: no bars unless asked for.
        (options.progress ??
        (process.stderr.isTTY === true &&
          !options.json &&
          !options.quiet &&
          // A terminal that cannot move its cursor (Emacs shells) gets the lines, no bars.
          process.env.TERM !== "dumb"));
  const renderer = showProgress
    ? new (await import("./render.js")).TerminalRenderer(process.stderr)
    : undefined;
  // With bars on the terminal, info lines bound for the same terminal would tear them: the bars
  // and the closing summary say it instead. Logs sent to a file or pipe are untouched.
  // Loaded only now: `--help` and `--version` never pay for the sync machinery.
  const { runSync } = await import("../run/sync.js");
  const { expandHeaders, withListedSources } = await import("../run/inputs.js");
  const logger = loggerFor(
    options,
    renderer
      ? {
          out: process.stdout.isTTY ? () => {} : outputs.lines(process.stdout),
          err: (line) => renderer.log(line),
        }
      : process.stdout.isTTY || process.stderr.isTTY
        ? undefined
        : // Pipes and files (batch runs, cron, CI): a turn's lines in one write (line-writer.ts).
          coalescedSinks(outputs.lines(process.stdout), outputs.lines(process.stderr)),
    renderer ? { onRetry: (notice) => renderer.onRetry(notice), summaryShown: true } : {},
  );
  routeConsoleTo(logger);

  const startedAt = Date.now();
  // What finished, for the metrics of a run stopped before its report (a signal).
  const finished = { tally: new Tally(), retries: 0 };
  // Written as the run goes (results kept by nobody): see json-document.ts.
  const document = options.json
    ? options.jsonFormat === "legacy"
      ? new LegacyJsonDocument(outputs.document(process.stdout), redactor)
      : new JsonDocument(outputs.document(process.stdout), redactor, {
          runId,
          version,
          startedAt: new Date(),
        })
    : undefined;

  // A second signal ends the process at once; a document already begun is still closed whole
  // (a file is written synchronously; a pipe as far as its reader keeps up).
  const signal = trapSignals(logger, (code) => {
    if (document?.begun) document.abort(code);
  });

  try {
    if (options.inputFile !== undefined) {
      const sources = await withListedSources(
        options.sources ?? [],
        options.inputFile,
        options.sourceUrl,
      );
      options = { ...options, sources };
      delete options.inputFile;
    }
    const header = await expandHeaders(options.header, process.env);
    if (header) options = { ...options, header };
    for (const line of header ?? []) redactor.add(line.slice(line.indexOf(":") + 1).trim());
    for (const source of [options.sourceUrl, ...(options.sources ?? [])]) {
      if (source !== undefined) redactor.add(...secretsOfUrl(source));
    }
    // Proxy credentials, from --proxy or the environment, are secrets like any other.
    for (const proxy of [options.proxy, ...PROXY_ENV_NAMES.map((name) => process.env[name])]) {
      if (proxy) redactor.add(...secretsOfUrl(proxy.includes("://") ? proxy : `http://${proxy}`));
    }
    // What only this process reads (how the document is shaped, where stdout goes).
    const { toStdout, jsonFormat: _jsonFormat, ...syncOptions } = options;
    if (toStdout) {
      if (options.json) throw new UsageError("--json", "--json and -o - both write to stdout");
      const [{ normalizeOptions }, { streamToStdout }, { systemClock }] = await Promise.all([
        import("../options/normalize.js"),
        import("../run/to-stdout.js"),
        import("../clock.js"),
      ]);
      const code = await streamToStdout({
        options: normalizeOptions(syncOptions),
        out: process.stdout,
        clock: systemClock,
        logger,
        version,
        signal,
        delayScale: testHooksFromEnv(logger).delayScale,
      });
      renderer?.stop();
      return code;
    }
    const report = await runSync(
      {
        ...syncOptions,
        runId,
        logger,
        signal,
        ...(renderer ? { onProgress: (event: ProgressEvent) => renderer.onProgress(event) } : {}),
        retainResults: false,
        onResult: (result) => {
          // The plan is made and the first pair done: from here on the event loop turns often.
          heapUnderWay();
          finished.tally.add(result);
          finished.retries += Math.max(0, result.attempts - 1);
          renderer?.record(result);
          return document?.add(result);
        },
      },
      testHooksFromEnv(logger),
    );
    renderer?.finish(report);
    // A signal that arrived as the last transfer finished still decides the exit code.
    if (signal.aborted) throw signal.reason;
    document?.finish(report);
    return report.exit_code;
  } catch (error) {
    renderer?.stop();
    if (error instanceof Interrupted) {
      const code = error.exitCode;
      // Interrupted: the document says so, with what finished (an empty one if nothing did).
      document?.abort(code);
      await metricsOfFailure(code);
      return code;
    }
    const code = failureExit(error, logger);
    // A run refused before its first result (bad input, an unfit machine) writes no document;
    // one that fails later (a bug) still closes what it began.
    if (document?.begun) document.abort(code);
    await metricsOfFailure(code);
    return code;
  }

  /** A run that ended without a report still leaves its exit code in `--metrics-file`. */
  async function metricsOfFailure(code: number): Promise<void> {
    if (options.metricsFile === undefined || code === EXIT.usage || options.toStdout) return;
    const { recordFailedRun } = await import("../run/metrics.js");
    const { resolve } = await import("node:path");
    await recordFailedRun(resolve(options.metricsFile), code, startedAt, logger, {
      summary: finished.tally.summary(),
      retries: finished.retries,
    });
  }
}

// A run whose promise never settles would let Node exit with 0: that must never pass for success.
const unsettled = () => {
  process.stderr.write("resilient-sync: internal error: the run stopped without finishing\n");
  process.exit(EXIT.transfer);
};
process.once("beforeExit", unsettled);

main(process.argv.slice(2)).then(
  (code) => outputs.exitWhenFlushed(code),
  (error: unknown) => {
    // Only reached when even the logger could not be set up (an unreadable package.json).
    process.stderr.write(
      `resilient-sync: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(EXIT.transfer);
  },
);
