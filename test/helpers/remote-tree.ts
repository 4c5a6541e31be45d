/**
 * The tree the remote-directory tests serve from real web servers, and the checks every server
 * must pass: three levels of files, a name with a space, a `%` and a non-ASCII letter, and a
 * link loop (`sub/loop -> ..`) that every one of these servers lists as a folder.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, readFile, symlink, utimes, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { type CliResult, intoArtifactRoot, runCli } from "./cli.js";
import { bytes, sha256 } from "./server.js";
import { listFiles, tempDir } from "./tmp.js";

/**
 * Path below the served folder `tree/` → content. Every body is under 64 KiB: undici 7 crashes
 * the process (an uncatchable `assert(!this.paused)`, nodejs/undici#5360, fixed in undici 8 only)
 * when a `Connection: close` server such as python's ends a body the reader has fallen 64 KiB
 * behind on, and that is a transfer bug of its own, not what these tests are about.
 */
export const TREE: Readonly<Record<string, Buffer>> = {
  "top.bin": bytes(60_000, 501),
  "notes.txt": Buffer.from("notes\n"),
  "sub/a.bin": bytes(3000, 502),
  "sub/deeper/d.bin": bytes(2000, 503),
  "sub/deeper/deepest/e.bin": bytes(1000, 504),
  "with space/100% é.bin": bytes(1500, 505),
};

const OLD = new Date(Date.now() - 3_600_000);

/**
 * Writes `TREE` under `<www>/tree/` with the loop `tree/sub/loop -> ..`, readable by a server
 * that drops to `nobody`; returns `www`.
 */
export async function makeTree(dir: string): Promise<string> {
  const www = join(dir, "www");
  for (const [rel, body] of Object.entries(TREE)) {
    const path = join(www, "tree", rel);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, body);
    // Served files are older than the second they are fetched in: a Last-Modified date from
    // that second is not trusted (python's server sends no ETag), and the re-run would refetch.
    await utimes(path, OLD, OLD);
  }
  await symlink("..", join(www, "tree", "sub", "loop"));
  // mkdtemp makes 0700 folders: a server running as nobody must get through.
  await chmod(dir, 0o755);
  return www;
}

/** Asserts that every file of `TREE` (and `extra`) is mirrored under `folder`, byte for byte, and nothing else. */
export async function assertMirrored(
  folder: string,
  extra: Record<string, Buffer> = {},
): Promise<void> {
  const expected = { ...TREE, ...extra };
  assert.deepEqual(await listFiles(folder), Object.keys(expected).sort());
  for (const [rel, body] of Object.entries(expected)) {
    assert.equal(sha256(await readFile(join(folder, rel))), sha256(body), rel);
  }
}

interface Report {
  exit_code: number;
  summary: Record<string, number>;
  results: Array<{ status: string; destination: string; error: { code: string } | null }>;
}

/** The `--json` results document of a run (asserting it was printed). */
export function reportOf(result: CliResult): Report {
  assert.ok(result.stdout.startsWith("{"), result.stderr.slice(-2000));
  return JSON.parse(result.stdout) as Report;
}

/**
 * The checks every server passes, given the URL of its `tree/` folder: the first run mirrors the
 * tree whole and skips the loop with a warning; the second finds everything unchanged; `--pattern`
 * and `--max-depth` narrow it. Extra files the server serves in `tree/` are passed as `extra`.
 */
export async function mirrorsTree(
  t: TestContext,
  treeUrl: string,
  extra: Record<string, Buffer> = {},
): Promise<void> {
  const dir = await tempDir(t);
  const args = intoArtifactRoot([treeUrl], dir, "--json");
  const first = await runCli(args);
  const report = reportOf(first);
  assert.equal(first.code, 0, first.stderr.slice(-2000));
  assert.equal(report.summary.synced, Object.keys({ ...TREE, ...extra }).length);
  await assertMirrored(join(dir, "out", "tree"), extra);
  const loop = first.logs.find((line) => line.message === "skipped folder");
  assert.match(String(loop?.folder), /\/tree\/sub\/loop\/$/, "the link loop is named");

  const second = await runCli(args);
  assert.equal(second.code, 0, second.stderr.slice(-2000));
  const again = reportOf(second);
  assert.equal(again.summary.unchanged, Object.keys({ ...TREE, ...extra }).length);
  assert.equal(again.summary.bytes, 0);

  const binOnly = await runCli(
    intoArtifactRoot([treeUrl], join(dir, "bin"), "--pattern", "**/*.bin", "--json"),
  );
  assert.equal(binOnly.code, 0, binOnly.stderr.slice(-2000));
  assert.deepEqual(
    await listFiles(join(dir, "bin", "out", "tree")),
    Object.keys({ ...TREE, ...extra })
      .filter((rel) => rel.endsWith(".bin"))
      .sort(),
  );

  const shallow = await runCli(
    intoArtifactRoot([treeUrl], join(dir, "shallow"), "--max-depth", "1", "--json"),
  );
  assert.equal(shallow.code, 0, shallow.stderr.slice(-2000));
  assert.deepEqual(await listFiles(join(dir, "shallow", "out", "tree")), ["notes.txt", "top.bin"]);
}
