/**
 * Where an installed copy puts things (the package under node_modules; here a checkout told to
 * behave as one with $RESILIENT_SYNC_INSTALLED=1 — the pack-and-install test runs the real
 * thing): a bare invocation is a usage error that writes nothing; a source lands in the working
 * folder as with wget; the state lives in the user's state folder, shared by runs started from
 * any folder.
 */
import assert from "node:assert/strict";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, findLog, runCli } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

/** An installed copy's environment: a home of its own, no REPO_ROOT. */
async function installedIn(t: Parameters<typeof tempDir>[0], xdg = true) {
  const dir = await tempDir(t);
  const home = join(dir, "home");
  const work = join(dir, "work");
  await mkdir(home);
  await mkdir(work);
  const env: Record<string, string | undefined> = {
    RESILIENT_SYNC_INSTALLED: "1",
    REPO_ROOT: undefined,
    HOME: home,
    XDG_STATE_HOME: xdg ? join(dir, "state") : undefined,
  };
  return { dir, home, work, env, state: join(dir, "state", "resilient-sync") };
}

describe("an installed copy", () => {
  test("no arguments: usage on stderr, exit 64, nothing written anywhere", async (t) => {
    const place = await installedIn(t);
    const run = await runCli([], { env: place.env, cwd: place.work });
    assert.equal(run.code, 64, run.stderr);
    assert.match(run.stderr, /usage: resilient-sync \[options\] SOURCE/);
    assert.match(run.stderr, /--help/);
    assert.equal(run.stdout, "");
    assert.deepEqual(await readdir(place.work), []);
    assert.deepEqual(await readdir(place.home), []);
    assert.deepEqual((await readdir(place.dir)).sort(), ["home", "work"]);
  });

  test("resilient-sync URL writes ./<name>; the state goes to $XDG_STATE_HOME/resilient-sync", async (t) => {
    const place = await installedIn(t);
    const body = bytes(5000, 7);
    server.route("/inst/data.bin", { body });
    const run = await runCli([server.url("/inst/data.bin")], { env: place.env, cwd: place.work });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readFile(join(place.work, "data.bin")), body);
    assert.deepEqual(await readdir(place.work), ["data.bin"], "no ./reports");
    assert.equal(findLog(run, "validated environment")?.lock_dir, place.state);
    // --source-url without --destination lands the same way.
    const again = await runCli(["--source-url", server.url("/inst/data.bin")], {
      env: place.env,
      cwd: place.work,
    });
    assert.equal(again.code, 0, again.stderr);
    assert.ok(findLog(again, "destination already up-to-date"));
  });

  test("--source-url beside SOURCE or -i: refused (64), nothing fetched, nothing written", async (t) => {
    const place = await installedIn(t);
    server.route("/inst/one.bin", { body: bytes(100, 3) });
    server.route("/inst/two.bin", { body: bytes(100, 4) });
    await writeFile(join(place.dir, "list.txt"), `${server.url("/inst/two.bin")}\n`);
    for (const extra of [[server.url("/inst/two.bin")], ["-i", join(place.dir, "list.txt")]]) {
      const run = await runCli(["--source-url", server.url("/inst/one.bin"), ...extra], {
        env: place.env,
        cwd: place.work,
      });
      assert.equal(run.code, 64, run.stderr);
      assert.match(run.stderr, /--source-url names the single source/);
      assert.deepEqual(await readdir(place.work), [], "nothing written");
    }
    assert.deepEqual((await readdir(place.dir)).sort(), ["home", "list.txt", "work"]);
  });

  test("an empty REPO_ROOT counts as unset, as the Bash script reads it (REPO_ROOT:-)", async (t) => {
    const place = await installedIn(t);
    server.route("/inst/empty-root.bin", { body: bytes(100, 2) });
    const run = await runCli([server.url("/inst/empty-root.bin")], {
      env: { ...place.env, REPO_ROOT: "" },
      cwd: place.work,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(await readdir(place.work), ["empty-root.bin"], "no ./reports");
    assert.equal(findLog(run, "validated environment")?.lock_dir, place.state);
  });

  test("without $XDG_STATE_HOME the state is ~/.local/state/resilient-sync", async (t) => {
    const place = await installedIn(t, false);
    server.route("/inst/home.bin", { body: bytes(100, 1) });
    const run = await runCli([server.url("/inst/home.bin")], { env: place.env, cwd: place.work });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(
      findLog(run, "validated environment")?.lock_dir,
      join(place.home, ".local", "state", "resilient-sync"),
    );
  });

  test("two runs from two folders to one --destination: one transfer, one skip", async (t) => {
    const place = await installedIn(t);
    const other = join(place.dir, "elsewhere");
    await mkdir(other);
    const body = bytes(256 * 1024, 3);
    server.route("/inst/shared.bin", { body, pace: { chunkBytes: 16 * 1024, intervalMs: 40 } });
    const destination = join(place.dir, "shared.bin");
    const args = [server.url("/inst/shared.bin"), "--destination", destination];
    const first = new CliProcess(args, { env: place.env, cwd: place.work });
    await first.waitForLog("attempting download");
    const second = await runCli(args, { env: place.env, cwd: other });
    assert.equal(second.code, 0, second.stderr);
    assert.ok(findLog(second, "another synchronization is in progress"), second.stderr);
    const done = await first.done;
    assert.equal(done.code, 0, done.stderr);
    assert.deepEqual(await readFile(destination), body);
    assert.equal(server.requestsFor("/inst/shared.bin").length, 1);
  });
});
