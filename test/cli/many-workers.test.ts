/**
 * More workers than Node's default of ten listeners per signal (`--max-workers 16`): every
 * worker waiting for its turn at an origin, pacing itself after a 429 or running a job listens to
 * the run's one signal, and none of that may reach the user as Node's "possible memory leak"
 * warning.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { intoArtifactRoot, runCli } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const FILES = 20;

describe("many workers", () => {
  test("20 files at --max-workers 16: synced, re-run after a 429, and no Node warning", async (t) => {
    const dir = await tempDir(t);
    const urls = Array.from({ length: FILES }, (_, index) => {
      server.route(`/workers/f${index}.bin`, { body: bytes(2000, index + 1) });
      return server.url(`/workers/f${index}.bin`);
    });
    const args = intoArtifactRoot(urls, dir, "--max-workers", "16", "--quiet");

    // The first run: fifteen workers wait at the gate for the origin's first answer, then
    // sixteen jobs run at once.
    const first = await runCli(args);
    assert.equal(first.code, 0, first.stderr);
    assert.doesNotMatch(first.stderr, /Warning/);
    for (let index = 0; index < FILES; index += 1)
      assert.deepEqual(await readFile(join(dir, "out", `f${index}.bin`)), bytes(2000, index + 1));

    // The no-op re-run, whose first check is told to slow down: the others pace themselves
    // before asking, each sleeping on the run's signal.
    server.route("/workers/f0.bin", {
      body: bytes(2000, 1),
      script: [{ kind: "status", status: 429, headers: { "retry-after": "1" } }],
    });
    // Waits at a twentieth of their length (the tests' default is a thousandth): the paced
    // workers then sleep side by side.
    const again = await runCli(args, { env: { RESILIENT_SYNC_DELAY_SCALE: "0.05" } });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /Warning/);
    assert.match(again.stderr, /HTTP 429/, "the 429 was met and retried");
  });
});
