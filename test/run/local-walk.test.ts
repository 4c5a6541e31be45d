/**
 * The walk of a local directory source against what users meet: folders they cannot read (a
 * real unprivileged user, `setpriv` to nobody: root reads everything), links to folders, and the
 * depth bound. Runs the real CLI on real files.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, type TestContext, test } from "node:test";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { listFiles, tempDir } from "../helpers/tmp.js";
import { AS_NOBODY_SKIP, canDropPrivileges, NOBODY } from "../helpers/users.js";

const skip = AS_NOBODY_SKIP;

/** `dir/pub` with `ok/a.txt` and a folder `locked/` nobody may not read, and `dir/other.txt`. */
async function tree(t: TestContext) {
  const dir = await tempDir(t);
  await chmod(dir, 0o777);
  const pub = join(dir, "pub");
  await mkdir(join(pub, "ok"), { recursive: true });
  await mkdir(join(pub, "locked"));
  await writeFile(join(pub, "ok", "a.txt"), "a\n");
  await writeFile(join(pub, "locked", "hidden.txt"), "h\n");
  await writeFile(join(dir, "other.txt"), "other\n");
  // Root removes the tree afterwards whatever its modes.
  await chmod(join(pub, "locked"), 0o000);
  return { dir, pub, other: join(dir, "other.txt") };
}

