/**
 * Something at a pair's lock path that is not a live run's lock, as users' machines have them: a
 * folder made there by mistake, another user's lock this run may not read, a stale lock this run
 * may not remove (a sticky shared folder). Each is judged and either taken over or named in a
 * clear failure — never reported removed while it stays, never called "another synchronization
 * in progress" for ever. Real files, real processes, a real unprivileged user (`setpriv`).
 *
 * The code before this test called a folder a removed stale lock, then skipped the pair with exit
 * 0 on every run; and it failed on any lock it could not read (EACCES), live or long dead. A
 * review of the first fix found a running holder's lock, made under umask 077, taken over by
 * another user's run (judged by age alone), and a stopped holder's lock in a sticky folder
 * failing the pair with "remove it by hand"; a second review found a file planted long ago in a
 * sticky folder skipping the pair for ever. Each has a case here.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { chmod, chown, mkdir, readdir, stat, utimes, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { systemClock } from "../../src/clock.js";
import { bootId, pidNamespace } from "../../src/fs/processes.js";
import { silentLogger } from "../../src/log/events.js";
import { FsLeases } from "../../src/state/fs-leases.js";
import { type CliResult, findLog, runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";
import { canDropPrivileges, NOBODY } from "../helpers/users.js";

/** `NOBODY`, in a mount namespace of its own whose /proc hides other users' processes. */
const NOBODY_HIDEPID = [
  "unshare",
  "-m",
  "--propagation",
  "private",
  "sh",
  "-c",
  `mount -t proc -o hidepid=2 proc /proc && exec ${NOBODY.join(" ")} "$0" "$@"`,
];
const HIDEPID_WORKS =
  canDropPrivileges &&
  spawnSync(NOBODY_HIDEPID[0] as string, [...NOBODY_HIDEPID.slice(1), "true"]).status === 0;
const HOUR_AGO = new Date(Date.now() - 3_600_000);
const MINUTE_AGO = new Date(Date.now() - 60_000);
const THIRTY_SECONDS_AGO = new Date(Date.now() - 30_000);
const TWO_DAYS_AGO = new Date(Date.now() - 2 * 86_400_000);
const TWO_DAYS_AHEAD = new Date(Date.now() + 2 * 86_400_000);

/** A source file, a destination folder `out` (mode `outMode`) and the destination's lock path. */
async function layout(t: TestContext, outMode = 0o755) {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const source = join(dir, "source.csv");
  await writeFile(source, "id,value\n1,a\n");
  await chmod(source, 0o644); // readable by nobody whatever the umask
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
  return { source, destination, lock, locks, args };
}

/** The run skipped the pair as another's: exit 0, nothing removed, nothing written. */
function assertLeftToHolder(result: CliResult, destination: string): void {
  assert.equal(result.code, 0, result.stderr);
  assert.ok(findLog(result, "another synchronization is in progress"), result.stderr);
  assert.equal(findLog(result, "removed stale lock"), undefined);
  assert.equal(existsSync(destination), false);
}

/** A lock file made by root that only root may read: another user's run, as this one sees it. */
async function rootsUnreadableLock(path: string, dated?: Date): Promise<void> {
  await writeFile(path, '{"pid":1,"token":"roots"}\n', { mode: 0o600 });
  if (dated) await utimes(path, dated, dated);
}

/** Keeps `path`'s mtime fresh, as a live holder renewing its lease does, until the returned stop. */
function renewing(path: string): () => void {
  const timer = setInterval(() => utimes(path, new Date(), new Date()).catch(() => {}), 500);
  return () => clearInterval(timer);
}

const FS_LEASES = fileURLToPath(new URL("../../src/state/fs-leases.js", import.meta.url));
const CLOCK = fileURLToPath(new URL("../../src/clock.js", import.meta.url));

/**
 * A root run holding `destination`'s lock, made under umask 077, its lease last renewed
 * `silentMs` ago (default an hour); then `after`: "stall" blocks its event loop (running, not
 * stopped: its lease is never renewed); "die" exits without releasing it. `as`: a command that
 * runs it as another user (root's run otherwise).
 */
