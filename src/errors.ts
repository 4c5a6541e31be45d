/**
 * The stable failure codes of the results document (README, "Results document"). Scripts branch on them;
 * never rename one.
 */
export type FailureCode =
  | "not_found"
  | "http_error"
  | "network"
  | "timeout"
  | "checksum_mismatch"
  | "circuit_open"
  | "write_error"
  | "invalid_source"
  | "deadline"
  /** A fleet job BullMQ gave up on: its workers kept dying, or it could not be run. */
  | "worker_lost";

export interface SyncErrorOptions {
  /** Whether another attempt may succeed (network errors, timeouts, 408/425/429/5xx). */
  retryable?: boolean;
  /** HTTP status that caused the failure, when there was one. */
  status?: number;
  /** Server-requested delay before the next attempt (from `Retry-After`), in milliseconds. */
  retryAfterMs?: number;
  /** The partial data already received cannot be resumed and must be discarded. */
  discardPartial?: boolean;
  /** The origin asked to slow down (429, or 503 with `Retry-After`): alive, not failing. */
  throttled?: boolean;
  /**
   * No connection to the origin could be made (refused, unreachable, connect timeout, a name
   * that did not resolve for now), or a gateway said it could not reach it (502, 504): the way
   * to the origin is down, which says nothing of the origin itself.
   */
  unreachable?: boolean;
  /**
   * The proxy the request went through could not be reached: it says nothing of the origin, so
   * it never counts against the origin's circuit (a proxy restart would otherwise shut out every
   * origin behind it for `--circuit-ttl`).
   */
  atProxy?: boolean;
  cause?: unknown;
}

/**
 * A failure of one source's transfer. `code` is stable and machine-readable; `message` is for
 * people and is always free of secrets (callers redact URLs before building it).
 */
export class SyncError extends Error {
  override readonly name = "SyncError";
  readonly code: FailureCode;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly discardPartial: boolean;
  readonly throttled: boolean;
  readonly unreachable: boolean;
  readonly atProxy: boolean;

  constructor(code: FailureCode, message: string, options: SyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? false;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.discardPartial = options.discardPartial ?? false;
    this.throttled = options.throttled ?? false;
    this.unreachable = options.unreachable ?? false;
    this.atProxy = options.atProxy ?? false;
  }
}

/** Invalid arguments or options: refused before any work (exit 64). */
export class UsageError extends Error {
  override readonly name = "UsageError";
  /** The argument or option at fault, as the user wrote it (`--timeout`, `SOURCE`, …). */
  readonly argument: string;
  /** The log message: `unknown argument` for an unknown option, `invalid argument` otherwise. */
  readonly kind: "unknown argument" | "invalid argument";

  constructor(
    argument: string,
    message: string,
    kind: "unknown argument" | "invalid argument" = "invalid argument",
  ) {
    super(message);
    this.argument = argument;
    this.kind = kind;
  }
}

/** The machine cannot run a sync: runtime too old, lock dir not writable (exit 42). */
export class EnvironmentError extends Error {
  override readonly name = "EnvironmentError";
  readonly check: string;

  constructor(check: string, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.check = check;
  }
}

/** The error code of a Node.js system or library error (`ENOENT`, `UND_ERR_SOCKET`, …), if any. */
export function errorCodeOf(error: unknown): string | undefined {
  if (typeof error === "object" && error !== null && "code" in error) {
    const code = (error as { code: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

/** Filesystem error codes that mean the destination cannot be written (exit 73). */
const WRITE_ERROR_CODES = new Set([
  "EACCES",
  "EPERM",
  "EROFS",
  "ENOSPC",
  "EDQUOT",
  "EFBIG",
  "EISDIR",
  "ENOTDIR",
  "EEXIST",
  "ENAMETOOLONG",
  "EMLINK",
  "EXDEV",
  "EBUSY",
]);

/** Wraps a failure to write the destination side (temp file, fsync, rename) as `write_error`. */
export function writeError(action: string, path: string, cause: unknown): SyncError {
  const code = errorCodeOf(cause);
  const known = code !== undefined && WRITE_ERROR_CODES.has(code);
  const detail = code ?? (cause instanceof Error ? cause.message : String(cause));
  return new SyncError("write_error", `cannot ${action} ${path}: ${detail}`, {
    cause,
    // An unknown I/O error (EIO …) may pass; permissions, a full disk or a directory in the way will not.
    retryable: !known,
  });
}