describe("local directory walk", () => {
  test("a folder below that cannot be read fails alone; the rest is copied, the document whole", {
    skip,
  }, async (t) => {
    const { dir, pub, other } = await tree(t);
    const run = await runCli(intoArtifactRoot([other, pub], dir, "--json"), { wrapper: NOBODY });
    assert.equal(run.code, 1, run.stderr.slice(0, 2000));
    assert.doesNotMatch(run.stderr, /internal error/);
    const report = JSON.parse(run.stdout);
    assert.deepEqual(report.summary.failed, 1);
    const failed = report.results.find((r: { status: string }) => r.status === "failed");
    assert.equal(failed.source, join(pub, "locked"));
    // Labelled by the folder it names, not the directory source's own folder.
    assert.equal(failed.destination, join(dir, "out", "pub", "locked"));
    assert.equal(failed.error.code, "invalid_source");
    assert.match(failed.error.message, /cannot be read \(EACCES\)/);
    assert.deepEqual(await listFiles(join(dir, "out")), ["other.txt", "pub/ok/a.txt"]);
  });

  test("a source folder that cannot be read at all fails as that source; the others go on", {
    skip,
  }, async (t) => {
    const { dir, pub, other } = await tree(t);
    await chmod(pub, 0o000);
    const run = await runCli(intoArtifactRoot([pub, other], dir, "--json"), { wrapper: NOBODY });
    assert.equal(run.code, 1, run.stderr.slice(0, 2000));
    const report = JSON.parse(run.stdout);
    const failed = report.results.find((r: { status: string }) => r.status === "failed");
    assert.equal(failed.source, pub);
    assert.match(failed.error.message, /cannot be read \(EACCES\)/);
    assert.deepEqual(await listFiles(join(dir, "out")), ["other.txt"]);
  });

  test("--max-depth is not a reason to read deeper: a locked folder below the bound is no failure", {
    skip,
  }, async (t) => {
    const { dir, pub } = await tree(t);
    await writeFile(join(pub, "top.txt"), "t\n");
    const run = await runCli(intoArtifactRoot([pub], dir, "--max-depth", "1"), {
      wrapper: NOBODY,
    });
    assert.equal(run.code, 0, run.stderr.slice(0, 2000));
    assert.deepEqual(await listFiles(join(dir, "out")), ["pub/top.txt"]);
  });

  test("a link to a folder is not followed, and says so (it was skipped without a word)", async (t) => {
    const dir = await tempDir(t);
    const real = join(dir, "real");
    await mkdir(join(real, "a"), { recursive: true });
    await writeFile(join(real, "a", "x.txt"), "x\n");
    await symlink("a", join(real, "alias"));
    for (const extra of [[], ["--follow-symlinks"]]) {
      const run = await runCli(intoArtifactRoot([real], dir, ...extra));
      assert.equal(run.code, 0, run.stderr.slice(0, 2000));
      const warning = findLog(run, "skipped symlink");
      assert.equal(warning?.link, join(real, "alias"));
      assert.match(String(warning?.reason), /leads to a folder/);
      assert.deepEqual(await listFiles(join(dir, "out")), ["real/a/x.txt"]);
    }
  });
  test("a file refused for its name is labelled by that name (it was labelled by the source folder)", async (t) => {
    const dir = await tempDir(t);
    const real = join(dir, "real");
    await mkdir(real);
    await writeFile(join(real, "x.txt"), "x\n");
    await writeFile(join(real, "bell\u0007.txt"), "b\n");
    const run = await runCli(intoArtifactRoot([real], dir, "--json"));
    assert.equal(run.code, 1, run.stderr.slice(0, 2000));
    const failed = JSON.parse(run.stdout).results.find(
      (r: { status: string }) => r.status === "failed",
    );
    assert.equal(failed.source, join(real, "bell\u0007.txt"));
    assert.equal(failed.destination, join(dir, "out", "real", "bell\u0007.txt"));
    assert.match(failed.error.message, /control characters/);
    assert.deepEqual(await listFiles(join(dir, "out")), ["real/x.txt"]);
  });

  test("a named pipe and a dangling link are left out, and said so (they were skipped without a word)", async (t) => {
    const dir = await tempDir(t);
    const real = join(dir, "real");
    await mkdir(real);
    await writeFile(join(real, "x.txt"), "x\n");
    assert.equal(spawnSync("mkfifo", [join(real, "pipe")]).status, 0);
    await symlink("gone.txt", join(real, "dangling"));
    await symlink("pipe", join(real, "to-pipe"));
    await symlink("self", join(real, "self"));
    const run = await runCli(intoArtifactRoot([real], dir));
    assert.equal(run.code, 0, run.stderr.slice(0, 2000));
    const special = findLog(run, "skipped special file");
    assert.equal(special?.path, join(real, "pipe"));
    assert.equal(special?.kind, "named pipe");
    const reasons = Object.fromEntries(
      run.logs
        .filter((line) => line.message === "skipped symlink")
        .map((line) => [String(line.link).slice(real.length + 1), String(line.reason)]),
    );
    assert.deepEqual(Object.keys(reasons).sort(), ["dangling", "self", "to-pipe"]);
    assert.match(reasons.dangling as string, /does not exist/);
    assert.match(reasons.self as string, /loop of links/);
    assert.match(reasons["to-pipe"] as string, /FIFO, socket or device/);
    assert.deepEqual(await listFiles(join(dir, "out")), ["real/x.txt"]);
  });
  test("the folders of a mirror keep the source folders' permission bits (less the umask)", async (t) => {
    const dir = await tempDir(t);
    await chmod(dir, 0o755);
    const priv = join(dir, "priv");
    await mkdir(join(priv, "inner"), { recursive: true });
    await writeFile(join(priv, "inner", "notes.txt"), "secret\n", { mode: 0o644 });
    await chmod(priv, 0o700);
    await chmod(join(priv, "inner"), 0o750);
    const umask = process.umask();
    for (const [args, mirror] of [
      [intoArtifactRoot([priv], dir), join(dir, "out", "priv")],
      [[priv, "--destination", join(dir, "copy"), "--lock-dir", join(dir, "l")], join(dir, "copy")],
    ] as const) {
      const run = await runCli([...args]);
      assert.equal(run.code, 0, run.stderr.slice(0, 2000));
      const inner = (await stat(join(mirror, "inner"))).mode & 0o777;
      assert.equal(inner, 0o750 & ~umask, `inner: ${inner.toString(8)}`);
    }
    const top = (await stat(join(dir, "out", "priv"))).mode & 0o777;
    assert.equal(top, 0o700 & ~umask, `the mirror of priv: ${top.toString(8)}`);
    if (canDropPrivileges) {
      const peek = spawnSync(NOBODY[0] as string, [
        ...NOBODY.slice(1),
        "cat",
        join(dir, "out", "priv", "inner", "notes.txt"),
      ]);
      assert.notEqual(peek.status, 0, "nobody cannot read into the private mirror");
    }
  });
});
