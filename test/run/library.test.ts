import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import type { ProgressEvent } from "../../src/core/progress.js";
import { type LogEvent, type Logger, sync, UsageError } from "../../src/index.js";
import { assertValidReport } from "../helpers/schema.js";
import { bytes, sha256, useTestServer } from "../helpers/server.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const server = useTestServer();

function recorder(): Logger & { events: LogEvent[] } {
  const events: LogEvent[] = [];
  return {
    events,
    emit: (level, message, fields) => events.push({ level, message, fields } as LogEvent),
  };
}

describe("library: sync()", () => {
  test("resolves to the results document; logger and progress callback receive events", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(200_000, 141);
    server.route("/lib/a.bin", { body });
    const logger = recorder();
    const progress: ProgressEvent[] = [];
    const report = await sync({
      sources: [server.url("/lib/a.bin")],
      artifactRoot: join(dir, "data"),
      lockDir: join(dir, "locks"),
      logger,
      onProgress: (event) => progress.push(event),
    });
    assertValidReport(report);
    assert.equal(report.exit_code, 0);
    assert.equal(report.results[0]?.checksum, sha256(body));
    assert.equal(sha256(await readFile(join(dir, "data", "a.bin"))), sha256(body));
    assert.ok(logger.events.some((e) => e.message === "updated destination"));
    assert.deepEqual(progress[0], { type: "planned", total: 1 });
    assert.equal(progress.at(-1)?.type, "finished");
    const last = progress.filter((e) => e.type === "bytes").at(-1);
    assert.equal(last?.type === "bytes" && last.received, body.length);
  });

  test("bad options reject with UsageError naming the option; nothing written", async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(
      sync({ sources: ["/x.csv"], maxRetries: 0, lockDir: join(dir, "locks") }),
      (error: unknown) => {
        assert.ok(error instanceof UsageError);
        assert.equal(error.argument, "--max-retries");
        return true;
      },
    );
    assert.deepEqual(await listFiles(dir), []);
  });

  test("abort mid-transfer: rejects with the reason, no destination, lock released", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(2_000_000, 142);
    server.route("/lib/abort.bin", { body, script: [{ kind: "hold", afterBytes: 500_000 }] });
    const controller = new AbortController();
    const reason = new Error("stop now");
    const options = {
      sourceUrl: server.url("/lib/abort.bin"),
      destination: join(dir, "out", "abort.bin"),
      lockDir: join(dir, "locks"),
    };
    await assert.rejects(
      sync({
        ...options,
        signal: controller.signal,
        onProgress: (event) => {
          if (event.type === "bytes" && event.received >= 100_000) controller.abort(reason);
        },
      }),
      (error: unknown) => error === reason,
    );
    assert.ok(!(await listFiles(join(dir, "out"))).includes("abort.bin"));

    const logger = recorder();
    const again = await sync({ ...options, logger });
    assert.equal(again.exit_code, 0);
    assert.ok(
      !logger.events.some((e) => e.message === "removed stale lock"),
      "the lock had been released",
    );
    assert.ok(!logger.events.some((e) => e.message === "another synchronization is in progress"));
    assert.equal(sha256(await readFile(options.destination)), sha256(body));
  });

  test("an onProgress that throws is a warning: the run completes and releases its locks", async (t) => {
    const dir = await tempDir(t);
    const body = bytes(50_000, 142);
    server.route("/lib/throws.bin", { body });
    const logger = recorder();
    const options = {
      sources: [server.url("/lib/throws.bin")],
      artifactRoot: join(dir, "data"),
      lockDir: join(dir, "locks"),
      logger,
    };
    const report = await sync({
      ...options,
      onProgress: () => {
        throw new Error("the host's bug");
      },
    });
    assert.equal(report.exit_code, 0);
    assert.ok(logger.events.some((e) => e.message === "progress callback failed"));
    assert.deepEqual(
      (await listFiles(join(dir, "data"))).filter((name) => name.endsWith(".lock")),
      [],
      "no lock left",
    );
    const again = await sync({ ...options, force: true });
    assert.equal(again.results[0]?.status, "unchanged", "the destination is free for the next run");
  });

  for (const [key, value] of [
    ["signal", "abort"],
    ["logger", console.log],
    ["clock", { now: Date.now }],
    ["root", 7],
    ["onProgress", "yes"],
    ["runId", 7],
    ["random", 0.5],
  ] as const) {
    test(`a library option of the wrong type is refused naming it: ${key}`, async () => {
      await assert.rejects(
        sync({ sources: [], [key]: value } as never),
        (error) => error instanceof UsageError && error.argument === key,
      );
    });
  }
  // The command line's own options were accepted and ignored: `output` left the file at its
  // default place (exit 0); an empty `lockDir` put the marker in the working folder.
  for (const [key, value] of [
    ["output", "elsewhere.csv"],
    ["json", true],
    ["jsonFormat", "xml"],
    ["logLevel", "loud"],
    ["verbose", true],
    ["quiet", true],
    ["scriptName", "x"],
    ["progress", true],
    ["help", true],
    ["destination", "-"],
    ["destination", ""],
    ["lockDir", ""],
    ["artifactRoot", ""],
    ["metricsFile", ""],
  ] as const) {
    test(`refused, nothing written: ${key}: ${JSON.stringify(value)}`, async (t) => {
      const dir = await tempDir(t);
      const source = join(dir, "in", "a.csv");
      await mkdir(join(dir, "in"));
      await writeFile(source, "a,b\n");
      const cwd = process.cwd();
      process.chdir(dir);
      t.after(() => process.chdir(cwd));
      await assert.rejects(
        sync({ sourceUrl: source, lockDir: join(dir, "locks"), [key]: value } as never),
        (error: unknown) =>
          error instanceof UsageError &&
          error.message.includes(key) &&
          /library|non-empty/.test(error.message),
      );
      assert.deepEqual(await listFiles(dir), ["in/a.csv"]);
    });
  }

  test("a number that is not one is named as given (NaN, Infinity), not as null", async () => {
    for (const value of [Number.NaN, Number.POSITIVE_INFINITY])
      await assert.rejects(
        sync({ sources: ["/x.csv"], maxWorkers: value }),
        (error: unknown) => error instanceof UsageError && error.message.endsWith(`got ${value}`),
      );
  });

  test("relative paths are the working folder's when sync is called, not after", async (t) => {
    const dir = await tempDir(t);
    for (const side of ["a", "b"]) {
      await mkdir(join(dir, side));
      await writeFile(join(dir, side, "f.txt"), side);
    }
    const cwd = process.cwd();
    t.after(() => process.chdir(cwd));
    process.chdir(join(dir, "a"));
    const running = sync({ sources: ["f.txt"], artifactRoot: "out", lockDir: "locks" });
    process.chdir(join(dir, "b"));
    const report = await running;
    assert.equal(report.exit_code, 0);
    assert.equal(report.results[0]?.destination, join(dir, "a", "out", "f.txt"));
    assert.equal(await readFile(join(dir, "a", "out", "f.txt"), "utf8"), "a");
    assert.deepEqual(await listFiles(join(dir, "b")), ["f.txt"]);
    // With a list to read first, its relative lines included.
    await writeFile(join(dir, "a", "list.txt"), "f.txt\n");
    process.chdir(join(dir, "a"));
    const listed = sync({ inputFile: "list.txt", artifactRoot: "out2", lockDir: "locks" });
    process.chdir(join(dir, "b"));
    assert.equal((await listed).results[0]?.destination, join(dir, "a", "out2", "f.txt"));
    assert.deepEqual(await listFiles(join(dir, "b")), ["f.txt"]);
  });
});
