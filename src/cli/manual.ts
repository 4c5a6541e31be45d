/**
 * The man page and the bash and zsh completions, rendered from the option table (like `--help`
 * and README's table), so that none of them can list an option the program does not have.
 * `scripts/generate-docs.mjs` writes them into dist/ at build time; the package ships them.
 */
import type { OptionSpec } from "../options/spec.js";
import { OPTION_TABLE } from "../options/table.js";
import { defaultShown, groupedOptions } from "./help.js";

/** Text made safe for roff: backslashes, and a leading `.` or `'` that would read as a request. */
function roff(text: string): string {
  return text
    .replace(/\\/g, "\\e")
    .replace(/-/g, "\\-")
    .replace(/`([^`]+)`/g, "\\fB$1\\fR")
    .replace(/^([.'])/gm, "\\&$1");
}

function roffFlag(spec: OptionSpec): string {
  const value = spec.value ? ` \\fI${roff(spec.value)}\\fR` : "";
  const long = `\\fB\\-\\-${roff(spec.flag)}\\fR${value}`;
  return spec.short ? `\\fB\\-${spec.short}\\fR, ${long}` : long;
}

const EXIT_CODES: [number | string, string][] = [
  [0, "every source synced, already up to date, or skipped because another run holds it"],
  [1, "some sources failed, others succeeded"],
  [42, "the environment is unfit: Node.js too old, state folder not writable, Redis unreachable"],
  [64, "invalid arguments; nothing was written"],
  [65, "a checksum did not match (nothing else failed)"],
  [70, "a transfer failed after its retries, or failed for good"],
  [73, "a destination cannot be written (permissions, a full disk)"],
  [75, "an origin's circuit breaker is open (nothing else failed)"],
  ["130, 143", "interrupted by SIGINT or SIGTERM: stopped within a second, partial data kept"],
];

/** The man page (section 1), in roff with the `man` macros. */
export function renderManPage(version: string): string {
  const out = [
    `.TH RESILIENT\\-SYNC 1 "" "resilient-sync ${version}" "User Commands"`,
    ".SH NAME",
    "resilient\\-sync \\- copy files from URLs and folders to local destinations and keep them in sync",
    ".SH SYNOPSIS",
    ".B resilient\\-sync",
    "[\\fIoptions\\fR] \\fISOURCE\\fR...",
    ".br",
    ".B resilient\\-sync",
    "[\\fIoptions\\fR] \\fB\\-o\\fR \\fIFILE\\fR \\fISOURCE\\fR",
    ".br",
    ".B resilient\\-sync enqueue",
    "\\fB\\-\\-queue\\fR \\fIredis://...\\fR [\\fIoptions\\fR] \\fISOURCE\\fR...",
    ".br",
    ".B resilient\\-sync worker",
    "\\fB\\-\\-queue\\fR \\fIredis://...\\fR [\\fIoptions\\fR]",
    ".SH DESCRIPTION",
    roff(
      "Copies http(s) URLs (remote directories included), file URLs, local files and folders to local destinations and keeps them in sync. Every transfer is locked against concurrent runs, retried with backoff, resumed after a break, verified by checksums computed while streaming, and committed atomically: a destination is either the old file or the new one, never a mix. A run that finds a destination up to date asks the origin once, conditionally, and copies nothing.",
    ),
    ".PP",
    roff(
      "Each SOURCE lands in --artifact-root/<name> (the current folder by default; in a checkout, <root>/reports/resilient-sync). Logs are JSON lines on stdout (info) and stderr (warnings, errors); on a terminal, warnings and errors are short sentences and progress bars are drawn.",
    ),
    ".SH OPTIONS",
  ];
  for (const [group, specs] of groupedOptions()) {
    out.push(`.SS ${roff(group)}`);
    for (const spec of specs) {
      const shown = defaultShown(spec);
      out.push(".TP", roffFlag(spec), roff(`${spec.help}${shown ? ` (default: ${shown})` : ""}`));
    }
  }
  out.push(".SH EXIT STATUS");
  for (const [code, meaning] of EXIT_CODES) out.push(".TP", `.B ${code}`, roff(meaning));
  out.push(
    ".SH ENVIRONMENT",
    ".TP",
    ".B XDG_STATE_HOME",
    roff(
      "where the state lives: $XDG_STATE_HOME/resilient-sync, else ~/.local/state/resilient-sync.",
    ),
    ".TP",
    ".B RUN_ID",
    roff("the run id of the logs and the results document (the batch id of an enqueue)."),
    ".TP",
    '.BR http_proxy ", " https_proxy ", " no_proxy',
    roff("proxies, as curl reads them (--proxy and --no-proxy win)."),
    ".TP",
    ".B RESILIENT_SYNC_HEADER",
    roff("an extra request header, as --header."),
    ".SH EXAMPLES",
    ".nf",
    roff("resilient-sync https://example.org/data.csv"),
    roff("resilient-sync -o /srv/data.bin --checksum HEX https://example.org/data.bin"),
    roff("resilient-sync --artifact-root /srv/mirror -i urls.txt --max-workers 8"),
    roff("resilient-sync -o - https://example.org/data.tar | tar x"),
    ".fi",
    ".SH SEE ALSO",
    "\\fBcurl\\fR(1), \\fBwget\\fR(1), \\fBrclone\\fR(1); the README and docs/ of the package.",
  );
  return `${out.join("\n")}\n`;
}

const FILE_KINDS = new Set(["path"]);

/** A bash completion script: flags, choices, files for options that take a path. */
export function renderBashCompletion(): string {
  const flags = OPTION_TABLE.flatMap((spec) => [
    `--${spec.flag}`,
    ...(spec.short ? [`-${spec.short}`] : []),
  ]);
  const cases: string[] = [];
  for (const spec of OPTION_TABLE) {
    if (spec.kind === "boolean") continue;
    const names = [`--${spec.flag}`, ...(spec.short ? [`-${spec.short}`] : [])].join("|");
    if (spec.choices)
      cases.push(
        `    ${names}) mapfile -t COMPREPLY < <(compgen -W "${spec.choices.join(" ")}" -- "$cur"); return ;;`,
      );
    else if (spec.value === "DIR")
      cases.push(`    ${names}) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;`);
    else if (
      FILE_KINDS.has(spec.kind) ||
      spec.flag === "input-file" ||
      spec.flag === "checksum-file"
    )
      cases.push(`    ${names}) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;`);
    else cases.push(`    ${names}) return ;;`);
  }
  return `# bash completion for resilient-sync (generated from its option table)
