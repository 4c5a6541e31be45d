/**
 * TLS and netrc: an https origin with a self-signed certificate (made by openssl), one that
 * demands a client certificate, and credentials from a netrc file that never follow a redirect
 * to another host. Skipped, saying why, where openssl is missing (`.ci/run` installs it).
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import { join } from "node:path";
import { describe, test } from "node:test";
import { findLog, runCli } from "../helpers/cli.js";
import {
  hasOpenssl,
  httpsOrigin,
  listen,
  noProxyEnv,
  selfSigned,
  serveIf,
  singlePair,
  synced,
} from "../helpers/origins.js";
import { tempDir } from "../helpers/tmp.js";

describe("TLS", { skip: hasOpenssl ? false : "openssl is not installed" }, () => {
  test("a self-signed origin: refused by default, trusted with --cacert, --insecure warns every run", async (t) => {
    const dir = await tempDir(t);
    const origin = await httpsOrigin(t, dir);
    const refused = await runCli(singlePair(origin.url, dir, "refused.bin"), { env: noProxyEnv });
    assert.equal(refused.code, 70);
    assert.match(String(findLog(refused, "download failed")?.reason), /certificate/i);
    const trusted = await runCli(singlePair(origin.url, dir, "data.bin", "--cacert", origin.ca), {
      env: noProxyEnv,
    });
    assert.equal(trusted.code, 0, trusted.stderr);
    assert.ok(await synced(dir));
    const insecure = await runCli(singlePair(origin.url, dir, "insecure.bin", "--insecure"), {
      env: noProxyEnv,
    });
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.ok(findLog(insecure, "TLS certificates not verified"));
  });

  test("a client certificate with --cert and --key", async (t) => {
    const dir = await tempDir(t);
    const client = selfSigned(dir, "client");
    const origin = await httpsOrigin(t, dir, client.cert);
    const without = await runCli(
      singlePair(origin.url, dir, "without.bin", "--cacert", origin.ca),
      {
        env: noProxyEnv,
      },
    );
    assert.notEqual(without.code, 0, "the origin demands a client certificate");
    const withCert = await runCli(
      singlePair(
        origin.url,
        dir,
        "data.bin",
        "--cacert",
        origin.ca,
        "--cert",
        client.cert,
        "--key",
        client.key,
      ),
      { env: noProxyEnv },
    );
    assert.equal(withCert.code, 0, withCert.stderr);
    assert.ok(await synced(dir));
  });

  test("a --cacert, --cert or --netrc-file that is missing or unfit: exit 64, named, nothing written", async (t) => {
    const dir = await tempDir(t);
    await writeFile(join(dir, "not.pem"), "hello");
    await writeFile(join(dir, "bad.netrc"), "machine h login u password p stray\n");
    for (const [flag, file] of [
      ["--cacert", join(dir, "missing.pem")],
      ["--cacert", join(dir, "not.pem")],
      ["--cert", join(dir, "not.pem")],
      ["--netrc-file", join(dir, "missing.netrc")],
      ["--netrc-file", join(dir, "bad.netrc")],
    ] as const) {
      const result = await runCli(singlePair("https://127.0.0.1:9/x", dir, "out/x", flag, file));
      assert.equal(result.code, 64, `${flag} ${file}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(flag));
      assert.ok(!result.stderr.includes("stray"), "a netrc word is never shown");
    }
    assert.ok(!existsSync(join(dir, "out")), "nothing written");
  });
});

describe("netrc", () => {
  test("--netrc-file sends the host's credentials, and never to another host after a redirect", async (t) => {
    const dir = await tempDir(t);
    const seen: Array<{ host: string; authorization: string | undefined }> = [];
    const expected = `Basic ${Buffer.from("bob:NETRCSECRET7").toString("base64")}`;
    const other = createServer((req, res) => {
      seen.push({ host: "localhost", authorization: req.headers.authorization });
      serveIf(() => true)(req, res);
    });
    const otherPort = await listen(t, other);
    const origin = createServer((req, res) => {
      seen.push({ host: "127.0.0.1", authorization: req.headers.authorization });
      if (req.headers.authorization !== expected) {
        res.writeHead(401).end();
        return;
      }
      if (req.url === "/moved") {
        res.writeHead(302, { location: `http://localhost:${otherPort}/data.bin` }).end();
        return;
      }
      serveIf(() => true)(req, res);
    });
    const port = await listen(t, origin);
    const netrc = join(dir, "netrc");
    await writeFile(netrc, "# test\nmachine 127.0.0.1 login bob password NETRCSECRET7\n", {
      mode: 0o600,
    });
    const result = await runCli(
      singlePair(`http://127.0.0.1:${port}/data.bin`, dir, "data.bin", "--netrc-file", netrc),
      { env: noProxyEnv },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.ok(await synced(dir));
    const moved = await runCli(
      singlePair(`http://127.0.0.1:${port}/moved`, dir, "moved.bin", "--netrc-file", netrc),
      { env: noProxyEnv },
    );
    assert.equal(moved.code, 0, moved.stderr);
    assert.deepEqual(
      seen.filter((s) => s.host === "localhost").map((s) => s.authorization),
      [undefined],
      "the other host got no credentials",
    );
    assert.ok(!(result.stderr + moved.stderr).includes("NETRCSECRET7"));
  });
});
