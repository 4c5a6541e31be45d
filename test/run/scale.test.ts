/** Large inputs and a deadline in the middle of a batch: no crash, no lost report. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { findLog, runCli } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

async function folderOf(dir: string, folders: number, files: number): Promise<string> {
  const source = join(dir, "src");
  for (let d = 0; d < folders; d += 1) {
    await mkdir(join(source, `d${d}`), { recursive: true });
    await Promise.all(
      Array.from({ length: files }, (_, f) => writeFile(join(source, `d${d}`, `f${f}`), "")),
    );
  }
  return source;
}

describe("scale", () => {
  test("planning a large directory source does not grow the stack with its size", async (t) => {
    // A spread of N pairs into push() needs stack in proportion to N (it overflowed at about
    // 125,000 files). A child with a tenth of the usual stack finds that at 20,000 files.
    const dir = await tempDir(t);
    const source = await folderOf(dir, 20, 1000);
    const planner = fileURLToPath(new URL("../../src/run/plan.js", import.meta.url));
    const options = fileURLToPath(new URL("../../src/options/normalize.js", import.meta.url));
    const script = `
      const { plan } = await import(${JSON.stringify(planner)});
      const { normalizeOptions } = await import(${JSON.stringify(options)});
      const { pairs } = await plan(normalizeOptions({ sources: [${JSON.stringify(source)}], artifactRoot: ${JSON.stringify(join(dir, "out"))} }));
      process.stdout.write(String(pairs.length));`;
    const child = spawnSync(
      process.execPath,
      ["--stack-size=100", "--input-type=module", "-e", script],
      {
        encoding: "utf8",
      },
    );
    assert.equal(child.status, 0, child.stderr.slice(0, 1000));
    assert.equal(child.stdout, "20000");
  });

  test("--json writes the whole document through a pipe, however large", async (t) => {
    const dir = await tempDir(t);
    const source = await folderOf(dir, 2, 1000);
    const result = await runCli([
      source,
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "locks"),
      "--dry-run",
      "--json",
      "--quiet",
    ]);
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.ok(result.stdout.length > 256 * 1024, `a document of ${result.stdout.length} bytes`);
    assert.equal(JSON.parse(result.stdout).results.length, 2000);
  });

  test("a deadline in the middle of a batch: what synced is reported, the rest fails as deadline", async (t) => {
    const dir = await tempDir(t);
    const sources = Array.from({ length: 30 }, (_, i) => {
      server.route(`/slow-${i}.bin`, {
        body: bytes(100_000, 900 + i),
        script: [{ kind: "drip", chunkBytes: 20_000, intervalMs: 60 }],
      });
      return server.url(`/slow-${i}.bin`);
    });
    const result = await runCli([
      ...sources,
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "locks"),
      "--max-workers",
      "2",
      "--deadline",
      "1.5",
      "--json",
    ]);
    assert.equal(findLog(result, "internal error"), undefined, result.stderr.slice(0, 2000));
    const report = JSON.parse(result.stdout);
    assert.equal(report.results.length, 30);
    const statuses = report.results.map((r: { status: string; error: { code: string } | null }) =>
      r.status === "failed" ? r.error?.code : r.status,
    );
    assert.ok(statuses.includes("synced"), `some synced: ${statuses}`);
    assert.ok(statuses.includes("deadline"), `some cut: ${statuses}`);
    assert.ok(
      statuses.every((s: string) => s === "synced" || s === "deadline"),
      `${statuses}`,
    );
    assert.equal(result.code, 1, "some synced, some failed");
  });
});
