import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { silentLogger } from "../../src/log/events.js";
import { FsStateStore } from "../../src/state/fs-store.js";
import { MemoryBacking, MemoryStateStore } from "../../src/state/memory-store.js";
import { FakeClock } from "../helpers/fake-clock.js";
import { tempDir } from "../helpers/tmp.js";
import { storeConformance } from "./conformance.js";

storeConformance("memory", async () => {
  const backing = new MemoryBacking();
  return { open: (clock) => new MemoryStateStore(clock, backing) };
});

async function fileWorld(dir: string) {
  await new FsStateStore(dir, new FakeClock(), silentLogger).ensureWritable();
  return { open: (clock: FakeClock) => new FsStateStore(dir, clock, silentLogger) };
}

storeConformance("files", async (t) => fileWorld(join(await tempDir(t), "state")));

storeConformance("files, a lease on a local file (its lock lives beside the file)", async (t) => {
  const dir = await tempDir(t);
  return {
    ...(await fileWorld(join(dir, "state"))),
    key: pathToFileURL(join(dir, "data.bin")).href,
  };
});
