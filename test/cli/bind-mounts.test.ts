/**
 * A destination and its `--lock-dir` on two bind mounts of one filesystem — the usual container
 * layout (`-v /data/out:/out -v /data/state:/state`). Both report one device number, yet the
 * kernel refuses a rename from one to the other (EXDEV): the marker must still be recorded, so
 * that the next run finds the file up to date. Each run is a real CLI in a mount namespace of
 * its own (`unshare -m`, root only), so nothing outside the test sees the mounts.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

function canBindMount(): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (bind mounts)";
  const probe = spawnSync("unshare", ["-m", "true"]);
  return probe.status === 0 ? undefined : "unshare -m is not permitted here";
}

test("a destination and its lock dir on two bind mounts of one filesystem: the marker is recorded, the next run is a no-op", async (t) => {
  const why = canBindMount();
  if (why) return t.skip(why);
  const root = await tempDir(t);
  const [data, state, out, locks] = ["data", "state", "out", "locks"].map((n) => join(root, n));
  for (const folder of [data, state, out, locks]) await mkdir(folder as string);
  const source = join(root, "source.bin");
  await writeFile(source, "bytes that should be copied once\n");
  assert.equal((await stat(data as string)).dev, (await stat(state as string)).dev);
  // Mount the two folders in a namespace of the run's own, then exec the CLI (same pid).
  const wrapper = [
    "unshare",
    "-m",
    "sh",
    "-c",
    `mount --make-rprivate / && mount --bind "${data}" "${out}" && mount --bind "${state}" "${locks}" && exec "$0" "$@"`,
  ];
  const args = [source, "--artifact-root", out as string, "--lock-dir", locks as string, "--json"];
  const first = await runCli(args, { wrapper });
  assert.equal(first.code, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).results[0].status, "synced");
  const warned = first.logs.filter((l) => l.message === "state not recorded");
  assert.deepEqual(warned, [], "the marker was recorded");
  assert.ok((await readdir(state as string)).length > 0, "state written through the mount");

  const second = await runCli(args, { wrapper });
  assert.equal(second.code, 0, second.stderr);
  assert.equal(JSON.parse(second.stdout).results[0].status, "unchanged", "found up to date");
});
