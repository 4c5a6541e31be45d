/**
 * `mkdirs(path)`: create a folder and its missing parents. Node's own `mkdir(…, {recursive: true})`
 * never returns for some paths (under /proc it spins at full CPU on Node 20), so the parents are
 * walked here: up to the nearest one that exists, then created one level at a time.
 */
import { statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { errorCodeOf } from "../errors.js";

export async function mkdirs(path: string): Promise<void> {
  const missing: string[] = [];
  for (let dir = path; ; dir = dirname(dir)) {
    // Looked at synchronously: the folder usually exists (a batch asks for it once per file),
    // and a stat is cheaper than a round trip through the thread pool.
    const info = statSync(dir, { throwIfNoEntry: false });
    if (info) {
      if (!info.isDirectory())
        throw Object.assign(new Error(`${dir} is not a folder`), { code: "ENOTDIR", path: dir });
      break;
    }
    missing.push(dir);
    if (dirname(dir) === dir) break;
  }
  for (const dir of missing.reverse()) {
    await mkdir(dir).catch((error: unknown) => {
      // Another run may have made it meanwhile.
      if (errorCodeOf(error) !== "EEXIST") throw error;
    });
  }
}
