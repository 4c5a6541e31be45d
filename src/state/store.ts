/**
 * The state a sync keeps between runs — locks, markers, partial-download records, circuit state —
 * behind one small interface. `FsStateStore` keeps it in files in the lock dir; a shared backend
 * (Redis) can implement the same interface for fleets of machines.
 */
import { createHash } from "node:crypto";
import type { CircuitState } from "../policies/breaker.js";
import type { Validators } from "../sources/source.js";
import type { ChecksumAlgorithm } from "../transfer/digest.js";

/** A held lock. `release` is idempotent and never throws. */
export interface Lock {
  readonly name: string;
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** How long to wait for a busy lock; 0 tries once. */
  waitMs: number;
  signal?: AbortSignal;
}

/** What the last successful sync of a pair recorded. */
export interface Marker {
  source: string;
  destination: string;
  /** The source's validators when it was fetched. */
  validators: Validators;
  algorithm: ChecksumAlgorithm;
  checksum: string;
  /** The destination as committed: a hand edit changes one of these, and the next run repairs it. */
  destinationSize: number;
  destinationMtimeMs: number;
  destinationIno: number;
  syncedAt: string;
}

/** What a kept `.part` file holds: the validators it was fetched under, to resume only when they still agree. */
export interface PartialRecord {
  source: string;
  validators: Validators;
}

export interface StateStore {
  /** Takes the lock `name`, or returns `undefined` when it stays busy for `waitMs`. */
  acquireLock(name: string, options: AcquireOptions): Promise<Lock | undefined>;
  readMarker(key: string): Promise<Marker | undefined>;
  writeMarker(key: string, marker: Marker): Promise<void>;
  readPartial(key: string): Promise<PartialRecord | undefined>;
  writePartial(key: string, record: PartialRecord): Promise<void>;
  deletePartial(key: string): Promise<void>;
  readCircuit(origin: string): Promise<CircuitState>;
  writeCircuit(origin: string, state: CircuitState): Promise<void>;
}

/** The marker key of one source/destination pair (`source` is the source's redacted identity). */
export function pairKey(source: string, destination: string): string {
  return createHash("sha256").update(`${source}\0${destination}`).digest("hex").slice(0, 32);
}

/** The key of a destination's lock and part-file record: one writer per file, whatever its source. */
export function destinationKey(destination: string): string {
  return `dest-${createHash("sha256").update(destination).digest("hex").slice(0, 27)}`;
}
