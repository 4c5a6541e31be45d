/**
 * `StateStore` on the local filesystem: one folder (the lock dir) holding `<key>.marker.json`,
 * `<key>.part.json`, `circuit-<hash>.json` and the fence counters; leases are lock files
 * (`fs-leases.ts`), those of local destinations beside the destination. Every record write is
 * write-temp-then-rename, so a crash leaves the old record or the new one, never half of one.
 *
 * State files are tiny and local: the hot paths use synchronous calls, a few microseconds each,
 * where an async call's round trip through the thread pool costs tens.
 *
 * Fences are checked against the lock file just before each guarded write. The check and the
 * write are two steps: a holder frozen between them for longer than the lease could still land
 * one write. Files offer no compare-and-set; the window is microseconds of running code.
 */
import { hash } from "node:crypto";
import { unlinkSync } from "node:fs";
import { normalize } from "node:path";
import type { Clock } from "../clock.js";
import { errorCodeOf } from "../errors.js";
import { type Failpoint, noFailpoint } from "../failpoints.js";
import { readSmallFile } from "../fs/no-follow.js";
import { childPath } from "../fs/paths.js";
import { lstatOrUndefined, rememberingStat } from "../fs/stat.js";
import { writeAtomically } from "../fs/write-atomically.js";
import type { Logger } from "../log/events.js";
import { type CircuitState, CLOSED } from "../policies/breaker.js";
import { FsLeases } from "./fs-leases.js";
import { checkFolderWritable, probeFolder } from "./lock-dir-checks.js";
import { circuitRecordOf, isMarker, isPartRecord, withoutHolder } from "./records.js";
import { SerialByKey } from "./serial-by-key.js";
import {
  type AcquireOptions,
  type Fence,
  type Lease,
  type Marker,
  type PartRecord,
  StaleFenceError,
  type StateStore,
} from "./store.js";

/** How long a circuit update may wait for another process's update of the same origin. */
const CIRCUIT_LOCK_WAIT_MS = 5000;
const CIRCUIT_LOCK_TTL_MS = 5000;

export class FsStateStore implements StateStore {
  readonly dir: string;
  /** `dir` normalised, for the records' paths. */
  readonly #base: string;
  readonly #logger: Logger;
  readonly #leases: FsLeases;
  readonly #failpoint: Failpoint;
  /** Circuit updates of this process, one at a time per origin (other processes: the circuit lock). */
  readonly #circuitUpdates = new SerialByKey();
  /** Whether the last marker read was there: the next is looked for the way that pays then. */
  #markersFound = false;
  /**
   * Whether a record made here is open to every user: made 0644 (umask, default ACL). Only then
   * may a lock, open to all, become a marker. `undefined`: not known yet.
   */
  #recordsOpenToAll: boolean | undefined;

  constructor(dir: string, clock: Clock, logger: Logger, failpoint: Failpoint = noFailpoint) {
    this.dir = dir;
    this.#base = normalize(dir);
    this.#logger = logger;
    this.#failpoint = failpoint;
    this.#leases = new FsLeases(dir, clock, logger);
  }

  acquire(key: string, options: AcquireOptions): Promise<Lease | undefined> {
    return this.#leases.acquire(key, options);
  }

  /** Where the lock file of lease `key` lives (for messages and tests). */
  lockPath(key: string): string {
    return this.#leases.lockPath(key);
  }

  #checkFence(key: string, fence: Fence): void {
    if (!this.#leases.verify(fence)) throw new StaleFenceError(key, fence);
  }

  async readMarker(key: string): Promise<Marker | undefined> {
    const path = this.#path(key, "marker");
    const marker = await this.#readRecord<Marker>(path, isMarker, this.#markersFound);
    // A run's pairs tend alike: all new (a first run) or all synced before (a re-run).
    this.#markersFound = marker !== undefined;
    return marker && withoutHolder(marker);
  }

