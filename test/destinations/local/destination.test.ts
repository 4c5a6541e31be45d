/** The local destination on its own, on real files: what a part record may and may not make it touch. */
import assert from "node:assert/strict";
import { lstat, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { LocalDestinations } from "../../../src/destinations/local/destinations.js";
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

  test("long names cut to the same part prefix never sweep each other's parts", async (t) => {
    const dir = await tempDir(t);
    const destinations = new LocalDestinations();
    const a = await destinations.open(join(dir, `${"x".repeat(230)}-A.bin`));
    const b = await destinations.open(join(dir, `${"x".repeat(230)}-B.bin`));
    await b.prepare();
    const part = await b.openPart(undefined);
    part.push(Buffer.from("B's bytes"));
    await part.finish();
    assert.equal(await a.sweepParts?.(undefined), 0);
    await b.commit(part, lease);
    assert.equal(await readFile(join(dir, `${"x".repeat(230)}-B.bin`), "utf8"), "B's bytes");
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

describe("special destinations", () => {
  test("a FIFO, a character device or a socket at the destination is refused (exit 73) and left as it is", async (t) => {
    const { spawnSync } = await import("node:child_process");
    const { createServer } = await import("node:net");
    const { runCli, singlePair } = await import("../../helpers/cli.js");
    const { TestServer, bytes } = await import("../../helpers/server.js");
    const server = await TestServer.start();
    t.after(() => server.close());
    server.route("/data.bin", { body: bytes(1000, 1) });
    const dir = await tempDir(t);
    const kinds: Array<
      [string, (path: string) => Promise<boolean>, (s: import("node:fs").Stats) => boolean]
    > = [
      ["FIFO", async (path) => spawnSync("mkfifo", [path]).status === 0, (s) => s.isFIFO()],
      [
        "character device",
        async (path) => spawnSync("mknod", [path, "c", "1", "3"]).status === 0,
        (s) => s.isCharacterDevice(),
      ],
      [
        "socket",
        async (path) => {
          const listening = createServer().listen(path);
          t.after(() => listening.close());
          await new Promise((resolve) => listening.once("listening", resolve));
          return true;
        },
        (s) => s.isSocket(),
      ],
    ];
    for (const [kind, make, isStill] of kinds) {
      const path = join(dir, `special-${kind.replace(" ", "-")}`);
      if (!(await make(path))) {
        t.diagnostic(`cannot make a ${kind} here; not tried`);
        continue;
      }
      const result = await runCli(
        singlePair(server.url("/data.bin"), dir, `special-${kind.replace(" ", "-")}`),
      );
      assert.equal(result.code, 73, `${kind}: ${result.stderr}`);
      assert.ok(isStill(await lstat(path)), `the ${kind} is still a ${kind}`);
      assert.match(result.stderr, new RegExp(`is a ${kind}`));
    }
  });
});

describe("long names", () => {
  test("a destination with a 240-byte name is written, as curl would", async (t) => {
    const { runCli, singlePair } = await import("../../helpers/cli.js");
    const { TestServer, bytes, sha256 } = await import("../../helpers/server.js");
    const server = await TestServer.start();
    t.after(() => server.close());
    const body = bytes(100_000, 2);
    server.route("/long.bin", { body });
    const dir = await tempDir(t);
    const name = `${"n".repeat(236)}.bin`;
    const result = await runCli(singlePair(server.url("/long.bin"), dir, name));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, name))), sha256(body));
  });
});

describe("a folder at the destination", () => {
  test("is refused (exit 73) and left as it is, the message saying a folder is in the way (it said EISDIR)", async (t) => {
    const { mkdir } = await import("node:fs/promises");
    const { runCli, singlePair, findLog } = await import("../../helpers/cli.js");
    const { TestServer, bytes } = await import("../../helpers/server.js");
    const server = await TestServer.start();
    t.after(() => server.close());
    server.route("/y", { body: bytes(10, 2) });
    const dir = await tempDir(t);
    await mkdir(join(dir, "y", "kept"), { recursive: true });
    const result = await runCli(singlePair(server.url("/y"), dir, "y"));
    assert.equal(result.code, 73, result.stderr);
    assert.match(
      String(findLog(result, "synchronization failed")?.reason),
      /a folder is in the way .*never replaces a folder with a file/,
    );
    assert.ok((await lstat(join(dir, "y", "kept"))).isDirectory());
  });
});
