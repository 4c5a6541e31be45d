/**
 * The line formatter against the plain definition of a line, over generated events: an object
 * with the fixed keys in the documented order, then the event's own fields (`undefined` ones and
 * any that name a fixed key left out), given to `JSON.stringify`. The formatter serializes the
 * run's constant keys once and caches the timestamp's second; it must never differ by a byte.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { isoTimestampMicros, lineFormatter } from "../../src/log/json.js";

const FIXED = ["ts", "level", "message", "script", "run_id", "pid", "version"];

function definition(
  event: { level: string; message: string; fields: Record<string, unknown> },
  context: { runId: string; version: string; pid: number; script?: string },
  timestamp: string,
): string {
  const record: Record<string, unknown> = {
    ts: timestamp,
    level: event.level,
    message: event.message,
    script: context.script ?? "resilient-sync",
    run_id: context.runId,
    pid: context.pid,
    version: context.version,
  };
  for (const [key, value] of Object.entries(event.fields)) {
    if (value !== undefined && !FIXED.includes(key)) record[key] = value;
  }
  return JSON.stringify(record);
}

// Events' fields are named (`EventFields`): never array indices, which an object would put
// first, nor `__proto__`, which an assignment would take for the object's prototype.
const key = fc
  .oneof(fc.constantFrom(...FIXED, "source", "bytes", "toString"), fc.string())
  .filter((name) => !/^(0|[1-9][0-9]*)$/.test(name) && name !== "__proto__");
const value = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string({ unit: "binary" }),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer()), { maxKeys: 3 }),
);

describe("log line formatter", () => {
  test("writes what the definition of a line says, byte for byte", () => {
    fc.assert(
      fc.property(
        fc.record({
          runId: fc.string(),
          version: fc.string(),
          pid: fc.integer({ min: 0 }),
          script: fc.option(fc.string({ unit: "binary" }), { nil: undefined }),
        }),
        fc.constantFrom("debug", "info", "warning", "error"),
        fc.string({ unit: "binary" }),
        fc.dictionary(key, value, { maxKeys: 6 }),
        fc.integer({ min: 0, max: 4_102_444_800_000 }),
        (context, level, message, fields, epochMs) => {
          const timestamp = isoTimestampMicros(epochMs);
          const format = lineFormatter(context);
          const event = { level: level as "info", message, fields };
          assert.equal(format(event, timestamp), definition(event, context, timestamp));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test("timestamps read as Date's own, whatever second was formatted before", () => {
    /** The definition: Date formats every instant itself; the microseconds follow its milliseconds. */
    const definitionOf = (epochMs: number) => {
      const wholeMs = Math.floor(epochMs);
      const micros = Math.min(999, Math.floor((epochMs - wholeMs) * 1000));
      return `${new Date(wholeMs).toISOString().slice(0, -1)}${String(micros).padStart(3, "0")}Z`;
    };
    const instant = fc.oneof(
      fc.double({ min: 0, max: 4_102_444_800_000, noNaN: true }),
      fc.integer({ min: 0, max: 4_102_444_800_000 }),
    );
    fc.assert(
      fc.property(fc.array(instant, { minLength: 1, maxLength: 20 }), (instants) => {
        for (const epochMs of instants) {
          assert.equal(isoTimestampMicros(epochMs), definitionOf(epochMs));
        }
      }),
      { numRuns: 500 },
    );
  });
});
