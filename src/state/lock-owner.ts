/** Who holds a lock file, whether that holder still lives (as far as this process can tell), and the time its lease is dated from. */
import { randomUUID } from "node:crypto";
import { futimesSync } from "node:fs";
import { hostname } from "node:os";
import {
  bootId,
  pidNamespace,
  processExists,
  processStartTime,
  processStopped,
  processUid,
  signalRefused,
} from "../fs/processes.js";

/** What a lock file says of its holder. */
export interface LockOwner {
  pid: number;
  host: string;
  start: string | null;
  pidns: string | null;
  /** The holder's machine's boot (absent from older locks). */
  boot?: string | null;
  /** Tells two stores of one process apart: neither can ask the other whether it lives. */
  instance: string;
  token: string;
  fence: number;
  created_at: string;
}

/** This process, as a lock file would name it. */
export type Self = Pick<LockOwner, "host" | "start" | "pidns" | "instance"> & {
  boot: string | null;
};

/** This process as a new store names it: `instance` tells two stores of one process apart. */
export function thisProcess(): Self {
  return {
    host: hostname(),
    start: processStartTime(process.pid),
    pidns: pidNamespace(),
    boot: bootId(),
    instance: randomUUID(),
  };
}

/**
 * How long past its lease a holder that cannot be shown dead (nor alive) is still waited on: one
 * whose /proc is hidden, or whose stale lock this run may not remove. A run stalled longer is
 * treated as dead; a planted lock blocks no longer than this.
 */
export const LONG_SILENCE_MS = 10 * 60_000;

/** Whether a lease last renewed `ageMs` ago has run out (a renewal dated far in the future counts as out too: a clock that cannot be trusted). */
export function leaseExpired(ageMs: number, ttlMs: number): boolean {
  return ageMs > ttlMs || ageMs < -ttlMs;
}

/** What a lock file's holder is, as far as this process can tell. */
export interface HolderVerdict {
  alive: boolean;
  /** Certainly dead: whatever it wrote is quiet. */
  gone: boolean;
  /** Its process is there, stopped (SIGSTOP, Ctrl-Z): alive, though its lease ran out. */
  stopped?: true;
  fence: number;
  token: string;
  reason: string;
}

/**
 * The verdict on a lock file whose text is `text`: an empty one is a creator killed between
 * making it and naming itself in it (one synchronous step; a creator frozen exactly there loses
 * the lock at its first ownership check), held by nobody; any other is `judgeHolder`'s.
 */
export function judgeLockFile(
  self: Self,
  text: string | undefined,
  ageMs: number,
  ttlMs: number,
  fileUid?: number,
): HolderVerdict {
  if (text === "") {
    const reason = "empty lock file: its creator died before naming itself";
    return { alive: false, gone: true, fence: 0, token: "", reason };
  }
  const owner = text === undefined ? undefined : parseOwner(text);
  return judgeHolder(self, owner, ageMs, ttlMs, fileUid);
}

/**
 * Whether a lock may be taken from its holder. On this host and in this pid namespace, when the
 * lock file proves who holds it (the holder's start time, a file owned by the holder's user), the
 * process itself answers: gone (or its pid reused) — taken over at once; running — never taken over,
 * however late its renewal (it may be in the middle of its commit); stopped (SIGSTOP, Ctrl-Z) —
 * taken over once its lease has run out, which its fence makes safe. A holder that cannot be
 * asked (another host or container) is taken over once its lease has run out.
 */
export function judgeHolder(
  self: Self,
  owner: LockOwner | undefined,
  ageMs: number,
  ttlMs: number,
  fileUid?: number,
): HolderVerdict {
  const expired = leaseExpired(ageMs, ttlMs);
  const fence = owner?.fence ?? 0;
  const token = owner?.token ?? "";
  const verdict = (alive: boolean, gone: boolean, reason: string) => ({
    alive,
    gone,
    fence,
    token,
    reason,
  });
  if (!owner) return verdict(!expired, false, "unreadable lock, lease expired");
  // Only a process this one can see is asked: the same host, boot and pid namespace, all known
  // (without /proc both sides would read as "none", and two cloned machines' names and root
  // namespaces read alike: their boots do not).
  const askable =
    owner.host === self.host &&
    self.pidns !== null &&
    owner.pidns === self.pidns &&
    self.boot !== null &&
    owner.boot === self.boot &&
    !(owner.pid === process.pid && owner.instance !== self.instance);
  if (!askable) return verdict(!expired, false, "holder's lease expired");
  if (!processExists(owner.pid)) return verdict(false, true, "holder process is gone");
  const uid = processUid(owner.pid);
  // A lock of ours naming a process we may not even signal: that is another user's process
  // (hidepid hides ours too when its group differs, but never refuses our signal), so the run
  // that made the lock is dead and its pid reused.
  const ours = fileUid !== undefined && fileUid === process.getuid?.();
  if (uid === null && ours && signalRefused(owner.pid))
    return verdict(false, true, "holder pid was reused by another process");
  // A live process whose /proc this user may not read (`hidepid=2`): its owner and start cannot
  // be checked, so a holder cannot be told from a planted lock naming some process. It is given
  // the benefit of the doubt until it has been silent long past its lease.
  if (uid === null && owner.start) {
    const silentLong = Math.abs(ageMs) - ttlMs > LONG_SILENCE_MS;
    return verdict(!silentLong, false, "holder cannot be inspected (/proc hidden), silent long");
  }
  // A lock file names its own holder: unprovable (judged by its lease alone) when it does not say
  // when that process started, or when the file belongs to another user than the process — a
  // file planted to name some long-running process (pid 1) would otherwise block for ever.
  const planted = !owner.start || (fileUid !== undefined && uid !== fileUid);
  if (planted) return verdict(!expired, false, "holder's lease expired");
  const start = processStartTime(owner.pid);
  if (owner.start && start && owner.start !== start)
    return verdict(false, true, "holder pid was reused by another process");
  if (expired && processStopped(owner.pid))
    return { ...verdict(false, false, "holder is stopped and its lease expired"), stopped: true };
  return verdict(true, false, "held");
}

/** The holder a lock file names; `undefined` for an empty, damaged or foreign one. */
export function parseOwner(text: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(text) as Partial<LockOwner>;
    if (typeof owner.pid !== "number" || typeof owner.host !== "string") return undefined;
    return owner as LockOwner;
  } catch {
    return undefined;
  }
}

/**
 * Dates a new lock file's lease `at` (the store's clock), as every renewal does. Left to the
 * kernel, a new file's mtime is its coarse clock's, up to a tick (several ms) behind `now()`: the
 * lease would look older to others than its holder thinks, and a store on a fake clock (the
 * conformance suite) would see a lease just taken as already older than the TTL allows.
 */
export function stampLease(fd: number, at: number): void {
  try {
    futimesSync(fd, at / 1000, at / 1000);
  } catch {
    // The kernel's creation time stands in: the same instant give or take a tick, and the first
    // renewal dates the lease by our clock anyway.
  }
}
