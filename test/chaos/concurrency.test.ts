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

  test("two runs with overlapping batches: every file transferred once", async (t) => {
    const dir = await tempDir(t);
    for (const name of ["a", "b", "c", "d"])
      server.route(`/overlap/${name}.bin`, {
        body: bytes(300_000, name.charCodeAt(0)),
        script: [{ kind: "hold", afterBytes: 30_000 }],
      });
    const common = [
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "locks"),
      ...HELD,
      "--json",
    ];
    const first = new CliProcess([
      ...["a", "b", "c"].map((n) => server.url(`/overlap/${n}.bin`)),
      ...common,
    ]);
    const second = new CliProcess([
      ...["b", "c", "d"].map((n) => server.url(`/overlap/${n}.bin`)),
      ...common,
    ]);
    // Each file is held by whichever run took it; release once both have asked for all they can.
    await server.waitFor(
      () => ["a", "b", "c", "d"].every((n) => server.bytesSentFor(`/overlap/${n}.bin`) >= 30_000),
      60_000,
    );
    server.release();
    const [r1, r2] = await Promise.all([first.done, second.done]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r2.code, 0, r2.stderr);
    for (const name of ["a", "b", "c", "d"]) {
      assert.equal(bodyTransfers(`/overlap/${name}.bin`), 1, name);
      assert.equal(
        sha256(await readFile(join(dir, "out", `${name}.bin`))),
        sha256(bytes(300_000, name.charCodeAt(0))),
      );
    }
  });
});
