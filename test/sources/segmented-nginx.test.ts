/**
 * `--split 8` against a real nginx that caps each connection's rate (`limit_rate`): the file is
 * byte-exact, nginx's access log shows the first GET and seven ranged requests, each segment's
 * span once, and under 2 % more body bytes than the file. Skipped, saying so, without nginx.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { startNginx } from "../../bench/lib/nginx.js";
import { findLog, runCli, singlePair } from "../helpers/cli.js";
import { bytes, sha256 } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find(
  (path) => spawnSync(path, ["-v"]).status === 0,
);
const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
/** Per connection. nginx lets a connection's first second burst past it (`+ 1` in its formula). */
const RATE_MIB = 4;

describe("segmented download from nginx", {
  skip: NGINX ? false : "nginx is not installed",
}, () => {
  test("--split 8 under limit_rate: exact, eight requests, under 2 % extra bytes, faster than one connection can be", async (t) => {
    const dir = await tempDir(t);
    const root = join(dir, "www");
    await mkdir(root);
    await chmod(dir, 0o755);
    const body = bytes(SIZE, 401);
    await writeFile(join(root, "big.bin"), body);
    const nginx = await startNginx(root, NGINX, { server: `limit_rate ${RATE_MIB}m;` });
    t.after(() => nginx.stop());
    const before = (await nginx.requests()).length;

    const started = performance.now();
    const result = await runCli(
      singlePair(nginx.url("/big.bin"), dir, "out/big.bin", "--split", "8"),
      { env: { RESILIENT_SYNC_DELAY_SCALE: "1" } },
    );
    const seconds = (performance.now() - started) / 1000;
    assert.equal(result.code, 0, result.stderr.slice(0, 2000));
    assert.equal(sha256(await readFile(join(dir, "out", "big.bin"))), sha256(body));
    assert.equal(findLog(result, "segmented download")?.segments, 8);

    const logged = (await nginx.requests()).slice(before);
    const ranged = logged.filter((r) => r.range !== "");
    assert.equal(logged.length, 8, JSON.stringify(logged));
    assert.equal(ranged.length, 7, "seven ranged requests beside the first GET");
    assert.ok(
      ranged.every((r) => r.status === 206),
      "each answered 206",
    );
    assert.equal(new Set(ranged.map((r) => r.range)).size, 7, "each span asked once");
    const sent = logged.reduce((sum, r) => sum + r.bytes, 0);
    t.diagnostic(
      `${seconds.toFixed(2)} s; ${sent} body bytes for ${SIZE} (${((sent / SIZE - 1) * 100).toFixed(2)} % extra)`,
    );
    assert.ok(sent >= SIZE && sent < SIZE * 1.02, `${sent} bytes sent for ${SIZE}`);
    // One capped connection needs (64 MiB - its one-second burst) / 4 MiB/s = 15 s at least.
    assert.ok(seconds < 10, `${seconds.toFixed(1)} s: the connections ran side by side`);
  });
});
