/**
 * A worker refuses a job it cannot run safely before the core sees it: each field of a job as
 * another version or a hand-written job could get it wrong.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { problemOf } from "../../src/fleet/job-check.js";

const valid = () => ({
  batch: "b1",
  index: 0,
  spec: {
    source: {
      kind: "http",
      href: "http://127.0.0.1:1/a.bin",
      display: "http://127.0.0.1:1/a.bin",
      origin: "http://127.0.0.1:1",
    },
    destination: "/srv/out/a.bin",
    destinationWithin: "/srv/out",
    algorithm: "sha256",
    expected: { algorithm: "sha256", hex: "a".repeat(64) },
    maxAttempts: 3,
    retryMaxTimeMs: 0,
    force: false,
    waitLockMs: 0,
    maxFileBytes: 1024,
    split: 1,
    invalid: { code: "invalid_source", message: "unsafe name" },
  } as Record<string, unknown>,
});

test("a well-formed job passes", () => {
  assert.equal(problemOf(valid()), undefined);
  const bare = valid();
  for (const key of ["destinationWithin", "expected", "maxFileBytes", "split", "invalid"])
    delete bare.spec[key];
  assert.equal(problemOf(bare), undefined);
  const dotted = valid();
  dotted.spec.destination = "/srv/out/..name";
  assert.equal(problemOf(dotted), undefined, "a name starting with two dots is a name");
});

test("each malformed field is named", () => {
  const cases: [(job: ReturnType<typeof valid>) => void, RegExp][] = [
    [(job) => Object.assign(job, { index: -1 }), /no batch or index/],
    [(job) => Object.assign(job.spec, { source: { kind: "ftp" } }), /source is malformed/],
    [
      (job) =>
        Object.assign(job.spec, {
          source: { kind: "file", href: "data/a.bin", display: "data/a.bin", origin: "file://x" },
        }),
      /source is not an absolute path/,
    ],
    [
      (job) =>
        Object.assign(job.spec, {
          source: { kind: "http", href: "file:///etc/passwd", display: "x", origin: "x" },
        }),
      /source is not an http\(s\) URL/,
    ],
    [(job) => Object.assign(job.spec, { destination: "out/a.bin" }), /not an absolute path/],
    [
      (job) => Object.assign(job.spec, { destination: "/etc/passwd" }),
      /outside its destination folder/,
    ],
    [(job) => Object.assign(job.spec, { destination: "/srv/outside/a" }), /outside/],
    [(job) => Object.assign(job.spec, { destination: "/srv/out/../escaped/a" }), /absolute path/],
    [(job) => Object.assign(job.spec, { destination: "/srv/out/./a" }), /absolute path/],
    [(job) => Object.assign(job.spec, { destinationWithin: "/srv/out/../" }), /folder/],
    [(job) => Object.assign(job.spec, { destination: "/srv/out" }), /outside/],
    [(job) => Object.assign(job.spec, { algorithm: "crc32" }), /algorithm is unknown/],
    [
      (job) => Object.assign(job.spec, { expected: { algorithm: "sha256", hex: "abc" } }),
      /expected checksum/,
    ],
    [
      (job) => Object.assign(job.spec, { expected: { algorithm: "md5", hex: "a".repeat(64) } }),
      /expected checksum/,
    ],
    [
      (job) => Object.assign(job.spec, { expected: { algorithm: "sha256", hex: "Z".repeat(64) } }),
      /expected checksum/,
    ],
    [(job) => Object.assign(job.spec, { maxAttempts: 0 }), /attempts/],
    [(job) => Object.assign(job.spec, { retryMaxTimeMs: null }), /time limits/],
    [(job) => Object.assign(job.spec, { force: "yes" }), /force/],
    [(job) => Object.assign(job.spec, { maxFileBytes: -1 }), /size limit/],
    [(job) => Object.assign(job.spec, { split: 0 }), /split/],
    [(job) => Object.assign(job.spec, { invalid: { code: "oops", message: "x" } }), /refusal/],
  ];
  for (const [spoil, reason] of cases) {
    const job = valid();
    spoil(job);
    assert.match(problemOf(job) ?? "(accepted)", reason, spoil.toString());
  }
  assert.match(problemOf(null) ?? "", /not an object/);
});
