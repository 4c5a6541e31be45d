/** The file state store's lock dir checked before a run: may it be written, and how. */
import { randomUUID } from "node:crypto";
import { constants } from "node:fs";
import { access, open, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { mkdirs } from "../fs/mkdirs.js";

/** Throws unless `dir`, or the nearest folder above it that exists, is writable. Writes nothing. */
export async function checkFolderWritable(dir: string): Promise<void> {
  let folder = dir;
  for (;;) {
    const info = await stat(folder).catch(() => undefined);
    if (info) {
      if (!info.isDirectory())
        throw Object.assign(new Error(`${folder} is not a folder`), { code: "ENOTDIR" });
      await access(folder, constants.W_OK);
      return;
    }
    const parent = dirname(folder);
    if (parent === folder) throw Object.assign(new Error("no existing folder"), { code: "ENOENT" });
    folder = parent;
  }
}

/**
 * Creates `dir` and a probe file in it, made as a record is (asked for 0644), then removes the
 * probe. Resolves to the permission bits the probe got: what the umask and the folder's default
 * ACL give new records there. Throws when `dir` cannot be created or written.
 */
export async function probeFolder(dir: string): Promise<number> {
  await mkdirs(dir);
  const probe = join(dir, `.probe-${process.pid}-${randomUUID().slice(0, 8)}`);
  const file = await open(probe, "wx", 0o644);
  try {
    return (await file.stat()).mode & 0o777;
  } finally {
    await file.close();
    await unlink(probe);
  }
}