async function rootHolder(
  destination: string,
  locks: string,
  after: "stall" | "die",
  silentMs = 3_600_000,
  as: string[] = [],
) {
  const script = `
    process.umask(0o077);
    const { utimesSync } = await import("node:fs");
    const { FsLeases } = await import(${JSON.stringify(FS_LEASES)});
    const { systemClock } = await import(${JSON.stringify(CLOCK)});
    const leases = new FsLeases(${JSON.stringify(locks)}, systemClock, { emit() {} });
    const key = ${JSON.stringify(pathToFileURL(destination).href)};
    const lease = await leases.acquire(key, { ttlMs: 5000, waitMs: 0 });
    if (!lease) throw new Error("not acquired");
    const renewedAt = new Date(Date.now() - ${silentMs});
    utimesSync(leases.lockPath(key), renewedAt, renewedAt);
    process.stdout.write("held\\n");
    if (${JSON.stringify(after)} === "die") process.exit(0);
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
  `;
  const [command, ...prefix] = [...as, process.execPath];
  const child: ChildProcess = spawn(
    command as string,
    [...prefix, "--input-type=module", "-e", script],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const [chunk] = (await once(child.stdout as NonNullable<typeof child.stdout>, "data")) as [
    Buffer,
  ];
  assert.equal(chunk.toString(), "held\n");
  return child;
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

  test("under umask 077 the record a lock becomes stays private, though the lock was not", async (t) => {
    const { destination, locks, args } = await layout(t);
    const umask077 = ["sh", "-c", 'umask 077; exec "$0" "$@"'];
    const result = await runCli(args, { wrapper: umask077 });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(existsSync(destination), true);
    const markers = (await readdir(locks)).filter((name) => name.endsWith(".marker.json"));
    assert.equal(markers.length, 1, `one marker in ${locks}`);
    assert.equal((await stat(join(locks, markers[0] as string))).mode & 0o777, 0o600);
    const left = (await readdir(dirname(destination))).filter((name) => name.endsWith(".lock"));
    assert.deepEqual(left, [], "no lock left");
  });

  describe("another user's lock this run may not read", {
    skip: canDropPrivileges ? false : "needs root and setpriv to act as another user",
  }, () => {
    test("held (fresh): the pair is skipped as busy, not failed", async (t) => {
      const { destination, lock, args } = await layout(t, 0o777);
      await rootsUnreadableLock(lock);
      const stop = renewing(lock);
      t.after(stop);
      const result = await runCli(args, { wrapper: NOBODY });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(findLog(result, "another synchronization is in progress"), result.stderr);
      assert.equal(findLog(result, "lock held by another user")?.owner_uid, 0, result.stderr);
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

    test("stale not long, in a sticky folder, its holder perhaps alive: busy, warned once", async (t) => {
      const { destination, lock, args } = await layout(t, 0o1777);
      await rootsUnreadableLock(lock, MINUTE_AGO);
      // Waiting a second for the lock: it is looked at several times, and warned about once.
      const result = await runCli([...args, "--wait-lock", "1"], { wrapper: NOBODY });
      assert.equal(result.code, 0, result.stderr);
      const warnings = result.logs.filter((line) => line.message === "cannot remove stale lock");
      assert.equal(warnings.length, 1, result.stderr);
      assert.equal(warnings[0]?.error_code, "EPERM");
      assert.equal(warnings[0]?.owner_uid, 0);
      assert.ok(findLog(result, "another synchronization is in progress"), result.stderr);
      assert.equal(findLog(result, "removed stale lock"), undefined);
      assert.equal(existsSync(lock), true, "root's lock is left alone");
      assert.equal(existsSync(destination), false);
    });

    test("a file planted at the lock path, dated long ago or far ahead, in a sticky folder: the pair fails naming it", async (t) => {
      for (const dated of [TWO_DAYS_AGO, TWO_DAYS_AHEAD]) {
        const { destination, lock, args } = await layout(t, 0o1777);
        await writeFile(lock, "junk\n", { mode: 0o644 });
        await utimes(lock, dated, dated);
        const result = await runCli(args, { wrapper: NOBODY });
        assert.equal(result.code, 73, `${dated.toISOString()}: ${result.stderr}`);
        const failed = findLog(result, "synchronization failed");
        assert.match(
          String(failed?.reason),
          /cannot take the lock .*\.lock \(EPERM; owned by uid 0;/,
        );
        assert.equal(findLog(result, "cannot remove stale lock"), undefined);
        assert.equal(existsSync(lock), true);
        assert.equal(existsSync(destination), false);
      }
    });
  });

  describe("a root run's lock made under umask 077, as another user's run sees it", {
    skip: canDropPrivileges ? false : "needs root and setpriv to act as another user",
  }, () => {
    test("its holder running, though silent for an hour: never taken over", async (t) => {
      const { destination, lock, locks, args } = await layout(t, 0o777);
      const holder = await rootHolder(destination, locks, "stall");
      t.after(() => holder.kill("SIGKILL"));
      assert.equal((await stat(lock)).mode & 0o777, 0o644, "readable whatever the umask");
      const result = await runCli(args, { wrapper: NOBODY });
      assertLeftToHolder(result, destination);
      assert.equal(findLog(result, "lock held by another user")?.owner_uid, 0, result.stderr);
    });

    test("its holder gone, in a sticky folder: the pair fails naming the lock, its owner and why", async (t) => {
      const { destination, lock, locks, args } = await layout(t, 0o1777);
      const holder = await rootHolder(destination, locks, "die");
      await once(holder, "exit");
      const result = await runCli(args, { wrapper: NOBODY });
      assert.equal(result.code, 73, result.stderr);
      const failed = findLog(result, "synchronization failed");
      assert.match(
        String(failed?.reason),
        /cannot take the lock .*\.lock \(EPERM; owned by uid 0; holder process is gone\)/,
      );
      assert.equal(findLog(result, "removed stale lock"), undefined);
      assert.equal(existsSync(lock), true, "root's lock is left alone");
      assert.equal(existsSync(destination), false);
    });
  });

  describe("where /proc hides other users' processes (hidepid=2)", {
    skip: HIDEPID_WORKS ? false : "needs root, setpriv, unshare and a hidepid /proc mount",
  }, () => {
    test("a running holder silent a minute past its lease: never taken over", async (t) => {
      const { destination, locks, args } = await layout(t, 0o777);
      const holder = await rootHolder(destination, locks, "stall", 60_000);
      t.after(() => holder.kill("SIGKILL"));
      const result = await runCli(args, { wrapper: NOBODY_HIDEPID });
      assertLeftToHolder(result, destination);
    });

    test("our own dead run's lock naming a pid now another user's: taken over at once", async (t) => {
      const { destination, lock, args } = await layout(t, 0o777);
      // A lock nobody's earlier run left, naming pid 1 (root's, hidden from nobody here).
      const owner = {
        pid: 1,
        host: hostname(),
        start: "12345",
        pidns: pidNamespace(),
        boot: bootId(),
      };
      const text = JSON.stringify({ ...owner, instance: "dead", token: "t", fence: 1 });
      await writeFile(lock, text, { mode: 0o644 });
      await chown(lock, 65534, 65534);
      await utimes(lock, THIRTY_SECONDS_AGO, THIRTY_SECONDS_AGO);
      const result = await runCli(args, { wrapper: NOBODY_HIDEPID });
      assert.equal(result.code, 0, result.stderr);
      assert.match(String(findLog(result, "removed stale lock")?.reason), /pid was reused/);
      assert.equal(existsSync(destination), true);
    });

    test("a running holder of this very user in another group, hidden by hidepid: never taken over", async (t) => {
      const { destination, locks, args } = await layout(t, 0o777);
      const otherGroup = ["setpriv", "--reuid=65534", "--regid=65533", "--clear-groups"];
      const holder = await rootHolder(destination, locks, "stall", 60_000, otherGroup);
      t.after(() => holder.kill("SIGKILL"));
      const result = await runCli(args, { wrapper: NOBODY_HIDEPID });
      assertLeftToHolder(result, destination);
    });

    test("silent an hour: taken over (a planted lock naming a live process blocks no longer)", async (t) => {
      const { destination, locks, args } = await layout(t, 0o777);
      const holder = await rootHolder(destination, locks, "stall");
      t.after(() => holder.kill("SIGKILL"));
      const result = await runCli(args, { wrapper: NOBODY_HIDEPID });
      assert.equal(result.code, 0, result.stderr);
      assert.match(String(findLog(result, "removed stale lock")?.reason), /cannot be inspected/);
      assert.equal(existsSync(destination), true);
    });
  });
});
