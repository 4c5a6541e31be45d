/**
 * Folders below `--artifact-root` that someone replaced with links (`mirror/src/sub -> victim/`):
 * a sync never writes, creates folders or reads checksums through them. The attacker is a real
 * unprivileged user (`setpriv` to nobody) where the test runs as root; the refusal itself does
 * not depend on who planted the link, so without root the links are planted by the runner.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmod,
  chown,
  mkdir,
  readdir,
  readFile,
  rename,
  rm,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LocalDestinations } from "../../../src/destinations/local/destinations.js";
import { CliProcess, runCli } from "../../helpers/cli.js";
import { tempDir } from "../../helpers/tmp.js";
import { NOBODY } from "../../helpers/users.js";

const asRoot = process.getuid?.() === 0;

/** Plants a link as nobody when the test can drop privileges, else as the runner. */
function plantLink(target: string, at: string): void {
  const command = ["ln", "-s", target, at];
  const result = asRoot
    ? spawnSync(NOBODY[0] as string, [...NOBODY.slice(1), ...command], { encoding: "utf8" })
    : spawnSync(command[0] as string, command.slice(1), { encoding: "utf8" });
  assert.equal(result.status, 0, `ln -s ${target} ${at}: ${result.stderr}`);
}

/** A source tree `src/{top.txt, sub/config, sub/deeper/more}`, a victim folder, and a world-writable mirror. */
async function layout(dir: string) {
  const src = join(dir, "src");
  await mkdir(join(src, "sub", "deeper"), { recursive: true });
  await writeFile(join(src, "top.txt"), "top\n");
  await writeFile(join(src, "sub", "config"), "attacker's choice of config\n");
  await writeFile(join(src, "sub", "deeper", "more"), "more\n");
  const victim = join(dir, "victim");
  await mkdir(victim);
  await writeFile(join(victim, "config"), "root's precious config\n");
  const mirror = join(dir, "mirror");
  await mkdir(mirror);
  await chmod(dir, 0o755);
  await chmod(mirror, 0o777);
  return { src, victim, mirror };
}

