/**
 * The CLI's heap settings (src/cli/heap-limits.ts): the young generation stops growing at 4 MiB
 * semi-spaces in a real run, and a setting the user gave to `node` wins. Real child processes;
 * the new space's size is read from V8 in the child as the process exits.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CLI } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

const HEAP_LIMITS = fileURLToPath(new URL("../../src/cli/heap-limits.js", import.meta.url));
const MiB = 1 << 20;

/** Loaded before the program: prints the new space's size (both semi-spaces) when it exits. */
const REPORT_NEW_SPACE = `data:text/javascript,${encodeURIComponent(`
  import { getHeapSpaceStatistics } from "node:v8";
  import { writeSync } from "node:fs";
  process.on("exit", () => {
    const space = getHeapSpaceStatistics().find((s) => s.space_name === "new_space");
    writeSync(2, "new_space=" + space.space_size + "\\n");
  });
`)}`;

/**
 * Objects that survive one scavenge and die in a later one — what a batch leaves behind each
 * file, and what makes V8 grow its semi-spaces. Bounded: 3,000 turns of 1,000 objects, each
 * turn short (as a batch's are: one file's work between two awaits), so that the observer's
 * callback runs between growths.
 */
const CHURN = `
  const ring = new Array(50000);
  for (let turn = 0; turn < 3000; turn += 1) {
    for (let i = 0; i < 1000; i += 1) ring[(turn * 1000 + i) % ring.length] = { turn, i, text: "item " + i };
    await new Promise((resolve) => setImmediate(resolve));
  }
`;

/** Runs node with `args`, returns the new space's size in bytes at exit and the exit code. */
async function newSpaceAtExit(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ bytes: number; code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ["--import", REPORT_NEW_SPACE, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  const match = /new_space=(\d+)/.exec(stderr);
  assert.ok(match, `no new-space report in: ${stderr}`);
  return { bytes: Number(match[1]), code, stderr };
}

/** The churn above, in a module that first calls `limitHeapForBatches` when `limit` is set. */
function churnScript(limit: boolean): string[] {
  const prelude = limit
    ? `(await import(${JSON.stringify(`file://${HEAP_LIMITS}`)})).limitHeapForBatches();`
    : "";
  return ["--input-type=module", "-e", `${prelude}${CHURN}`];
}

describe("heap limits of the CLI process", () => {
  test("the churn grows V8's semi-spaces past 4 MiB when nothing limits them", async () => {
    const { bytes } = await newSpaceAtExit(churnScript(false));
    assert.ok(bytes > 8 * MiB, `new space ${bytes} bytes`);
  });

  test("limited, the semi-spaces stop at 4 MiB (8 MiB of new space)", async () => {
    const { bytes } = await newSpaceAtExit(churnScript(true));
    assert.ok(bytes <= 8 * MiB, `new space ${bytes} bytes`);
  });

  test("a --max-semi-space-size the user gave in NODE_OPTIONS wins", async () => {
    const { bytes } = await newSpaceAtExit(churnScript(true), {
      NODE_OPTIONS: "--max-semi-space-size=8",
    });
    assert.equal(bytes, 16 * MiB);
  });

  test("a --semi-space-growth-factor the user gave to node wins", async () => {
    const { bytes } = await newSpaceAtExit(["--semi-space-growth-factor=2", ...churnScript(true)]);
    assert.ok(bytes > 8 * MiB, `new space ${bytes} bytes`);
  });

  test("a batch of 1,000 local files leaves the CLI's new space at 8 MiB at most", async (t) => {
    const dir = await tempDir(t);
    const source = join(dir, "source");
    await mkdir(source);
    for (let i = 0; i < 1000; i += 1) await writeFile(join(source, `f${i}.txt`), `file ${i}\n`);
    const { bytes, code, stderr } = await newSpaceAtExit([
      CLI,
      source,
      "--artifact-root",
      join(dir, "copy"),
      "--lock-dir",
      join(dir, "locks"),
      "--quiet",
    ]);
    assert.equal(code, 0, stderr);
    assert.ok(bytes <= 8 * MiB, `new space ${bytes} bytes`);
  });
});
