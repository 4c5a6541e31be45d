/**
 * Inputs read from files or the environment rather than argv, where every user can see them
 * (`ps`): the source list (`-i FILE`), and request headers (`--header @FILE`, curl's form, and
 * `$RESILIENT_SYNC_HEADER`, as rclone reads `$RCLONE_HEADER`).
 */
import { readFile } from "node:fs/promises";
import { UsageError } from "../errors.js";
import { redactUrl } from "../log/redact.js";

/** The environment variable the CLI reads headers from: one `Name: value` a line. */
export const HEADER_ENV = "RESILIENT_SYNC_HEADER";

/**
 * The run's sources: `given` (the command line's) and those of `--input-file` (a file, or stdin
 * for `-`; one a line, blank lines and `#` comments skipped), in that order. A `UsageError`
 * naming `--input-file` when it cannot be read, or when it lists no source and nothing else was
 * given (no SOURCE, no `sourceUrl`): that is not "no arguments" (a checkout would sync its bundled sample, and a cron job
 * whose list came out empty would report success).
 */
export async function withListedSources(
  given: readonly string[],
  inputFile: string | undefined,
  sourceUrl?: string,
): Promise<string[]> {
  if (inputFile === undefined) return [...given];
  let text: string;
  try {
    text = inputFile === "-" ? await readStdin() : await readFile(inputFile, "utf8");
  } catch (error) {
    throw new UsageError(
      "--input-file",
      `--input-file cannot be read: ${(error as Error).message}`,
    );
  }
  const listed = linesOf(text);
  const commented = listed.find((line) => /^https?:\/\/\S*\s+#/i.test(line));
  // "URL  # note" read as a URL would end in " " (a file named `a.csv `): said, not guessed.
  if (commented !== undefined)
    throw new UsageError(
      "--input-file",
      `--input-file: a # comment must have a line of its own (a URL holds no space): ${redactUrl(commented.split(/\s/)[0] as string)}`,
    );
  if (listed.length === 0 && given.length === 0 && sourceUrl === undefined)
    throw new UsageError(
      "--input-file",
      `--input-file ${inputFile === "-" ? "- (stdin)" : inputFile} lists no source (blank lines and # comments are skipped)`,
    );
  return [...given, ...listed];
}

/**
 * The command line's `--header` values (the library takes `Name: value` strings only) with every
 * `@FILE` replaced by the file's headers (one a line; blank lines
 * and `#` comments skipped), then the headers of `env[HEADER_ENV]` when `env` is given. A file
 * that cannot be read is a `UsageError` naming it (never its content: it may hold secrets).
 */
export async function expandHeaders(
  values: readonly string[] | undefined,
  env?: NodeJS.ProcessEnv,
): Promise<string[] | undefined> {
  const fromEnv = env?.[HEADER_ENV];
  if (values === undefined && !fromEnv) return undefined;
  const headers: string[] = [];
  for (const value of values ?? []) {
    if (!value.startsWith("@")) {
      headers.push(value);
      continue;
    }
    const path = value.slice(1);
    if (path === "") throw new UsageError("--header", "--header @FILE needs a file name after @");
    const text = await readFile(path, "utf8").catch((error: unknown) => {
      throw new UsageError(
        "--header",
        `--header @${path}: the file cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
    });
    headers.push(...linesOf(text));
  }
  if (fromEnv) headers.push(...linesOf(fromEnv));
  return headers;
}

function linesOf(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"));
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
