/**
 * Randomised SIGKILLs at every point of a transfer — before the first byte, mid-stream, after the
 * fsync before the rename, between the rename and the marker, during the marker write — in a
 * loop. After each kill the destination is the old content, the new content whole, or absent,
 * never partial; the next run is never blocked by the dead run's lock, completes, and resumes
 * where the kept data allows.
 *
 * `npm test` runs a short loop; `npm run test:chaos` a long one (CHAOS_ITERATIONS, CHAOS_SIZE_MIB).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, type LogLine, runCli } from "../helpers/cli.js";
import { bytes, seeded, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir, waitForPart } from "../helpers/tmp.js";

const ITERATIONS = Number(process.env.CHAOS_ITERATIONS ?? 6);
const SIZE = Number(process.env.CHAOS_SIZE_MIB ?? 4) * 1024 * 1024;
const SEED = Number(process.env.CHAOS_SEED ?? 20261129);
const KINDS = [
  "mid-stream",
  "after-lock",
  "before-rename",
  "after-rename",
  "marker-written",
] as const;
type Kind = (typeof KINDS)[number];

const server = useTestServer();

const micros = (line: LogLine | undefined) =>
  line ? Date.parse(line.ts) * 1000 + Number(line.ts.slice(23, 26)) : Number.NaN;

describe("crash loop", () => {
  test(`${ITERATIONS} randomised SIGKILLs on a ${SIZE / 1024 / 1024} MiB file: never a partial destination`, async (t) => {
    const dir = await tempDir(t);
    const random = seeded(SEED);
    const destination = join(dir, "out", "data.bin");
    const args = [
      "--source-url",
      server.url("/chaos.bin"),
      "--destination",
      destination,
      "--lock-dir",
      join(dir, "locks"),
    ];
    const lockWaitsMs: number[] = [];
    const seen = new Map<Kind, number>();
    let previous: string | undefined;

    for (let i = 0; i < ITERATIONS; i += 1) {
      // Every kind once first, then at random.
      const kind: Kind =
        i < KINDS.length
          ? (KINDS[i] as Kind)
          : (KINDS[Math.floor(random() * KINDS.length)] as Kind);
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
      const body = bytes(SIZE, SEED + i);
      const expected = sha256(body);
      // Mid-stream kills need a transfer slow enough to catch: 64 chunks, 5 ms apart.
      server.route("/chaos.bin", {
        body,
        script:
          kind === "mid-stream"
            ? [{ kind: "drip", chunkBytes: Math.ceil(SIZE / 64), intervalMs: 5 }]
            : [],
      });
      const victim = new CliProcess(args, {
        env: kind === "mid-stream" ? {} : { RESILIENT_SYNC_FAILPOINT: kind },
      });
      let killedAt = 0;
      if (kind === "mid-stream") {
        // At most 70 %: the kill must land while the body is still arriving (a run killed after
        // the last byte leaves a complete part, whose resume is answered 416 and starts over).
        killedAt = Math.floor(SIZE * (0.1 + 0.6 * random()));
        await waitForPart(join(dir, "out"), killedAt);
      } else {
        await victim.waitForLog("paused at failpoint");
      }
      victim.child.kill("SIGKILL");
      assert.equal(
        (await victim.done).signal,
        "SIGKILL",
        `iteration ${i} (${kind}): the run was still going`,
      );

      const files = await listFiles(join(dir, "out"));
      if (files.includes("data.bin")) {
        const now = sha256(await readFile(destination));
        const allowed =
          kind === "after-rename" || kind === "marker-written" ? [previous, expected] : [previous];
        assert.ok(
          allowed.includes(now),
          `iteration ${i} (${kind}): the destination is neither the old nor the new file`,
        );
      } else {
        assert.equal(previous, undefined, `iteration ${i} (${kind}): the old destination was lost`);
      }

      const next = await runCli(args);
      assert.equal(next.code, 0, `iteration ${i} (${kind}): ${next.stderr}`);
      assert.equal(
        sha256(await readFile(destination)),
        expected,
        `iteration ${i} (${kind}): the next run did not complete`,
      );
      assert.deepEqual(
        await listFiles(join(dir, "out")),
        ["data.bin"],
        "nothing left beside the destination",
      );
      const validated = next.logs.find((l) => l.message === "validated environment");
      const locked = next.logs.find(
        (l) =>
          l.message === "attempting download" || l.message === "destination already up-to-date",
      );
      lockWaitsMs.push((micros(locked) - micros(validated)) / 1000);
      assert.equal(
        next.logs.some((l) => l.message === "another synchronization is in progress"),
        false,
      );
      if (kind === "mid-stream") {
        const resumed = Number(
          next.logs.find((l) => l.message === "download successful")?.resumed_from,
        );
        assert.ok(
          resumed >= killedAt && resumed < SIZE,
          `iteration ${i}: resumed from ${resumed}, killed after ${killedAt}; warnings: ${JSON.stringify(
            next.logs.filter((l) => l.level === "warning"),
          )}`,
        );
      }
      previous = expected;
    }

    const sorted = [...lockWaitsMs].sort((x, y) => x - y);
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
    t.diagnostic(
      `kills: ${ITERATIONS} (${[...seen].map(([k, n]) => `${k} ${n}`).join(", ")}); partial destinations: 0`,
    );
    t.diagnostic(
      `time from start to lock taken after a kill: median ${median.toFixed(1)} ms, worst ${(sorted.at(-1) ?? Number.NaN).toFixed(1)} ms`,
    );
    assert.ok(
      (sorted.at(-1) ?? 0) < 5000,
      "a dead run's lock never blocks for more than a few seconds",
    );
  });
});
