/**
 * "Slow down" is not "down": against a real nginx with `limit_req rate=2r/s` answering 429 (no
 * Retry-After), a batch of 20 files with default options is synced whole, the circuit stays
 * closed, and the next run finds everything up to date. Skipped, saying so, without nginx
 * (`.ci/run` installs nginx-light).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startNginx } from "../../bench/lib/nginx.js";
import { runCli } from "../helpers/cli.js";
import { bytes } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find(
  (path) => spawnSync(path, ["-v"]).status === 0,
);

describe("rate limits", { skip: NGINX ? false : "nginx is not installed" }, () => {
  test("nginx limit_req 2r/s answering 429: 20 files synced with default options, the circuit stays closed", async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, "www");
    await mkdir(root);
    await chmod(dir, 0o755);
    const names = Array.from({ length: 20 }, (_, i) => `f${i}.bin`);
    for (const [i, name] of names.entries())
      await writeFile(join(root, name), bytes(2000, 900 + i));
    const nginx = await startNginx(root, NGINX, {
      http: "limit_req_zone $binary_remote_addr zone=slow:1m rate=2r/s;",
      server: "limit_req zone=slow; limit_req_status 429;",
    });
    t.after(() => nginx.stop());
    const args = [
      ...names.map((name) => nginx.url(`/${name}`)),
      "--artifact-root",
      join(dir, "out"),
      "--lock-dir",
      join(dir, "locks"),
      "--json",
    ];
    // Real waits (the limiter is real): no delay scaling.
    const env = { RESILIENT_SYNC_DELAY_SCALE: "1" };
    const started = performance.now();
    const first = await runCli(args, { env });
    const seconds = (performance.now() - started) / 1000;
    const report = JSON.parse(first.stdout);
    const failed = report.results.filter((r: { status: string }) => r.status !== "synced");
    assert.deepEqual(failed, [], `all 20 synced; ${failed.length} were not`);
    assert.equal(first.code, 0);
    const throttled = first.logs.filter((l) => l.message === "download failed" && l.status === 429);
    t.diagnostic(
      `20 files in ${seconds.toFixed(1)} s (the limiter allows one every 0.5 s); 429s: ${throttled.length}`,
    );
    assert.ok(throttled.length > 0, "the limiter did answer 429");

    const next = await runCli(args, { env });
    assert.equal(next.code, 0, next.stderr.slice(0, 1000));
    const again = JSON.parse(next.stdout);
    assert.ok(
      again.results.every((r: { status: string }) => r.status === "unchanged"),
      "the circuit did not open: the next run checked every file",
    );
  });
});
