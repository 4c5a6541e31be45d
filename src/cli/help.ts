/** `--help` text and README's option table, both rendered from the option table. */
import { OPTION_GROUPS, type OptionSpec } from "../options/spec.js";
import { OPTION_TABLE } from "../options/table.js";

/** How a default reads in `--help` and README: `defaultText`, else the value (`off` for false). */
export function defaultShown(spec: OptionSpec): string | undefined {
  if (spec.defaultText !== undefined) return spec.defaultText;
  if (spec.default === undefined) return undefined;
  if (typeof spec.default === "boolean") return spec.default ? "on" : "off";
  return String(spec.default);
}

/** `-o, --output FILE`, as `--help`, README and the man page show a flag. */
export function flagText(spec: OptionSpec): string {
  const long = `--${spec.flag}${spec.value ? ` ${spec.value}` : ""}`;
  return spec.short ? `-${spec.short}, ${long}` : long;
}

/** The option table's rows of each group, in the documented order of groups. */
export function groupedOptions(): [string, OptionSpec[]][] {
  return OPTION_GROUPS.map((group) => [group, OPTION_TABLE.filter((s) => s.group === group)]);
}

/** `text` cut into lines of at most `width` characters, at spaces (a longer word stays whole). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** Examples; the first says where a bare URL lands, which a checkout decides otherwise. */
const examples = (installed: boolean): [string, string][] => [
  [
    "resilient-sync https://example.org/data.csv",
    `into ${installed ? "./data.csv" : "<root>/reports/resilient-sync/data.csv"}; a re-run asks the server once`,
  ],
  [
    "resilient-sync -o /srv/data.bin --checksum HEX https://example.org/data.bin",
    "one file, verified before it replaces /srv/data.bin",
  ],
  [
    "resilient-sync --artifact-root /srv/mirror -i urls.txt --max-workers 8",
    "many sources, 8 at a time",
  ],
  ["resilient-sync https://example.org/pub/ --pattern '*.iso'", "a remote directory, mirrored"],
  [
    "resilient-sync --json https://example.org/a https://example.org/b > results.json",
    "a results document for scripts",
  ],
];

/**
 * The `--help` text, wrapped to `width` columns (the terminal's, or 80 in a pipe). `installed`:
 * an installed copy has no bundled sample, so a bare invocation is not offered.
 */
export function renderHelp(version: string, width = 80, installed = true): string {
  const cols = Math.max(40, Math.min(width, 120));
  const lines = [
    ...wrap(
      `resilient-sync ${version}: copy http(s) URLs, file URLs and local files to local destinations and keep them in sync: locked, retried, resumed, verified, committed atomically.`,
      cols,
    ),
    "",
    "Usage:",
  ];
  const usage: [string, string][] = [
    ["resilient-sync [options] SOURCE...", "each SOURCE into --artifact-root/<name>"],
    ["resilient-sync [options] -o FILE SOURCE", "the one SOURCE into FILE (- = stdout)"],
    ...(installed
      ? []
      : [["resilient-sync", "(this checkout) sync the bundled sample.csv"] as [string, string]]),
    ["resilient-sync enqueue|worker --queue redis://…", "a fleet (docs/scaling.md)"],
  ];
  for (const [form, what] of usage)
    lines.push(`  ${form}`, ...wrap(what, cols - 6).map((part) => `      ${part}`));
  lines.push("", "Examples:");
  for (const [command, what] of examples(installed))
    lines.push(
      ...wrap(command, cols - 4).map((part, i) => `${i === 0 ? "  " : "      "}${part}`),
      ...wrap(what, cols - 6).map((part) => `      ${part}`),
    );
  lines.push("");
  // Narrow terminals: the help text goes under the flag instead of beside it.
  const column = cols < 70 ? 6 : 34;
  for (const [group, specs] of groupedOptions()) {
    lines.push(`${group}:`);
    for (const spec of specs) {
      const shown = defaultShown(spec);
      const text = `${spec.help}${shown ? ` (default: ${shown})` : ""}`;
      const flag = `  ${flagText(spec)}`;
      const body = wrap(text, cols - column - 1);
      if (flag.length > column - 1)
        lines.push(flag, ...body.map((l) => `${" ".repeat(column)}${l}`));
      else
        lines.push(
          ...body.map((l, i) => `${i === 0 ? flag.padEnd(column) : " ".repeat(column)}${l}`),
        );
    }
    lines.push("");
  }
  lines.push(
    ...wrap(
      "Exit codes: 0 ok or up to date, 1 partial failure, 42 unfit environment, 64 invalid arguments, 65 checksum mismatch, 70 transfer failed, 73 destination not writable, 75 circuit open, 130/143 interrupted.",
      cols,
    ),
    ...wrap(
      installed
        ? "State (locks, markers, partial downloads, circuits) is kept in $XDG_STATE_HOME/resilient-sync, else ~/.local/state/resilient-sync."
        : "<root> is $REPO_ROOT, else this checkout (the folder holding resilient-sync's package.json).",
      cols,
    ),
    "Documentation: man resilient-sync;",
    "https://github.com/resilient-sync/resilient-sync#readme",
  );
  return `${lines.join("\n")}\n`;
}

/** The option table as markdown, one table per group, for README.md (a test keeps them equal). */
export function renderOptionsMarkdown(): string {
  const out: string[] = [];
  for (const [group, specs] of groupedOptions()) {
    out.push(`**${group}**`, "", "| option | default | meaning |", "|---|---|---|");
    for (const spec of specs) {
      const flag = flagText(spec).replace(/\|/g, "\\|");
      const shown = defaultShown(spec);
      out.push(`| \`${flag}\` | ${shown ? `\`${shown}\`` : ""} | ${spec.help} |`);
    }
    out.push("");
  }
  return `${out.join("\n").trimEnd()}\n`;
}
