/**
 * `resilient-sync enqueue` and `resilient-sync worker`: their options checked (each refuses
 * what only the other reads, and what neither does), then `fleet/enqueue.ts` or
 * `fleet/worker.ts` run with this process's output, signals and exit code.
 */
import { hostname } from "node:os";
import { UsageError } from "../errors.js";
import type { Logger } from "../log/events.js";
import type { Redactor } from "../log/redact.js";
import { normalizeOptions } from "../options/normalize.js";
import { defaultOf, specOf } from "../options/spec.js";
import { EXIT } from "../run/report.js";
import { parseRedisLocation } from "../state/redis/location.js";
import type { CliOptions } from "./args.js";
import type { OutputStreams } from "./closed-output.js";
import { failureExit } from "./failure.js";
import { JsonDocument } from "./json-document.js";
import { Interrupted, trapSignals } from "./signals.js";
import { testHooksFromEnv } from "./test-hooks.js";

type Command = "enqueue" | "worker";

/** Options both commands read: where the fleet lives, how this process talks and logs. */
const COMMON = [
  "queue",
  "state",
  "statePrefix",
  "logLevel",
  "quiet",
  "verbose",
  "scriptName",
  "proxy",
  "noProxy",
  "cacert",
  "insecure",
  "proxyCacert",
  "proxyInsecure",
  "cert",
  "key",
  "netrc",
  "netrcFile",
  "header",
  "timeout",
];
/** What a batch is made of: read when planning, carried by every job. */
const BATCH = [
  "sources",
  "sourceUrl",
  "destination",
  "artifactRoot",
  "pattern",
  "checksum",
  "checksumAlgorithm",
  "checksumFile",
  "maxDepth",
  "followSymlinks",
  "inputFile",
  "force",
  "waitLock",
  "maxFilesize",
  "maxRetries",
  "retries",
  "retryMaxTime",
  "split",
  "json",
  "wait",
];
/** How a worker runs its jobs: its own, whoever queued them. */
const WORKER = [
  "concurrency",
  "stalledAfter",
  "circuitTtl",
  "circuitThreshold",
  "limitRate",
  "backoffFactor",
];

const ALLOWED: Record<Command, Set<string>> = {
  enqueue: new Set([...COMMON, ...BATCH]),
  worker: new Set([...COMMON, ...WORKER]),
};

function flagOf(key: string): string {
  if (key === "sources") return "SOURCE";
  if (key === "toStdout") return "--output -";
  return `--${specOf(key).flag}`;
}

/** Refuses an option `command` would not read, saying which command does read it. */
function checkOptions(command: Command, options: CliOptions): void {
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined || ALLOWED[command].has(key)) continue;
    const flag = flagOf(key);
    const other: Command = command === "enqueue" ? "worker" : "enqueue";
    const why = ALLOWED[other].has(key)
      ? `it is read by \`resilient-sync ${other}\`, not by \`resilient-sync ${command}\``
      : "it has no meaning in a fleet (docs/scaling.md)";
    throw new UsageError(flag, `${flag} cannot be given to \`resilient-sync ${command}\`: ${why}`);
  }
  if (options.queue === undefined)
    throw new UsageError("--queue", `\`resilient-sync ${command}\` needs --queue redis://…`);
  if (options.json && !options.wait)
    throw new UsageError("--json", "--json needs --wait: without it the batch has no results yet");
}

/** `count`/`seconds` rows' bounds, as a run checks them. */
function checkBound(key: string, value: number): number {
  const { min = 0, max = Number.MAX_SAFE_INTEGER, positive } = specOf(key);
  if (value < min || value > max || (positive && value === 0))
    throw new UsageError(
      flagOf(key),
      `${flagOf(key)} must be ${value < min ? `at least ${min}` : value > max ? `at most ${max}` : "above 0"}, got ${value}`,
    );
  return value;
}

