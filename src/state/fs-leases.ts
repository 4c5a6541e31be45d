/**
 * Leases as lock files, for one machine (or several sharing a folder, by lease age alone).
 *
 * A lock file is created with `O_CREAT | O_EXCL | O_NOFOLLOW` and names its holder (pid, host, pid
 * namespace, start time) and its fence. The holder renews it (mtime) every fifth of the TTL
 * through a descriptor it keeps, and checks at each renewal that the file at the path is still
 * the one it created: if someone took it over, the lease is lost. A holder on this host whose
 * process is gone (SIGKILL) is taken over at once; one that cannot be asked (another host, another
 * container, a paused process of ours) once its lease is older than the TTL.
 *
 * A lease on a local file (key `file:///folder/name`) lives beside that file, as
 * `.resilient-sync-<hash>.lock`: every run that writes the file sees it, whatever `--lock-dir`
 * it was given (proper-lockfile makes the same choice). Other keys live in the store's folder.
 */
import { randomUUID } from "node:crypto";
import {
  type BigIntStats,
  closeSync,
  fchmodSync,
  fstatSync,
  futimesSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { dirname, normalize } from "node:path";
import type { Clock } from "../clock.js";
import { createNew, holdsExactly, inspectSmallFile } from "../fs/no-follow.js";
import { lstatBigOrUndefined, statOrUndefined, unlinkQuietly } from "../fs/stat.js";
import type { Logger } from "../log/events.js";
import {
  type Breaking,
  breakStaleLock,
  lockInTheWay,
  noteLiveHolder,
  STALE_BREAK_MS,
} from "./lock-break.js";
import {
  type HandOver,
  type HandOverSteps,
  rewriteLockAsRecord,
  sameDevice,
} from "./lock-hand-over.js";
import {
  judgeLockFile,
  type LockOwner,
  parseOwner,
  type Self,
  stampLease,
  thisProcess,
} from "./lock-owner.js";
import { lockPathOf } from "./lock-path.js";
import {
  type AcquireOptions,
  type Fence,
  type Lease,
  LeaseLostError,
  type Predecessor,
} from "./store.js";

/**
 * An empty lock file younger than this may be one whose maker is about to name itself in it (one
 * synchronous step away): it is looked at again rather than taken. Older, its maker died.
 */
const EMPTY_LOCK_GRACE_MS = 1000;
const POLL_MIN_MS = 25;
const POLL_MAX_MS = 250;

export class FsLeases {
  readonly #dir: string;
  readonly #clock: Clock;
  #sequence = 0;
  readonly #breaking: Breaking;
  /** How to tell, for each lease this store holds now (by token), that it is still ours. */
  readonly #mine = new Map<string, { ours: () => boolean; handOver: HandOver }>();
  readonly #self: Self = thisProcess();

  constructor(dir: string, clock: Clock, logger: Logger) {
    this.#dir = normalize(dir);
    this.#clock = clock;
    this.#breaking = { clock, logger, warned: new Set(), heldByOthers: new Set() };
  }

  /** Where the lock file of `key` lives (`lockPathOf`, this store's lock dir). */
  lockPath(key: string, identify = statOrUndefined): string {
    return lockPathOf(this.#dir, key, identify);
  }

  async acquire(key: string, options: AcquireOptions): Promise<Lease | undefined> {
    const path = this.lockPath(key);
    const startedAt = this.#clock.monotonic();
    const giveUpAt = startedAt + options.waitMs;
    let pause = POLL_MIN_MS;
    for (;;) {
      options.signal?.throwIfAborted();
      options.guard?.();
      const outcome = this.#tryAcquire(key, path, options.ttlMs);
      if (typeof outcome !== "string") return outcome;
      // A lock changing hands (a `.break` beside it) is looked at again until the change is
      // done — or the marker is old enough to be a dead breaker's — even when told not to wait.
      const until =
        outcome === "changing"
          ? Math.max(giveUpAt, startedAt + STALE_BREAK_MS + POLL_MAX_MS)
          : giveUpAt;
      const remaining = until - this.#clock.monotonic();
      if (remaining <= 0) return undefined;
      await this.#clock.sleep(Math.min(pause, remaining), options.signal);
      pause = Math.min(pause * 2, POLL_MAX_MS);
    }
  }

  /** Whether `fence` still holds its lease: the lock file at its path is its holder's. */
  verify(fence: Fence): boolean {
    const mine = this.#mine.get(fence.token)?.ours;
    if (mine) return mine();
    const held = inspectSmallFile(this.lockPath(fence.key));
    if (held?.text === undefined) return false;
    return parseOwner(held.text)?.token === fence.token;
  }

  /**
   * Begins to end the lease `fence` holds by turning its lock file into the record `target`
   * (`record` JSON text; why and how: `lock-hand-over.ts`). `undefined` when it cannot be done —
   * the lease is not held here, the lock is no longer ours, or `target` is on another device —
   * and nothing changed. The record keeps the lock's mode, 0644: the caller hands over only where
   * records written anew get that mode too.
   */
  beginHandOver(fence: Fence, target: string, record: string): HandOverSteps | undefined {
    return this.#mine.get(fence.token)?.handOver(target, record);
  }

  /** The lease, or why not: `busy` (held), `changing` (another run is taking a stale lock over). */
  #tryAcquire(key: string, path: string, ttlMs: number): Lease | "busy" | "changing" {
    // A few rounds: a stale lock removed in one round is free in the next.
    let predecessor: Predecessor = { ended: "released" };
    for (let round = 0; round < 3; round += 1) {
      const fd = createNew(path, 0o644);
      if (fd !== undefined) {
        const lease = this.#held(key, path, fd, ttlMs, predecessor);
        if (lease) return lease;
        continue;
      }
      const held = inspectSmallFile(path);
      if (held === undefined) continue; // released meanwhile
      if (held.stats.isDirectory()) throw lockInTheWay(path, "it is a folder");
      const ageMs = this.#clock.now() - held.stats.mtimeMs;
      // Either side of zero: a file's mtime is finer than `Date.now()`'s millisecond, so a lock
      // made this very millisecond reads as up to 1 ms old in the future.
      if (held.text === "" && Math.abs(ageMs) < EMPTY_LOCK_GRACE_MS) return "changing";
      // A lock this run may not read (another user's, mode 0600) is judged by its age alone.
      const verdict = judgeLockFile(this.#self, held.text, ageMs, ttlMs, held.stats.uid);
      if (verdict.alive) {
        noteLiveHolder(this.#breaking, path, held.stats.uid);
        return "busy";
      }
      const broken = breakStaleLock(path, held, ttlMs, verdict, this.#breaking);
      if (broken !== "broken") return broken;
      predecessor = {
        ended: verdict.gone ? "gone" : "expired",
        fence: verdict.fence,
        token: verdict.token,
      };
    }
    return "busy";
  }

  #owner(fence: number): LockOwner {
    return {
      pid: process.pid,
      ...this.#self,
      token: randomUUID(),
      fence,
      created_at: new Date(this.#clock.now()).toISOString(),
    };
  }

  /**
   * The fence of a new holding: the wall clock in microseconds-ish (milliseconds × 1000, plus a
   * sequence within this store), and always above the fence of a holder it takes over. Fences of
   * the file store grow with time unless the clock steps back; the store's own checks compare
   * holders' tokens, never these numbers. No counter file: a batch of small files pays nothing.
   */
  #nextFence(predecessor: Predecessor): number {
    this.#sequence = (this.#sequence + 1) % 1000;
    const fromClock = Math.floor(this.#clock.now()) * 1000 + this.#sequence;
    return Math.max(fromClock, predecessor.ended === "released" ? 0 : predecessor.fence + 1);
  }

  /** The lease on the lock file just created as `fd`; `undefined` when it was taken over before it was named. */
  #held(
    key: string,
    path: string,
    fd: number,
    ttlMs: number,
    predecessor: Predecessor,
  ): Lease | undefined {
    // When the lease starts, by this store's clock — the clock its renewals and every judge of
    // its age use — both in the file (its mtime) and for the holder itself.
    const takenAt = this.#clock.now();
    let identity: BigIntStats;
    let owner: LockOwner;
    let text: string;
    try {
      // The fence is counted only by the one who created the lock: no two holders count at once.
      owner = this.#owner(this.#nextFence(predecessor));
      text = JSON.stringify(owner);
      identity = fstatSync(fd, { bigint: true });
      // Readable by every user whatever the umask: another user's run must be able to tell a
      // running holder, which it never takes over, from a dead one. It names no secret.
      if ((Number(identity.mode) & 0o777) !== 0o644) fchmodSync(fd, 0o644);
      writeSync(fd, text);
      stampLease(fd, takenAt);
      const atPath = lstatBigOrUndefined(path);
      if (atPath?.ino !== identity.ino || atPath.dev !== identity.dev) {
        closeSync(fd);
        return undefined;
      }
    } catch (error) {
      // A lock that could not be written (a full disk) must not stay behind, empty, as if held.
      closeSync(fd);
      unlinkQuietly(path);
      throw error;
    }
    const lost = new AbortController();
    let renewedAt = takenAt;
    let closed = false;
    // Ours while the path leads to our inode and holds our random token. The content too,
    // always: a broken lock's inode is handed out again at once, and birth times are only as fine
    // as the kernel's coarse clock (a few ms), so a lock made just after ours was broken can
    // match both. Our random token cannot.
    const content = Buffer.from(text);
    const ours = () => holdsExactly(path, identity, content);
    const renew = () => {
      if (closed || lost.signal.aborted) return;
      let stillOurs: boolean;
      try {
        stillOurs = ours();
      } catch {
        // Out of descriptors for a moment: asked again at the next beat. Never thrown from the
        // timer, where it would end the process.
        return;
      }
      if (!stillOurs) {
        stop();
        lost.abort(new LeaseLostError(key, "another run took the lock over"));
        return;
      }
      const now = this.#clock.now();
      try {
        futimesSync(fd, now / 1000, now / 1000);
        renewedAt = now;
      } catch {
        // A renewal that failed is retried at the next beat; the lease is still ours.
      }
    };
    const stopRenewing = this.#clock.every(Math.max(1, Math.floor(ttlMs / 5)), renew);
    const stop = () => {
      stopRenewing();
      this.#mine.delete(owner.token);
    };
    const handOver: HandOver = (target, record) => {
      if (closed || lost.signal.aborted || !record.startsWith("{") || record === "{}") return;
      if (!ours() || sameDevice(identity.dev, dirname(target)) !== true) return;
      closed = true;
      stop();
      return rewriteLockAsRecord({ fd, path, identity, text }, target, record);
    };
    this.#mine.set(owner.token, { ours: () => !lost.signal.aborted && ours(), handOver });
    const fence: Fence = { key, value: owner.fence, token: owner.token };
    return {
      key,
      fence,
      predecessor,
      lost: lost.signal,
      check: async () => {
        // Renew first when the lease is getting old (we may have been paused): a takeover that
        // judged it stale before this renewal shows in the ownership check right after.
        if (this.#clock.now() - renewedAt > ttlMs / 2) renew();
        if (!lost.signal.aborted && !ours()) renew();
        if (lost.signal.aborted) throw lost.signal.reason;
      },
      release: async () => {
        if (closed) return;
        closed = true;
        stop();
        try {
          if (ours()) unlinkSync(path);
        } catch {
          // Never throws: a lock we cannot remove is one the next run finds stale.
        }
        try {
          closeSync(fd);
        } catch {
          // already closed
        }
      },
    };
  }
}
