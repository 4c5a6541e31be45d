/**
 * What a plan of many URLs keeps for the whole run: an input list of a hundred thousand lines is
 * held as pairs until each is taken, so its bytes per line are the run's memory floor. Measured
 * in a child with `--expose-gc` (heap after a full collection: what is kept, not what is
 * garbage), against the strings of the list itself. No server: planning asks none.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const LINES = 50_000;
/** Bytes a planned line may keep: the location, the pair and its name (was ~650 with a hidden class and a destination string per pair). */
const MAX_BYTES_PER_LINE = 350;

describe("plan memory", () => {
  test(`an input list of ${LINES} URLs is planned in under ${MAX_BYTES_PER_LINE} bytes a line`, () => {
    const planner = fileURLToPath(new URL("../../src/run/plan.js", import.meta.url));
    const options = fileURLToPath(new URL("../../src/options/normalize.js", import.meta.url));
    const script = `
      const { plan } = await import(${JSON.stringify(planner)});
      const { normalizeOptions } = await import(${JSON.stringify(options)});
      const text = Array.from({ length: ${LINES} }, (_, i) =>
        "http://127.0.0.1:8080/d" + Math.floor(i / 1000) + "/f" + i + ".bin").join("\\n");
      const lines = text.split("\\n");
      const settle = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().heapUsed; };
      const before = settle();
      const resolved = normalizeOptions({ sources: lines, artifactRoot: "/tmp/plan-memory-out" });
      const planned = await plan(resolved);
      const after = settle();
      if (planned.pairs.length !== ${LINES}) throw new Error("planned " + planned.pairs.length);
      if (planned.pairs[7].destination !== "/tmp/plan-memory-out/f7.bin") throw new Error(planned.pairs[7].destination);
      process.stdout.write(String(Math.round((after - before) / ${LINES})));`;
    const child = spawnSync(
      process.execPath,
      ["--expose-gc", "--input-type=module", "-e", script],
      {
        encoding: "utf8",
      },
    );
    assert.equal(child.status, 0, child.stderr.slice(0, 1000));
    const perLine = Number(child.stdout);
    assert.ok(perLine > 0, `measured ${child.stdout}`);
    assert.ok(perLine < MAX_BYTES_PER_LINE, `${perLine} bytes kept per planned line`);
  });
});
