/**
 * The order of a commit's calls on the part: its final mode is set before its one fsync, so that
 * fsync makes the mode durable with the bytes (a power loss after the rename cannot bring the
 * file back with the part's 0600), and no second fsync is paid for it.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import { lstat } from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { LocalDestinations } from "../../../src/destinations/local/destinations.js";
import type { LocalPart } from "../../../src/destinations/local/part.js";
import { tempDir } from "../../helpers/tmp.js";

test("a commit sets the part's mode before its one fsync, and fsyncs before the rename", async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, "new.bin");
  const destination = await new LocalDestinations().open(path);
  await destination.prepare();
  const part = (await destination.openPart(undefined)) as LocalPart;
  const fd = part.handle.fd;
  const calls: string[] = [];
  // The part is closed before the rename; its number may then be reused (the folder's fsync).
  const ours = (handle: number) => handle === fd && !calls.includes("rename");
  const original = {
    fchmodSync: fs.fchmodSync,
    fsync: fs.fsync,
    fdatasync: fs.fdatasync,
    renameSync: fs.renameSync,
  };
  // The node:fs bindings `open-file.ts` and `destination.ts` import are swapped for recording ones.
  fs.fchmodSync = (handle, mode) => {
    if (ours(handle)) calls.push("chmod");
    original.fchmodSync(handle, mode);
  };
  fs.fsync = ((handle: number, callback: fs.NoParamCallback) => {
    if (ours(handle)) calls.push("fsync");
    original.fsync(handle, callback);
  }) as typeof fs.fsync;
  fs.fdatasync = ((handle: number, callback: fs.NoParamCallback) => {
    if (ours(handle)) calls.push("fdatasync");
    original.fdatasync(handle, callback);
  }) as typeof fs.fdatasync;
  fs.renameSync = (from, to) => {
    if (String(to) === path) calls.push("rename");
    original.renameSync(from, to);
  };
  syncBuiltinESMExports();
  try {
    part.push(Buffer.from("new bytes"));
    await part.finish();
    await destination.commit(part, { check: async () => {} }, { newFileMode: 0o644 });
  } finally {
    Object.assign(fs, original);
    syncBuiltinESMExports();
  }
  assert.deepEqual(calls, ["chmod", "fsync", "rename"]);
  assert.equal((await lstat(path)).mode & 0o777, 0o644 & ~process.umask());
});
