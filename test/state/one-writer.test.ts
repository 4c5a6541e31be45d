/**
 * One writer per destination, however it is spelled, whatever `--lock-dir` each run is given,
 * and a holder paused past its lease can touch nothing once another run has taken over. Real CLI
 * processes, real signals (SIGSTOP, SIGCONT), a real HTTP server.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { mkdir, readdir, readFile, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, findLog, runCli } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { isPartName, tempDir, waitForPart } from "../helpers/tmp.js";

const server = useTestServer();

const run = (path: string, destination: string, locks: string, ...extra: string[]) => [
  "--source-url",
  server.url(path),
  "--destination",
  destination,
  "--lock-dir",
  locks,
  ...extra,
];

/** Whether this process may bind-mount a folder (root in a privileged sandbox, as CI here is). */
const canBindMount = (() => {
  const probe = mkdtempSync(join(tmpdir(), "resilient-sync-bind-"));
  const ok = spawnSync("mount", ["--bind", probe, probe]).status === 0;
  if (ok) spawnSync("umount", [probe]);
  rmSync(probe, { recursive: true, force: true });
  return ok;
})();

const SPELLINGS = [
  "spelled through a symlinked folder",
  "spelled through a bind mount",
  "with another --lock-dir",
] as const;

describe("one writer per destination", () => {
  for (const how of SPELLINGS) {
    const skip =
      how === "spelled through a bind mount" && !canBindMount ? "cannot bind-mount here" : false;
    test(`a second run on the same destination ${how} waits its turn`, { skip }, async (t) => {
      const dir = await tempDir(t);
      await mkdir(join(dir, "d"));
      if (how === "spelled through a bind mount") {
        await mkdir(join(dir, "dlink"));
        assert.equal(spawnSync("mount", ["--bind", join(dir, "d"), join(dir, "dlink")]).status, 0);
        t.after(() => spawnSync("umount", ["-l", join(dir, "dlink")]));
      } else {
        await symlink(join(dir, "d"), join(dir, "dlink"));
      }
      const v1 = bytes(1_000_000, 811);
      const v2 = bytes(700_000, 812);
      const a = `/one-${SPELLINGS.indexOf(how)}-a.bin`;
      const b = `/one-${SPELLINGS.indexOf(how)}-b.bin`;
      server.route(a, { body: v1, script: [{ kind: "hold", afterBytes: 200_000 }] });
      server.route(b, { body: v2 });
      const first = new CliProcess(run(a, join(dir, "d", "out.bin"), join(dir, "locks")));
      await server.waitFor(() => server.bytesSentFor(a) >= 200_000);

      const second =
        how === "with another --lock-dir"
          ? run(b, join(dir, "d", "out.bin"), join(dir, "other-locks"))
          : run(b, join(dir, "dlink", "out.bin"), join(dir, "locks"));
      const result = await runCli([...second, "--checksum", sha256(v2)]);
      server.release();
      const done = await first.done;
      const final = sha256(await readFile(join(dir, "d", "out.bin")));
      assert.ok([sha256(v1), sha256(v2)].includes(final), "the destination is one whole version");
      assert.equal(result.code, 0, result.stderr);
      assert.ok(findLog(result, "another synchronization is in progress"), "one writer at a time");
      assert.equal(server.requestsFor(b).length, 0, "the second run sent nothing");
      assert.equal(done.code, 0, done.stderr);
      assert.equal(final, sha256(v1));
      // Before the temp folder goes (its removal would stop at a mount point).
      if (how === "spelled through a bind mount") spawnSync("umount", [join(dir, "dlink")]);
    });
  }

  test("a holder stopped past its lease is taken over, then says `lock lost` and touches nothing", async (t) => {
    const dir = await tempDir(t);
    const out = join(dir, "out");
    const v1 = bytes(2_000_000, 813);
    const v2 = bytes(900_000, 814);
    server.route("/paused-a.bin", { body: v1, script: [{ kind: "hold", afterBytes: 300_000 }] });
    server.route("/paused-b.bin", { body: v2 });
    const destination = join(out, "data.bin");
    const holder = new CliProcess(run("/paused-a.bin", destination, join(dir, "locks")));
    await waitForPart(out, 300_000);
    holder.child.kill("SIGSTOP");
    t.after(() => holder.child.kill("SIGKILL"));

    // The next run waits out the silent holder's lease, takes over and commits its own version.
    const next = await runCli([
      ...run("/paused-b.bin", destination, join(dir, "locks"), "--wait-lock", "60"),
      "--checksum",
      sha256(v2),
    ]);
    assert.equal(next.code, 0, next.stderr);
    assert.equal(sha256(await readFile(destination)), sha256(v2), "the next run committed");
    assert.match(String(findLog(next, "removed stale lock")?.reason), /lease expired/);
    assert.equal(
      findLog(next, "download successful")?.resumed_from,
      0,
      "the holder's part is not resumed",
    );

    // The holder wakes: its next renewal finds the lock taken; it stops without committing.
    holder.child.kill("SIGCONT");
    await holder.waitForLog("lock lost", 20_000);
    server.release();
    const woke = await holder.done;
    assert.equal(woke.code, 0, woke.stderr);
    assert.equal(findLog(woke, "updated destination"), undefined, "the holder committed nothing");
    assert.equal(sha256(await readFile(destination)), sha256(v2), "the committed file is intact");
    assert.deepEqual((await readdir(out)).filter(isPartName), [], "the holder removed its part");
  });

  test("a holder stopped while asking to resume, once taken over, removes nothing of the part the next run resumed", async (t) => {
    const dir = await tempDir(t);
    const out = join(dir, "out");
    const body = bytes(1_000_000, 815);
    const path = "/resume-race.bin";
    const destination = join(out, "data.bin");
    const args = (...extra: string[]) => run(path, destination, join(dir, "locks"), ...extra);
    // A first run keeps 300 kB, closed and recorded.
    server.route(path, { body, script: [{ kind: "hold", afterBytes: 300_000 }] });
    const first = new CliProcess(args());
    await waitForPart(out, 300_000);
    first.child.kill("SIGTERM");
    assert.equal((await first.done).code, 143);

    // The holder reopens that part and asks for the rest; it is stopped before any answer.
    server.route(path, {
      body,
      script: [{ kind: "hold-answer" }, { kind: "hold", afterBytes: 100_000 }],
    });
    const holder = new CliProcess(args());
    t.after(() => holder.child.kill("SIGKILL"));
    await server.waitFor(() => server.requestsFor(path).length === 2);
    holder.child.kill("SIGSTOP");

    // The next run takes the stopped holder's lease over and resumes the same part.
    const next = new CliProcess(args("--wait-lock", "60"));
    await server.waitFor(() => (server.requestsFor(path)[2]?.bytesSent ?? 0) >= 100_000, 30_000);

    // The holder wakes, finds its lease gone, and stops — removing nothing.
    holder.child.kill("SIGCONT");
    const woke = await holder.done;
    assert.ok(findLog(woke, "lock lost"), woke.stderr);
    assert.equal(
      (await readdir(out)).filter(isPartName).length,
      1,
      "the resumed part is still there",
    );

    server.release();
    const done = await next.done;
    assert.equal(done.code, 0, done.stderr);
    assert.equal(findLog(done, "download successful")?.resumed_from, 300_000);
    assert.equal(sha256(await readFile(destination)), sha256(body));
  });
});
