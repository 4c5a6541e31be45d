/** Local sources and the links inside directory sources. */
import assert from "node:assert/strict";
import { lstat, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
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
