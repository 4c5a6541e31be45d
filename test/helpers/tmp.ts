/** Temporary folders for tests, removed when the test ends. */
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { TestContext } from "node:test";

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "resilient-sync-test-"));
  // KEEP_TEMP=1 keeps the folders, to look at what a failing test left.
  t.after(() =>
    process.env.KEEP_TEMP ? t.diagnostic(`kept ${dir}`) : rm(dir, { recursive: true, force: true }),
  );
  return dir;
}

/** Every file below `dir`, relative, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

/** Resolves once the file at `path` holds at least `size` bytes (checked every 10 ms, bounded). */
export async function waitForFileSize(
  path: string,
  size: number,
  timeoutMs = 10_000,
): Promise<void> {
  const { stat } = await import("node:fs/promises");
  const { setTimeout: delay } = await import("node:timers/promises");
  const giveUpAt = Date.now() + timeoutMs;
  while (((await stat(path).catch(() => undefined))?.size ?? 0) < size) {
    if (Date.now() > giveUpAt) throw new Error(`${path} never reached ${size} bytes`);
    await delay(10);
  }
}

/** Whether `name` is one of resilient-sync's part files (today `.<name>.<random>.resilient-sync.part`). */
export function isPartName(name: string): boolean {
  return /\.resilient-sync\.part$/.test(name.split("/").pop() ?? "");
}

/** Resolves to the part file in `folder` once it holds at least `size` bytes (checked every 10 ms, bounded). */
export async function waitForPart(
  folder: string,
  size: number,
  timeoutMs = 10_000,
): Promise<string> {
  const { readdir, stat } = await import("node:fs/promises");
  const { setTimeout: delay } = await import("node:timers/promises");
  const giveUpAt = Date.now() + timeoutMs;
  for (;;) {
    const names = await readdir(folder).catch(() => [] as string[]);
    for (const name of names.filter(isPartName)) {
      const path = join(folder, name);
      if (((await stat(path).catch(() => undefined))?.size ?? 0) >= size) return path;
    }
    if (Date.now() > giveUpAt) throw new Error(`no part file in ${folder} reached ${size} bytes`);
    await delay(10);
  }
}
