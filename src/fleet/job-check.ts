/**
 * What a worker checks before it runs a job taken off the queue. Whoever can write to the
 * queue's Redis chooses what workers fetch and where they write (docs/scaling.md): this refuses
 * malformed jobs (another version's, a hand-written one) before they reach the core, not a
 * hostile Redis.
 */
import { relative, resolve } from "node:path";
import { CHECKSUM_ALGORITHMS, checksumAlgorithmForLength } from "../checksums/digest.js";
import type { JobSpec } from "../core/spec.js";
import type { FailureCode } from "../errors.js";
import type { FleetJob } from "./queue.js";

const FAILURE_CODES = Object.keys({
  not_found: true,
  http_error: true,
  network: true,
  timeout: true,
  checksum_mismatch: true,
  circuit_open: true,
  write_error: true,
  invalid_source: true,
  deadline: true,
  worker_lost: true,
} satisfies Record<FailureCode, true>);

const isAlgorithm = (value: unknown): boolean =>
  typeof value === "string" && (CHECKSUM_ALGORITHMS as readonly string[]).includes(value);
const isCount = (value: unknown, min: number): boolean =>
  Number.isSafeInteger(value) && (value as number) >= min;
const isDuration = (value: unknown): boolean =>
  typeof value === "number" && Number.isFinite(value) && value >= 0;
/** An absolute path already in its plain form: no `..`, `.`, `//` or trailing `/` to reinterpret. */
const isAbsolute = (value: unknown): value is string =>
  typeof value === "string" &&
  value.startsWith("/") &&
  !value.includes("\0") &&
  resolve(value) === value;

/** Why `data` is not a job this version can run, or undefined when it is. */
export function problemOf(data: unknown): string | undefined {
  if (typeof data !== "object" || data === null) return "the job is not an object";
  const { batch, index, spec } = data as Partial<FleetJob>;
  if (typeof batch !== "string" || !isCount(index, 0)) return "no batch or index";
  if (typeof spec !== "object" || spec === null) return "no job spec";
  return sourceProblem(spec.source) ?? specProblem(spec);
}

function sourceProblem(source: Partial<JobSpec["source"]> | undefined): string | undefined {
  if (
    typeof source !== "object" ||
    source === null ||
    (source.kind !== "http" && source.kind !== "file") ||
    typeof source.href !== "string" ||
    typeof source.display !== "string" ||
    typeof source.origin !== "string" ||
    (source.within !== undefined && typeof source.within !== "string")
  )
    return "the job's source is malformed";
  // A relative path would be read from the worker's own working folder, whatever it is.
  if (source.kind === "file" && !isAbsolute(source.href))
    return "the job's source is not an absolute path";
  if (source.kind === "http" && !/^https?:\/\//i.test(source.href))
    return "the job's source is not an http(s) URL";
  return undefined;
}

function specProblem(spec: JobSpec): string | undefined {
  if (!isAbsolute(spec.destination)) return "the job's destination is not an absolute path";
  if (spec.destinationWithin !== undefined) {
    if (!isAbsolute(spec.destinationWithin))
      return "the job's destination folder is not an absolute path";
    const inside = relative(spec.destinationWithin, spec.destination);
    if (inside === "" || inside === ".." || inside.startsWith("../"))
      return "the job's destination is outside its destination folder";
  }
  if (
    spec.folderModes !== undefined &&
    !(
      Array.isArray(spec.folderModes) &&
      spec.folderModes.every((mode) => Number.isInteger(mode) && mode >= 0 && mode <= 0o777)
    )
  )
    return "the job's folder modes are malformed";
  if (!isCount(spec.maxAttempts, 1)) return "the job's attempts are malformed";
  if (!isAlgorithm(spec.algorithm)) return "the job's checksum algorithm is unknown";
  if (spec.expected !== undefined) {
    const { algorithm, hex } = (spec.expected ?? {}) as Partial<NonNullable<JobSpec["expected"]>>;
    if (
      !isAlgorithm(algorithm) ||
      typeof hex !== "string" ||
      !/^[0-9a-f]+$/.test(hex) ||
      (algorithm !== "blake3" && checksumAlgorithmForLength(hex.length) !== algorithm) ||
      (algorithm === "blake3" && hex.length !== 64)
    )
      return "the job's expected checksum is malformed";
  }
  if (!isDuration(spec.retryMaxTimeMs) || !isDuration(spec.waitLockMs))
    return "the job's time limits are malformed";
  if (typeof spec.force !== "boolean") return "the job's force flag is malformed";
  if (spec.maxFileBytes !== undefined && !isCount(spec.maxFileBytes, 0))
    return "the job's size limit is malformed";
  if (spec.split !== undefined && !isCount(spec.split, 1)) return "the job's split is malformed";
  if (spec.invalid !== undefined) {
    const { code, message } = (spec.invalid ?? {}) as Partial<NonNullable<JobSpec["invalid"]>>;
    if (typeof code !== "string" || !FAILURE_CODES.includes(code) || typeof message !== "string")
      return "the job's refusal is malformed";
  }
  return undefined;
}
