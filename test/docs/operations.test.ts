/**
 * The guides' examples, tried: docs/operations.md's systemd units pass `systemd-analyze verify`
 * with no warning, and its cron line runs by hand in cron's bare environment. Every relative link
 * in README and docs/ leads to a file of the repository.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { chmod, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { CLI } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const PROJECT = fileURLToPath(new URL("../../../", import.meta.url));
const server = useTestServer();
const guide = () => readFile(join(PROJECT, "docs", "operations.md"), "utf8");
const has = (tool: string) => spawnSync("sh", ["-c", `command -v ${tool}`]).status === 0;

describe("docs/operations.md", () => {
  test("the systemd service and timer pass systemd-analyze verify", {
    skip: has("systemd-analyze") ? false : "systemd-analyze is not installed",
  }, async (t) => {
    const dir = await tempDir(t);
    const [service, timer] = [...(await guide()).matchAll(/```ini\n([\s\S]*?)```/g)].map(
      (match) => match[1] as string,
    );
    assert.ok(service?.includes("[Service]") && timer?.includes("[Timer]"));
    if (!service || !timer) return;
    // The unit names the installed binary; here it is this checkout's.
    const runnable = service.replace("/usr/bin/resilient-sync", `${process.execPath} ${CLI}`);
    await writeFile(join(dir, "resilient-sync.service"), runnable);
    await writeFile(join(dir, "resilient-sync.timer"), timer);
    const verified = spawnSync(
      "systemd-analyze",
      ["verify", join(dir, "resilient-sync.service"), join(dir, "resilient-sync.timer")],
      { encoding: "utf8" },
    );
    assert.equal(verified.status, 0, verified.stderr);
    assert.equal(verified.stderr.trim(), "", "no warning about any directive");
  });

  test("the cron line runs by hand in cron's environment", async (t) => {
    const dir = await tempDir(t);
    const line = (await guide()).split("\n").find((l) => l.startsWith("*/15 "));
    assert.ok(line);
    const command = line.split(/\s+/).slice(5).join(" ");
    const body = bytes(3000, 8);
    server.route("/cron/data.bin", { body });
    const places: Record<string, string> = {
      "/srv/mirror": join(dir, "mirror"),
      "/etc/resilient-sync/sources.txt": join(dir, "sources.txt"),
      "/var/lib/node_exporter/textfile": join(dir, "textfile"),
      "/var/log/resilient-sync.log": join(dir, "sync.log"),
    };
    let here = command;
    for (const [from, to] of Object.entries(places)) here = here.replaceAll(from, to);
    await writeFile(join(dir, "sources.txt"), `# the data\n${server.url("/cron/data.bin")}\n`);
    await mkdir(join(dir, "textfile"));
    // `resilient-sync` on cron's PATH, as an installed copy.
    const bin = join(dir, "bin");
    await mkdir(bin);
    await writeFile(
      join(bin, "resilient-sync"),
      `#!/bin/sh\nRESILIENT_SYNC_INSTALLED=1 exec '${process.execPath}' '${CLI}' "$@"\n`,
    );
    await chmod(join(bin, "resilient-sync"), 0o755);
    const home = join(dir, "home");
    await mkdir(home);
    const child = spawn(
      "env",
      ["-i", `HOME=${home}`, `PATH=${bin}:/usr/bin:/bin`, "sh", "-c", here],
      {
        cwd: home,
        stdio: "ignore",
      },
    );
    const [code] = (await once(child, "close")) as [number];
    assert.equal(code, 0, await readFile(join(dir, "sync.log"), "utf8").catch(() => ""));
    assert.deepEqual(await readFile(join(dir, "mirror", "data.bin")), body);
    assert.match(
      await readFile(join(dir, "textfile", "resilient_sync.prom"), "utf8"),
      /^resilient_sync_exit_code 0$/m,
    );
    assert.deepEqual(await readdir(home), [".local"], "only the state, in ~/.local/state");
  });
});

test("every relative link in README and docs/ leads to a file of the repository", async () => {
  const pages = [
    "README.md",
    ...(await readdir(join(PROJECT, "docs"))).map((name) => `docs/${name}`),
  ];
  for (const page of pages.filter((name) => name.endsWith(".md"))) {
    const text = await readFile(join(PROJECT, page), "utf8");
    assert.doesNotMatch(text, /\.\.\/shared\b/, `${page} refers outside the repository`);
    for (const [, target] of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
      if (!target || /^[a-z]+:/.test(target)) continue;
      const path = join(PROJECT, dirname(page), target);
      const listed = spawnSync("test", ["-e", path]).status === 0;
      assert.ok(listed, `${page} links to ${target}, which does not exist`);
    }
  }
});
