/**
 * The package as users get it: `npm pack` from a copy of the repository with no dist/ (the build
 * runs in `prepare`), installed into an empty folder, run with npx. This is the installed copy
 * for real (the package under node_modules): usage for a bare invocation, the working folder for
 * a source, the XDG state folder for the state.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { cp, mkdir, readdir, readFile, symlink } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const PROJECT = fileURLToPath(new URL("../../../", import.meta.url));
const server = useTestServer();

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(command, args, { cwd, env, encoding: "utf8", timeout: 240_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** The repository's tracked files (what a fresh clone has), without dist/. */
async function freshCopy(into: string): Promise<void> {
  const listed = run("git", ["ls-files", "-z"], PROJECT);
  assert.equal(listed.code, 0, listed.stderr);
  for (const file of listed.stdout.split("\0").filter(Boolean)) {
    await mkdir(join(into, file, ".."), { recursive: true });
    await cp(join(PROJECT, file), join(into, file));
  }
  // The build's tools (tsc, esbuild) as `npm ci` would have installed them.
  await symlink(join(PROJECT, "node_modules"), join(into, "node_modules"));
}

const GIT_SKIP =
  run("git", ["rev-parse", "--is-inside-work-tree"], PROJECT).code === 0
    ? false
    : "not a git checkout: the tracked files cannot be listed";

describe("the packed package", { skip: GIT_SKIP }, () => {
  test("npm pack builds it; installed from the tarball it runs as an installed copy", async (t) => {
    const dir = await tempDir(t);
    const copy = join(dir, "repo");
    await freshCopy(copy);
    const packed = run("npm", ["pack", "--silent", "--pack-destination", dir], copy);
    assert.equal(packed.code, 0, packed.stderr);
    const tarball = join(dir, packed.stdout.trim().split("\n").at(-1) as string);

    const listing = run("tar", ["tzf", tarball], dir).stdout.split("\n");
    for (const shipped of [
      "package/dist/cli/main.js",
      // Without it main.js is loaded as an ES module and fails at its first `require`.
      "package/dist/cli/package.json",
      // The hash thread of large transfers.
      "package/dist/cli/hash-thread.js",
      "package/dist/src/index.js",
      "package/dist/src/index.d.ts",
      "package/dist/man/resilient-sync.1",
      "package/dist/completions/resilient-sync.bash",
      "package/dist/completions/_resilient-sync",
      "package/schema/results.schema.json",
      "package/LICENSE",
      "package/README.md",
    ])
      assert.ok(listing.includes(shipped), `${shipped} is shipped`);
    assert.deepEqual(
      listing.filter((name) => name.endsWith(".map")),
      [],
      "no source map",
    );
    assert.deepEqual(
      listing.filter((name) => /^package\/(src|test|bench|dist\/test|dist\/bench)\//.test(name)),
      [],
      "no sources, tests or benches",
    );

    const app = join(dir, "app");
    const home = join(dir, "home");
    await mkdir(app);
    await mkdir(home);
    const installed = run(
      "npm",
      ["install", "--prefer-offline", "--no-audit", "--no-fund", "--no-save", tarball],
      app,
    );
    assert.equal(installed.code, 0, installed.stderr);
    const env = {
      ...process.env,
      // npx keeps a cache of its own: not in the home folder this test watches.
      npm_config_cache: join(dir, "npm-cache"),
      HOME: home,
      XDG_STATE_HOME: undefined,
      REPO_ROOT: undefined,
      RESILIENT_SYNC_INSTALLED: undefined,
    };
    const help = run("npx", ["--no-install", "resilient-sync", "--help"], app, env);
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^resilient-sync \d+\.\d+\.\d+: /);
    assert.doesNotMatch(help.stdout, /bundled sample/, "an installed copy offers no sample");

    const bare = run("npx", ["--no-install", "resilient-sync"], app, env);
    assert.equal(bare.code, 64, bare.stderr);
    assert.match(bare.stderr, /usage: resilient-sync/);
    assert.deepEqual(await readdir(home), [], "nothing written for a usage error");

    const body = bytes(20_000, 4);
    server.route("/packed/data.bin", { body });
    const work = join(dir, "work");
    await mkdir(work);
    const bin = join(app, "node_modules", ".bin", "resilient-sync");
    // Spawned, not spawnSync: the test server answers from this very process.
    const child = spawn(bin, [server.url("/packed/data.bin")], { cwd: work, env });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.stdout.resume();
    const [code] = (await once(child, "close")) as [number | null];
    const sync = { code, stderr };
    assert.equal(sync.code, 0, sync.stderr);
    assert.deepEqual(await readFile(join(work, "data.bin")), body);
    assert.deepEqual(await readdir(work), ["data.bin"]);
    assert.ok(
      (await readdir(join(home, ".local", "state", "resilient-sync"))).length > 0,
      "the state is in ~/.local/state/resilient-sync",
    );

    const exported = run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        'const p = await import("resilient-sync/package.json", { with: { type: "json" } }); const s = await import("resilient-sync/schema/results.schema.json", { with: { type: "json" } }); const lib = await import("resilient-sync"); console.log(p.default.version, s.default.$id, typeof lib.sync)',
      ],
      app,
    );
    assert.equal(exported.code, 0, exported.stderr);
    assert.match(exported.stdout, /^\d+\.\d+\.\d+ https:\/\/\S+results\.schema\.json function/);
  });
});