_resilient_sync() {
  local cur prev
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  case "$prev" in
${cases.join("\n")}
  esac
  if [[ "$cur" == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "${flags.join(" ")}" -- "$cur")
    return
  fi
  COMPREPLY=()
  if [[ $COMP_CWORD -eq 1 ]]; then
    mapfile -t COMPREPLY < <(compgen -W "enqueue worker" -- "$cur")
  fi
  # One name a line: a file name with spaces stays one word.
  local files
  mapfile -t files < <(compgen -f -- "$cur")
  COMPREPLY+=("\${files[@]}")
}
complete -o filenames -F _resilient_sync resilient-sync
`;
}

/** A zsh completion function (`_resilient-sync`, for a folder on $fpath). */
export function renderZshCompletion(): string {
  const specs = OPTION_TABLE.map((spec) => {
    const text = spec.help
      .split(/[;(]/)[0]
      ?.trim()
      .replace(/[[\]:'\\]/g, "")
      .slice(0, 70);
    // The message between colons: no colon, quote or bracket of its own (`"Name: value"`).
    const message = (spec.value ?? "VALUE").replace(/[:"'[\]\\]/g, "");
    const action = spec.choices
      ? `:${message}:(${spec.choices.join(" ")})`
      : spec.kind === "boolean"
        ? ""
        : spec.value === "DIR"
          ? `:${message}:_files -/`
          : FILE_KINDS.has(spec.kind)
            ? `:${message}:_files`
            : `:${message}: `;
    const repeat = spec.multiple ? "*" : "";
    const long = `--${spec.flag}`;
    if (spec.short)
      return `  '(-${spec.short} ${long})'{-${spec.short},${long}}'[${text}]${action}'`;
    return `  '${repeat}${long}[${text}]${action}'`;
  });
  return `#compdef resilient-sync
# zsh completion for resilient-sync (generated from its option table)
_arguments -s \\
${specs.join(" \\\n")} \\
  '*:source:_files'
`;
}
