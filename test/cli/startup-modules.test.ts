/**
 * What a plain run loads: modules that only some runs need are loaded by those runs only. Every
 * run pays for each module it loads at start-up (node:worker_threads cost a one-URL no-op ~3 ms),
 * so a static import that slips back in shows here, not only in the bench.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { join } from "node:path";
import { describe, test } from "node:test";
import { CLI } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

/** Loaded before the CLI: prints, at exit, the builtins and the npm packages the process loaded. */
const REPORT_MODULES = `data:text/javascript,${encodeURIComponent(`
  import { writeSync } from "node:fs";
  import { createRequire } from "node:module";
  process.on("exit", () => {
    const builtins = process.moduleLoadList.filter((m) => m.startsWith("NativeModule "));
    const packages = Object.keys(createRequire("/").cache).filter((p) => p.includes("/node_modules/"));
    writeSync(2, "@@modules " + JSON.stringify({ builtins, packages }) + "\\n");
  });
`)}`;

async function modulesOf(args: string[]): Promise<{ builtins: string[]; packages: string[] }> {
  const child = spawn(process.execPath, ["--import", REPORT_MODULES, CLI, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const [code] = (await once(child, "exit")) as [number | null];
  assert.equal(code, 0, stderr);
  const line = /@@modules (.*)/.exec(stderr);
  assert.ok(line, `no module report in: ${stderr}`);
  return JSON.parse(line[1] as string);
}

describe("modules loaded at start-up", () => {
  test("a small http download loads no worker threads and no npm package", async (t) => {
    const dir = await tempDir(t);
    server.route("/small.bin", { body: bytes(4096, 5) });
    const loaded = await modulesOf([
      "-o",
      join(dir, "small.bin"),
      "--lock-dir",
      join(dir, ".locks"),
      "--quiet",
      server.url("/small.bin"),
    ]);
    assert.ok(loaded.builtins.includes("NativeModule net"), "the report sees what was loaded");
    assert.ok(!loaded.builtins.includes("NativeModule worker_threads"), "worker_threads");
    assert.deepEqual(loaded.packages, [], "npm packages (undici: proxies only)");
  });
});
