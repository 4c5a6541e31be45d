/**
 * The names resilient-sync gives its own files beside a destination, and how to recognise them:
 * part files (`.<name>.<16 hex>.resilient-sync.part`) and lock files
 * (`.resilient-sync-<24 hex>.lock`). Never synced as data, never accepted as a destination.
 */
import { randomBytes } from "node:crypto";

export const PART_SUFFIX = ".resilient-sync.part";
const LOCK = /^\.resilient-sync-[0-9a-f]{24}\.lock(\.break)?$/;
/** Room left in a 255-byte name for the destination's own name, after the dot, the random part and the suffix. */
const PREFIX_BYTES = 255 - 1 - 1 - 16 - PART_SUFFIX.length;

/**
 * Random bytes for part names, drawn from the system's generator 4 KiB at a time: one call per
 * 512 names instead of one per name (~14 µs each here, 1 % of a batch of small files' CPU).
 * Each name's bytes are used once.
 */
const randomPool = { bytes: Buffer.alloc(0), at: 0 };
function randomHex8(): string {
  if (randomPool.at + 8 > randomPool.bytes.length) {
    randomPool.bytes = randomBytes(4096);
    randomPool.at = 0;
  }
  const hex = randomPool.bytes.toString("hex", randomPool.at, randomPool.at + 8);
  randomPool.at += 8;
  return hex;
}

/** A new, unpredictable part-file name for `name`, within 255 bytes whatever `name`'s length. */
export function newPartName(name: string): string {
  return `.${truncateUtf8(name, PREFIX_BYTES)}.${randomHex8()}${PART_SUFFIX}`;
}

/**
 * Whether `partName` is a part-file name that `newPartName(name)` could have made: a plain name
 * (no `/`), in this folder, for this destination. A record naming anything else is forged.
 */
export function isPartNameFor(partName: string, name: string): boolean {
  const prefix = `.${truncateUtf8(name, PREFIX_BYTES)}.`;
  return (
    partName.startsWith(prefix) &&
    /^[0-9a-f]{16}$/.test(partName.slice(prefix.length, prefix.length + 16)) &&
    partName.length === prefix.length + 16 + PART_SUFFIX.length &&
    partName.endsWith(PART_SUFFIX)
  );
}

/**
 * Whether `name`'s parts carry it whole: a name cut to fit 255 bytes shares its parts' prefix
 * with every other name cut the same way, so such parts cannot be told apart by name.
 */
export function partNamesAreExact(name: string): boolean {
  return Buffer.byteLength(name) <= PREFIX_BYTES;
}

/** Whether a file name is one of ours (a part or a lock), not data. */
export function isOwnFileName(name: string): boolean {
  return name.endsWith(PART_SUFFIX) || LOCK.test(name);
}

/**
 * Whether `name` holds a control character: C0, DEL or C1 (U+0080–U+009F, among them U+009B, the
 * one-character CSI some terminals obey when `ls` prints the name). Such a name could corrupt
 * logs, terminals and folders; wget's `--restrict-file-names=unix` escapes the same ranges.
 */
export function hasControlCharacter(name: string): boolean {
  for (let at = 0; at < name.length; at += 1) {
    const code = name.charCodeAt(at);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return true;
  }
  return false;
}

/** The longest name a file may have on the filesystems we write to (ext4, xfs, btrfs, APFS, NTFS …). */
export const MAX_NAME_BYTES = 255;

/** Whether `name` is longer than a file name may be (`MAX_NAME_BYTES` of UTF-8). */
export function isNameTooLong(name: string): boolean {
  return Buffer.byteLength(name) > MAX_NAME_BYTES;
}

/** The longest prefix of `text` of at most `bytes` UTF-8 bytes that ends on a character boundary. */
function truncateUtf8(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let out = "";
  let used = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (used + size > bytes) break;
    out += char;
    used += size;
  }
  return out;
}
