/** Who holds a lock file, and whether that holder still lives, as far as this process can tell. */
import { processExists, processStartTime } from "../fs/processes.js";

/** What a lock file says of its holder. */
export interface LockOwner {
  pid: number;
  host: string;
  start: string | null;
  pidns: string | null;
  /** Tells two stores of one process apart: neither can ask the other whether it lives. */
  instance: string;
  token: string;
  fence: number;
  created_at: string;
}

/** This process, as a lock file would name it. */
export type Self = Pick<LockOwner, "host" | "start" | "pidns" | "instance">;

/**
 * Whether a lock may be taken from its holder. The lease decides: a holder silent for longer
 * than the TTL is taken over, even if its process still exists (stopped with SIGSTOP, a frozen
 * container, a machine under water) — its fence makes that safe. A holder that is certainly dead
 * (on this host and pid namespace, its pid gone or reused) is taken over at once.
 */
export function judgeHolder(
  self: Self,
  owner: LockOwner | undefined,
  ageMs: number,
  ttlMs: number,
): { alive: boolean; gone: boolean; fence: number; reason: string } {
  const expired = ageMs > ttlMs;
  const fence = owner?.fence ?? 0;
  if (!owner)
    return { alive: !expired, gone: false, fence, reason: "unreadable lock, lease expired" };
  const askable =
    owner.host === self.host &&
    (owner.pidns ?? null) === self.pidns &&
    !(owner.pid === process.pid && owner.instance !== self.instance);
  if (askable) {
    if (!processExists(owner.pid))
      return { alive: false, gone: true, fence, reason: "holder process is gone" };
    const start = processStartTime(owner.pid);
    if (owner.start && start && owner.start !== start)
      return {
        alive: false,
        gone: true,
        fence,
        reason: "holder pid was reused by another process",
      };
  }
  return expired
    ? { alive: false, gone: false, fence, reason: "holder's lease expired" }
    : { alive: true, gone: false, fence, reason: "held" };
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
