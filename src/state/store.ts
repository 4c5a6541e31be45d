/**
 * The state a sync keeps between runs — leases, markers, part records, circuit state — behind one
 * interface. `FsStateStore` keeps it in files (one machine), `MemoryStateStore` in memory (tests,
 * and the reference the conformance suite holds every store to), `RedisStateStore` in Redis
 * (`--state redis://…`: many hosts share it).
 *
 * Every write that could undo another writer's work carries the writer's fence: a store refuses
 * it once the lease behind that fence has been taken over (`StaleFenceError`).
 */

import type { ChecksumAlgorithm } from "../checksums/digest.js";
import { SyncError } from "../errors.js";
import type { CircuitState } from "../policies/breaker.js";
import type { Validators } from "../sources/source.js";

/** The proof of holding a lease: a number that grows each time the lease changes hands. */
export interface Fence {
  /** The lease key it belongs to. */
  readonly key: string;
  readonly value: number;
  /** Tells this holding from any other with the same value (a holder that lost and retook it). */
  readonly token: string;
}

/** How the previous holder of a lease let it go, as far as the store can tell. */
export type Predecessor =
  /** Nobody held it, or its holder released it. */
  | { ended: "released" }
  /** Taken over from a holder known to be dead (its process is gone): its files are quiet. */
  | { ended: "gone"; fence: number; token: string }
  /** Taken over because its lease ran out: the holder may still be running (paused, cut off). */
  | { ended: "expired"; fence: number; token: string };

/** Why a held lease stopped being ours. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
  readonly key: string;
  /**
   * Whether another run took the lease over: that run (or one after it) is responsible for the
   * destination now. False when the store no longer has the lease and nobody took it — it lapsed
   * while its holder was paused, or the store lost it (a Redis restarted without persistence):
   * nobody is syncing the destination.
   */
  readonly takenOver: boolean;
  constructor(key: string, reason: string, takenOver = true) {
    super(`lock lost: ${reason}`);
    this.key = key;
    this.takenOver = takenOver;
  }
}

/** A write refused because the writer's fence is no longer the lease's. */
export class StaleFenceError extends Error {
  override readonly name = "StaleFenceError";
  constructor(key: string, fence: Fence) {
    super(`refused a write to ${key}: fence ${fence.value} of ${fence.key} is no longer held`);
  }
}

/**
 * A shared store (Redis) could not be reached, or did not answer, when a lease or a record needed
 * it: whatever depended on it stops (a `write_error`: the state cannot be written), and nothing
 * is committed on a lease the store cannot confirm.
 */
export class StateUnavailableError extends SyncError {
  constructor(message: string, cause?: unknown) {
    super("write_error", message, cause === undefined ? {} : { cause });
  }
}

/**
 * A held lease. The store renews it while it is held; `lost` aborts (with a `LeaseLostError`)
 * once the store sees that someone else took it over — at the next renewal or `check` — or (with
 * a `StateUnavailableError`) once a shared store stayed unreachable for so long that the lease
 * may have run out there.
 */
export interface Lease {
  readonly key: string;
  readonly fence: Fence;
  readonly predecessor: Predecessor;
  readonly lost: AbortSignal;
  /**
   * Throws `LeaseLostError` unless the lease is still ours now (renewing it if it is getting old);
   * a shared store that cannot be asked throws `StateUnavailableError`: never a yes it cannot prove.
   */
  check(): Promise<void>;
  /** Gives the lease up. Idempotent, never throws; never frees a lease someone else took over. */
  release(): Promise<void>;
}

export interface AcquireOptions {
  /** A holder silent for this long (no renewal) may be taken over. */
  ttlMs: number;
  /** How long to wait for a busy lease; 0 tries once. */
  waitMs: number;
  signal?: AbortSignal;
  /**
   * Called before every try to take the lease (a lock file beside a local destination is made
   * in its folder: the folder is checked again each time); a throw ends `acquire` with it.
   */
  guard?: () => void;
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
  destinationCtimeMs: number;
  destinationIno: number;
  syncedAt: string;
}

/** Where a kept part file is and what it was, so that only that very file is ever resumed. */
export interface PartFile {
  /** Its name in the destination's folder. */
  name: string;
  dev: number;
  ino: number;
  uid: number;
  /** Its size when its writer closed it (0 while it is being written). */
  size: number;
}

/** A kept part: the file, the source version its bytes belong to, and who wrote it. */
export interface PartRecord {
  source: string;
  validators: Validators;
  file: PartFile;
  /** The fence of the lease it was written under. */
  fence: number;
  /** The token of that lease's holding (fences are numbers, tokens are unique). */
  holder: string;
  /** True once its writer stopped writing (the attempt ended); false while (or if killed while) writing. */
  closed: boolean;
  /**
   * A part fetched in segments (`--split`): the file has its full size from the start and each
   * segment is written in order from its own start. `done` counts only bytes made durable
   * (fdatasync) before the record was written, so a resume never trusts more than the disk holds.
   * Absent: a part written in one stream, whose size is its progress.
   */
  segments?: SegmentRecord[];
}

/** One segment of a part: the bytes `[start, end)` of the file, durably written up to `done`. */
export interface SegmentRecord {
  start: number;
  end: number;
  done: number;
}

export interface StateStore {
  /** Takes the lease `key`, or returns `undefined` when it stays busy for `waitMs`. */
  acquire(key: string, options: AcquireOptions): Promise<Lease | undefined>;
  readMarker(key: string): Promise<Marker | undefined>;
  /** Refuses (`StaleFenceError`) when `fence` is no longer held. */
  writeMarker(key: string, marker: Marker, fence: Fence): Promise<void>;
  /**
   * `writeMarker`, then the lease released, as one step: the last thing a job does under its
   * lease. Refuses (`StaleFenceError`) when the lease is no longer held, writing nothing. Once it
   * resolves the lease may have ended; whatever the outcome, nothing may be written under it any
   * more, and `lease.release()` stays the caller's to call (a no-op for a lease already ended).
   * Absent: `writeMarker` and `release` do the same in two steps.
   */
  writeMarkerAndRelease?(key: string, marker: Marker, lease: Lease): Promise<void>;
  readPart(key: string): Promise<PartRecord | undefined>;
  /**
   * Whether a holder of `key` left something behind that only a lease holder may clear (a lock
   * file of a killed run, a part record): the no-op fast path then takes the leased way, which
   * clears it. Cheap (no file is read). Absent: nothing is ever left behind.
   */
  hasLeftovers?(key: string): boolean;
  /** Refuses (`StaleFenceError`) when `fence` is no longer held. */
  writePart(key: string, record: PartRecord, fence: Fence): Promise<void>;
  /** Refuses (`StaleFenceError`) when `fence` is no longer held. */
  deletePart(key: string, fence: Fence): Promise<void>;
  readCircuit(origin: string): Promise<CircuitState>;
  /**
   * Applies `update` to the origin's circuit atomically — no other update of that origin lands
   * between its read and its write — and resolves to the new state. `update` must be pure: a
   * store may call it more than once.
   */
  updateCircuit(
    origin: string,
    update: (current: CircuitState) => CircuitState,
  ): Promise<CircuitState>;
}
