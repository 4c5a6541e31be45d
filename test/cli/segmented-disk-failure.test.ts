/**
 * A segmented download whose flush to disk fails (EIO from `fdatasync`, injected in the child by
 * a preload): the kernel reports a writeback error once, so the part's bytes can no longer be
 * trusted — the attempt fails as `write_error` and the part and its record are removed, never
 * kept for a resume that a later, successful fdatasync would wrongly vouch for.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, findLog, singlePair } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const MiB = 1024 * 1024;
const SIZE = 32 * MiB;
const STARTS = [0, 8 * MiB, 16 * MiB, 24 * MiB];

describe("a segmented download whose fdatasync fails", () => {
  test("fails as write_error (exit 73), and neither the part nor its record is kept", async (t) => {
    const dir = await tempDir(t);
    const failFlushes = join(dir, "fail-fdatasync.cjs");
    await writeFile(
      failFlushes,
      `const fs = require("node:fs");
       fs.fdatasync = (fd, callback) =>
         process.nextTick(callback, Object.assign(new Error("EIO: i/o error, fdatasync"), { code: "EIO", errno: -5, syscall: "fdatasync" }));`,
    );
    const path = "/disk-fails.bin";
    // Each segment's request sends 3 MiB and then waits: a checkpoint comes meanwhile.
    server.route(path, {
      body: bytes(SIZE, 531),
      script: STARTS.map(() => ({ kind: "hold" as const, afterBytes: 3 * MiB })),
    });
    t.after(() => server.release());
    const run = new CliProcess(
      [
        ...singlePair(server.url(path), dir, "out/data.bin", "--split", "4"),
        ...["--max-retries", "1"],
      ],
      { env: { NODE_OPTIONS: `--require ${failFlushes}` } },
    );
    const result = await run.done;
    assert.equal(result.code, 73, result.stderr.slice(0, 2000));
    assert.equal(findLog(result, "download failed")?.error_code, "write_error");
    assert.deepEqual(await listFiles(join(dir, "out")), [], "no part kept");
    assert.deepEqual(
      (await listFiles(join(dir, "locks"))).filter((name) => name.endsWith(".part.json")),
      [],
      "no part record",
    );
  });
});
