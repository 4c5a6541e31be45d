/**
 * Many processes at once: N runs of one pair transfer it exactly once; runs of different pairs
 * sharing a lock dir each transfer their own pair once; overlapping batches transfer each file
 * once. `npm run test:chaos` raises N (CHAOS_PROCESSES).
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, type CliResult } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const N = Math.max(8, Number(process.env.CHAOS_PROCESSES ?? 8));
/**
 * The holders are held mid-body until every other run has exited; on a loaded machine that can
 * outlast the default 30 s stall timeout, whose retry would be a second transfer. Wait longer.
 */
const HELD = ["--timeout", "600"];

const server = useTestServer();

/** Waits until `count` of the processes have exited. */
async function exited(runs: CliProcess[], count: number): Promise<void> {
  let done = 0;
  await new Promise<void>((resolve) => {
    for (const run of runs) {
      run.done.then(() => {
        done += 1;
        if (done === count) resolve();
      });
    }
  });
}

const bodyTransfers = (path: string) =>
  server.requestsFor(path).filter((r) => r.status === 200 || r.status === 206).length;

describe("concurrent runs", () => {
  test(`${N} processes started at once on one pair: one transfer, all exit 0`, async (t) => {
    const dir = await tempDir(t);
    const body = bytes(2_000_000, 401);
    server.route("/same.bin", { body, script: [{ kind: "hold", afterBytes: 100_000 }] });
    const args = [
      "--source-url",
      server.url("/same.bin"),
      "--destination",
      join(dir, "data.bin"),
      "--lock-dir",
      join(dir, "locks"),
      ...HELD,
    ];
    const runs = Array.from({ length: N }, () => new CliProcess(args));
    // The holder is blocked mid-body until every other run has given up on the lock.
    await exited(runs, N - 1);
    // The holder may reach the server after the others have gone: release only once it is held.
    await server.waitFor(() => server.bytesSentFor("/same.bin") >= 100_000, 60_000);
    server.release();
    const results: CliResult[] = await Promise.all(runs.map((run) => run.done));
    assert.deepEqual(
      results.map((r) => r.code),
      Array(N).fill(0),
    );
    // On failure, say what each run did: which took the lock, which waited, which retried.
    const story = results
      .map((r, i) => `run ${i}: ${r.logs.map((l) => l.message).join(" > ")}`)
      .join("\n");
    assert.equal(bodyTransfers("/same.bin"), 1, story);
    assert.equal(
      results.filter((r) =>
        r.logs.some((l) => l.message === "another synchronization is in progress"),
      ).length,
      N - 1,
    );
    assert.equal(sha256(await readFile(join(dir, "data.bin"))), sha256(body));
  });

  test("mixed pairs sharing one lock dir: each pair transferred once", async (t) => {
    const dir = await tempDir(t);
    const pairs = 4;
    const perPair = 3;
    const runs: CliProcess[] = [];
    for (let p = 0; p < pairs; p += 1) {
      server.route(`/mixed-${p}.bin`, {
        body: bytes(500_000, 410 + p),
        script: [{ kind: "hold", afterBytes: 50_000 }],
      });
      for (let k = 0; k < perPair; k += 1) {
        runs.push(
          new CliProcess([
            "--source-url",
            server.url(`/mixed-${p}.bin`),
            "--destination",
            join(dir, `d${p}.bin`),
            "--lock-dir",
            join(dir, "locks"),
            ...HELD,
          ]),
        );
      }
    }
    await exited(runs, pairs * (perPair - 1));
    await server.waitFor(
      () =>
        Array.from({ length: pairs }, (_, p) => server.bytesSentFor(`/mixed-${p}.bin`)).every(
          (sent) => sent >= 50_000,
        ),
      60_000,
    );
    server.release();
    const results = await Promise.all(runs.map((run) => run.done));
    assert.ok(results.every((r) => r.code === 0));
    for (let p = 0; p < pairs; p += 1) {
      assert.equal(bodyTransfers(`/mixed-${p}.bin`), 1, `pair ${p}`);
      assert.equal(sha256(await readFile(join(dir, `d${p}.bin`))), sha256(bytes(500_000, 410 + p)));
    }
  });

  test(`${N} runs with overlapping batches, then again after some sources changed: each changed file delivered once`, async (t) => {
    const dir = await tempDir(t);
    const files = Array.from({ length: 12 }, (_, i) => `/overlap/f${i}.bin`);
    const bodyOf = (i: number, wave: number) => bytes(200_000 + i * 1000, 500 + i + wave * 100);
    // Slow bodies (about 1.2 s each) keep every file in flight while the other runs start.
    const pace = { chunkBytes: 8 * 1024, intervalMs: 50 };
    files.forEach((path, i) => {
      server.route(path, { body: bodyOf(i, 0), pace });
    });
    const common = ["--artifact-root", join(dir, "out"), "--lock-dir", join(dir, "locks"), ...HELD];
    // Run r takes 6 consecutive files from r on (wrapping): every file is in half the batches.
    const batchOf = (r: number) =>
      Array.from({ length: 6 }, (_, k) => server.url(files[(r + k) % files.length] as string));
    /**
     * Whole bodies sent for `path`: a run that finds the lock busy, or the file up to date, may
     * have had a conditional request answered 200 and dropped it after the headers — that is a
     * request, not a delivery.
     */
    const deliveries = (path: string, size: number) =>
      server.requestsFor(path).filter((r) => r.status === 200 && r.bytesSent === size).length;
    const wave = async (changed: ReadonlySet<number>, number: number) => {
      const before = files.map((path, i) => deliveries(path, bodyOf(i, number).length));
      const runs = Array.from({ length: N }, (_, r) => new CliProcess([...batchOf(r), ...common]));
      const results = await Promise.all(runs.map((run) => run.done));
      for (const [r, result] of results.entries())
        assert.equal(result.code, 0, `wave ${number}, run ${r}: ${result.stderr}`);
      let busy = 0;
      for (const result of results)
        busy += result.logs.filter(
          (l) => l.message === "another synchronization is in progress",
        ).length;
      for (const [i, path] of files.entries()) {
        const delivered = deliveries(path, bodyOf(i, number).length) - (before[i] as number);
        assert.equal(delivered, changed.has(i) ? 1 : 0, `wave ${number}: ${path}`);
        assert.equal(
          sha256(await readFile(join(dir, "out", `f${i}.bin`))),
          sha256(bodyOf(i, changed.has(i) ? number : 0)),
        );
      }
      return busy;
    };
    const firstBusy = await wave(new Set(files.keys()), 0);
    // A third of the sources change; the others must cost no delivery at all.
    const changed = new Set([1, 4, 7, 10]);
    for (const i of changed) server.route(files[i] as string, { body: bodyOf(i, 1), pace });
    const secondBusy = await wave(changed, 1);
    t.diagnostic(
      `${N} processes per wave, 12 files each in ${N / 2} batches; pairs found busy (another run held them): ${firstBusy} in the first wave, ${secondBusy} in the second`,
    );
    assert.ok(firstBusy > 0, "the runs did overlap");
  });
});
