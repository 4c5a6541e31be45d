/**
 * The local folder each directory source is mirrored into, and the rule that no two directory
 * sources share one. `http://a/x/` and `http://b/x/` (or a local `x/` and a remote `x/`) would
 * both land in `<artifact-root>/x/`: their files would be poured together, and whether the run
 * then stopped (exit 64, two files on one path) or went through would depend on what the
 * servers happen to list. Refused up front instead, naming both, before anything is listed.
 */
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { UsageError } from "../errors.js";
import type { GivenSource, ResolvedOptions } from "../options/normalize.js";
import { isRemoteDirectory } from "../sources/location.js";
import { remoteDirectoryName } from "./remote-dirs.js";

/** Throws `UsageError` when two directory sources of `options` would be mirrored into one folder. */
export async function refuseSharedFolders(options: ResolvedOptions): Promise<void> {
  const owners = new Map<string, string>();
  for (const given of options.sources) {
    const folder = await folderOf(given, options);
    if (folder === undefined) continue;
    const other = owners.get(folder);
    if (other !== undefined) {
      throw new UsageError(
        "SOURCE",
        `two directory sources would be mirrored into one folder ${folder}: ${other} and ${given.location.display}; sync them in separate runs with different --artifact-root values`,
      );
    }
    owners.set(folder, given.location.display);
  }
}

/** The folder a directory source is mirrored into; undefined for a file, or a name the plan refuses anyway. */
async function folderOf(given: GivenSource, options: ResolvedOptions): Promise<string | undefined> {
  const { location } = given;
  if (isRemoteDirectory(location)) {
    try {
      return (
        options.directoryDestination ??
        join(options.artifactRoot, remoteDirectoryName(new URL(location.href)))
      );
    } catch {
      return undefined; // an unsafe name: its source fails on its own, touching nothing
    }
  }
  if (location.kind !== "file") return undefined;
  const info = await stat(location.href).catch(() => undefined);
  if (!info?.isDirectory()) return undefined;
  return options.directoryDestination ?? join(options.artifactRoot, basename(location.href));
}
