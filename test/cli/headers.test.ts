/**
 * Request headers kept out of argv (where `ps` shows them to every user): `--header @FILE` reads
 * them from a file, one a line (curl's form), and `$RESILIENT_SYNC_HEADER` from the environment.
 * They are sent, and never logged.
 */
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli, singlePair } from "../helpers/cli.js";
import { bytes, useTestServer } from "../helpers/server.js";
import { tempDir } from "../helpers/tmp.js";

const server = useTestServer();

describe("headers from a file or the environment", () => {
  test("--header @FILE sends every header of the file, and logs none of their values", async (t) => {
    const dir = await tempDir(t);
    server.route("/h.bin", { body: bytes(100, 71), script: [{ kind: "status", status: 404 }] });
    const file = join(dir, "headers.txt");
    await writeFile(
      file,
      "# credentials for the data host\nAuthorization: Bearer FILEBORNESECRET\n\nX-Team: ingest\r\n",
      { mode: 0o600 },
    );
    const result = await runCli(
      singlePair(server.url("/h.bin"), dir, "h.bin", "--header", `@${file}`, "--json"),
    );
    assert.equal(result.code, 70, result.stderr);
    const sent = server.requestsFor("/h.bin")[0]?.headers;
    assert.equal(sent?.authorization, "Bearer FILEBORNESECRET");
    assert.equal(sent?.["x-team"], "ingest");
    assert.ok(!(result.stdout + result.stderr).includes("FILEBORNESECRET"), "the value leaked");
  });

  test("$RESILIENT_SYNC_HEADER adds its headers (one a line) to those of --header", async (t) => {
    const dir = await tempDir(t);
    server.route("/e.bin", { body: bytes(100, 72), script: [{ kind: "status", status: 404 }] });
    const result = await runCli(
      singlePair(server.url("/e.bin"), dir, "e.bin", "--header", "X-Given: on-the-line"),
      { env: { RESILIENT_SYNC_HEADER: "Authorization: Bearer ENVBORNESECRET\nX-More: yes" } },
    );
    assert.equal(result.code, 70, result.stderr);
    const sent = server.requestsFor("/e.bin")[0]?.headers;
    assert.equal(sent?.authorization, "Bearer ENVBORNESECRET");
    assert.equal(sent?.["x-more"], "yes");
    assert.equal(sent?.["x-given"], "on-the-line");
    assert.ok(!(result.stdout + result.stderr).includes("ENVBORNESECRET"), "the value leaked");
  });

  for (const [what, content, pattern] of [
    [
      "a header file that does not exist",
      undefined,
      /--header @.*missing\.txt: the file cannot be read: ENOENT/,
    ],
    [
      "a malformed line in the header file",
      "Authorization Bearer NOCOLONSECRET\n",
      /--header must be .*Name: value/,
    ],
    [
      "a line whose name part holds the secret (Key=SECRET:…)",
      "X-Api-Key=NOCOLONSECRET:rest\n",
      /--header must be .*Name: value/,
    ],
  ] as const) {
    test(`${what}: exit 64, named, nothing written, no value shown`, async (t) => {
      const dir = await tempDir(t);
      const file = join(dir, "missing.txt");
      if (content !== undefined) await writeFile(file, content);
      const result = await runCli(
        singlePair(server.url("/never.bin"), dir, "out/never.bin", "--header", `@${file}`),
      );
      assert.equal(result.code, 64, result.stderr);
      assert.match(result.stderr, pattern);
      assert.ok(!result.stderr.includes("NOCOLONSECRET"));
      assert.deepEqual(
        (await readdir(dir)).filter((name) => name !== "missing.txt"),
        [],
      );
      assert.equal(server.requestsFor("/never.bin").length, 0);
    });
  }

  test('the library takes "Name: value" strings only: an @FILE value is refused, never read and sent', async (t) => {
    const dir = await tempDir(t);
    const { sync } = await import("../../src/index.js");
    const file = join(dir, "headers.txt");
    await writeFile(file, "X-Read: NEVERSENT\n");
    await assert.rejects(
      sync({
        sourceUrl: server.url("/lib.bin"),
        destination: join(dir, "out", "lib.bin"),
        lockDir: join(dir, "locks"),
        header: [`@${file}`],
      }),
      (error: Error) => error.name === "UsageError" && /--header must be/.test(error.message),
    );
    assert.equal(server.requestsFor("/lib.bin").length, 0);
  });
});
