/** One pair's result, as the results document lists it (keys in the documented order). */
import type { ChecksumAlgorithm } from "../checksums/digest.js";
import type { Clock } from "../clock.js";
import type { FailureCode, SyncError } from "../errors.js";
import type { JobSpec } from "./spec.js";

export type Status = "synced" | "unchanged" | "skipped" | "failed";

export interface SourceResult {
  source: string;
  destination: string;
  status: Status;
  /** The destination's digest after the run; null when there is none (or it could not be read in time). */
  checksum: string | null;
  algorithm: string;
  /** Body bytes received in this run. */
  bytes: number;
  attempts: number;
  duration_ms: number;
  error: { code: FailureCode; message: string } | null;
}

/** The algorithm a pair is hashed in: its expected digest's, else the run's. */
export function algorithmOf(spec: JobSpec): ChecksumAlgorithm {
  return spec.expected?.algorithm ?? spec.algorithm;
}

/** The errors failed results were built from, kept beside them (a result is plain JSON). */
const failures = new WeakMap<SourceResult, SyncError>();

/**
 * The error a failed result was built from, with its `cause` chain: how a caller that can try
 * again (a fleet worker) tells a failure of the state store from one of the transfer. Undefined
 * for a result that did not fail, or one not built by `ResultBuilder`.
 */
export function failureOf(result: SourceResult): SyncError | undefined {
  return failures.get(result);
}

/** Builds a pair's result, timing it from construction. */
export class ResultBuilder {
  readonly #spec: JobSpec;
  readonly #clock: Clock;
  readonly #started: number;

  constructor(spec: JobSpec, clock: Clock) {
    this.#spec = spec;
    this.#clock = clock;
    this.#started = clock.monotonic();
  }

  result(fields: Partial<SourceResult> & Pick<SourceResult, "status">): SourceResult {
    return {
      source: this.#spec.source.display,
      destination: this.#spec.destination,
      status: fields.status,
      checksum: fields.checksum ?? null,
      algorithm: algorithmOf(this.#spec),
      bytes: fields.bytes ?? 0,
      attempts: fields.attempts ?? 0,
      duration_ms: Math.round(this.#clock.monotonic() - this.#started),
      error: fields.error ?? null,
    };
  }

  failed(error: SyncError, fields: Partial<SourceResult> = {}): SourceResult {
    const result = this.result({
      ...fields,
      status: "failed",
      error: { code: error.code, message: error.message },
    });
    failures.set(result, error);
    return result;
  }
}
