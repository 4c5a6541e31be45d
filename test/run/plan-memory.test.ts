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
/**
 * Bytes a planned line may keep: its given source, its location, its pair, its name (209 for a
 * plain URL and 273 with a redacted query, measured as below; 936 and 1,015 when each pair had a
 * hidden class and a destination string of its own).
 */
const MAX_BYTES_PER_LINE = 350;

/**
 * The heap a plan of `LINES` URLs ending in `suffix` keeps, per line, in a child with --expose-gc.
 * A warm-up plan of a tenth as many lines is made and kept first, so the code compiled and the
 * caches filled on a first plan are paid before the measurement. The child is --single-threaded:
 * with the optimizing compiler on a background thread, when its code arrived changed what the
 * same plan kept by up to 100 bytes a line from one run to the next (155 to 258 here; 353 once
 * in CI, on a busy machine); on one thread the figure is the same every run.
 */
function keptPerLine(suffix: string): number {
  const planner = fileURLToPath(new URL("../../src/run/plan.js", import.meta.url));
  const options = fileURLToPath(new URL("../../src/options/normalize.js", import.meta.url));
  // The lists' text and lines are made first and kept to the end (a run keeps them too): what
  // the heap gains after them is the plan's.
  const script = `
    const { plan } = await import(${JSON.stringify(planner)});
    const { normalizeOptions } = await import(${JSON.stringify(options)});
    const list = (count, folder) => {
      const text = Array.from({ length: count }, (_, i) =>
        "http://127.0.0.1:8080/" + folder + Math.floor(i / 1000) + "/f" + i + ".bin" + ${JSON.stringify(suffix)}).join("\\n");
      return { text, lines: text.split("\\n") };
    };
    globalThis.lists = [list(${LINES / 10}, "w"), list(${LINES}, "d")];
    const settle = () => { globalThis.gc(); globalThis.gc(); return process.memoryUsage().heapUsed; };
    // What a run keeps: the resolved options (their sources) and the plan.
    const planOf = async (lines, root) => {
      const resolved = normalizeOptions({ sources: lines, artifactRoot: root });
      return [resolved, await plan(resolved)];
    };
    globalThis.warmUp = await planOf(globalThis.lists[0].lines, "/tmp/plan-memory-warm-up");
    const before = settle();
    const [resolved, planned] = await planOf(globalThis.lists[1].lines, "/tmp/plan-memory-out");
    const after = settle();
    if (planned.pairs.length !== ${LINES}) throw new Error("planned " + planned.pairs.length);
    if (planned.pairs[7].destination !== "/tmp/plan-memory-out/f7.bin") throw new Error(planned.pairs[7].destination);
    globalThis.kept = [resolved, planned];
    process.stdout.write(String(Math.round((after - before) / ${LINES})));`;
  const child = spawnSync(
    process.execPath,
    ["--expose-gc", "--single-threaded", "--input-type=module", "-e", script],
    {
      encoding: "utf8",
    },
  );
  assert.equal(child.status, 0, child.stderr.slice(0, 1000));
  return Number(child.stdout);
}

describe("plan memory", () => {
  for (const [what, suffix] of [
    ["plain URLs", ""],
    ["URLs whose query is redacted in logs", "?token=abc"],
  ] as const) {
    test(`an input list of ${LINES} ${what} is planned in under ${MAX_BYTES_PER_LINE} bytes a line`, () => {
      const perLine = keptPerLine(suffix);
      // A plan keeps at least a pair object a line: a figure below that measured nothing.
      assert.ok(perLine >= 48, `measured ${perLine}`);
      assert.ok(perLine < MAX_BYTES_PER_LINE, `${perLine} bytes kept per planned line`);
    });
  }
});