  async writeMarker(key: string, marker: Marker, fence: Fence): Promise<void> {
    this.#checkFence(key, fence);
    await this.#writeRecord(this.#path(key, "marker"), JSON.stringify(marker), () =>
      this.#failpoint("marker-written"),
    );
  }

  /** `writeAtomically`, learning from it whether records here are open to all, until known. */
  async #writeRecord(path: string, text: string, beforeRename?: () => Promise<void>) {
    const learn = this.#recordsOpenToAll === undefined;
    const mode = await writeAtomically(path, text, beforeRename, learn);
    if (learn) this.#recordsOpenToAll = mode === 0o644;
  }

  /**
   * The marker, then the lease released, in one rename: the lease's lock file becomes the marker
   * (`FsLeases.beginHandOver`), so a new pair costs no inode for its marker and no unlink for its
   * lock. Where that cannot be done (a lock on another device than the lock dir …) the marker is
   * written as `writeMarker` does, then the lease released.
   *
   * The marker keeps the lock's 0644, so it is handed over only once records here are known to be
   * open to all (the probe of `ensureWritable`, or a record written anew, came out 0644): where
   * the umask or the folder's default ACL keeps records from others, a reader who opened the lock
   * while it was open to all would read the marker through it. (A private folder above the lock
   * dir is not looked at: such a reader must reach the destination's folder, where the lock is,
   * and the marker then tells it the destination's source, redacted, and digest.)
   */
  async writeMarkerAndRelease(key: string, marker: Marker, lease: Lease): Promise<void> {
    const path = this.#path(key, "marker");
    // The hand-over checks the fence itself (the lock file is still ours); when it cannot be
    // made, `writeMarker` checks it.
    const steps =
      this.#recordsOpenToAll === true
        ? this.#leases.beginHandOver(lease.fence, path, JSON.stringify(marker))
        : undefined;
    if (!steps) {
      await this.writeMarker(key, marker, lease.fence);
      return lease.release();
    }
    try {
      await this.#failpoint("marker-written");
    } catch (error) {
      steps.abandon();
      throw error;
    }
    const outcome = steps.finish();
    if (outcome === "not-ours") throw new StaleFenceError(key, lease.fence);
    if (outcome === "cross-device") {
      // The lock is still ours (checked just before the rename): write the marker the usual way,
      // then end the lease.
      try {
        await this.#writeRecord(path, JSON.stringify(marker));
      } finally {
        steps.abandon();
      }
    }
  }

  hasLeftovers(key: string): boolean {
    const exists = (path: string) => {
      try {
        return lstatOrUndefined(path) !== undefined;
      } catch {
        return false; // cannot be looked at: nothing this run could clear either
      }
    };
    const lock = this.#leases.lockPath(key, this.#folderIdentities);
    return exists(lock) || exists(this.#path(key, "part"));
  }

  /**
   * A folder's identity as seen in the last ten seconds, for `hasLeftovers` alone: a batch asks
   * it once per file, of the same few folders. Were a folder replaced meanwhile, the answer could
   * miss a leftover lock, which only delays its clearing: the fast path it guards writes nothing,
   * and every lease is still taken by the folder's identity now (`acquire`).
   */
  readonly #folderIdentities = rememberingStat();

  readPart(key: string): Promise<PartRecord | undefined> {
    return this.#readRecord(this.#path(key, "part"), isPartRecord);
  }

  async writePart(key: string, record: PartRecord, fence: Fence): Promise<void> {
    this.#checkFence(key, fence);
    await this.#writeRecord(this.#path(key, "part"), JSON.stringify(record));
  }

  async deletePart(key: string, fence: Fence): Promise<void> {
    this.#checkFence(key, fence);
    try {
      unlinkSync(this.#path(key, "part"));
    } catch (error) {
      if (errorCodeOf(error) !== "ENOENT") throw error;
    }
  }

  async readCircuit(origin: string): Promise<CircuitState> {
    const state = await this.#readRecord(
      this.#circuitPath(origin),
      (value) => circuitRecordOf(value, origin) !== undefined,
    );
    return state ? (circuitRecordOf(state, origin) ?? CLOSED) : CLOSED;
  }

  updateCircuit(
    origin: string,
    update: (current: CircuitState) => CircuitState,
  ): Promise<CircuitState> {
    return this.#circuitUpdates.run(origin, () => this.#updateCircuitLocked(origin, update));
  }

  async #updateCircuitLocked(
    origin: string,
    update: (current: CircuitState) => CircuitState,
  ): Promise<CircuitState> {
    const lease = await this.#leases.acquire(`circuit:${origin}`, {
      ttlMs: CIRCUIT_LOCK_TTL_MS,
      waitMs: CIRCUIT_LOCK_WAIT_MS,
    });
    if (!lease) throw new Error(`the circuit state of ${origin} stayed locked`);
    try {
      const next = update(await this.readCircuit(origin));
      // A holder stalled past its lease must not overwrite a newer state.
      await lease.check();
      await this.#writeRecord(this.#circuitPath(origin), JSON.stringify({ origin, ...next }));
      return next;
    } finally {
      await lease.release();
    }
  }

  /** The file that holds record `key` of `kind` (for messages and tests). */
  recordPath(key: string, kind: "marker" | "part"): string {
    return this.#path(key, kind);
  }

  #path(key: string, kind: "marker" | "part"): string {
    return childPath(this.#base, `${hashOf(key)}.${kind}.json`);
  }

  #circuitPath(origin: string): string {
    return childPath(this.#base, `circuit-${hashOf(origin)}.json`);
  }

  /**
   * Reads a JSON record; a missing one is `undefined`, a damaged one is a warning and `undefined`.
   * `likelyThere`: open it at once rather than first asking whether it is there.
   */
  async #readRecord<T>(
    path: string,
    valid: (value: unknown) => boolean,
    likelyThere = false,
  ): Promise<T | undefined> {
    let read: ReturnType<typeof readSmallFile>;
    try {
      // "No record" is the common answer for a new pair (twice per file on a first run): a stat
      // that returns nothing costs a third of an `open` that fails, whose exception is built.
      // Where records are likely there (a re-run's markers), the stat is one call too many.
      if (!likelyThere && lstatOrUndefined(path) === undefined) return undefined;
      read = readSmallFile(path);
    } catch (error) {
      this.#warnUnreadable(path, errorCodeOf(error) ?? String(error));
      return undefined;
    }
    if (read === undefined) return undefined;
    if (read === null) {
      this.#warnUnreadable(path, "not a regular file");
      return undefined;
    }
    // Another user's record (or one others may write) could say anything: never trust it.
    const uid = process.getuid?.();
    if (uid !== undefined && read.stats.uid !== uid) {
      this.#warnUnreadable(path, `owned by uid ${read.stats.uid}, not this user`);
      return undefined;
    }
    if ((read.stats.mode & 0o022) !== 0) {
      this.#warnUnreadable(path, "writable by other users");
      return undefined;
    }
    try {
      const value: unknown = JSON.parse(read.text);
      if (valid(value)) return value as T;
      this.#warnUnreadable(path, "unexpected content");
    } catch {
      this.#warnUnreadable(path, read.text.length === 0 ? "empty file" : "not JSON");
    }
    return undefined;
  }

  #warnUnreadable(path: string, reason: string): void {
    this.#logger.emit("warning", "ignored unreadable state", { file: path, reason });
  }

  /** Throws unless the lock dir, or the nearest folder above it that exists, is writable. Writes nothing. */
  checkWritable(): Promise<void> {
    return checkFolderWritable(this.dir);
  }

  /**
   * Creates the lock dir; throws when it cannot be created or written. Its probe file also tells
   * whether records here are open to all, so that a run's first marker may be a lock handed over.
   */
  async ensureWritable(): Promise<void> {
    this.#recordsOpenToAll = (await probeFolder(this.dir)) === 0o644;
  }
}

function hashOf(key: string): string {
  return hash("sha256", key, "hex").slice(0, 32);
}
