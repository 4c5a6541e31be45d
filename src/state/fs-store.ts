/**
 * `StateStore` on the local filesystem: one folder (the lock dir) holding `<key>.lock`,
 * `<key>.marker.json`, `<key>.partial.json` and `circuit-<hash>.json`. Every write is
 * write-temp-then-rename, so a crash leaves the old record or the new one, never half of one.
 *
 * Locks are files created atomically with `link()` (content and existence appear together) and
 * name their holder: pid, host and the process's start time. A lock whose holder is gone (killed
 * with SIGKILL) is taken over at once; the start time catches a pid reused by another process.
 * Liveness can only be checked on the same host: this store is for one machine.
 *
 * State files are tiny and local: the hot paths (locks, markers, records) use synchronous calls,
 * a few microseconds each, where an async call's round trip through the thread pool costs tens —
 * the difference between 500 and 2,000 small files a second.
 */
import { createHash, randomUUID } from "node:crypto";
import {
  type BigIntStats,
  closeSync,
  constants,
  fstatSync,
  openSync,
  readFileSync,
  readlinkSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { access, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import type { Clock } from "../clock.js";
import { errorCodeOf } from "../errors.js";
import { type Failpoint, noFailpoint } from "../failpoints.js";
import type { Logger } from "../log/events.js";
import { mkdirs } from "../mkdirs.js";
import { type CircuitState, CLOSED, circuitFromJSON } from "../policies/breaker.js";
import type { AcquireOptions, Lock, Marker, PartialRecord, StateStore } from "./store.js";

interface LockOwner {
  pid: number;
  host: string;
  /** Process start time in clock ticks since boot (Linux `/proc/<pid>/stat` field 22). */
  start: string | null;
  /** The pid namespace (`/proc/self/ns/pid`): a pid means something only inside its own. */
  pidns: string | null;
  token: string;
  created_at: string;
}

/** A lock-break marker older than this belonged to a process killed mid-takeover. */
const STALE_BREAK_MS = 2000;
/** A held lock's mtime is refreshed this often (its lease)… */
const LEASE_REFRESH_MS = 1000;
/** …and a lock whose holder cannot be asked directly is stale once its lease is this old. */
export const LEASE_STALE_MS = 5000;
const POLL_MIN_MS = 25;
const POLL_MAX_MS = 250;

export class FsStateStore implements StateStore {
  readonly dir: string;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #host = hostname();
  readonly #ownStart = processStartTime(process.pid);
  readonly #ownPidns = pidNamespace();

  readonly #failpoint: Failpoint;

  constructor(dir: string, clock: Clock, logger: Logger, failpoint: Failpoint = noFailpoint) {
    this.#failpoint = failpoint;
    this.dir = dir;
    this.#clock = clock;
    this.#logger = logger;
  }

  async acquireLock(name: string, options: AcquireOptions): Promise<Lock | undefined> {
    const path = join(this.dir, `${name}.lock`);
    const giveUpAt = this.#clock.monotonic() + options.waitMs;
    let pause = POLL_MIN_MS;
    for (;;) {
      const lock = await this.#tryLock(path, name);
      if (lock) return lock;
      const remaining = giveUpAt - this.#clock.monotonic();
      if (remaining <= 0) return undefined;
      await this.#clock.sleep(Math.min(pause, remaining), options.signal);
      pause = Math.min(pause * 2, POLL_MAX_MS);
    }
  }

  async #tryLock(path: string, name: string): Promise<Lock | undefined> {
    const owner: LockOwner = {
      pid: process.pid,
      host: this.#host,
      start: this.#ownStart,
      pidns: this.#ownPidns,
      token: randomUUID(),
      created_at: new Date(this.#clock.now()).toISOString(),
    };
    const text = JSON.stringify(owner);
    // A few rounds: a stale lock removed in one round is free in the next.
    for (let round = 0; round < 3; round += 1) {
      const identity = await this.#createExclusive(path, text);
      if (identity !== undefined) return this.#held(path, name, identity);
      const held = await readText(path);
      const info = await stat(path).catch(() => undefined);
      if (held === undefined || info === undefined) continue; // released meanwhile
      const verdict = this.#holderState(held, this.#clock.now() - info.mtimeMs);
      if (verdict.alive) return undefined;
      await this.#breakStale(path, held, verdict);
    }
    return undefined;
  }

  /**
   * Creates `path` holding `text`; its inode, or `undefined` when it exists. The file exists a
   * moment before its content does: a reader that finds it empty treats it as held while its
   * lease is fresh, so nobody breaks a lock being born.
   */
  async #createExclusive(path: string, text: string): Promise<FileIdentity | undefined> {
    let fd: number;
    try {
      fd = openSync(path, "wx");
    } catch (error) {
      if (errorCodeOf(error) === "EEXIST") return undefined;
      throw error;
    }
    try {
      writeSync(fd, text);
      return identityOf(fstatSync(fd, { bigint: true }), text);
    } catch (error) {
      // A lock that could not be written (a full disk) must not stay behind, empty, as if held.
      try {
        unlinkSync(path);
      } catch {
        // gone already
      }
      throw error;
    } finally {
      closeSync(fd);
    }
  }

  /** A held lock: its lease is refreshed until it is released. */
  #held(path: string, name: string, identity: FileIdentity): Lock {
    const heartbeat = setInterval(() => {
      const now = new Date(this.#clock.now());
      utimes(path, now, now).catch(() => {});
    }, LEASE_REFRESH_MS);
    heartbeat.unref();
    return {
      name,
      release: () => {
        clearInterval(heartbeat);
        return this.#release(path, identity);
      },
    };
  }

  /**
   * Whether a lock's holder still lives. On this host and in this pid namespace the holder's pid
   * and start time answer at once (a SIGKILLed holder frees its lock immediately). Elsewhere —
   * another host or container sharing the folder, or a lock file we cannot read — only the lease
   * can tell: the holder refreshes the file's mtime every second, so five seconds of silence
   * means it is gone.
   */
  #holderState(
    text: string,
    ageMs: number,
  ): { alive: boolean; pid: number | null; reason: string } {
    const leaseExpired = ageMs > LEASE_STALE_MS;
    let owner: Partial<LockOwner>;
    try {
      owner = JSON.parse(text) as Partial<LockOwner>;
    } catch {
      return { alive: !leaseExpired, pid: null, reason: "unreadable lock file, lease expired" };
    }
    if (typeof owner.pid !== "number" || typeof owner.host !== "string") {
      return { alive: !leaseExpired, pid: null, reason: "foreign lock file, lease expired" };
    }
    const sameNamespace = owner.host === this.#host && (owner.pidns ?? null) === this.#ownPidns;
    if (!sameNamespace) {
      return { alive: !leaseExpired, pid: owner.pid, reason: "holder's lease expired" };
    }
    if (!processExists(owner.pid))
      return { alive: false, pid: owner.pid, reason: "holder process is gone" };
    const start = processStartTime(owner.pid);
    if (owner.start && start && owner.start !== start) {
      return { alive: false, pid: owner.pid, reason: "holder pid was reused by another process" };
    }
    return { alive: true, pid: owner.pid, reason: "held" };
  }

  /**
   * Removes a stale lock without racing another taker: only the holder of `<lock>.break` may
   * remove it, and only if it still holds the very content judged stale.
   */
  async #breakStale(
    path: string,
    staleText: string,
    verdict: { pid: number | null; reason: string },
  ) {
    const breakPath = `${path}.break`;
    if ((await this.#createExclusive(breakPath, String(process.pid))) === undefined) {
      const info = await stat(breakPath).catch(() => undefined);
      if (info && this.#clock.now() - info.mtimeMs > STALE_BREAK_MS)
        await unlink(breakPath).catch(() => {});
      return;
    }
    try {
      if ((await readText(path)) === staleText) {
        await unlink(path);
        this.#logger.emit("warning", "removed stale lock", {
          lock: path,
          holder_pid: verdict.pid,
          reason: verdict.reason,
        });
      }
    } finally {
      await unlink(breakPath).catch(() => {});
    }
  }

  /**
   * Removes the lock if it is still the file we created — not one a breaker put in its place.
   * An inode number alone is not enough (ext4 hands a freed one out again at once): the birth
   * time goes with it, and where the filesystem has none, the content (our random token).
   */
  async #release(path: string, identity: FileIdentity): Promise<void> {
    try {
      const now = statSync(path, { bigint: true });
      if (now.ino !== identity.ino) return;
      if (
        identity.birthtimeNs !== 0n
          ? now.birthtimeNs === identity.birthtimeNs
          : readFileSync(path, "utf8") === identity.text
      ) {
        unlinkSync(path);
      }
    } catch {
      // Never throws: a lock we cannot remove is one the next run will find stale.
    }
  }

  readMarker(key: string): Promise<Marker | undefined> {
    return this.#readRecord(join(this.dir, `${key}.marker.json`), isMarker);
  }

  writeMarker(key: string, marker: Marker): Promise<void> {
    return writeAtomically(join(this.dir, `${key}.marker.json`), JSON.stringify(marker), () =>
      this.#failpoint("marker-written"),
    );
  }

  readPartial(key: string): Promise<PartialRecord | undefined> {
    return this.#readRecord(join(this.dir, `${key}.partial.json`), isPartialRecord);
  }

  writePartial(key: string, record: PartialRecord): Promise<void> {
    return writeAtomically(join(this.dir, `${key}.partial.json`), JSON.stringify(record));
  }

  async deletePartial(key: string): Promise<void> {
    try {
      unlinkSync(join(this.dir, `${key}.partial.json`));
    } catch (error) {
      if (errorCodeOf(error) !== "ENOENT") throw error;
    }
  }

  async readCircuit(origin: string): Promise<CircuitState> {
    const state = await this.#readRecord(
      this.#circuitPath(origin),
      (value) => circuitFromJSON(value) !== undefined,
    );
    return state ? (circuitFromJSON(state) ?? CLOSED) : CLOSED;
  }

  writeCircuit(origin: string, state: CircuitState): Promise<void> {
    return writeAtomically(this.#circuitPath(origin), JSON.stringify({ origin, ...state }));
  }

  #circuitPath(origin: string): string {
    return join(
      this.dir,
      `circuit-${createHash("sha256").update(origin).digest("hex").slice(0, 32)}.json`,
    );
  }

  /** Reads a JSON record; a missing one is `undefined`, a damaged one is a warning and `undefined`. */
  async #readRecord<T>(path: string, valid: (value: unknown) => boolean): Promise<T | undefined> {
    let text: string | undefined;
    try {
      text = await readText(path);
    } catch (error) {
      this.#warnUnreadable(path, errorCodeOf(error) ?? String(error));
      return undefined;
    }
    if (text === undefined) return undefined;
    try {
      const value: unknown = JSON.parse(text);
      if (valid(value)) return value as T;
      this.#warnUnreadable(path, "unexpected content");
    } catch {
      this.#warnUnreadable(path, text.length === 0 ? "empty file" : "not JSON");
    }
    return undefined;
  }

  #warnUnreadable(path: string, reason: string): void {
    this.#logger.emit("warning", "ignored unreadable state", { file: path, reason });
  }

  /** Throws unless the lock dir, or the nearest folder above it that exists, is writable. Writes nothing. */
  async checkWritable(): Promise<void> {
    let dir = this.dir;
    for (;;) {
      const info = await stat(dir).catch(() => undefined);
      if (info) {
        if (!info.isDirectory())
          throw Object.assign(new Error(`${dir} is not a folder`), { code: "ENOTDIR" });
        await access(dir, constants.W_OK);
        return;
      }
      const parent = dirname(dir);
      if (parent === dir) throw Object.assign(new Error("no existing folder"), { code: "ENOENT" });
      dir = parent;
    }
  }

  /** Creates the lock dir; throws when it cannot be created or written. */
  async ensureWritable(): Promise<void> {
    await mkdirs(this.dir);
    const probe = join(this.dir, `.probe-${process.pid}-${randomUUID().slice(0, 8)}`);
    await writeFile(probe, "");
    await unlink(probe);
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if (errorCodeOf(error) === "ENOENT") return undefined;
    throw error;
  }
}

async function writeAtomically(
  path: string,
  text: string,
  beforeRename?: () => Promise<void>,
): Promise<void> {
  const temp = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
  try {
    writeFileSync(temp, text);
    await beforeRename?.();
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // already gone
    }
    throw error;
  }
}

/** What tells one lock file from another that later took its place. */
interface FileIdentity {
  ino: bigint;
  birthtimeNs: bigint;
  text: string;
}

function identityOf(stats: BigIntStats, text: string): FileIdentity {
  return { ino: stats.ino, birthtimeNs: stats.birthtimeNs, text };
}

function pidNamespace(): string | null {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return null;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCodeOf(error) === "EPERM";
  }
}

/** A process's start time (Linux), to tell a live holder from a reused pid; null elsewhere. */
function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

function isMarker(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    typeof m.source === "string" &&
    typeof m.checksum === "string" &&
    typeof m.algorithm === "string" &&
    typeof m.destinationSize === "number" &&
    typeof m.destinationMtimeMs === "number" &&
    typeof m.destinationIno === "number" &&
    typeof m.validators === "object" &&
    m.validators !== null
  );
}

function isPartialRecord(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const p = value as Record<string, unknown>;
  return typeof p.source === "string" && typeof p.validators === "object" && p.validators !== null;
}
