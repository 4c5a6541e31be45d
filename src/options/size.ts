/** Sizes as curl writes them: bytes, or a number with a k, M or G suffix (powers of 1024). */
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
