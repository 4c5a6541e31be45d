/**
 * A destination whose metadata alone changed since its sync — chmod, a hard link, touch — still
 * holds the bytes synced: the next run hashes it, finds the marker's checksum, and asks the
 * origin conditionally (one 304, nothing downloaded); it was fetched whole. A hand edit that
 * keeps the size is other bytes: fetched and repaired as before.
 */
import assert from "node:assert/strict";
import { chmod, link, mkdir, readFile, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

interface Result {
  status: string;
  bytes: number;
}

describe("a destination whose metadata changed", () => {
  test("chmod, a hard link, touch: one conditional request, nothing downloaded; a hand edit is repaired", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(256 * 1024, 41);
    server.route("/meta/data.bin", { body });
    const destination = join(dir, "out", "data.bin");
    const run = async (...extra: string[]): Promise<Result> => {
      const result = await runCli([
        server.url("/meta/data.bin"),
        "--destination",
        destination,
        "--lock-dir",
        join(dir, "locks"),
        "--json",
        ...extra,
      ]);
      assert.ok([0].includes(result.code ?? -1), result.stderr.slice(0, 500));
      return JSON.parse(result.stdout).results[0];
    };
    assert.equal((await run()).status, "synced");
    await mkdir(join(dir, "snapshot"));
    const changes: [string, () => Promise<void>][] = [
      ["chmod", () => chmod(destination, 0o640)],
      ["a hard link", () => link(destination, join(dir, "snapshot", "data.bin"))],
      ["touch", () => utimes(destination, new Date(), new Date("2001-02-03T04:05:06Z"))],
    ];
    for (const [what, change] of changes) {
      await change();
      assert.equal((await run("--dry-run")).status, "unchanged", `${what}: the dry run agrees`);
      const before = server.requestsFor("/meta/data.bin").length;
      const result = await run();
      assert.deepEqual([result.status, result.bytes], ["unchanged", 0], what);
      const asked = server.requestsFor("/meta/data.bin").slice(before);
      assert.deepEqual(
        asked.map((request) => [request.status, request.headers["if-none-match"] !== undefined]),
        [[304, true]],
        `${what}: one conditional request`,
      );
    }
    // The same size, other bytes: fetched whole and put right.
    const edited = Buffer.from(body);
    edited[1000] = (edited[1000] as number) ^ 0xff;
    await writeFile(destination, edited);
    const repaired = await run();
    assert.equal(repaired.status, "synced");
    assert.deepEqual(await readFile(destination), body);
  });
});
