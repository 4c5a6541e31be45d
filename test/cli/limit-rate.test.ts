/**
 * `--limit-rate` end to end: one cap for the whole run (all workers, all transfers), for http and
 * local sources alike, and its pauses are never taken for a stalled transfer. Only lower bounds on
 * time are asserted (a slow machine makes a run longer, never shorter).
 */
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { sync, UsageError } from "../../src/index.js";
import { parseRate } from "../../src/options/size.js";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const KiB = 1024;
const MiB = 1024 * KiB;

/** The run's own duration, from its `synchronization complete` line. */
function runDurationMs(result: Awaited<ReturnType<typeof runCli>>): number {
  return Number(findLog(result, "synchronization complete")?.duration_ms);
}

describe("--limit-rate", () => {
  test("RATE is bytes a second, with k, M, G suffixes (1024-based) and decimals, as curl", () => {
    for (const [given, expected] of [
      ["1000", 1000],
      ["200k", 200 * KiB],
      ["200K", 200 * KiB],
      ["1M", MiB],
      ["1.5M", 1.5 * MiB],
      [".5k", 512],
      ["1G", 1024 * MiB],
      [" 64k ", 64 * KiB],
    ] as const)
      assert.equal(parseRate(given, "--limit-rate"), expected, given);
    assert.equal(parseRate(5000, "--limit-rate"), 5000, "a library caller's number");
    for (const bad of ["0", "0.5", "-1M", "abc", "1X", "1.5.2", "", "1 M", "1e6", "5T"])
      assert.throws(() => parseRate(bad, "--limit-rate"), /--limit-rate must be a rate/, bad);
    for (const bad of [0, -5, Number.NaN, Number.POSITIVE_INFINITY])
      assert.throws(() => parseRate(bad, "--limit-rate"), /--limit-rate/, String(bad));
  });

  test("caps the whole run, not each transfer: two 1 MiB files in parallel at 1M take at least (2 MiB - burst) / 1 MiB/s", async (t) => {
    const dir = await tempDir(t);
    const a = bytes(MiB, 901);
    const b = bytes(MiB, 902);
    server.route("/limit/a.bin", { body: a });
    server.route("/limit/b.bin", { body: b });
    const result = await runCli(
      intoArtifactRoot(
        [server.url("/limit/a.bin"), server.url("/limit/b.bin")],
        dir,
        "--limit-rate",
        "1M",
        "--max-workers",
        "2",
      ),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "a.bin"))), sha256(a));
    assert.equal(sha256(await readFile(join(dir, "out", "b.bin"))), sha256(b));
    assert.equal(server.bytesSentFor("/limit/a.bin"), MiB, "each body sent once, whole");
    assert.equal(server.bytesSentFor("/limit/b.bin"), MiB);
    // The burst of 1M is 128 KiB. Two caps of 1M each (per transfer) would take about 0.9 s.
    const floorMs = ((2 * MiB - 128 * KiB) / MiB) * 1000;
    assert.ok(runDurationMs(result) >= floorMs, `the run took ${runDurationMs(result)} ms`);
    // In parallel: both had begun before either finished.
    const order = result.logs
      .map((line) => line.message)
      .filter((message) => message === "attempting download" || message === "download successful");
    assert.deepEqual(order.slice(0, 2), ["attempting download", "attempting download"]);
  });

  test("caps a segmented download too: all its connections draw on the one bucket", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(16 * MiB, 905);
    server.route("/limit/split.bin", { body });
    const result = await runCli(
      intoArtifactRoot([server.url("/limit/split.bin")], dir, "--split", "2", "--limit-rate", "8M"),
    );
    assert.equal(result.code, 0, result.stderr.slice(-2000));
    assert.equal(sha256(await readFile(join(dir, "out", "split.bin"))), sha256(body));
    assert.ok(findLog(result, "segmented download"), "it was split");
    // The burst of 8M is 1 MiB: 15 MiB at 8 MiB/s take at least 1.875 s, split or not.
    const floorMs = ((16 * MiB - MiB) / (8 * MiB)) * 1000;
    assert.ok(runDurationMs(result) >= floorMs, `the run took ${runDurationMs(result)} ms`);
  });

  test("caps local file sources too", async (t) => {
    const dir = await tempDir(t);
    const sources = [join(dir, "one.bin"), join(dir, "two.bin")];
    const bodies = [bytes(192 * KiB, 903), bytes(192 * KiB, 904)];
    await writeFile(sources[0] as string, bodies[0] as Buffer);
    await writeFile(sources[1] as string, bodies[1] as Buffer);
    const result = await runCli(intoArtifactRoot(sources, dir, "--limit-rate", "256k"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "one.bin"))), sha256(bodies[0] as Buffer));
    assert.equal(sha256(await readFile(join(dir, "out", "two.bin"))), sha256(bodies[1] as Buffer));
    // 384 KiB, of which one burst (64 KiB) is free, at 256 KiB/s.
    const floorMs = ((384 * KiB - 64 * KiB) / (256 * KiB)) * 1000;
    assert.ok(runDurationMs(result) >= floorMs, `the run took ${runDurationMs(result)} ms`);
  });

  test("pauses longer than --timeout are not taken for a stall: one attempt, no timeout", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(256 * KiB, 905);
    server.route("/limit/slow.bin", { body });
    // At 64 KiB/s each chunk past the 64 KiB burst (undici hands over 64 KiB or more at once)
    // is owed for 1 s or longer, twice the 0.5 s timeout, while the server still has more to
    // send: undici's body timeout must not count time we hold the body paused ourselves.
    const result = await runCli(
      intoArtifactRoot(
        [server.url("/limit/slow.bin")],
        dir,
        "--limit-rate",
        "64k",
        "--timeout",
        "0.5",
      ),
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(sha256(await readFile(join(dir, "out", "slow.bin"))), sha256(body));
    assert.equal(findLog(result, "download failed"), undefined, result.stderr.slice(0, 1000));
    assert.equal(server.requestsFor("/limit/slow.bin").length, 1, "one request");
    const floorMs = ((256 * KiB - 64 * KiB) / (64 * KiB)) * 1000;
    assert.ok(runDurationMs(result) >= floorMs, `the run took ${runDurationMs(result)} ms`);
  });

  test("library: limitRate takes bytes a second (or a string as on the command line); bad ones reject naming --limit-rate, nothing written", async (t) => {
    const dir = await tempDir(t);
    for (const limitRate of [0, -1, "1X", "abc", { rate: 1 }]) {
      await assert.rejects(
        sync({
          sources: ["/x.csv"],
          artifactRoot: join(dir, "out"),
          lockDir: join(dir, "locks"),
          limitRate: limitRate as number,
        }),
        (error: unknown) => error instanceof UsageError && error.argument === "--limit-rate",
        JSON.stringify(limitRate),
      );
    }
    assert.deepEqual(await listFiles(dir), [], "nothing written");
    const body = bytes(128 * KiB, 906);
    server.route("/limit/lib.bin", { body });
    const report = await sync({
      sources: [server.url("/limit/lib.bin")],
      artifactRoot: join(dir, "out"),
      lockDir: join(dir, "locks"),
      limitRate: 128 * KiB,
    });
    assert.equal(report.exit_code, 0);
    assert.equal(report.results[0]?.checksum, sha256(body));
    // 64 KiB past the 64 KiB burst, at 128 KiB/s.
    assert.ok(report.duration_ms >= 500, `the run took ${report.duration_ms} ms`);
  });
});
