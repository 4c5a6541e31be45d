/** The local destination on its own, on real files: what a part record may and may not make it touch. */
import assert from "node:assert/strict";
import { lstat, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LocalDestinations } from "../../../src/destinations/local/destination.js";
import { isPartNameFor, newPartName } from "../../../src/destinations/local/names.js";
import { tempDir } from "../../helpers/tmp.js";

const lease = { check: async () => {} };

describe("local destination", () => {
  test("a record naming a file that is not this destination's part is never opened, moved or removed", async (t) => {
    const dir = await tempDir(t);
    await mkdir(join(dir, "victim"));
    const secret = join(dir, "victim", "secret");
    await writeFile(secret, "root only\n", { mode: 0o600 });
    const info = await stat(secret);
    const destination = await new LocalDestinations().open(join(dir, "out", "data.bin"));
    await destination.prepare();
    const forged = {
      name: "../victim/secret",
      dev: info.dev,
      ino: info.ino,
      uid: info.uid,
      size: info.size,
    };
    const refusals: string[] = [];
    const part = await destination.openPart({ file: forged, closed: true }, (why) =>
      refusals.push(why),
    );
    assert.equal(part.offset, 0, "a new part, not the forged one");
    assert.match(String(refusals[0]), /not a part of this destination/);
    await part.discard();
    await destination.discardKept(forged);
    assert.equal(await readFile(secret, "utf8"), "root only\n");
    assert.equal((await lstat(secret)).mode & 0o777, 0o600);
  });

  test("a part's name fits in 255 bytes whatever the destination's name, and is recognised", () => {
    for (const name of ["a", "x".repeat(240), "é".repeat(127), `${"日本".repeat(40)}.csv`]) {
      const partName = newPartName(name);
      assert.ok(
        Buffer.byteLength(partName) <= 255,
        `${Buffer.byteLength(partName)} bytes for ${name.length} chars`,
      );
      assert.ok(isPartNameFor(partName, name));
      // Names cut to fit share their parts' prefix; shorter ones are told apart.
      if (Buffer.byteLength(name) < 200) assert.ok(!isPartNameFor(partName, `${name}x`));
    }
    assert.ok(!isPartNameFor("../x.0123456789abcdef.resilient-sync.part", "x"));
  });

  test("a commit keeps an existing file's permissions and gives a new one the umask's", async (t) => {
    const dir = await tempDir(t);
    const destinations = new LocalDestinations();
    const kept = join(dir, "kept.bin");
    await writeFile(kept, "old");
    const { chmod } = await import("node:fs/promises");
    await chmod(kept, 0o640);
    for (const [path, want] of [
      [kept, 0o640],
      [join(dir, "new.bin"), 0o666 & ~process.umask()],
    ] as const) {
      const destination = await destinations.open(path);
      await destination.prepare();
      const part = await destination.openPart(undefined);
      assert.equal(
        (await lstat(join(dir, part.file().name))).mode & 0o777,
        0o600,
        "0600 until commit",
      );
      part.push(Buffer.from("new bytes"));
      await part.finish();
      await destination.commit(part, lease);
      assert.equal((await lstat(path)).mode & 0o7777, want);
      assert.equal(await readFile(path, "utf8"), "new bytes");
    }
  });
});
