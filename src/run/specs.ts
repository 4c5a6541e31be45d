/**
 * Planned pairs → `JobSpec`s. The specs carry no secrets: URL userinfo is taken out here and
 * kept, per URL, for the runtime's http driver (`SourceCredentials`), which puts it back only
 * when it opens that very URL.
 */
import type { JobSpec } from "../core/spec.js";
import type { ResolvedOptions } from "../options/normalize.js";
import type { PlannedPair } from "./plan.js";

/** Credential-free URL → the URL as given, with its userinfo. */
export type SourceCredentials = Map<string, string>;

export function jobSpecOf(pair: PlannedPair, options: ResolvedOptions): JobSpec {
  const { source } = pair;
  return {
    source: {
      kind: source.kind,
      href: source.kind === "http" ? withoutUserinfo(source.href) : source.href,
      display: source.display,
      origin: source.origin,
      ...(pair.within ? { within: pair.within } : {}),
    },
    destination: pair.destination,
    ...(pair.destinationWithin ? { destinationWithin: pair.destinationWithin } : {}),
    ...(pair.folderModes ? { folderModes: pair.folderModes } : {}),
    algorithm: options.algorithm,
    ...(pair.expected ? { expected: pair.expected } : {}),
    maxAttempts: options.maxAttempts,
    retryMaxTimeMs: options.retryMaxTimeMs,
    force: options.force,
    waitLockMs: options.waitLockMs,
    ...(options.maxFileBytes === undefined ? {} : { maxFileBytes: options.maxFileBytes }),
    ...(options.split > 1 ? { split: options.split } : {}),
    ...(pair.invalid
      ? { invalid: { code: pair.invalid.code, message: pair.invalid.message } }
      : {}),
  };
}

/** The userinfo of every http source that has one, keyed by its credential-free URL. */
export function credentialsOf(pairs: readonly PlannedPair[]): SourceCredentials {
  const credentials: SourceCredentials = new Map();
  for (const { source } of pairs) {
    if (source.kind !== "http") continue;
    const bare = withoutUserinfo(source.href);
    if (bare !== source.href) credentials.set(bare, source.href);
  }
  return credentials;
}

/** `href` without its user and password (unchanged when it has none). */
export function withoutUserinfo(href: string): string {
  // A URL without `@` has no userinfo: no parse for it (one per pair of every run).
  if (!href.includes("@")) return href;
  const url = new URL(href);
  if (url.username === "" && url.password === "") return href;
  url.username = "";
  url.password = "";
  return url.href;
}
