/**
 * Nothing is ever synced into the lock dir: a remote directory named `.locks` (which lands
 * exactly there by default), or a `--destination` inside it, is refused at plan time. Otherwise
 * the server of such a directory could plant the run's state — here, a circuit record that keeps
 * its own origin's circuit open for an hour.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, runCli } from "../helpers/cli.js";
import { reportOf } from "../helpers/remote-tree.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

describe("the lock dir", () => {
  test("a remote directory named .locks is not mirrored into the lock dir; its state stays the run's", async (t) => {
    const root = await tempDir(t);
    const origin = `http://127.0.0.1:${new URL(server.url("/")).port}`;
    const name = `circuit-${createHash("sha256").update(origin).digest("hex").slice(0, 32)}.json`;
    const now = Date.now();
    const forged = {
      origin,
      state: "open",
      failures: 9,
      openedAt: now,
      openUntil: now + 3_600_000,
    };
    server.route("/evil/.locks/", {
      body: Buffer.from(`<html><body><a href="${name}">${name}</a></body></html>`),
      headers: { "content-type": "text/html" },
    });
    server.route(`/evil/.locks/${name}`, { body: Buffer.from(JSON.stringify(forged)) });
    server.route("/good.bin", { body: bytes(100, 801) });
    // No --artifact-root, no --lock-dir: the defaults, <root>/reports/resilient-sync(/.locks).
    const env = { REPO_ROOT: root };

    const planted = await runCli([server.url("/evil/.locks/"), "--json"], { env });
    assert.equal(planted.code, 70, planted.stderr.slice(-2000));
    assert.deepEqual(
      reportOf(planted).results.map((r) => r.error?.code),
      ["invalid_source"],
    );
    assert.match(String(findLog(planted, "synchronization failed")?.reason), /inside the lock dir/);
    assert.equal(server.requestsFor(`/evil/.locks/${name}`).length, 0, "never fetched");
    const lockDir = join(root, "reports", "resilient-sync", ".locks");
    const state = await readdir(lockDir).catch((): string[] => []);
    assert.ok(!state.includes(name), `no circuit planted: ${state.join(", ")}`);

    const next = await runCli([server.url("/good.bin"), "--json"], { env });
    assert.equal(next.code, 0, next.stderr.slice(-2000));

    // A plain source whose --destination lies in the lock dir is refused the same way.
    const direct = await runCli(
      ["--source-url", server.url("/good.bin"), "--destination", join(lockDir, name), "--json"],
      { env },
    );
    assert.equal(direct.code, 70, direct.stderr.slice(-2000));
    assert.match(String(findLog(direct, "synchronization failed")?.reason), /inside the lock dir/);

    // And a local directory named .locks, which lands there by default too.
    const local = join(root, "src", ".locks");
    await mkdir(local, { recursive: true });
    await writeFile(join(local, name), JSON.stringify(forged));
    const folder = await runCli([local, "--json"], { env });
    assert.equal(folder.code, 70, folder.stderr.slice(-2000));
    assert.match(String(findLog(folder, "synchronization failed")?.reason), /inside the lock dir/);
    assert.ok(!(await readdir(lockDir)).includes(name), "no circuit planted from a local folder");
  });
});
