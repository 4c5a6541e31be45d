/**
 * BLAKE3 (`--checksum-algorithm blake3`), from the native package `@napi-rs/blake-hash`: 2–3 times
 * the speed of SHA-256 on this kind of machine (it hashes 64 KiB reads at ~4 GB/s where SHA-256
 * with the CPU's SHA extensions reaches ~1.7), which is what lets a large transfer keep up with
 * the network on one core. It is an optional dependency with prebuilt binaries: where none exists
 * for the platform, blake3 is refused as an option (exit 64) and every other algorithm works.
 * Loaded on first use only, so that runs that do not ask for it never load it. Pinned to 1.3.4:
 * 1.3.6 names platform packages that were never published for most platforms, which makes
 * `npm ci` refuse the lock file.
 */
import { createRequire } from "node:module";

/** What the native hasher offers that we use. */
interface NativeBlake3 {
  update(input: Buffer): unknown;
  digest(format: "hex"): string;
}

let loaded: { Blake3Hasher: new () => NativeBlake3 } | null | undefined;

function load(): { Blake3Hasher: new () => NativeBlake3 } | null {
  if (loaded === undefined) {
    try {
      loaded = createRequire(import.meta.url)("@napi-rs/blake-hash");
    } catch {
      loaded = null;
    }
  }
  return loaded ?? null;
}

/** Whether BLAKE3 can be computed here (the optional package and its binary are installed). */
export function blake3Available(): boolean {
  return load() !== null;
}

/** A new BLAKE3 hasher (32-byte digest, as `b3sum`); throws when `blake3Available()` is false. */
export function newBlake3(): NativeBlake3 {
  const native = load();
  if (!native) throw new Error("BLAKE3 is not available: @napi-rs/blake-hash is not installed");
  return new native.Blake3Hasher();
}
