/**
 * Breaking a stale lock (src/state/lock-break.ts) on real files: the lock is removed only if it is
 * still the very file judged stale, not merely one with the same content — every empty lock
 * reads alike, and one made since by a live run must survive. (The function used to be given the
 * judged text alone; given `""` in the second and third cases below, it removed the new lock.)
 */
import assert from "node:assert/strict";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { systemClock } from "../../src/clock.js";
import type { SyncError } from "../../src/errors.js";
import { readSmallFile } from "../../src/fs/no-follow.js";
import type { Logger } from "../../src/log/events.js";
import { breakStaleLock } from "../../src/state/lock-break.js";
import { judgeLockFile } from "../../src/state/lock-owner.js";
import { recordingLogger } from "../helpers/fakes.js";
import { tempDir } from "../helpers/tmp.js";

const TTL_MS = 30_000;
/** The judging run, as `FsLeases` describes itself. */
const SELF = { host: hostname(), start: null, pidns: null, boot: null, instance: "this-test" };

/** An empty lock file at `path`, as a maker leaves it for the moment before naming itself. */
function emptyLock(path: string): number {
  return openSync(path, "wx");
}

/** The lock at `path` as a taker reads and judges it: a minute without renewal. */
function judged(path: string) {
  const stale = readSmallFile(path);
  assert.ok(stale);
  return { stale, verdict: judgeLockFile(SELF, stale.text, 60_000, TTL_MS, stale.stats.uid) };
}

/** `breakStaleLock` on what `judged` read, logging to `logger`. */
function breakJudged(path: string, { stale, verdict }: ReturnType<typeof judged>, logger: Logger) {
  return breakStaleLock(path, stale, TTL_MS, verdict, {
    clock: systemClock,
    logger,
    warned: new Set(),
    heldByOthers: new Set(),
  });
}

describe("breakStaleLock", () => {
  test("removes the empty lock it judged", async (t) => {
    const path = join(await tempDir(t), "pair.lock");
    closeSync(emptyLock(path));
    const lock = judged(path);
    const logger = recordingLogger();
    assert.equal(breakJudged(path, lock, logger), "broken");
    assert.equal(existsSync(path), false);
  });

  test("leaves an empty lock made since in its place, though it reads the same", async (t) => {
    const path = join(await tempDir(t), "pair.lock");
    const judgedFd = emptyLock(path);
    const lock = judged(path);
    // Another taker removes the judged lock and a live run makes its own (the judged inode is
    // still open here, so the new lock cannot reuse it).
    unlinkSync(path);
    const madeFd = emptyLock(path);
    t.after(() => {
      closeSync(judgedFd);
      closeSync(madeFd);
    });
    const logger = recordingLogger();
    assert.equal(breakJudged(path, lock, logger), "busy");
    assert.equal(existsSync(path), true, "the new lock is still there");
    assert.equal(logger.events.length, 0, "nothing reported removed");
  });

  test("leaves an empty lock made since in the judged one's inode (ext4 reuses it at once)", async (t) => {
    const path = join(await tempDir(t), "pair.lock");
    closeSync(emptyLock(path));
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    const lock = judged(path);
    unlinkSync(path);
    closeSync(emptyLock(path));
    const logger = recordingLogger();
    assert.equal(breakJudged(path, lock, logger), "busy");
    assert.equal(existsSync(path), true, "the new lock is still there");
  });

  test("leaves a lock whose content changed since it was judged", async (t) => {
    const path = join(await tempDir(t), "pair.lock");
    writeFileSync(path, "locked by someone\n");
    const lock = judged(path);
    writeFileSync(path, "locked by someone else\n");
    const logger = recordingLogger();
    assert.equal(breakJudged(path, lock, logger), "busy");
    assert.equal(existsSync(path), true);
  });

  test("a folder where a dead taker's marker belongs: a write_error naming it, never 'changing' for ever", async (t) => {
    const path = join(await tempDir(t), "pair.lock");
    closeSync(emptyLock(path));
    const old = new Date(Date.now() - 60_000);
    utimesSync(path, old, old);
    mkdirSync(`${path}.break`);
    utimesSync(`${path}.break`, old, old);
    const lock = judged(path);
    const logger = recordingLogger();
    assert.throws(
      () => breakJudged(path, lock, logger),
      (error: SyncError) =>
        error.code === "write_error" && /pair\.lock\.break \(it is a folder\)/.test(error.message),
    );
    assert.equal(existsSync(path), true, "the lock is left for a later run");
    assert.equal(logger.events.length, 0, "nothing reported removed");
  });
  for (const [when, offsetMs] of [
    ["a minute ago", -60_000],
    ["a day from now (a taker whose clock ran ahead, or a planted file)", 86_400_000],
  ] as const) {
    test(`a dead taker's marker dated ${when} is removed, so the lock can be broken`, async (t) => {
      const path = join(await tempDir(t), "pair.lock");
      closeSync(emptyLock(path));
      writeFileSync(`${path}.break`, "");
      const then = new Date(Date.now() + offsetMs);
      utimesSync(`${path}.break`, then, then);
      const lock = judged(path);
      assert.equal(breakJudged(path, lock, recordingLogger()), "changing");
      assert.equal(existsSync(`${path}.break`), false, "the marker is gone for the next look");
    });
  }
});
