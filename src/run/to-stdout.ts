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
import { ResultBuilder } from "../core/result.js";
import type { JobSource, JobSpec } from "../core/spec.js";
import { SyncError, UsageError } from "../errors.js";
import type { Logger } from "../log/events.js";
import type { ResolvedOptions } from "../options/normalize.js";
import { backoffDelayMs } from "../policies/backoff.js";
import { PROGRESS_FLOOR_BYTES } from "../policies/retry.js";
import type { Validators } from "../sources/source.js";
import { MemoryStateStore } from "../state/memory-store.js";
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
  if (location.kind === "http" && new URL(location.href).pathname.endsWith("/"))
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
  // Attempts that made progress are free, as in a file transfer; a silent origin is given up on
  // after --retry-max-time, counted from the last answer or byte.
  let counted = 0;
  let heardAt = started;
  let resumedFrom = 0;
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
  let written = 0;
  let version: Validators | undefined;
  let attempt = 1;
  const reader = runtime.sources.open(source);
  try {
    for (; ; attempt += 1) {
      const before = written;
      try {
        logger.emit("info", "attempting download", {
          ...names,
          attempt,
          max_attempts: spec.maxAttempts,
          resume_from: written,
        });
        const opened = await reader.open({
          offset: written,
          resumeIf: written > 0 ? version : undefined,
          unchangedIf: undefined,
          signal: either,
        });
        if (opened.kind !== "body") throw new SyncError("http_error", "unexpected answer");
        if (opened.offset !== written)
          throw new SyncError(
            "http_error",
            `the source cannot resume at byte ${written} (no ranges, or it changed), and the bytes already written to stdout cannot be taken back`,
          );
        version = opened.validators;
        heardAt = clock.monotonic();
        if (written > 0) resumedFrom = written;
        for await (const chunk of opened.body as AsyncIterable<Buffer>) {
          if (options.maxFileBytes !== undefined && written + chunk.length > options.maxFileBytes)
            throw new SyncError(
              "write_error",
              `${location.display} is larger than --max-filesize (${options.maxFileBytes} bytes)`,
            );
          await runtime.limiter?.take(chunk.length, either);
          hasher?.update(chunk);
          written += chunk.length;
          heardAt = clock.monotonic();
          if (!settings.out.write(chunk)) await once(settings.out, "drain", { signal: either });
        }
        break;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (deadline?.aborted) {
          logger.emit("error", "synchronization failed", {
            ...names,
            error_code: "deadline",
            reason: `run deadline of ${(options.deadlineMs ?? 0) / 1000} s passed`,
          });
          return EXIT.transfer;
        }
        if (closedBy) {
          logger.emit("error", "synchronization failed", {
            ...names,
            error_code: "write_error",
            reason: `stdout closed by its reader: ${closedBy.message}`,
          });
          return EXIT.write;
        }
        // A body cut short arrives as the socket's error: the source says what it means.
        const failure = error instanceof SyncError ? error : reader.describeError(error);
        logger.emit("warning", "download failed", {
          ...names,
          attempt,
          error_code: failure.code,
          reason: failure.message,
          retryable: failure.retryable,
          ...(failure.status === undefined ? {} : { status: failure.status }),
        });
        if (written - before < PROGRESS_FLOOR_BYTES && !failure.throttled) counted += 1;
        const silentFor = clock.monotonic() - heardAt;
        if (!failure.retryable || counted >= spec.maxAttempts || silentFor >= spec.retryMaxTimeMs) {
          const result = new ResultBuilder(spec, clock).failed(failure);
          logger.emit("error", "synchronization failed", {
            ...names,
            error_code: failure.code,
            reason: failure.message,
          });
          return exitCodeFor([result]);
        }
        const delay =
          // The backoff starts over after progress, as in a file transfer.
          (failure.retryAfterMs ?? backoffDelayMs(Math.max(1, counted), Math.random)) *
          (failure.retryAfterMs === undefined ? options.backoffFactor : 1);
        logger.emit("info", "sleeping before retry", {
          ...names,
          attempt,
          next_attempt: attempt + 1,
          delay_ms: Math.round(delay),
          retry_after_ms: failure.retryAfterMs ?? null,
        });
        const slept = await clock.sleep(delay * settings.delayScale, either).then(
          () => true,
          () => false,
        );
        if (!slept) {
          // The wait was cut: by a signal (rethrown), the deadline or a closed stdout (said).
          if (signal.aborted) throw signal.reason;
          // Set by the stream's error handler while the wait ran (the compiler cannot know).
          const closed = closedBy as Error | undefined;
          logger.emit("error", "synchronization failed", {
            ...names,
            error_code: closed ? "write_error" : "deadline",
            reason: closed
              ? `stdout closed by its reader: ${closed.message}`
              : `run deadline of ${(options.deadlineMs ?? 0) / 1000} s passed`,
          });
          return closed ? EXIT.write : EXIT.transfer;
        }
      }
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
    logger.emit("info", "download successful", {
      ...names,
      attempt,
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
