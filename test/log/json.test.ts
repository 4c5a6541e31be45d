import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createJsonLogger, formatLine, isoTimestampMicros } from "../../src/log/json.js";
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

  test("a line is exactly formatLine's: fields in order, undefined and functions left out, fixed keys never overridden", () => {
    const out: string[] = [];
    const options = {
      runId: "a\"b",
      version: "1.0.0-β",
      pid: 7,
      minLevel: "debug" as const,
      sinks: { out: (l: string) => out.push(l), err: (l: string) => out.push(l) },
      allToErr: false,
      redactor: new Redactor(),
      now: () => Date.UTC(2026, 11, 5) + 0.5,
    };
    const logger = createJsonLogger(options);
    const cases: object[] = [
      {},
      { source: "http://h/\u2028\"quoted\"\n", destination: "/d/ü", attempt: 1 },
      { level: "spoofed", pid: 1, ts: "x", reason: "r", missing: undefined, fn: () => 1 },
      { nested: { a: [1, null, "x"], b: { c: true } }, when: new Date(0), big: 1e21, neg: -0 },
      { constructor: "c", toString: "t", ok: "yes" },
    ];
    for (const fields of cases) {
      out.length = 0;
      (logger.emit as (level: string, message: string, fields: object) => void)(
        "info",
        "attempting download",
        fields,
      );
      const expected = formatLine(
        { level: "info", message: "attempting download", fields },
        {
          runId: options.runId,
          version: options.version,
          pid: options.pid,
          timestamp: isoTimestampMicros(options.now()),
        },
      );
      assert.equal(out[0], `${expected}\n`, JSON.stringify(fields));
    }
  });
});
