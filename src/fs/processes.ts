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

export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errorCodeOf(error) === "EPERM";
  }
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
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state === "T" || state === "t";
  } catch {
    return false;
  }
}
