import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { errorCodeOf, SyncError } from "../errors.js";
import type { OpenRequest, OpenResult, Source } from "./source.js";

/**
 * A local file. Its version is its size and mtime: unchanged ones are answered `not-modified`
 * without reading a byte, and a resume continues from the offset only while both still match.
 */
export class FileSource implements Source {
  readonly #path: string;

  constructor(path: string) {
    this.#path = path;
  }

  async open(request: OpenRequest): Promise<OpenResult> {
    const info = await stat(this.#path).catch((error: unknown) => {
      throw this.describeError(error);
    });
    if (!info.isFile()) {
      throw new SyncError("invalid_source", `${this.#path} is not a regular file`);
    }
    const validators = { size: info.size, mtimeMs: info.mtimeMs };
    const same = (v: { size?: number; mtimeMs?: number } | undefined) =>
      v !== undefined && v.size === info.size && v.mtimeMs === info.mtimeMs;
    if (same(request.unchangedIf)) return { kind: "not-modified" };
    const offset =
      request.offset > 0 && request.offset <= info.size && same(request.resumeIf)
        ? request.offset
        : 0;
    const body = createReadStream(this.#path, {
      start: offset,
      highWaterMark: 1 << 20,
      signal: request.signal,
    });
    return {
      kind: "body",
      body,
      offset,
      length: info.size - offset,
      validators,
      stated: [],
      mode: info.mode & 0o777,
    };
  }

  async check(unchangedIf: OpenRequest["unchangedIf"]): Promise<"unchanged" | "changed"> {
    const info = await stat(this.#path).catch((error: unknown) => {
      throw this.describeError(error);
    });
    if (!info.isFile())
      throw new SyncError("invalid_source", `${this.#path} is not a regular file`);
    return unchangedIf?.size === info.size && unchangedIf.mtimeMs === info.mtimeMs
      ? "unchanged"
      : "changed";
  }

  describeError(error: unknown): SyncError {
    if (error instanceof SyncError) return error;
    const code = errorCodeOf(error);
    if (code === "ENOENT" || code === "ENOTDIR") {
      return new SyncError("not_found", `${this.#path}: no such file`, { cause: error });
    }
    if (code === "EACCES" || code === "EPERM" || code === "EISDIR") {
      return new SyncError("invalid_source", `${this.#path}: cannot read (${code})`, {
        cause: error,
      });
    }
    // EIO, EMFILE, a file truncated while read …: worth another attempt.
    return new SyncError("network", `${this.#path}: read failed (${code ?? String(error)})`, {
      cause: error,
      retryable: true,
    });
  }
}
