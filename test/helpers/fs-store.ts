/** A file state store in a test's own folder, and a logger that keeps what it is told. */
import { join } from "node:path";
import { systemClock } from "../../src/clock.js";
import type { LogEvent, Logger } from "../../src/log/events.js";
import { FsStateStore } from "../../src/state/fs-store.js";
import { tempDir } from "./tmp.js";

/** A logger that keeps every event in `events`, in order. */
export function recorder(): Logger & { events: LogEvent[] } {
  const events: LogEvent[] = [];
  return {
    events,
    emit: (level, message, fields) => events.push({ level, message, fields } as LogEvent),
  };
}

/** A store whose lock dir is `locks` in a new folder removed after test `t`. */
export async function storeIn(t: Parameters<typeof tempDir>[0]) {
  const dir = await tempDir(t);
  const logger = recorder();
  const store = new FsStateStore(join(dir, "locks"), systemClock, logger);
  await store.ensureWritable();
  return { dir: join(dir, "locks"), store, logger };
}
