/**
 * Who is running on this machine: enough to tell a live lock holder from a dead one. Linux only
 * (`/proc`); elsewhere every answer is "cannot tell", and locks fall back on their lease.
 */
import { readFileSync, readlinkSync } from "node:fs";
import { errorCodeOf } from "../errors.js";

/** The pid namespace (`/proc/self/ns/pid`): a pid means something only inside its own. */
export function pidNamespace(): string | null {
  try {
    return readlinkSync("/proc/self/ns/pid");
  } catch {
    return null;
  }
}

/**
 * Whether `pid` is a process this one may not signal: one of another user (a process with our
 * user id, set-user-id or in another group included, can always be signalled).
 */
export function signalRefused(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return errorCodeOf(error) === "EPERM";
  }
}

/**
 * This boot of this machine (the kernel's random `boot_id`): tells apart two hosts whose names
 * and root pid namespaces read alike (cloned machines); null when unknown.
 */
export function bootId(): string | null {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim() || null;
  } catch {
    return null;
  }
}

/** Whether `pid` is a process that can still run: a zombie (dead, not yet reaped) is not. */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (errorCodeOf(error) !== "EPERM") return false;
  }
  const state = processState(pid);
  return state !== "Z" && state !== "X";
}

/** A process's start time in clock ticks since boot, to tell a live holder from a reused pid; null when unknown. */
export function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 2 (comm) may hold spaces and parentheses: count from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/** Whether a process is stopped (SIGSTOP, Ctrl-Z, a debugger): it runs no code until continued. */
export function processStopped(pid: number): boolean {
  const state = processState(pid);
  return state === "T" || state === "t";
}

/** A process's state letter (`R`, `S`, `D`, `T`, `Z` …); null when unknown. */
function processState(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) || null;
  } catch {
    return null;
  }
}

/** A process's real user id (Linux); null when unknown. */
export function processUid(pid: number): number | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const match = /^Uid:\s+(\d+)/m.exec(status);
    return match ? Number(match[1]) : null;
  } catch {
    return null;
  }
}
