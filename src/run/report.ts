/** The results document (README, "Results document") and the exit code it implies (README, "Exit codes"). */
import type { SourceResult } from "../core/result.js";
import type { FailureCode } from "../errors.js";
import type { Logger } from "../log/events.js";

export type { SourceResult, Status } from "../core/result.js";

export interface Summary {
  total: number;
  synced: number;
  unchanged: number;
  skipped: number;
  failed: number;
  bytes: number;
}

/**
 * The results document's shape version: raised when a field changes meaning or goes away (new
 * fields are added without a raise). The schema (schema/results.schema.json) says which it is.
 */
export const SCHEMA_VERSION = 1;

export interface Report {
  schema_version: typeof SCHEMA_VERSION;
  run_id: string;
  version: string;
  started_at: string;
  finished_at: string;
  duration_ms: number;
  exit_code: number;
  summary: Summary;
  results: SourceResult[];
}

export const EXIT = {
  ok: 0,
  partial: 1,
  environment: 42,
  usage: 64,
  checksum: 65,
  transfer: 70,
  write: 73,
  circuitOpen: 75,
  sigint: 130,
  sigterm: 143,
} as const;

export function summarize(results: SourceResult[]): Summary {
  return Tally.of(results).summary();
}

/**
 * The counts a report needs, kept as results arrive: the summary and the exit code of any number
 * of results in constant memory (a run streaming its results keeps nothing else of them).
 */
export class Tally {
  readonly #summary: Summary = {
    total: 0,
    synced: 0,
    unchanged: 0,
    skipped: 0,
    failed: 0,
    bytes: 0,
  };
  /** The failure codes seen, to tell whether every failure had one common cause. */
  readonly #failureCodes = new Set<FailureCode | undefined>();

  static of(results: Iterable<SourceResult>): Tally {
    const tally = new Tally();
    for (const result of results) tally.add(result);
    return tally;
  }

  add(result: SourceResult): void {
    const summary = this.#summary;
    summary.total += 1;
    summary[result.status] += 1;
    summary.bytes += result.bytes;
    if (result.status === "failed") this.#failureCodes.add(result.error?.code);
  }

  summary(): Summary {
    return { ...this.#summary };
  }

  /**
   * 0 when nothing failed; 1 when some failed and some did not; when all failed, the code of
   * their common cause (65, 73, 75), else 70.
   */
  exitCode(): number {
    const { failed, total } = this.#summary;
    if (failed === 0) return EXIT.ok;
    if (failed < total) return EXIT.partial;
    const [only] = this.#failureCodes;
    return this.#failureCodes.size === 1 && only !== undefined
      ? (CODE_EXIT[only] ?? EXIT.transfer)
      : EXIT.transfer;
  }
}

/** What a finished run says about itself: its id, version and times. */
export interface RunTimes {
  runId: string;
  version: string;
  /** Wall-clock ms at the start and at the end. */
  startedAt: number;
  finishedAt: number;
  durationMs: number;
}

/**
 * Logs `synchronization complete` (info, or error when the exit code is not 0) and returns the
 * report of a finished run: one shape for a local run and a fleet's batch alike.
 */
export function finishReport(
  tally: Tally,
  times: RunTimes,
  logger: Logger,
  results: SourceResult[] = [],
): Report {
  const summary = tally.summary();
  const exitCode = tally.exitCode();
  logger.emit(exitCode === 0 ? "info" : "error", "synchronization complete", {
    exit_code: exitCode,
    duration_ms: times.durationMs,
    ...summary,
  });
  return {
    schema_version: SCHEMA_VERSION,
    run_id: times.runId,
    version: times.version,
    started_at: new Date(times.startedAt).toISOString(),
    finished_at: new Date(times.finishedAt).toISOString(),
    duration_ms: times.durationMs,
    exit_code: exitCode,
    summary,
    results,
  };
}

const CODE_EXIT: Partial<Record<FailureCode, number>> = {
  checksum_mismatch: EXIT.checksum,
  write_error: EXIT.write,
  circuit_open: EXIT.circuitOpen,
};

/** The exit code of `results` (see `Tally.exitCode`). */
export function exitCodeFor(results: SourceResult[]): number {
  return Tally.of(results).exitCode();
}
