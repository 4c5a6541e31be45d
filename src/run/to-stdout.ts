/**
 * `-o -`: one source streamed to standard output, as `curl -o -` does, for pipelines
 * (`resilient-sync -o - URL | tar x`). Nothing is kept: no lock, no marker, no part file, no
 * circuit (a memory store). What still holds: retries with backoff, resuming where the stream
 * broke (with a `Range` request under the first answer's validators, so the bytes already
 * written are never sent twice or mixed with another version), stall timeouts, proxies, TLS,
 * netrc, headers and `--checksum`.
 *
 * The limits of a pipe, decided here: bytes written cannot be taken back. A source that cannot
 * resume after bytes went out fails (exit 70) rather than starting over; a checksum is checked
 * at the end, so a mismatch (exit 65) is reported after the bytes went out — the reader must
 * honour the exit code, as with curl.
 */
import { once } from "node:events";
import { statSync } from "node:fs";
import type { Writable } from "node:stream";
import { type Hasher, newHash } from "../checksums/digest.js";
import type { Clock } from "../clock.js";
import { abandon } from "../core/attempt.js";
import { logFailedAttemptAndWait } from "../core/context.js";
import { ResultBuilder } from "../core/result.js";
import { FREE_ATTEMPTS, RetryBudget } from "../core/retry-budget.js";
import type { JobSource, JobSpec } from "../core/spec.js";
import { SyncError, UsageError } from "../errors.js";
import type { Logger } from "../log/events.js";
import type { ResolvedOptions } from "../options/normalize.js";
import { withRetry } from "../policies/retry.js";
import { isRemoteDirectory } from "../sources/location.js";
import { lendingBody, sameVersion, type Validators } from "../sources/source.js";
import { MemoryStateStore } from "../state/memory-store.js";
import { lendToWritable } from "./lend-to-writable.js";
import { EXIT, exitCodeFor } from "./report.js";
import { buildRuntime } from "./runtime.js";
import { withoutUserinfo } from "./specs.js";

export interface StdoutSettings {
  options: ResolvedOptions;
  out: Writable;
  clock: Clock;
  logger: Logger;
  version: string;
  signal: AbortSignal;
  delayScale: number;
}