/** Runs `command`; resolves to its exit code. Never throws. */
export async function runFleetCommand(
  command: Command,
  cli: CliOptions,
  io: {
    logger: Logger;
    /** stdout and stderr as main.ts guards them (a reader that goes away, closed-output.ts). */
    outputs: OutputStreams;
    redactor: Redactor;
    runId: string;
    version: string;
    /** The CLI's heap steering, to start once the command's long start-up stretch is over. */
    heapUnderWay: () => void;
  },
): Promise<number> {
  const { logger, outputs, redactor, runId, version } = io;
  // Held at 1 MiB through its planning and queueing, a 100,000-URL enqueue took ~20 % more CPU
  // in scavenges: steered from the start, as before 2026-12-07 (a long plan may let the
  // semi-spaces overshoot to 16 MiB). A worker starts steering once it is ready (`onStarted`).
  if (command === "enqueue") io.heapUnderWay();
  let document: JsonDocument | undefined;
  const signal = trapSignals(logger, (code) => {
    if (document?.begun) document.abort(code);
  });
  try {
    checkOptions(command, cli);
    const queue = parseRedisLocation(cli.queue as string, "--queue", process.env);
    const { expandHeaders, withListedSources } = await import("../run/inputs.js");
    const header = await expandHeaders(cli.header, process.env);
    for (const line of header ?? []) redactor.add(line.slice(line.indexOf(":") + 1).trim());
    const sources = await withListedSources(cli.sources ?? [], cli.inputFile, cli.sourceUrl);
    if (command === "enqueue" && sources.length === 0 && cli.sourceUrl === undefined)
      throw new UsageError(
        "SOURCE",
        "`resilient-sync enqueue` needs SOURCE…, -i FILE or --source-url",
      );
    const options = normalizeOptions(
      {
        ...cli,
        ...(header ? { header } : {}),
        sources,
        inputFile: undefined,
        state: cli.state ?? cli.queue,
      } as CliOptions,
      process.env,
      command === "worker" ? "queue" : "options",
    );
    const hooks = testHooksFromEnv(logger);
    const { systemClock: clock } = await import("../clock.js");

    if (command === "worker") {
      const { runWorker } = await import("../fleet/worker.js");
      const workerId = `${hostname()}:${process.pid}`;
      const handedBack = await runWorker({
        queue,
        options,
        concurrency: checkBound("concurrency", cli.concurrency ?? defaultOf("concurrency")),
        stalledAfterMs:
          1000 * checkBound("stalledAfter", cli.stalledAfter ?? defaultOf("stalledAfter")),
        workerId,
        version,
        clock,
        logger,
        signal,
        hooks,
        // Loading bullmq and ioredis is one long stretch in which the steering could not run.
        onStarted: io.heapUnderWay,
      });
      const reason = signal.reason as Interrupted;
      logger.emit("info", "worker stopped", {
        worker_id: workerId,
        signal: reason.signal,
        handed_back: handedBack,
      });
      return reason.exitCode;
    }

    const { enqueueBatch } = await import("../fleet/enqueue.js");
    if (cli.json)
      document = new JsonDocument(outputs.document(process.stdout), redactor, {
        runId,
        version,
        startedAt: new Date(),
      });
    const outcome = await enqueueBatch({
      queue,
      options,
      batch: runId,
      wait: cli.wait ?? false,
      version,
      clock,
      logger,
      signal,
      ...(document ? { onResult: (result) => document?.add(result) } : {}),
      // The batch id on stdout as soon as it is queued (`batch=$(resilient-sync enqueue -q …)`).
      onQueued: () => {
        if (!cli.json) outputs.lines(process.stdout)(`${runId}\n`);
      },
      hooks,
    });
    if (!outcome.report) return EXIT.ok;
    document?.finish(outcome.report);
    return outcome.report.exit_code;
  } catch (error) {
    if (error instanceof Interrupted) {
      document?.abort(error.exitCode);
      return error.exitCode;
    }
    const code = failureExit(error, logger);
    if (document?.begun) document.abort(code);
    return code;
  }
}
