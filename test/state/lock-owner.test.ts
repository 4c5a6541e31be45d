/**
 * Judging a lock's holder from what its file says, with real processes: only a process this run
 * can see (the same host, boot and pid namespace, all known) is asked whether it lives. A third
 * review found two hosts' (or two /proc-less containers') holders taken for this host's and
 * "gone" at once: every root pid namespace reads alike, and without /proc both read as none.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { hostname } from "node:os";
import { describe, test } from "node:test";
import { bootId } from "../../src/fs/processes.js";
import { judgeHolder, type LockOwner, thisProcess } from "../../src/state/lock-owner.js";

const TTL_MS = 5000;

/** The pid of a process that has exited: certainly not running here. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]);
  return Number(child.stdout.toString());
}

function ownerOf(pid: number, pidns: string | null, boot = bootId()): LockOwner {
  return {
    pid,
    host: hostname(),
    start: "12345",
    pidns,
    boot,
    instance: "another-store",
    token: "t",
    fence: 1,
    created_at: new Date().toISOString(),
  };
}

describe("judgeHolder", () => {
  test("a holder in this very pid namespace whose process is gone: taken over at once", () => {
    const self = thisProcess();
    const verdict = judgeHolder(self, ownerOf(deadPid(), self.pidns), 100, TTL_MS);
    assert.equal(verdict.gone, true);
  });

  test("a holder of the same name and pid namespace but another boot (a cloned machine): judged by its lease", () => {
    const self = thisProcess();
    const elsewhere = ownerOf(deadPid(), self.pidns, "another-boot");
    const fresh = judgeHolder(self, elsewhere, 100, TTL_MS);
    assert.equal(fresh.alive, true, "its pid is the other machine's: its lease says alive");
    assert.equal(fresh.gone, false);
    const older = judgeHolder(self, ownerOf(deadPid(), self.pidns, undefined), 100, TTL_MS);
    assert.equal(older.gone, true, "this machine's own holder, still told gone at once");
    const noBoot = { ...ownerOf(deadPid(), self.pidns), boot: undefined };
    assert.equal(
      judgeHolder(self, noBoot, 100, TTL_MS).alive,
      true,
      "an older lock without a boot",
    );
  });

  test("no pid namespace known on either side (no /proc): judged by its lease, not by a pid", () => {
    const self = { host: hostname(), start: null, pidns: null, boot: bootId(), instance: "me" };
    const fresh = judgeHolder(self, ownerOf(deadPid(), null), 100, TTL_MS);
    assert.equal(fresh.alive, true, "its pid may be another namespace's: its lease says alive");
    assert.equal(fresh.gone, false);
    const expired = judgeHolder(self, ownerOf(deadPid(), null), 60_000, TTL_MS);
    assert.equal(expired.alive, false);
    assert.equal(expired.gone, false);
  });
});
