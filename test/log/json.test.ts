import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LEVELS, silentLogger, tagged, takes } from "../../src/log/events.js";
import { createJsonLogger, fanOut, isoTimestampMicros } from "../../src/log/json.js";
import { Redactor } from "../../src/log/redact.js";

describe("JSON-lines logger", () => {
  test("timestamps are UTC with microseconds", () => {
    assert.equal(
      isoTimestampMicros(Date.UTC(2026, 10, 29, 6, 15, 4, 123) + 0.456),
      "2026-11-29T06:15:04.123456Z",
    );
    assert.equal(isoTimestampMicros(Date.UTC(2026, 0, 1)), "2026-01-01T00:00:00.000000Z");
  });

  test("routes by level, filters below the threshold, keeps the fixed keys first", () => {
    const out: string[] = [];
    const err: string[] = [];
    const logger = createJsonLogger({
      runId: "r".repeat(32),
      version: "9.9.9",
      pid: 42,
      minLevel: "info",
      sinks: { out: (l) => out.push(l), err: (l) => err.push(l) },
      allToErr: false,
      redactor: new Redactor(),
      now: () => 0,
    });
    logger.emit("debug", "validated environment", {
      node: "20",
      lock_dir: "/x",
      platform: "linux",
    });
    logger.emit("info", "circuit breaker reset", { source: "s", origin: "o" });
    logger.emit("error", "unknown argument", { argument: "--x", reason: "r" });
    assert.equal(out.length, 1);
    assert.equal(err.length, 1);
    assert.equal(
      out[0],
      `{"ts":"1970-01-01T00:00:00.000000Z","level":"info","message":"circuit breaker reset","script":"resilient-sync","run_id":"${"r".repeat(32)}","pid":42,"version":"9.9.9","source":"s","origin":"o"}\n`,
    );
  });

  test("says which levels it takes (at --quiet, warnings and up), and so do loggers built on it", () => {
    const at = (minLevel: "info" | "warning") =>
      createJsonLogger({
        runId: "r".repeat(32),
        version: "9.9.9",
        pid: 42,
        minLevel,
        sinks: { out: () => {}, err: () => {} },
        allToErr: false,
        redactor: new Redactor(),
      });
    const quiet = at("warning");
    assert.deepEqual(
      LEVELS.map((level) => takes(quiet, level)),
      [false, false, true, true],
    );
    assert.deepEqual(
      LEVELS.map((level) => takes(at("info"), level)),
      [false, true, true, true],
    );
    assert.equal(takes(tagged(quiet, { worker_id: "w" }), "info"), false);
    assert.equal(takes(fanOut(quiet, at("info")), "info"), true);
    assert.equal(takes(silentLogger, "error"), false);
    assert.equal(takes({ emit: () => {} }, "debug"), true, "a logger that does not say takes all");
    const flagged = { emit: () => {}, enabled: true } as unknown as Parameters<typeof takes>[0];
    assert.equal(takes(flagged, "info"), true, "an `enabled` that is no function is not ours");
  });
});
