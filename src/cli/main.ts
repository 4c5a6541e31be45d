#!/usr/bin/env node
/**
 * The command line: argv → options → sync → exit code. A thin layer over `sync()`: it owns only
 * what a process owns — argv, stdout/stderr, signals and the exit code.
 */
import { randomBytes } from "node:crypto";
import type { ProgressEvent } from "../core/progress.js";
import { EnvironmentError, UsageError } from "../errors.js";
import { freezeAt } from "../failpoints.js";
import type { Logger } from "../log/events.js";
import { createJsonLogger } from "../log/json.js";
import { Redactor, secretsOfUrl } from "../log/redact.js";
import { PROXY_ENV_NAMES } from "../options/network.js";
import { packageVersion } from "../options/package.js";
import { EXIT } from "../run/report.js";
import { type CliOptions, parseCommandLine } from "./args.js";
import { JsonDocument } from "./json-document.js";

const SIGNAL_EXIT: Record<string, number> = { SIGINT: EXIT.sigint, SIGTERM: EXIT.sigterm };

class Interrupted extends Error {
  readonly signal: string;
  constructor(signal: string) {
    super(`interrupted by ${signal}`);
    this.signal = signal;
  }
}

function write(stream: NodeJS.WriteStream): (line: string) => void {
  return (line) => {
    stream.write(line);
  };
}

export async function main(argv: readonly string[]): Promise<number> {
  const version = packageVersion();
  const runId = process.env.RUN_ID || randomBytes(16).toString("hex");
  const redactor = new Redactor();
  const loggerFor = (
    options: CliOptions,
    sinks = { out: write(process.stdout), err: write(process.stderr) },
  ) =>
    createJsonLogger({
      runId,
      version,
      pid: process.pid,
      minLevel: options.quiet ? "warning" : (options.logLevel ?? "info"),
      sinks,
      allToErr: options.json ?? false,
      redactor,
    });

  let options: CliOptions;
  try {
    options = parseCommandLine(argv);
  } catch (error) {
    if (error instanceof UsageError) {
      loggerFor({}).emit("error", error.kind, { argument: error.argument, reason: error.message });
      return EXIT.usage;
    }
    throw error;
  }
  // The shared state's password (`--state redis://user:pass@…`): a secret from the first line on.
  // Only the password: a Redis user name (`default` more often than not) is no secret, and
  // scrubbing every occurrence of it would corrupt log lines and the results document.
  if (options.state !== undefined) redactor.add(...passwordsOfUrl(options.state));
  if (options.help) {
    const { renderHelp } = await import("./help.js");
    process.stdout.write(renderHelp(version));
    return EXIT.ok;
  }
  if (options.version) {
    process.stdout.write(`${version}\n`);
    return EXIT.ok;
  }

  const showProgress = options.noProgress
    ? false
    : (options.progress ?? (process.stderr.isTTY === true && !options.json));
  const renderer = showProgress
    ? new (await import("./render.js")).TerminalRenderer(process.stderr)
    : undefined;
  // With bars on the terminal, info lines bound for the same terminal would tear them: the bars
  // and the closing summary say it instead. Logs sent to a file or pipe are untouched.
  // Loaded only now: `--help` and `--version` never pay for the sync machinery.
  const { runSync } = await import("../run/sync.js");
  const { expandHeaders, readSourceList } = await import("../run/inputs.js");
  const logger = loggerFor(
    options,
    renderer
      ? {
          out: process.stdout.isTTY ? () => {} : write(process.stdout),
          err: (line) => renderer.log(line),
        }
      : undefined,
  );

  // Written as the run goes (results kept by nobody): see json-document.ts.
  const document = options.json
    ? new JsonDocument(process.stdout, redactor, { runId, version, startedAt: new Date() })
    : undefined;

  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      // A second signal ends the process now; a document already begun is still closed whole
      // (stdout to a file or pipe is written synchronously on Linux).
      const code = SIGNAL_EXIT[signal] ?? EXIT.sigterm;
      if (document?.begun) document.abort(code);
      process.exit(code);
    }
    logger.emit("warning", "interrupted", { signal });
    controller.abort(new Interrupted(signal));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    if (options.inputFile !== undefined) {
      const listed = await readSourceList(options.inputFile).catch((error: unknown) => {
        throw new UsageError(
          "--input-file",
          `--input-file cannot be read: ${(error as Error).message}`,
        );
      });
      options = { ...options, sources: [...(options.sources ?? []), ...listed] };
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
    const report = await runSync(
      {
        ...options,
        runId,
        logger,
        signal: controller.signal,
        ...(renderer ? { onProgress: (event: ProgressEvent) => renderer.onProgress(event) } : {}),
        retainResults: false,
        onResult: (result) => {
          renderer?.record(result);
          return document?.add(result);
        },
      },
      {
        delayScale: delayScale(),
        failpoint: freezeAt(process.env.RESILIENT_SYNC_FAILPOINT, logger),
      },
    );
    renderer?.finish(report);
    // A signal that arrived as the last transfer finished still decides the exit code.
    if (controller.signal.aborted) throw controller.signal.reason;
    document?.finish(report);
    return report.exit_code;
  } catch (error) {
    renderer?.stop();
    if (error instanceof Interrupted) {
      const code = SIGNAL_EXIT[error.signal] ?? EXIT.sigterm;
      // Interrupted: the document says so, with what finished (an empty one if nothing did).
      document?.abort(code);
      return code;
    }
    const code = failureExit(error, logger);
    // A run refused before its first result (bad input, an unfit machine) writes no document;
    // one that fails later (a bug) still closes what it began.
    if (document?.begun) document.abort(code);
    return code;
  }
}

