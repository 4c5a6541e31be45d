import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { listFiles, tempDir } from "../helpers/tmp.js";

const HEX64 = "a".repeat(64);

/** [case, argv, the argument the error must name, expected message] */
const BAD_INPUT: Array<[string, string[], string, string?]> = [
  ["unknown option", ["--frobnicate"], "--frobnicate", "unknown argument"],
  ["unknown short option", ["-Z"], "-Z", "unknown argument"],
  ["a NUL in a file URL", ["file:///tmp/a%00b"], "SOURCE"],
  ["a NUL in --source-url", ["--source-url", "file:///tmp/a%00b"], "--source-url"],
  ["missing value at the end", ["--timeout"], "--timeout"],
  ["missing value before another option", ["--destination", "--force"], "--destination"],
  ["non-numeric retries", ["--max-retries", "five"], "--max-retries"],
  ["fractional retries", ["--max-retries", "2.5"], "--max-retries"],
  ["zero retries", ["--max-retries", "0"], "--max-retries"],
  ["negative timeout", ["--timeout", "-1"], "--timeout"],
  ["zero timeout", ["--timeout", "0"], "--timeout"],
  ["timeout finer than a millisecond", ["--timeout", "2.0005"], "--timeout"],
  ["a size that is not one", ["--max-filesize", "ten megs"], "--max-filesize"],
  ["a size of zero", ["--max-filesize", "0"], "--max-filesize"],
  ["a size with an unknown unit", ["--max-filesize", "5T"], "--max-filesize"],
  ["a rate of zero", ["--limit-rate", "0"], "--limit-rate"],
  ["a negative rate", ["--limit-rate", "-1M"], "--limit-rate"],
  ["a rate that is not one", ["--limit-rate", "abc"], "--limit-rate"],
  ["a rate with an unknown unit", ["--limit-rate", "1X"], "--limit-rate"],
  ["a rate below a byte a second", ["--limit-rate", "0.5"], "--limit-rate"],
  ["an empty rate", ["--limit-rate="], "--limit-rate"],
  ["wait finer than a millisecond", ["--wait-lock", "0.0001"], "--wait-lock"],
  ["non-numeric circuit ttl", ["--circuit-ttl", "soon"], "--circuit-ttl"],
  ["absurd deadline", ["--deadline", "1e9"], "--deadline"],
  ["zero threshold", ["--circuit-threshold", "0"], "--circuit-threshold"],
  ["zero workers", ["--max-workers", "0"], "--max-workers"],
  [
    "a worker's stall time below a second",
    ["worker", "--queue", "redis://127.0.0.1:9", "--stalled-after", "0.001"],
    "--stalled-after",
  ],
  ["zero connections", ["--split", "0"], "--split"],
  ["more connections than the pool holds", ["--split", "17"], "--split"],
  ["fractional connections", ["--split", "2.5"], "--split"],
  ["non-numeric connections", ["--split", "many"], "--split"],
  ["malformed URL", ["--source-url", "http://exa mple.com/x"], "--source-url"],
  ["URL without host", ["--source-url", "http://"], "--source-url"],
  ["unsupported scheme", ["--source-url", "ftp://example.com/data.csv"], "--source-url"],
  ["unsupported scheme as SOURCE", ["gopher://example.com/x.csv"], "SOURCE"],
  ["http URL with one slash", ["--source-url", "http:/127.0.0.1/a.csv"], "--source-url"],
  ["https URL without slashes", ["--source-url", "https:example.com/a.csv"], "--source-url"],
  ["ftp URL with one slash", ["ftp:/x/y.csv"], "SOURCE"],
  ["deadline beyond what a timer holds", ["--deadline", "3000000"], "--deadline"],
  ["a path option given an option as value", ["--destination", "-h"], "--destination"],
  ["malformed checksum", ["--checksum", "xyz"], "--checksum"],
  ["checksum of the wrong length", ["--checksum", "abc123"], "--checksum"],
  ["checksum with unknown algorithm", ["--checksum", `crc32:${HEX64}`], "--checksum"],
  ["unknown --checksum-algorithm", ["--checksum-algorithm", "sha3"], "--checksum-algorithm"],
  [
    "two different --checksum values for one source",
    ["one.csv", "--checksum", `sha256:${"0".repeat(64)}`, "--checksum", HEX64],
    "--checksum",
  ],
  [
    "--checksum values of two algorithms for one source",
    ["one.csv", "--checksum", `md5:${"0".repeat(32)}`, "--checksum", HEX64],
    "--checksum",
  ],
  [
    "--checksum SOURCE=HEX and HEX naming one source differently",
    ["one.csv", "--checksum", `one.csv=${"0".repeat(64)}`, "--checksum", `./one.csv=${HEX64}`],
    "--checksum",
  ],
  [
    "--checksum naming a remote directory spelled otherwise",
    ["http://127.0.0.1:9/d/", "--checksum", `HTTP://127.0.0.1:9/d/=${HEX64}`],
    "--checksum",
  ],
  ["an input list with no source in it", ["-i", "/dev/null"], "--input-file"],
  ["an input list from an empty stdin", ["-i", "-"], "--input-file"],
  [
    "a bare --checksum for a remote directory",
    ["http://127.0.0.1:9/d/", "--checksum", HEX64],
    "--checksum",
  ],
  ["--checksum naming a local directory", [".", "--checksum", `.=${HEX64}`], "--checksum"],
  ["unknown log level", ["--log-level", "verbose"], "--log-level"],
  ["value given to a flag", ["--force=yes"], "--force"],
  ["malformed header", ["--header", "no colon here"], "--header"],
  [
    "two sources mapped to one destination",
    ["http://127.0.0.1:9/a/data.csv", "http://127.0.0.1:9/b/data.csv"],
    "SOURCE",
  ],
  [
    "--destination with many sources",
    ["--destination", "x", "/a/one.csv", "/a/two.csv"],
    "--destination",
  ],
  ["-o naming a folder for one URL", ["http://127.0.0.1:9/a.csv", "-o", "out/"], "--destination"],
  ["-o naming a folder for one local file", ["one.csv", "-o", "out/"], "--destination"],
  [
    "-o naming a folder with /. for one URL",
    ["http://127.0.0.1:9/a.csv", "-o", "out/."],
    "--destination",
  ],
  [
    "-o naming a folder with /.. for one URL",
    ["http://127.0.0.1:9/a.csv", "-o", "out/.."],
    "--destination",
  ],
  ["-o naming the source itself", ["one.csv", "-o", "./one.csv"], "--destination"],
  [
    "--source-url and SOURCE together",
    ["--source-url", "/a/one.csv", "/a/two.csv"],
    "--source-url",
  ],
];

