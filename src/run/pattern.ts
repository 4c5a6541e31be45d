/**
 * `--pattern`: which files of a directory source (local or remote) are taken, matched against
 * the path below the directory (`2026/11/day.csv`), dotfiles included.
 */

/**
 * The matcher of `pattern`. POSIX bracket expressions (`posix: true`): without it picomatch 4.0.7
 * reads `[!a]` as "`!` or `a`" (micromatch/picomatch#187), the opposite of what bash, fnmatch and
 * the Python sibling's `--pattern` mean by it, and matches the literal text `[!a]` too. The rest
 * is picomatch's own reading (braces, extglobs such as `*(x)`, which fnmatch reads literally).
 * picomatch is loaded on first use: a batch of files never needs it.
 */
export async function patternMatcher(pattern: string): Promise<(path: string) => boolean> {
  const { default: picomatch } = await import("picomatch");
  return picomatch(pattern, { dot: true, posix: true });
}
