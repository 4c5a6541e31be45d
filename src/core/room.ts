/** Whether a body fits: `--max-filesize`, and the free space where the part is written. */
import { SyncError } from "../errors.js";
import type { OpenResult } from "../sources/source.js";
import type { AttemptContext } from "./attempt.js";

type Body = Extract<OpenResult, { kind: "body" }>;

/**
 * Fails at once, before any byte is written, when the body's size is known and the destination's
 * filesystem has less room than that (instead of transferring until ENOSPC).
 */
export async function checkSpace(
  context: AttemptContext,
  total: number | undefined,
  needed: number | undefined,
): Promise<void> {
  if (context.maxFileBytes !== undefined && total !== undefined && total > context.maxFileBytes)
    throw tooLarge(context, total);
  if (needed === undefined || !context.freeBytes) return;
  const free = await context.freeBytes();
  if (free === undefined || free >= needed) return;
  throw new SyncError(
    "write_error",
    `not enough space for ${context.display ?? "the source"}: ${needed} bytes needed, ${free} bytes free where it is written`,
  );
}

/** The whole file's size, when the answer says it (a 206's Content-Range, or offset + length). */
export function totalOf(opened: Body): number | undefined {
  return (
    opened.validators.size ??
    (opened.length === undefined ? undefined : opened.offset + opened.length)
  );
}

/** The failure of a body larger than `--max-filesize`. */
export function tooLarge(
  context: Pick<AttemptContext, "display" | "maxFileBytes">,
  bytes: number,
): SyncError {
  return new SyncError(
    "write_error",
    `${context.display ?? "the source"} is larger than --max-filesize (${context.maxFileBytes} bytes): ${bytes} bytes or more`,
  );
}
