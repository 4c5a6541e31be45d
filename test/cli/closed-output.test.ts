/**
 * A reader that goes away (`resilient-sync … | head`, a log collector that died): the run syncs
 * every file all the same and ends with its own exit code, never a stack trace; a `--json`
 * document that could not be written makes an otherwise successful run exit 73. Real processes,
 * real pipes closed by the reader, real files.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir, open, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CLI } from "../helpers/cli.js";
import { tempDir } from "../helpers/tmp.js";

/** Runs the CLI on `args` with the reader of `closed` (its stdout or stderr) gone from the start. */
async function runWithClosed(
  args: string[],
  closed: "stdout" | "stderr",
): Promise<{ code: number | null; other: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  child[closed].destroy();
  const open = closed === "stdout" ? child.stderr : child.stdout;
  let other = "";
  open.on("data", (chunk: Buffer) => {
    other += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  return { code, other };
}

async function sourceOf(dir: string, files: number): Promise<string> {
  const src = join(dir, "src");
  await mkdir(src);
  for (let i = 0; i < files; i += 1) await writeFile(join(src, `f${i}.txt`), `file ${i}\n`);
  return src;
}

describe("a reader that goes away", () => {
  for (const closed of ["stdout", "stderr"] as const) {
    test(`${closed} closed: every file is synced, exit 0, no stack trace`, async (t) => {
      const dir = await tempDir(t);
      const src = await sourceOf(dir, 200);
      const out = join(dir, "out");
      const { code, other } = await runWithClosed(
        [src, "--artifact-root", out, "--lock-dir", join(dir, "locks")],
        closed,
      );
      assert.doesNotMatch(other, /EPIPE|Unhandled|at /, "no stack trace on the other stream");
      assert.equal(code, 0, other);
      assert.equal((await readdir(join(out, "src"))).length, 200);
    });
  }

  // One file: the whole document is one write at the very end, whose failure comes after the
  // run has returned its code. 200: part of it is written, and fails, during the run.
  for (const files of [1, 200]) {
    test(`--json of ${files} file(s) to a closed stdout: the files are synced, and the lost document is exit 73`, async (t) => {
      const dir = await tempDir(t);
      const src = await sourceOf(dir, files);
      const out = join(dir, "out");
      const { code, other } = await runWithClosed(
        [src, "--artifact-root", out, "--lock-dir", join(dir, "locks"), "--json"],
        "stdout",
      );
      assert.doesNotMatch(other, /EPIPE|Unhandled/);
      assert.equal(code, 73, other);
      assert.equal((await readdir(join(out, "src"))).length, files);
    });
  }

  test("stdout on a full device: the files are synced; exit 0 for log lines, 73 for a --json document", async (t) => {
    const dir = await tempDir(t);
    const src = await sourceOf(dir, 20);
    for (const [json, expected] of [
      [false, 0],
      [true, 73],
    ] as const) {
      const out = join(dir, `out-${json}`);
      const full = await open("/dev/full", "w");
      try {
        const args = [src, "--artifact-root", out, "--lock-dir", join(dir, "locks")];
        const child = spawn(process.execPath, [CLI, ...args, ...(json ? ["--json"] : [])], {
          stdio: ["ignore", full.fd, "pipe"],
        });
        let stderr = "";
        child.stderr?.on("data", (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        const [code] = (await once(child, "exit")) as [number | null];
        assert.doesNotMatch(stderr, /ENOSPC|Unhandled|\n\s+at /, "no stack trace");
        assert.equal(code, expected, stderr);
        assert.equal((await readdir(join(out, "src"))).length, 20);
      } finally {
        await full.close();
      }
    }
  });
});
