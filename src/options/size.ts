/** Sizes and rates as curl writes them: bytes, or a number with a k, M or G suffix (powers of 1024). */
import { UsageError } from "../errors.js";

const UNITS: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** `SIZE` as bytes; `UsageError` naming `flag` when it is not a size. */
export function parseSize(value: string, flag: string): number {
  const match = /^(\d+)([kKmMgG]?)$/.exec(value.trim());
  const bytes = match
    ? Number(match[1]) * (UNITS[(match[2] as string).toLowerCase()] as number)
    : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new UsageError(
      flag,
      `${flag} must be a size in bytes (as 1048576, 512k, 10M or 2G), got ${JSON.stringify(value)}`,
    );
  }
  return bytes;
}

/**
 * `RATE` as whole bytes per second, at least 1: a number of bytes, or a string of one with an
 * optional k, M or G suffix and decimals (`200k`, `1.5M`), as curl's `--limit-rate`. A library
 * caller may pass the number itself. `UsageError` naming `flag` for anything else (0, negative,
 * `abc`, `1X`).
 */
export function parseRate(value: number | string, flag: string): number {
  let bytes = Number.NaN;
  if (typeof value === "number") bytes = value;
  else {
    const match = /^(\d+(?:\.\d+)?|\.\d+)([kKmMgG]?)$/.exec(value.trim());
    if (match) bytes = Number(match[1]) * (UNITS[(match[2] as string).toLowerCase()] as number);
  }
  // Whole bytes: a fraction of a byte per second is no limit anyone means, and 0 would stop all.
  bytes = Math.floor(bytes);
  if (!Number.isSafeInteger(bytes) || bytes < 1) {
    throw new UsageError(
      flag,
      `${flag} must be a rate in bytes per second of at least 1 (as 200k, 1M, 1.5M or 1G; 1024-based), got ${JSON.stringify(value)}`,
    );
  }
  return bytes;
}
