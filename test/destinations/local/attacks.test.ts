/**
 * The write path tried as an attacker would: another user who can write the destination's folder
 * plants links and swaps files while root syncs into it. Real processes, a real unprivileged user
 * (`setpriv` to nobody), real files. Runs as root; skipped (with the reason) otherwise.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, chown, lstat, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { pathToFileURL } from "node:url";
import { systemClock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/log/events.js";
import { FsStateStore } from "../../../src/state/fs-store.js";
import { CliProcess, findLog, runCli, singlePair } from "../../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../../helpers/server.js";
import { isPartName, tempDir, waitForPart } from "../../helpers/tmp.js";
import { AS_NOBODY_SKIP, NOBODY } from "../../helpers/users.js";

const server = useTestServer();
const skip = AS_NOBODY_SKIP;

/** Runs a shell command as nobody (the attacker). */
function asNobody(command: string): void {
  const result = spawnSync(NOBODY[0] as string, [...NOBODY.slice(1), "sh", "-c", command], {
    encoding: "utf8",
  });
  assert.equal(result.status, 0, `as nobody: ${command}: ${result.stderr}`);
}

/** A folder tree the attacker can reach: `dir` traversable, `dir/out` writable by anyone. */
async function sharedFolder(t: TestContext): Promise<{ dir: string; out: string }> {
  const dir = await tempDir(t);
  await chmod(dir, 0o755);
  const out = join(dir, "out");
  await mkdir(out);
  await chmod(out, 0o777);
  return { dir, out };
}

/** Resolves once process `pid` is stopped (state T in /proc); bounded to 5 s. */
async function stoppedProcess(pid: number): Promise<void> {
  for (let tries = 0; tries < 500; tries += 1) {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("T")) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.fail(`process ${pid} did not stop`);
}

async function partIn(folder: string): Promise<string> {
  const [name] = (await readdir(folder)).filter(isPartName);
  assert.ok(name, `a part file in ${folder}`);
  return join(folder, name);
}

