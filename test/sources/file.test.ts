/** Local sources and the links inside directory sources. */
import assert from "node:assert/strict";
import {
  appendFile,
  chmod,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { SyncError } from "../../src/errors.js";
import { FileSource } from "../../src/sources/file.js";
import { findLog, intoArtifactRoot, runCli } from "../helpers/cli.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

async function tree(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const src = join(dir, "src");
  await mkdir(join(src, "sub"), { recursive: true });
  await writeFile(join(src, "a.txt"), "a\n");
  await writeFile(join(src, "sub", "b.txt"), "b\n");
  const secret = join(dir, "secret");
  await writeFile(secret, "outside the tree\n", { mode: 0o600 });
  await symlink(join(src, "sub", "b.txt"), join(src, "inside-link.txt"));
  await symlink(secret, join(src, "outside-link.txt"));
  return { dir, src, secret };
}

describe("links in directory sources", () => {
  test("a link inside the tree is followed; one leading outside is skipped with a warning", async (t) => {
    const { dir, src } = await tree(t);
    const result = await runCli(intoArtifactRoot([src], dir));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await listFiles(join(dir, "out")), [
      "src/a.txt",
      "src/inside-link.txt",
      "src/sub/b.txt",
    ]);
    assert.equal(await readFile(join(dir, "out", "src", "inside-link.txt"), "utf8"), "b\n");
    assert.ok(
      (await lstat(join(dir, "out", "src", "inside-link.txt"))).isFile(),
      "copied as a file",
    );
    assert.match(String(findLog(result, "skipped symlink")?.link), /outside-link\.txt$/);
  });

  test("--follow-symlinks follows links that leave the tree too", async (t) => {
    const { dir, src } = await tree(t);
    const result = await runCli(intoArtifactRoot([src], dir, "--follow-symlinks"));
    assert.equal(result.code, 0, result.stderr);
    assert.equal(
      await readFile(join(dir, "out", "src", "outside-link.txt"), "utf8"),
      "outside the tree\n",
    );
  });

  test("a file of a directory source that leads outside it when read is refused, whatever the plan saw", async (t) => {
    const { src, secret } = await tree(t);
    const { realpath } = await import("node:fs/promises");
    const source = new FileSource(join(src, "outside-link.txt"), await realpath(src));
    await assert.rejects(
      source.open({
        offset: 0,
        resumeIf: undefined,
        unchangedIf: undefined,
        signal: new AbortController().signal,
      }),
      (error) =>
        error instanceof SyncError &&
        error.code === "invalid_source" &&
        /outside/.test(error.message),
    );
    const inside = new FileSource(join(src, "inside-link.txt"), await realpath(src));
    const opened = await inside.open({
      offset: 0,
      resumeIf: undefined,
      unchangedIf: undefined,
      signal: new AbortController().signal,
    });
    assert.equal(opened.kind, "body");
    if (opened.kind === "body") opened.body.destroy();
    assert.ok(secret);
  });
});

describe("a local file's own name", () => {
  test("a control character in the name it would land under fails that source; -o names it", async (t) => {
    const dir = await tempDir(t);
    const odd = join(dir, "new\nline");
    await writeFile(odd, "x\n");
    await writeFile(join(dir, "plain.txt"), "p\n");
    const run = await runCli(intoArtifactRoot([odd, join(dir, "plain.txt")], dir, "--json"));
    assert.equal(run.code, 1, run.stderr);
    const failed = JSON.parse(run.stdout).results.find(
      (r: { status: string }) => r.status === "failed",
    );
    assert.equal(failed?.error.code, "invalid_source");
    assert.match(failed?.error.message, /control characters/);
    assert.deepEqual(await listFiles(join(dir, "out")), ["plain.txt"]);
    const named = await runCli([
      "-o",
      join(dir, "out", "renamed.txt"),
      odd,
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.equal(named.code, 0, named.stderr);
  });
});

/** A 4 MiB file of `fill` bytes, opened as a source: its body's chunks, one at a time. */
async function openFourMiB(t: Parameters<typeof tempDir>[0], fill: number) {
  const dir = await tempDir(t);
  const path = join(dir, "big.bin");
  await writeFile(path, Buffer.alloc(4 << 20, fill));
  const opened = await new FileSource(path).open({
    offset: 0,
    resumeIf: undefined,
    unchangedIf: undefined,
    signal: new AbortController().signal,
  });
  assert.ok(opened.kind === "body");
  return { dir, path, chunks: opened.body[Symbol.asyncIterator]() as AsyncIterator<Buffer> };
}

describe("a local file changed while it is read", () => {
  for (const [name, change] of [
    [
      "written in place, same size",
      (path: string) => writeFile(path, Buffer.alloc(4 << 20, 65), { flag: "r+" }),
    ],
    ["grown", (path: string) => appendFile(path, "more")],
  ] as const) {
    test(`${name}: the read fails, to be retried from zero, rather than mix two versions`, async (t) => {
      const { path, chunks } = await openFourMiB(t, 0);
      const first = await chunks.next();
      assert.ok(!first.done && first.value.length > 0);
      await change(path);
      await assert.rejects(
        async () => {
          for (let n = 0; n < 100 && !(await chunks.next()).done; n += 1);
        },
        (error) =>
          error instanceof SyncError &&
          error.retryable &&
          error.discardPartial === true &&
          /changed while it was read/.test(error.message),
      );
    });
  }

  test("a chmod or a new hard link while it is read changes no byte: the read completes", async (t) => {
    const { dir, path, chunks } = await openFourMiB(t, 3);
    let received = (await chunks.next()).value.length;
    await chmod(path, 0o600);
    await link(path, join(dir, "backup.bin"));
    for (let next = await chunks.next(); !next.done; next = await chunks.next())
      received += next.value.length;
    assert.equal(received, 4 << 20);
  });

  test("a procfs file, whose size says 0, is copied whole", async (t) => {
    const dir = await tempDir(t);
    const run = await runCli([
      "-o",
      join(dir, "cpuinfo"),
      "/proc/cpuinfo",
      "--lock-dir",
      join(dir, "l"),
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(await readFile(join(dir, "cpuinfo"), "utf8"), /processor/);
  });

  test("an untouched file reads whole, and its descriptor is closed", async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, "same.bin");
    await writeFile(path, Buffer.alloc(3 << 20, 7));
    const opened = await new FileSource(path).open({
      offset: 1000,
      resumeIf: { size: 3 << 20, mtimeMs: (await lstat(path)).mtimeMs },
      unchangedIf: undefined,
      signal: new AbortController().signal,
    });
    assert.equal(opened.kind, "body");
    if (opened.kind !== "body") return;
    let received = 0;
    for await (const chunk of opened.body) received += (chunk as Buffer).length;
    assert.equal(received, (3 << 20) - 1000);
    const open = await readdir("/proc/self/fd");
    await new Promise((resolve) => setImmediate(resolve));
    const links = await Promise.all(
      (await readdir("/proc/self/fd")).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => "")),
    );
    assert.ok(!links.includes(path), `still open: ${path} (of ${open.length})`);
  });
});