/** Logs why the run failed (one well-formed line) and gives its exit code. */
function failureExit(error: unknown, logger: Logger): number {
  if (error instanceof UsageError) {
    logger.emit("error", error.kind, { argument: error.argument, reason: error.message });
    return EXIT.usage;
  }
  if (error instanceof EnvironmentError) {
    logger.emit("error", "environment unfit", { check: error.check, reason: error.message });
    return EXIT.environment;
  }
  // A bug, not a user error: still one well-formed log line, and the "software error" exit.
  logger.emit("error", "internal error", {
    reason: error instanceof Error ? (error.stack ?? error.message) : String(error),
  });
  return EXIT.transfer;
}

/**
 * `RESILIENT_SYNC_DELAY_SCALE` multiplies every backoff and Retry-After delay. It exists for
 * tests (0.001 turns a 16 s backoff into 16 ms); it is not an option users should need.
 */
function delayScale(): number {
  const raw = process.env.RESILIENT_SYNC_DELAY_SCALE;
  const value = raw === undefined ? 1 : Number(raw);
  return Number.isFinite(value) && value >= 0 ? value : 1;
}

// A run whose promise never settles would let Node exit with 0: that must never pass for success.
const unsettled = () => {
  process.stderr.write("resilient-sync: internal error: the run stopped without finishing\n");
  process.exit(EXIT.transfer);
};
process.once("beforeExit", unsettled);

/**
 * Exits once everything written to stdout and stderr has left the process: writes to a pipe are
 * asynchronous, and `process.exit` would cut a large `--json` document short.
 */
function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = () => {
    pending -= 1;
    if (pending === 0) process.exit(code);
  };
  process.stdout.write("", done);
  process.stderr.write("", done);
}

main(process.argv.slice(2)).then(
  (code) => exitAfterFlush(code),
  (error: unknown) => {
    // Only reached when even the logger could not be set up (an unreadable package.json).
    process.stderr.write(
      `resilient-sync: ${error instanceof Error ? error.message : String(error)}\n`,
    );
    process.exit(EXIT.transfer);
  },
);

/** The password of `text` as written and as decoded; none when it is no URL or has none. */
function passwordsOfUrl(text: string): string[] {
  try {
    const { password } = new URL(text);
    if (!password) return [];
    let decoded = password;
    try {
      decoded = decodeURIComponent(password);
    } catch {
      // a malformed escape: the option check refuses it, and the raw form is redacted meanwhile
    }
    return [password, decoded];
  } catch {
    return [];
  }
}
