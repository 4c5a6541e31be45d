/**
 * SIGKILL in the middle of a segmented download, then a second run: every segment resumes from
 * the progress its record made durable — the server sees ranged requests starting past each
 * segment's start, none from zero — and the file is exact, one part used, nothing left over.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CliProcess, findLog, type LogLine, runCli, singlePair } from "../helpers/cli.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();
const MiB = 1024 * 1024;
const SIZE = 32 * MiB;
/** What each request sends before the server holds it (until the victim is dead). */
const SENT = 3 * MiB;
const STARTS = [0, 8 * MiB, 16 * MiB, 24 * MiB];

/** Resolves to the first log line `accept`s, as the child prints it (bounded in time). */
async function waitForLine(
  run: CliProcess,
  accept: (line: LogLine) => boolean,
  timeoutMs = 15_000,
): Promise<LogLine> {
  const signal = AbortSignal.timeout(timeoutMs);
  for (;;) {
    const line = run.logs().find(accept);
    if (line) return line;
    if (run.child.exitCode !== null) throw new Error(`exited early: ${run.stderr.slice(0, 2000)}`);
    await once(run.child, "output", { signal });
  }
}

describe("a killed segmented download resumes per segment", () => {
  for (const split of [4, 1]) {
    test(`SIGKILL mid-split, then a run with --split ${split}: each segment resumes from its recorded progress`, async (t) => {
      const dir = await tempDir(t);
      const body = bytes(SIZE, 501 + split);
      const path = `/killed-${split}.bin`;
      server.route(path, {
        body,
        script: STARTS.map(() => ({ kind: "hold" as const, afterBytes: SENT })),
      });
      const args = (n: number) =>
        singlePair(server.url(path), dir, "out/data.bin", "--split", String(n));
      const victim = new CliProcess([...args(4), "--log-level", "debug"]);
      // Killed once the record says every segment holds what its request sent, durably.
      const recorded = await waitForLine(victim, (line) => {
        const done = line.done as number[] | undefined;
        return (
          line.message === "segment progress recorded" &&
          STARTS.every((start, i) => (done?.[i] ?? 0) >= start + SENT)
        );
      });
      assert.deepEqual(
        recorded.done,
        STARTS.map((start) => start + SENT),
      );
      victim.child.kill("SIGKILL");
      await victim.done;
      server.release();
      const firstRun = server.requestsFor(path).length;
      assert.equal(firstRun, 4);
      assert.ok(!(await listFiles(join(dir, "out"))).includes("data.bin"));

      const next = await runCli(args(split));
      assert.equal(next.code, 0, next.stderr.slice(0, 2000));
      assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
      assert.equal(findLog(next, "segmented download")?.resumed_bytes, 4 * SENT);
      assert.equal(findLog(next, "attempting download")?.resume_from, 4 * SENT);
      const resumed = server.requestsFor(path).slice(firstRun);
      assert.deepEqual(
        resumed.map((r) => r.headers.range).sort(),
        STARTS.map((start) => `bytes=${start + SENT}-${start + 8 * MiB - 1}`).sort(),
        "each segment from past its start, none from zero",
      );
      assert.ok(
        resumed.every((r) => typeof r.headers["if-range"] === "string"),
        "every range names the version",
      );
      assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"], "one part, committed");
      assert.deepEqual(
        (await listFiles(join(dir, "locks"))).filter((name) => name.endsWith(".part.json")),
        [],
        "no part record left",
      );
    });
  }

  test("SIGTERM mid-split: exit 143 within a second, progress recorded, the next run fetches only the rest", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 511);
    const path = "/terminated.bin";
    server.route(path, {
      body,
      script: STARTS.map(() => ({ kind: "hold" as const, afterBytes: SENT })),
    });
    const args = singlePair(server.url(path), dir, "out/data.bin", "--split", "4");
    const run = new CliProcess(args);
    await run.waitForLog("segmented download");
    await server.waitFor(() =>
      STARTS.every((_, i) => (server.requestsFor(path)[i]?.bytesSent ?? 0) >= SENT),
    );
    const sentAt = Date.now();
    run.child.kill("SIGTERM");
    const result = await run.done;
    const tookMs = Date.now() - sentAt;
    assert.equal(result.code, 143, result.stderr.slice(0, 2000));
    assert.ok(tookMs < 1000, `stopped after ${tookMs} ms`);
    server.release();
    const firstRun = server.requestsFor(path).length;

    const next = await runCli(args);
    assert.equal(next.code, 0, next.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    // What arrived before the signal was written, made durable and recorded as the run stopped
    // (the server counts what it handed its socket, some of which may not have arrived yet).
    const kept = Number(findLog(next, "segmented download")?.resumed_bytes);
    assert.ok(kept > 0 && kept <= 4 * SENT, `kept ${kept}`);
    const rest = server.requestsFor(path).slice(firstRun);
    assert.equal(
      rest.reduce((sum, r) => sum + r.bytesSent, 0),
      SIZE - kept,
      "only the rest",
    );
    assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"]);
  });

  test("killed mid-split, and the source changed before the next run: the kept segments are dropped, the new version fetched from zero", async (t) => {
    const dir = await tempDir(t);
    const v1 = bytes(SIZE, 521);
    const v2 = bytes(SIZE, 522);
    const path = "/changed-meanwhile.bin";
    server.route(path, {
      body: v1,
      script: STARTS.map(() => ({ kind: "hold" as const, afterBytes: SENT })),
    });
    const args = singlePair(server.url(path), dir, "out/data.bin", "--split", "4");
    const victim = new CliProcess([...args, "--log-level", "debug"]);
    await waitForLine(victim, (line) => line.message === "segment progress recorded");
    victim.child.kill("SIGKILL");
    await victim.done;
    server.release();
    server.change(path, v2);
    const firstRun = server.requestsFor(path).length;

    const next = await runCli(args);
    assert.equal(next.code, 0, next.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(v2));
    assert.equal(findLog(next, "download failed"), undefined, "within the same attempt");
    const asked = server.requestsFor(path).slice(firstRun);
    assert.ok(
      asked.some((r) => r.headers.range === undefined && r.status === 200),
      "a plain GET: from zero",
    );
    const split = next.logs.filter((line) => line.message === "segmented download");
    assert.equal(split.at(-1)?.resumed_bytes, 0, "the new version's segments start empty");
    assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"]);
  });

  test("a record whose segments do not describe the part is refused: warned, from zero, exact", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(SIZE, 531);
    const path = "/tampered.bin";
    server.route(path, {
      body,
      script: STARTS.map(() => ({ kind: "hold" as const, afterBytes: SENT })),
    });
    const args = singlePair(server.url(path), dir, "out/data.bin", "--split", "4");
    const victim = new CliProcess([...args, "--log-level", "debug"]);
    await waitForLine(victim, (line) => line.message === "segment progress recorded");
    victim.child.kill("SIGKILL");
    await victim.done;
    server.release();
    const [recordName] = (await listFiles(join(dir, "locks"))).filter((n) =>
      n.endsWith(".part.json"),
    );
    assert.ok(recordName, "a part record was left");
    const recordPath = join(dir, "locks", recordName);
    const record = JSON.parse(await readFile(recordPath, "utf8"));
    // Claims more than a segment holds.
    record.segments[1].done = record.segments[1].end + 1;
    await writeFile(recordPath, JSON.stringify(record));
    const firstRun = server.requestsFor(path).length;

    const next = await runCli(args);
    assert.equal(next.code, 0, next.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "data.bin"))), sha256(body));
    assert.match(String(findLog(next, "discarded part file")?.reason), /segments/);
    assert.equal(findLog(next, "segmented download")?.resumed_bytes, 0);
    assert.equal(server.requestsFor(path)[firstRun]?.headers.range, undefined, "from zero");
    assert.deepEqual(await listFiles(join(dir, "out")), ["data.bin"]);
  });
});