describe("planted links and swapped parts never redirect a write", { skip }, () => {
  test("a link planted at the old, predictable part name is never written through", async (t) => {
    const { dir, out } = await sharedFolder(t);
    const victim = join(dir, "victim.conf");
    await writeFile(victim, "root's precious configuration\n", { mode: 0o644 });
    const body = bytes(300_000, 801);
    server.route("/report.csv", { body });
    asNobody(`ln -s ${victim} ${join(out, "report.csv.resilient-sync.part")}`);

    const result = await runCli(singlePair(server.url("/report.csv"), dir, "out/report.csv"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(await readFile(victim, "utf8"), "root's precious configuration\n");
    const committed = await lstat(join(out, "report.csv"));
    assert.ok(committed.isFile(), "the destination is a regular file, not the planted link");
    assert.equal(sha256(await readFile(join(out, "report.csv"))), sha256(body));
  });

  for (const swap of ["a link to the attacker's log", "the attacker's own file"] as const) {
    test(`a kept part swapped for ${swap} between runs is not resumed`, async (t) => {
      const { dir, out } = await sharedFolder(t);
      const body = bytes(2_000_000, 802);
      const path = `/swap-${swap.length}.bin`;
      server.route(path, { body, script: [{ kind: "hold", afterBytes: 300_000 }] });
      const args = singlePair(server.url(path), dir, "out/data.bin");
      const first = new CliProcess(args);
      await waitForPart(out, 300_000);
      first.child.kill("SIGTERM");
      assert.equal((await first.done).code, 143);

      const part = await partIn(out);
      const log = join(out, "attacker.log");
      asNobody(`printf 'attacker log line\\n' > ${log}`); // 18 bytes
      asNobody(
        swap === "a link to the attacker's log"
          ? `rm ${part} && ln -s ${log} ${part}`
          : `rm ${part} && head -c 300000 /dev/zero > ${part}`,
      );

      const next = await runCli(args);
      assert.equal(await readFile(log, "utf8"), "attacker log line\n", "nothing appended to it");
      assert.equal(
        sha256(await readFile(join(out, "data.bin"))),
        sha256(body),
        "the destination is whole",
      );
      assert.equal(next.code, 0, next.stderr);
      assert.ok(findLog(next, "discarded part file"), "the swap is reported");
      assert.equal(findLog(next, "download successful")?.resumed_from, 0, "fetched from zero");
    });
  }

  test("root never resumes another user's part, and what it commits is root's", async (t) => {
    const { dir, out } = await sharedFolder(t);
    const locks = join(dir, "locks");
    await mkdir(locks);
    await chmod(locks, 0o777);
    const body = bytes(2_000_000, 803);
    server.route("/theirs.bin", { body, script: [{ kind: "hold", afterBytes: 300_000 }] });
    const args = singlePair(server.url("/theirs.bin"), dir, "out/data.bin");
    const theirs = new CliProcess(args, { wrapper: NOBODY });
    await waitForPart(out, 300_000);
    theirs.child.kill("SIGTERM");
    assert.equal((await theirs.done).code, 143);
    assert.equal((await lstat(await partIn(out))).uid, 65534, "nobody's part is kept");

    const mine = await runCli(args);
    assert.equal(mine.code, 0, mine.stderr);
    const committed = await lstat(join(out, "data.bin"));
    assert.equal(committed.uid, 0, "the destination belongs to the user who ran the sync");
    assert.equal(committed.mode & 0o022, 0, "and nobody else may write it");
    // Their record is ignored (not this user's), or their part refused (not this user's file).
    const refusal =
      findLog(mine, "discarded part file") ?? findLog(mine, "ignored unreadable state");
    assert.match(String(refusal?.reason), /uid 65534/);
    assert.equal(findLog(mine, "download successful")?.resumed_from, 0);
    assert.equal(sha256(await readFile(join(out, "data.bin"))), sha256(body));
  });

  test("a part record forged by another user in a shared lock dir is ignored: nothing of root's is moved", async (t) => {
    const { dir, out } = await sharedFolder(t);
    const locks = join(dir, "locks");
    await mkdir(locks);
    await chmod(locks, 0o1777);
    const secretDir = join(dir, "victim");
    await mkdir(secretDir);
    const secret = join(secretDir, "secret");
    await writeFile(secret, "root's secret\n", { mode: 0o600 });
    const info = await lstat(secret);
    const body = bytes(200_000, 804);
    server.route("/forged.bin", { body });
    const key = pathToFileURL(join(out, "data.bin")).href;
    const recordPath = new FsStateStore(locks, systemClock, silentLogger).recordPath(key, "part");
    const forged = {
      source: server.url("/forged.bin"),
      validators: { etag: '"x"', size: body.length },
      file: { name: "../victim/secret", dev: info.dev, ino: info.ino, uid: 0, size: info.size },
      fence: 1,
      holder: "x",
      closed: true,
    };
    asNobody(`printf '%s' '${JSON.stringify(forged)}' > ${recordPath}`);

    const result = await runCli(singlePair(server.url("/forged.bin"), dir, "out/data.bin"));
    assert.equal(await readFile(secret, "utf8"), "root's secret\n", "the secret is where it was");
    assert.equal((await lstat(secret)).mode & 0o777, 0o600);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(out, "data.bin"))), sha256(body));
    assert.match(String(findLog(result, "ignored unreadable state")?.reason), /uid 65534/);
  });

  test("an update keeps an existing destination's owner and permission bits, never its setuid bits", async (t) => {
    const { dir, out } = await sharedFolder(t);
    for (const [name, mode, want] of [
      ["private.conf", "600", 0o600],
      ["tool", "6777", 0o777],
    ] as const) {
      const body = bytes(1000, name.length);
      server.route(`/${name}`, { body });
      asNobody(`printf old > ${join(out, name)} && chmod ${mode} ${join(out, name)}`);
      const result = await runCli(singlePair(server.url(`/${name}`), dir, `out/${name}`));
      assert.equal(result.code, 0, result.stderr);
      const committed = await lstat(join(out, name));
      assert.equal(committed.uid, 65534, `${name} is still its owner's`);
      assert.equal(
        committed.mode & 0o7777,
        want,
        `${name}: mode ${(committed.mode & 0o7777).toString(8)}`,
      );
      assert.equal(sha256(await readFile(join(out, name))), sha256(body));
    }
  });

  test("a lock dir reached through another user's link is refused (42): nothing written where it leads", async (t) => {
    const { dir, out } = await sharedFolder(t);
    const victim = join(dir, "victim");
    await mkdir(victim);
    asNobody(`ln -s ${victim} ${join(out, "locks")}`);
    server.route("/lockdir.bin", { body: bytes(100, 806) });
    const result = await runCli([
      "--source-url",
      server.url("/lockdir.bin"),
      "--destination",
      join(dir, "data.bin"),
      "--lock-dir",
      join(out, "locks"),
    ]);
    assert.equal(result.code, 42, result.stderr);
    assert.match(result.stderr, /symbolic link of another user \(uid 65534\)/);
    assert.deepEqual(await readdir(victim), []);
  });

  test("an update by a member of the file's group keeps that group, not the runner's primary one", async (t) => {
    const { dir, out } = await sharedFolder(t);
    await mkdir(join(dir, "locks"), { mode: 0o777 });
    await chmod(join(dir, "locks"), 0o777);
    const target = join(out, "shared.txt");
    await writeFile(target, "old\n");
    await chown(target, 65534, 100);
    await chmod(target, 0o640);
    const body = bytes(1000, 805);
    server.route("/grouped.txt", { body });
    const member = ["setpriv", "--reuid=65534", "--regid=65534", "--groups=100"];
    const result = await runCli(singlePair(server.url("/grouped.txt"), dir, "out/shared.txt"), {
      wrapper: member,
    });
    assert.equal(result.code, 0, result.stderr);
    const committed = await lstat(target);
    assert.deepEqual([committed.uid, committed.gid, committed.mode & 0o777], [65534, 100, 0o640]);
    assert.equal(sha256(await readFile(target)), sha256(body));
  });

  test("a new destination copied from a 0600 local file is 0600", async (t) => {
    const { dir } = await sharedFolder(t);
    const source = join(dir, "secret.txt");
    await writeFile(source, "private\n", { mode: 0o600 });
    const result = await runCli([
      "--source-url",
      source,
      "--destination",
      join(dir, "copy.txt"),
      "--lock-dir",
      join(dir, "locks"),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((await lstat(join(dir, "copy.txt"))).mode & 0o777, 0o600);
  });

  test("after a killed run, its stranded part is removed, but a part-named file of another user is not", async (t) => {
    const { dir, out } = await sharedFolder(t);
    const theirs = join(out, ".data.bin.0123456789abcdef.resilient-sync.part");
    asNobody(`echo planted by nobody > ${theirs}`);
    server.route("/stranded.bin", {
      body: bytes(50_000, 803),
      script: [{ kind: "hold", afterBytes: 20_000 }],
    });
    const args = singlePair(server.url("/stranded.bin"), dir, "out/data.bin");
    const victim = new CliProcess(args);
    await waitForPart(out, 20_000);
    victim.child.kill("SIGKILL");
    await victim.done;
    const next = await runCli(args);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(findLog(next, "removed stranded part files")?.count, 1, "root's own");
    assert.equal(await readFile(theirs, "utf8"), "planted by nobody\n");
  });
  test("bytes the destination's owner writes into the part given to them, before it is renamed, are never committed", async (t) => {
    const { dir, out } = await sharedFolder(t);
    const target = join(out, "data.bin");
    await writeFile(target, "nobody's old data\n");
    await chown(target, 65534, 65534);
    server.route("/given.bin", { body: bytes(300_000, 804) });
    const run = new CliProcess(singlePair(server.url("/given.bin"), dir, "out/data.bin"), {
      env: { RESILIENT_SYNC_FAILPOINT: "part-sealed:stop" },
    });
    t.after(() => run.child.kill("SIGKILL"));
    await run.waitForLog("paused at failpoint");
    await stoppedProcess(run.child.pid as number);
    const part = await partIn(out);
    assert.equal((await lstat(part)).uid, 65534, "the part is already theirs");
    asNobody(`printf EVIL | dd of=${part} conv=notrunc 2>/dev/null`);
    run.child.kill("SIGCONT");
    const result = await run.done;
    assert.equal(result.code, 73, result.stderr);
    assert.match(
      String(findLog(result, "synchronization failed")?.reason),
      /changed by another process/,
    );
    assert.equal(await readFile(target, "utf8"), "nobody's old data\n", "the old file stands");
  });
});
