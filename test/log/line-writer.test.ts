import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { createJsonLogger } from "../../src/log/json.js";
import { coalescedSinks, LINGER_MS } from "../../src/log/line-writer.js";
import { Redactor } from "../../src/log/redact.js";

const turnEnd = () => new Promise<void>((resolve) => setImmediate(resolve));
/** Past the time a line may wait for company (timers of equal or earlier end fire first). */
const lingerEnd = () => new Promise<void>((resolve) => setTimeout(resolve, LINGER_MS));

describe("coalesced log lines", () => {
  test("lines logged within a few milliseconds leave in one write, not one per turn", async () => {
    const writes: string[] = [];
    const timers: { callback: () => void; ms: number }[] = [];
    const sinks = coalescedSinks(
      (text) => writes.push(`out:${text}`),
      (text) => writes.push(`err:${text}`),
      (callback, ms) => timers.push({ callback, ms }),
    );
    sinks.out("a\n");
    sinks.out("b\n");
    // A turn of the event loop ends (a file's response handled); the next turn logs on.
    await turnEnd();
    sinks.out("c\n");
    await turnEnd();
    assert.deepEqual(writes, [], "nothing is written at the end of a turn");
    assert.deepEqual(
      timers.map((timer) => timer.ms),
      [LINGER_MS],
      "one timer for the three lines",
    );
    timers[0]?.callback();
    assert.deepEqual(writes, ["out:a\nb\nc\n"]);
  });

  test("the linger's timer writes on its own while the process has other work", async () => {
    const writes: string[] = [];
    let written: () => void = () => {};
    const firstWrite = new Promise<void>((resolve) => {
      written = resolve;
    });
    const sinks = coalescedSinks(
      (text) => {
        writes.push(`out:${text}`);
        written();
      },
      (text) => writes.push(`err:${text}`),
    );
    sinks.out("a\n");
    sinks.out("b\n");
    // The flush timer does not hold the process open; the run's own work does. This stands in.
    const work = setTimeout(() => {}, 60_000);
    await firstWrite;
    clearTimeout(work);
    assert.deepEqual(writes, ["out:a\nb\n"]);
  });

  test("lines keep their order across the two streams", async () => {
    const writes: string[] = [];
    const sinks = coalescedSinks(
      (text) => writes.push(`out:${text}`),
      (text) => writes.push(`err:${text}`),
    );
    sinks.out("1\n");
    sinks.err("2\n");
    sinks.out("3\n");
    await lingerEnd();
    assert.deepEqual(writes, ["out:1\n", "err:2\n", "out:3\n"]);
  });

  test("a warning is written at once, after what was pending", () => {
    const writes: string[] = [];
    const sinks = coalescedSinks(
      (text) => writes.push(`out:${text}`),
      (text) => writes.push(`err:${text}`),
    );
    const logger = createJsonLogger({
      runId: "r".repeat(32),
      version: "9.9.9",
      pid: 42,
      minLevel: "info",
      sinks,
      urgentSinks: sinks.urgent,
      allToErr: false,
      redactor: new Redactor(),
      now: () => 0,
    });
    logger.emit("info", "destination already up-to-date", {
      source: "http://127.0.0.1/a",
      destination: "/tmp/a",
      checksum: null,
      reason: "source not modified",
    });
    logger.emit("warning", "paused at failpoint", { failpoint: "after-lock" });
    // Synchronously: a process stopped right after its warning has said it.
    assert.equal(writes.length, 2);
    assert.match(writes[0] as string, /^out:.*"destination already up-to-date"/);
    assert.match(writes[1] as string, /^err:.*"paused at failpoint"/);
  });

  test("a large batch is written as it grows, not held whole", () => {
    const writes: string[] = [];
    const sinks = coalescedSinks(
      (text) => writes.push(text),
      () => {},
    );
    const line = `${"x".repeat(1023)}\n`;
    for (let i = 0; i < 200; i += 1) sinks.out(line);
    assert.ok(writes.length >= 3, `written in ${writes.length} pieces before the turn ended`);
    assert.ok(writes.every((text) => text.length <= 64 * 1024 + line.length));
  });

  test("what is pending is written when the process exits (process.exit included)", () => {
    const module = fileURLToPath(new URL("../../src/log/line-writer.js", import.meta.url));
    const script = `
      const { coalescedSinks } = await import(${JSON.stringify(module)});
      const sinks = coalescedSinks((t) => process.stdout.write(t), (t) => process.stderr.write(t));
      for (let i = 0; i < 500; i += 1) sinks.out("line " + i + "\\n");
      process.exit(3);
    `;
    const child = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.equal(child.status, 3);
    const lines = child.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 500);
    assert.equal(lines[499], "line 499");
  });

  test("a line logged by a process that then sits idle is written at once, not when it wakes", async (t) => {
    const module = fileURLToPath(new URL("../../src/log/line-writer.js", import.meta.url));
    // Once started, logs one line, then has nothing to do for 20 s (as in a retry's wait), and
    // then writes "late" directly: a line held until the process next wakes comes after it.
    const script = `
      const { coalescedSinks } = await import(${JSON.stringify(module)});
      const sinks = coalescedSinks((t) => process.stdout.write(t), (t) => process.stderr.write(t));
      setTimeout(() => {
        sinks.out("waiting\\n");
        setTimeout(() => process.stdout.write("late\\n"), 20_000);
      }, 100);
    `;
    const child = spawn(process.execPath, ["--input-type=module", "-e", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    t.after(() => child.kill("SIGKILL"));
    const [chunk] = (await once(child.stdout, "data")) as [Buffer];
    assert.equal(chunk.toString(), "waiting\n", "the line came while the process waited");
  });
});
