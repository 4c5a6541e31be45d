/**
 * Something at a pair's lock path that is not a live run's lock, as users' machines have them: a
 * folder made there by mistake, another user's lock this run may not read, a stale lock this run
 * may not remove (a sticky shared folder). Each is judged and either taken over or named in a
 * clear failure — never reported removed while it stays, never called "another synchronization
 * in progress" for ever. Real files, real processes, a real unprivileged user (`setpriv`).
 *
 * The code before this test called a folder a removed stale lock, then skipped the pair with exit
 * 0 on every run; and it failed on any lock it could not read (EACCES), live or long dead.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { pathToFileURL } from "node:url";
import { systemClock } from "../../src/clock.js";
import { silentLogger } from "../../src/log/events.js";
import { FsLeases } from "../../src/state/fs-leases.js";
import { findLog, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
const canDropPrivileges =
  process.getuid?.() === 0 &&
  spawnSync(NOBODY[0] as string, [...NOBODY.slice(1), "true"]).status === 0;
const HOUR_AGO = new Date(Date.now() - 3_600_000);

/** A source file, a destination folder `out` (mode `outMode`) and the destination's lock path. */
async function layout(t: TestContext, outMode = 0o755) {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const source = join(dir, "source.csv");
  await writeFile(source, "id,value\n1,a\n", { mode: 0o644 });
  const out = join(dir, "out");
  await mkdir(out);
  await chmod(out, outMode);
  const locks = join(dir, "locks");
  await mkdir(locks);
  await chmod(locks, 0o777);
  const destination = join(out, "source.csv");
  const lock = new FsLeases(locks, systemClock, silentLogger).lockPath(
    pathToFileURL(destination).href,
  );
  const args = ["--source-url", source, "--destination", destination, "--lock-dir", locks];
  return { source, destination, lock, args };
}

/** A lock file made by root that only root may read: another user's run, as this one sees it. */
async function rootsUnreadableLock(path: string, dated?: Date): Promise<void> {
  await writeFile(path, '{"pid":1,"token":"roots"}\n', { mode: 0o600 });
  if (dated) await utimes(path, dated, dated);
}

describe("what stands at a lock path", () => {
  test("a folder: the pair fails naming it, and nothing is reported removed", async (t) => {
    const { destination, lock, args } = await layout(t);
    await mkdir(lock);
    for (const dated of [undefined, HOUR_AGO]) {
      if (dated) await utimes(lock, dated, dated);
      const result = await runCli(args);
      assert.equal(result.code, 73, result.stderr);
      const failed = findLog(result, "synchronization failed");
      assert.equal(failed?.error_code, "write_error");
      assert.match(String(failed?.reason), /cannot take the lock .*\.lock \(it is a folder\)/);
      assert.equal(findLog(result, "removed stale lock"), undefined);
      assert.equal(findLog(result, "another synchronization is in progress"), undefined);
      assert.equal((await stat(lock)).isDirectory(), true, "the folder is left alone");
      assert.equal(existsSync(destination), false);
    }
  });

  describe("another user's lock this run may not read", {
    skip: canDropPrivileges ? false : "needs root and setpriv to act as another user",
  }, () => {
    test("held (fresh): the pair is skipped as busy, not failed", async (t) => {
      const { destination, lock, args } = await layout(t, 0o777);
      await rootsUnreadableLock(lock);
      const result = await runCli(args, { wrapper: NOBODY });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(findLog(result, "another synchronization is in progress"), result.stderr);
      assert.equal(existsSync(destination), false);
      assert.equal(existsSync(lock), true);
    });

    test("stale, in a folder this run may write: taken over and synced", async (t) => {
      const { destination, lock, args } = await layout(t, 0o777);
      await rootsUnreadableLock(lock, HOUR_AGO);
      const result = await runCli(args, { wrapper: NOBODY });
      assert.equal(result.code, 0, result.stderr);
      assert.match(String(findLog(result, "removed stale lock")?.reason), /unreadable lock/);
      assert.ok(findLog(result, "updated destination"), result.stderr);
      assert.equal(existsSync(destination), true);
    });

    test("stale, in a sticky folder: the pair fails naming the lock it may not remove", async (t) => {
      const { destination, lock, args } = await layout(t, 0o1777);
      await rootsUnreadableLock(lock, HOUR_AGO);
      const result = await runCli(args, { wrapper: NOBODY });
      assert.equal(result.code, 73, result.stderr);
      const failed = findLog(result, "synchronization failed");
      assert.match(String(failed?.reason), /cannot take the lock .*\.lock \(EPERM\)/);
      assert.equal(findLog(result, "removed stale lock"), undefined);
      assert.equal(existsSync(lock), true, "root's lock is left alone");
      assert.equal(existsSync(destination), false);
    });
  });
});