/** Streams the one source to `out`; resolves to the exit code. Throws `UsageError` for bad input. */
export async function streamToStdout(settings: StdoutSettings): Promise<number> {
  const { options, clock, logger, signal } = settings;
  const [given, ...more] = options.sources;
  if (!given || more.length > 0 || options.directoryDestination !== undefined)
    throw new UsageError("--output", "-o - streams one source: give exactly one SOURCE");
  const { location } = given;
  if (isRemoteDirectory(location))
    throw new UsageError("--output", "-o - streams one file; a URL ending in / is a directory");
  if (location.kind === "file" && statSync(location.href, { throwIfNoEntry: false })?.isDirectory())
    throw new UsageError("--output", `-o - streams one file; ${location.display} is a directory`);
  refuseIgnored(options);
  const href = location.kind === "http" ? withoutUserinfo(location.href) : location.href;
  const source: JobSource = {
    kind: location.kind,
    href,
    display: location.display,
    origin: location.origin,
  };
  const expected = options.checksums[0];
  const spec: JobSpec = {
    source,
    destination: "-",
    algorithm: expected?.algorithm ?? options.algorithm,
    maxAttempts: options.maxAttempts,
    retryMaxTimeMs: options.retryMaxTimeMs,
    force: true,
    waitLockMs: 0,
  };
  const { runtime, close } = await buildRuntime({
    options,
    store: new MemoryStateStore(clock),
    clock,
    logger,
    random: Math.random,
    version: settings.version,
    needsHttp: location.kind === "http",
    credentials: new Map(href === location.href ? [] : [[href, location.href]]),
  });
  const names = { source: location.display, destination: "-" };
  const started = clock.monotonic();
  // A reader that goes away (`| head`) is EPIPE on the next write: the stream stops, quietly.
  const stopped = new AbortController();
  let closedBy: Error | undefined;
  const onOutError = (error: Error) => {
    closedBy = error;
    stopped.abort(error);
  };
  settings.out.on("error", onOutError);
  const deadline =
    options.deadlineMs === undefined ? undefined : AbortSignal.timeout(options.deadlineMs);
  const either = AbortSignal.any([signal, stopped.signal, ...(deadline ? [deadline] : [])]);
  const hasher: Hasher | undefined = expected ? newHash(expected.algorithm) : undefined;
  const reader = runtime.sources.open(source);
  let written = 0;
  let version: Validators | undefined;
  let resumedFrom = 0;
  // The file transfer's budget: progress and "slow down" are free, a silent origin is given up
  // on after --retry-max-time, the backoff starts over after progress.
  const budget = new RetryBudget({
    origin: source.origin,
    gate: runtime.health.gate,
    now: () => clock.monotonic(),
    random: runtime.random,
    maxAttempts: spec.maxAttempts,
    retryMaxTimeMs: spec.retryMaxTimeMs,
    resumable: () => version !== undefined,
    delayScale: settings.delayScale,
    backoffFactor: options.backoffFactor,
  });
  const failed = (code: string, reason: string) =>
    logger.emit("error", "synchronization failed", { ...names, error_code: code, reason });
  try {
    let outcome: Awaited<ReturnType<typeof withRetry<number>>>;
    try {
      outcome = await withRetry(
        async (attempt) => {
          const wait = budget.begin(attempt);
          if (wait > 0) await clock.sleep(wait, either);
          logger.emit("info", "attempting download", {
            ...names,
            attempt,
            max_attempts: spec.maxAttempts,
            resume_from: written,
          });
          try {
            await streamOnce(attempt);
          } catch (error) {
            // A body cut short arrives as the socket's error: the source says what it means.
            throw error instanceof SyncError || either.aborted
              ? error
              : reader.describeError(error);
          }
          return attempt;
        },
        {
          maxAttempts: spec.maxAttempts,
          isRetryable: (error) => error instanceof SyncError && error.retryable,
          charge: (error) => budget.charge(error),
          maxFreeAttempts: FREE_ATTEMPTS,
          mayRetry: () => budget.mayRetry(),
          delayMs: (attempt, error) => budget.delayMs(attempt, error),
          sleep: (ms, sleepSignal) => clock.sleep(ms, sleepSignal),
          signal: either,
          onFailure: ({ attempt, error, delayMs }) => {
            const failure = error as SyncError;
            logFailedAttemptAndWait(logger, names, attempt, failure, delayMs);
          },
        },
      );
    } catch (error) {
      // Cut by a signal (rethrown), the deadline or a closed stdout (said).
      if (signal.aborted || !either.aborted) throw error;
      const closed = closedBy;
      failed(
        closed ? "write_error" : "deadline",
        closed
          ? `stdout did not take the whole body: ${closed.message}`
          : `run deadline of ${(options.deadlineMs ?? 0) / 1000} s passed`,
      );
      return closed ? EXIT.write : EXIT.transfer;
    }
    if (!outcome.ok) {
      const failure = budget.failure(outcome.error as SyncError);
      failed(failure.code, failure.message);
      return exitCodeFor([new ResultBuilder(spec, clock).failed(failure)]);
    }
    if (expected && hasher) {
      const actual = hasher.digest("hex");
      if (actual !== expected.hex) {
        logger.emit("error", "checksum mismatch", {
          ...names,
          algorithm: expected.algorithm,
          expected: expected.hex,
          actual,
        });
        return EXIT.checksum;
      }
    }
    // Every byte handed to stdout must have been taken: a full disk (`> /dev/full`) or a reader
    // gone before the end fails the last writes after the body ended, not during it.
    const unwritten = closedBy ?? (await flushed(settings.out));
    if (unwritten) {
      failed("write_error", `stdout did not take the whole body: ${unwritten.message}`);
      return EXIT.write;
    }
    logger.emit("info", "download successful", {
      ...names,
      attempt: outcome.value,
      bytes: written,
      duration_ms: Math.round(clock.monotonic() - started),
      resumed_from: resumedFrom,
      verified_by: expected ? ["--checksum"] : [],
    });
    return EXIT.ok;
  } finally {
    settings.out.off("error", onOutError);
    await close();
  }

  /** One attempt: the rest of the body from `written` on, each byte to `out` once, in order. */
  async function streamOnce(attempt: number): Promise<void> {
    const opened = await reader.open({
      offset: written,
      resumeIf: written > 0 ? version : undefined,
      unchangedIf: undefined,
      signal: either,
    });
    if (opened.kind !== "body") throw new SyncError("http_error", "unexpected answer");
    budget.answered();
    if (opened.offset !== written) {
      abandon(opened.body);
      throw new SyncError(
        "http_error",
        `the source cannot resume at byte ${written} (no ranges, or it changed), and the bytes already written to stdout cannot be taken back`,
      );
    }
    // A server that ignores If-Range answers a range of whatever it has now: only an answer that
    // proves the first one's version (and encoding) may continue what was written.
    if (written > 0 && !(version && sameVersion(version, opened.validators))) {
      abandon(opened.body);
      throw new SyncError(
        "http_error",
        `the source's answer at byte ${written} does not prove it is the version already written (it changed, or names none), and the bytes already written to stdout cannot be taken back`,
      );
    }
    version = opened.validators;
    if (attempt > 1) resumedFrom = written;
    const lending = lendingBody(opened.body);
    if (lending)
      return lendToWritable(lending, settings.out, {
        accept,
        limiter: runtime.limiter,
        signal: either,
      });
    for await (const chunk of opened.body as AsyncIterable<Buffer>) {
      await runtime.limiter?.take(chunk.length, either);
      const refused = accept(chunk);
      if (refused) throw refused;
      if (!settings.out.write(chunk)) await once(settings.out, "drain", { signal: either });
    }
  }

  /** Counts and hashes a chunk about to go out; the error when it would pass --max-filesize. */
  function accept(chunk: Buffer): SyncError | undefined {
    if (options.maxFileBytes !== undefined && written + chunk.length > options.maxFileBytes)
      return new SyncError(
        "write_error",
        `${location.display} is larger than --max-filesize (${options.maxFileBytes} bytes)`,
      );
    hasher?.update(chunk);
    written += chunk.length;
    budget.received(chunk.length);
    return undefined;
  }
}

/**
 * Options a stream to stdout cannot honour: refused (64) rather than ignored. A dry run writes
 * nothing (it plans); there is no destination to name in a checksum file, no run to measure in a
 * metrics file, no segments to fetch in parallel into a pipe, no state to share.
 */
function refuseIgnored(options: ResolvedOptions): void {
  const ignored = [
    options.dryRun ? "--dry-run" : undefined,
    options.checksumFile !== undefined ? "--checksum-file" : undefined,
    options.metricsFile !== undefined ? "--metrics-file" : undefined,
    options.split > 1 ? "--split" : undefined,
    options.state.kind === "redis" ? "--state" : undefined,
  ].filter((flag): flag is string => flag !== undefined);
  const [flag] = ignored;
  if (flag)
    throw new UsageError(
      flag,
      `${flag} has no meaning with -o - (a stream to stdout): drop one of them`,
    );
}

/** Resolves once every write handed to `out` so far is done: to the error that stopped one, if any. */
function flushed(out: Writable): Promise<Error | undefined> {
  if (out.errored) return Promise.resolve(out.errored);
  if (out.destroyed || out.writableEnded) return Promise.resolve(new Error("stdout is closed"));
  return new Promise((resolve) => out.write("", (error) => resolve(error ?? undefined)));
}
