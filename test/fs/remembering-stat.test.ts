/**
 * `rememberingStat` on real folders: an answer is kept for its window and no longer, "nothing
 * there" is never kept, and no more than its cap of paths is held at once.
 */
import assert from "node:assert/strict";
import { mkdir, rename, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { rememberingStat } from "../../src/fs/stat.js";
import { tempDir } from "../helpers/tmp.js";

/** `folder` replaced by a new folder of the same name: another inode. */
async function replace(folder: string): Promise<number> {
  await rename(folder, `${folder}.old`);
  await mkdir(folder);
  return (await stat(folder)).ino;
}

describe("rememberingStat", () => {
  test("keeps a folder's identity for its window, then asks again", async (t) => {
    const folder = join(await tempDir(t), "out");
    await mkdir(folder);
    const before = (await stat(folder)).ino;
    const kept = rememberingStat(60_000);
    const forgetful = rememberingStat(0);
    assert.equal(kept(folder)?.ino, before);
    assert.equal(forgetful(folder)?.ino, before);
    const after = await replace(folder);
    assert.notEqual(after, before);
    assert.equal(kept(folder)?.ino, before, "within the window: the answer kept");
    assert.equal(forgetful(folder)?.ino, after, "past the window: asked again");
  });

  test("never keeps 'nothing there'", async (t) => {
    const folder = join(await tempDir(t), "later");
    const ask = rememberingStat(60_000);
    assert.equal(ask(folder), undefined);
    await mkdir(folder);
    assert.equal(ask(folder)?.ino, (await stat(folder)).ino);
    await rmdir(folder);
  });

  test("holds no more than its cap of paths", async (t) => {
    const dir = await tempDir(t);
    const [a, b] = [join(dir, "a"), join(dir, "b")];
    await mkdir(a);
    await mkdir(b);
    const ask = rememberingStat(60_000, 1);
    const first = ask(a)?.ino;
    ask(b); // a second path: the first is let go
    const after = await replace(a);
    assert.notEqual(after, first);
    assert.equal(ask(a)?.ino, after, "asked again once let go");
  });
});