describe("bad input is refused before any work", () => {
  for (const [name, argv, argument, message] of BAD_INPUT) {
    test(`${name}: exit 64, one JSON error naming ${argument}, nothing written`, async (t) => {
      const dir = await tempDir(t);
      const result = await runCli(argv, { env: { REPO_ROOT: dir }, cwd: dir });
      assert.equal(result.code, 64, `exit ${result.code}: ${result.stdout}${result.stderr}`);
      assert.equal(result.stdout, "", "nothing on stdout");
      assert.equal(result.stderrLogs.length, 1, result.stderr);
      const [line] = result.stderrLogs;
      assert.equal(line?.level, "error");
      assert.equal(line?.message, message ?? "invalid argument");
      assert.equal(line?.argument, argument);
      assert.ok(
        String(line?.reason).includes(argument) || argument === "SOURCE",
        String(line?.reason),
      );
      assert.deepEqual(await listFiles(dir), [], "nothing written");
    });
  }
});

describe("input lists", () => {
  test("a URL followed by a # comment on its line is refused, not read as a name ending in a space", async (t) => {
    const dir = await tempDir(t);
    const lists = await tempDir(t);
    const { writeFile } = await import("node:fs/promises");
    const list = join(lists, "sources.txt");
    await writeFile(list, "# nightly\nhttp://127.0.0.1:9/a.csv   # the A feed\n");
    const result = await runCli(["-i", list], { env: { REPO_ROOT: dir }, cwd: dir });
    assert.equal(result.code, 64, result.stderr);
    assert.equal(result.stderrLogs[0]?.argument, "--input-file");
    assert.match(String(result.stderrLogs[0]?.reason), /a # comment must have a line of its own/);
    assert.deepEqual(await listFiles(dir), [], "nothing written");
  });
});

describe("negative numbers", () => {
  test("are values, refused for what they are, not taken for a missing value", async (t) => {
    const dir = await tempDir(t);
    for (const [argv, reason] of [
      [["--max-filesize", "-1"], /--max-filesize must be a size in bytes/],
      [["--limit-rate", "-1M"], /--limit-rate must be a rate/],
      [["--timeout", "-1"], /--timeout cannot be negative, got -1/],
      [["--max-retries", "-3"], /--max-retries cannot be negative, got -3/],
    ] as const) {
      const result = await runCli([...argv], { env: { REPO_ROOT: dir }, cwd: dir });
      assert.equal(result.code, 64, result.stderr);
      assert.match(String(result.stderrLogs[0]?.reason), reason);
    }
    assert.deepEqual(await listFiles(dir), [], "nothing written");
  });
});

describe("secrets in refused arguments", () => {
  test("a malformed URL's password and token never reach the error", async (t) => {
    const dir = await tempDir(t);
    for (const url of [
      "http://alice:S3cretPW@exa mple.com/f.csv?token=TOK123",
      "https://bob:S3cretPW@host:99999/f.csv?X-Amz-Signature=TOK123",
      "file://carol:S3cretPW@localhost/f.csv",
    ]) {
      const result = await runCli(["--source-url", url], { env: { REPO_ROOT: dir } });
      assert.equal(result.code, 64, url);
      const all = result.stdout + result.stderr;
      assert.ok(!all.includes("S3cretPW") && !all.includes("TOK123"), all);
    }
  });

  test("a --checksum naming a source not in the run keeps that URL's secrets out of the error", async (t) => {
    const dir = await tempDir(t);
    const result = await runCli(
      [
        "http://127.0.0.1:9/a.csv",
        "--checksum",
        `https://h/x.csv?private_token=TOK123#access_token=FRAG456=${HEX64}`,
      ],
      { env: { REPO_ROOT: dir } },
    );
    assert.equal(result.code, 64);
    const all = result.stdout + result.stderr;
    assert.match(all, /not being synced/);
    assert.ok(!all.includes("TOK123") && !all.includes("FRAG456"), all);
  });
});

describe("help and version", () => {
  test("--version prints the package version", async () => {
    const pkg = JSON.parse(
      await readFile(join(import.meta.dirname, "../../../package.json"), "utf8"),
    );
    const result = await runCli(["--version"]);
    assert.equal(result.code, 0);
    assert.equal(result.stdout.trim(), pkg.version);
  });

  test("--help and -h list every option", async () => {
    for (const flag of ["--help", "-h"]) {
      const result = await runCli([flag]);
      assert.equal(result.code, 0);
      for (const option of [
        "--source-url",
        "--destination",
        "--lock-dir",
        "--max-retries",
        "--timeout",
        "--circuit-ttl",
      ]) {
        assert.ok(result.stdout.includes(option), `${flag} mentions ${option}`);
      }
    }
  });
});