describe("linked folders below the artifact root", () => {
  test("a planted mirror/src/sub -> victim/ is refused, victim untouched, the rest synced (exit 1: some failed)", async (t) => {
    const dir = await tempDir(t);
    const { src, victim, mirror } = await layout(dir);
    await mkdir(join(mirror, "src"));
    await chmod(join(mirror, "src"), 0o777);
    plantLink(victim, join(mirror, "src", "sub"));

    const args = [src, "--artifact-root", mirror, "--lock-dir", join(dir, "locks"), "--json"];
    const result = await runCli(args);
    assert.equal(result.code, 1, result.stderr);
    assert.equal(await readFile(join(victim, "config"), "utf8"), "root's precious config\n");
    assert.deepEqual((await readdir(victim)).sort(), ["config"], "nothing made in the victim");
    assert.equal(await readFile(join(mirror, "src", "top.txt"), "utf8"), "top\n");
    const report = JSON.parse(result.stdout);
    const refused = report.results.filter((r: { error: unknown }) => r.error !== null);
    assert.equal(refused.length, 2, "sub/config and sub/deeper/more");
    for (const entry of refused) {
      assert.equal(entry.error.code, "write_error");
      assert.match(entry.error.message, /mirror\/src\/sub is a symbolic link/);
      assert.equal(entry.checksum, null, "no checksum read through the link");
    }
  });

  test("a link in place of the mirror's own folder (mirror/src) is refused as well", async (t) => {
    const dir = await tempDir(t);
    const { src, victim, mirror } = await layout(dir);
    plantLink(victim, join(mirror, "src"));
    const result = await runCli([src, "--artifact-root", mirror, "--lock-dir", join(dir, "locks")]);
    assert.equal(result.code, 73, result.stderr);
    assert.deepEqual((await readdir(victim)).sort(), ["config"]);
    assert.equal(await readFile(join(victim, "config"), "utf8"), "root's precious config\n");
  });

  test("a file where a folder of the mirror should be is said plainly: in the way, not a link", async (t) => {
    const dir = await tempDir(t);
    const { src, mirror } = await layout(dir);
    await mkdir(join(mirror, "src"));
    await writeFile(join(mirror, "src", "sub"), "a file of the user's\n");
    const result = await runCli([
      src,
      "--artifact-root",
      mirror,
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ]);
    assert.equal(result.code, 1, result.stderr);
    const refused = JSON.parse(result.stdout).results.filter(
      (r: { error: unknown }) => r.error !== null,
    );
    assert.equal(refused.length, 2);
    for (const entry of refused) {
      assert.match(entry.error.message, /mirror\/src\/sub is in the way: it is not a folder$/);
      assert.doesNotMatch(entry.error.message, /link/);
    }
    assert.equal(await readFile(join(mirror, "src", "sub"), "utf8"), "a file of the user's\n");
  });

  test("the artifact root itself may be a link: the user named it", async (t) => {
    const dir = await tempDir(t);
    const { src } = await layout(dir);
    await mkdir(join(dir, "elsewhere"));
    await symlink(join(dir, "elsewhere"), join(dir, "root-link"));
    const result = await runCli([
      src,
      "--artifact-root",
      join(dir, "root-link"),
      "--lock-dir",
      join(dir, "locks"),
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      await readFile(join(dir, "elsewhere", "src", "sub", "config"), "utf8"),
      "attacker's choice of config\n",
    );
  });

  test("a folder swapped for a link after prepare is caught before the part is made, and again before the rename", async (t) => {
    const dir = await tempDir(t);
    const { victim, mirror } = await layout(dir);
    const path = join(mirror, "src", "sub", "config");
    const destinations = new LocalDestinations();
    const lease = { check: async () => {} };
    const isLinkRefusal = (error: Error) => /sub is a symbolic link/.test(error.message);

    const early = await destinations.open(path, mirror);
    await early.prepare();
    await rename(join(mirror, "src", "sub"), join(mirror, "src", "moved"));
    await symlink(victim, join(mirror, "src", "sub"));
    await assert.rejects(early.openPart(undefined), isLinkRefusal);
    assert.deepEqual((await readdir(victim)).sort(), ["config"], "no part made in the victim");

    // Later: the part is made in the real folder, which is then put behind a link.
    await rm(join(mirror, "src", "sub"));
    await rename(join(mirror, "src", "moved"), join(mirror, "src", "sub"));
    const late = await destinations.open(path, mirror);
    await late.prepare();
    const part = await late.openPart(undefined);
    part.push(Buffer.from("new content\n"));
    await part.finish();
    await rename(join(mirror, "src", "sub"), join(mirror, "src", "moved"));
    await symlink(join(mirror, "src", "moved"), join(mirror, "src", "sub"));
    await assert.rejects(late.commit(part, lease), isLinkRefusal);
    assert.deepEqual(
      await readdir(join(mirror, "src", "moved")),
      [part.file().name],
      "not renamed",
    );
    assert.equal(await readFile(join(victim, "config"), "utf8"), "root's precious config\n");
    await part.discard();
  });

  test("a folder swapped for a link while the run waits for a lock changing hands: no lock file is made through it", async (t) => {
    const dir = await tempDir(t);
    const { src, victim, mirror } = await layout(dir);
    const sub = join(mirror, "src", "sub");
    await mkdir(sub, { recursive: true });
    // Make the run wait at the lock: a fresh marker of a takeover in progress, and an empty lock.
    const args = [src, "--artifact-root", mirror, "--lock-dir", join(dir, "locks")];
    const { LocalDestinations: Driver } = await import(
      "../../../src/destinations/local/destinations.js"
    );
    const { FsStateStore } = await import("../../../src/state/fs-store.js");
    const { systemClock } = await import("../../../src/clock.js");
    const { silentLogger } = await import("../../../src/log/events.js");
    const id = (await new Driver().open(join(sub, "config"), mirror)).id;
    const lock = new FsStateStore(join(dir, "locks"), systemClock, silentLogger).lockPath(id);
    await writeFile(lock, "");
    await writeFile(`${lock}.break`, "");
    const run = new CliProcess(args);
    await run.waitForLog("validated environment");
    await rename(sub, join(mirror, "src", "moved"));
    // The run may have made the folder again meanwhile (it had not reached it yet): replace that
    // one too. Bounded: three tries.
    let remade = false;
    for (let tries = 0; tries < 3; tries += 1) {
      const planted = await symlink(victim, sub).then(
        () => true,
        () => false,
      );
      if (planted) break;
      remade = true;
      // The run may be making a file in it at this very moment (ENOTEMPTY): the next try sees.
      await rm(sub, { recursive: true, force: true }).catch(() => {});
    }
    const result = await run.done;
    if (remade && result.code === 0) {
      // The run made the folder again and took its locks there before the link: removing that
      // folder took the locks with it, and the run, finding its leases lost, skipped the pairs
      // (a lock file gone is taken for one taken over: the file store cannot tell the two apart).
      assert.match(result.stderr, /"message":"lock lost".*"destination":"[^"]*\/src\/sub\//);
    } else {
      assert.equal(result.code, 1, result.stderr);
    }
    assert.deepEqual(
      (await readdir(victim)).sort(),
      ["config"],
      "no lock or part made in the victim",
    );
    assert.equal(await readFile(join(victim, "config"), "utf8"), "root's precious config\n");
  });
});

describe("links on the way to a destination named with -o", () => {
  const asNobodyOnly = { skip: asRoot ? false : "needs root, to plant the link as another user" };
  const refusal = /is a symbolic link of another user \(uid 65534\)/;

  /** Syncs src/top.txt to `out` with -o; the victim must be untouched after a refusal. */
  async function syncTo(dir: string, out: string) {
    const args = [join(dir, "src", "top.txt"), "-o", out, "--lock-dir", join(dir, "locks")];
    const result = await runCli([...args, "--json"]);
    return { args, result };
  }

  async function assertRefused(dir: string, out: string) {
    const { args, result } = await syncTo(dir, out);
    assert.equal(result.code, 73, result.stderr);
    const [entry] = JSON.parse(result.stdout).results;
    assert.equal(entry.error.code, "write_error");
    assert.match(entry.error.message, refusal);
    const victim = join(dir, "victim");
    assert.deepEqual((await readdir(victim)).sort(), ["config"], "nothing made in the victim");
    assert.equal(await readFile(join(victim, "config"), "utf8"), "root's precious config\n");
    const dryRun = await runCli([...args, "--dry-run"]);
    assert.equal(dryRun.code, 73, `a dry run says the same: ${dryRun.stderr}`);
  }

  test(
    "a link another user planted in a folder anyone may write is not followed",
    asNobodyOnly,
    async (t) => {
      const dir = await tempDir(t);
      const { victim, mirror } = await layout(dir);
      plantLink(victim, join(mirror, "x"));
      await assertRefused(dir, join(mirror, "x", "config"));
    },
  );

  test("nor one in a folder of their own inside a shared one", asNobodyOnly, async (t) => {
    const dir = await tempDir(t);
    const { victim, mirror } = await layout(dir);
    const own = join(mirror, "d");
    await mkdir(own);
    await chown(own, 65534, 65534);
    plantLink(victim, join(own, "y"));
    await assertRefused(dir, join(own, "y", "config"));
  });

  test("nor one that a link of the runner's leads to", asNobodyOnly, async (t) => {
    const dir = await tempDir(t);
    const { victim, mirror } = await layout(dir);
    plantLink(victim, join(mirror, "x"));
    await symlink(join(mirror, "x"), join(dir, "mine"));
    await assertRefused(dir, join(dir, "mine", "config"));
  });

  test("a link of the runner's own is followed, as curl follows it", async (t) => {
    const dir = await tempDir(t);
    const { victim, mirror } = await layout(dir);
    await symlink(victim, join(mirror, "mine"));
    await symlink("victim", join(dir, "relative"));
    for (const [link, name] of [
      [join(mirror, "mine"), "one.txt"],
      [join(dir, "relative"), "two.txt"],
    ] as const) {
      const { result } = await syncTo(dir, join(link, name));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(await readFile(join(victim, name), "utf8"), "top\n");
    }
  });

  test("a named destination's folder swapped for a link after prepare: caught before the lock, the part and the rename", async (t) => {
    const dir = await tempDir(t);
    const { victim, mirror } = await layout(dir);
    const folder = join(mirror, "out");
    await mkdir(folder);
    const path = join(folder, "config");
    const lease = { check: async () => {} };
    const isRefusal = (error: Error) => /a link appeared on the way/.test(error.message);
    const swap = async (to: string) => {
      await rename(folder, `${folder}.moved`);
      await symlink(to, folder);
    };
    const unswap = async () => {
      await rm(folder);
      await rename(`${folder}.moved`, folder);
    };

    const early = await new LocalDestinations().open(path);
    await early.prepare();
    await swap(victim);
    assert.throws(() => early.verifyWay?.(), isRefusal, "before the lock is made");
    await assert.rejects(early.openPart(undefined), isRefusal);
    assert.deepEqual((await readdir(victim)).sort(), ["config"], "no part made in the victim");
    await unswap();

    const late = await new LocalDestinations().open(path);
    await late.prepare();
    const part = await late.openPart(undefined);
    part.push(Buffer.from("new content\n"));
    await part.finish();
    await swap(`${folder}.moved`);
    await assert.rejects(late.commit(part, lease), isRefusal);
    assert.equal(await readFile(join(victim, "config"), "utf8"), "root's precious config\n");
    await part.discard();
  });

  test(
    "a folder missing when the run looked, planted as a link before it was made: refused",
    asNobodyOnly,
    async (t) => {
      const dir = await tempDir(t);
      const { victim, mirror } = await layout(dir);
      const destination = await new LocalDestinations().open(join(mirror, "later", "config"));
      plantLink(victim, join(mirror, "later")); // between the run's look and its mkdir
      await assert.rejects(destination.prepare(), (error: Error) =>
        /a link appeared on the way/.test(error.message),
      );
      assert.deepEqual((await readdir(victim)).sort(), ["config"], "nothing made in the victim");
    },
  );
});
