// Shared command-line helpers for scripts/: flags declared once (type,
// default, description) give both the parser and the --help text; a bad or
// unknown flag is one line on stderr and exit status 2; a progress bar with
// an ETA that falls back to plain lines when stdout is not a terminal.
import { parseArgs } from "node:util";

export interface FlagSpec {
  type: "string" | "boolean" | "number" | "integer";
  description: string;
  default?: string | number | boolean;
  /** One-letter alias. */
  short?: string;
  /** Allowed values of a string flag. */
  choices?: readonly string[];
  /** Bounds of a number or integer flag (inclusive). */
  min?: number;
  max?: number;
  /** Placeholder in the help text (default: the flag's type). */
  valueName?: string;
}

export interface CliSpec {
  /** The command as users type it, e.g. "deno task gradients". */
  name: string;
  /** One paragraph on what it does. */
  summary: string;
  flags: Record<string, FlagSpec>;
  /** Extra lines after the flag list (examples). */
  epilog?: string;
}

export type FlagValue = string | number | boolean | undefined;

/** A usage error: the message is one line. */
export class CliError extends Error {
  override name = "CliError";
}

/** The --help text of a spec. */
export function helpText(spec: CliSpec): string {
  const rows: [string, string][] = [];
  const all: Record<string, FlagSpec> = {
    ...spec.flags,
    help: {
      type: "boolean",
      description: "Show this help and exit",
      short: "h",
    },
  };
  for (const [name, f] of Object.entries(all)) {
    const value = f.type === "boolean"
      ? ""
      : ` ${
        f.valueName ?? (f.choices ? f.choices.join("|") : f.type.toUpperCase())
      }`;
    const flag = `${f.short ? `-${f.short}, ` : "    "}--${name}${value}`;
    const dflt = f.default !== undefined && f.type !== "boolean"
      ? ` (default: ${f.default})`
      : "";
    rows.push([flag, f.description + dflt]);
  }
  const width = Math.max(...rows.map(([f]) => f.length)) + 2;
  const lines = [
    `Usage: ${spec.name} [options]`,
    "",
    spec.summary,
    "",
    "Options:",
    ...rows.map(([f, d]) => `  ${f.padEnd(width)}${d}`),
  ];
  if (spec.epilog) lines.push("", spec.epilog);
  return lines.join("\n");
}

function convert(name: string, f: FlagSpec, raw: string | boolean): FlagValue {
  if (f.type === "boolean") return raw as boolean;
  const s = raw as string;
  if (f.type === "string") {
    if (f.choices && !f.choices.includes(s)) {
      throw new CliError(
        `--${name} must be one of ${f.choices.join(", ")}, got "${s}"`,
      );
    }
    return s;
  }
  const v = Number(s);
  if (s.trim() === "" || !Number.isFinite(v)) {
    throw new CliError(`--${name} needs a number, got "${s}"`);
  }
  if (f.type === "integer" && !Number.isInteger(v)) {
    throw new CliError(`--${name} needs an integer, got "${s}"`);
  }
  if (f.min !== undefined && v < f.min) {
    throw new CliError(`--${name} must be at least ${f.min}, got ${v}`);
  }
  if (f.max !== undefined && v > f.max) {
    throw new CliError(`--${name} must be at most ${f.max}, got ${v}`);
  }
  return v;
}

/**
 * Parses `args` against the spec. Returns null when --help was asked for;
 * throws CliError (one line) on an unknown flag, a stray argument or a bad
 * value.
 */
export function parseFlags(
  spec: CliSpec,
  args: readonly string[],
): Record<string, FlagValue> | null {
  const options: Record<
    string,
    { type: "string" | "boolean"; short?: string }
  > = { help: { type: "boolean", short: "h" } };
  for (const [name, f] of Object.entries(spec.flags)) {
    options[name] = {
      type: f.type === "boolean" ? "boolean" : "string",
      ...(f.short ? { short: f.short } : {}),
    };
  }
  // node:util takes "-4" in "--seed -4" for a flag; join negative numbers
  // to their flag ("--seed=-4") so they parse as values.
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = /^--([^=]+)$/.exec(args[i])?.[1];
    const f = name === undefined ? undefined : spec.flags[name];
    if (
      f && f.type !== "boolean" && i + 1 < args.length &&
      /^-(\d|\.\d|Infinity)/.test(args[i + 1])
    ) {
      joined.push(`${args[i]}=${args[++i]}`);
    } else joined.push(args[i]);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs(
      {
        args: joined,
        options,
        strict: true,
        allowPositionals: false,
        allowNegative: true,
      } as Parameters<typeof parseArgs>[0],
    );
  } catch (e) {
    // node:util's messages run over several lines; keep the first sentence.
    const message = (e as Error).message.split("\n")[0]
      .replace(/\. To specify.*$/, "")
      .replace(/^Unknown option '(.*)'.*$/, "unknown flag $1");
    throw new CliError(message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  if (values.help) return null;
  const out: Record<string, FlagValue> = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const raw = values[name];
    out[name] = raw === undefined ? f.default : convert(name, f, raw);
  }
  return out;
}

function exit(code: number): never {
  const g = globalThis as {
    Deno?: { exit(c: number): never };
    process?: { exit(c: number): never };
  };
  if (g.Deno) g.Deno.exit(code);
  if (g.process) g.process.exit(code);
  throw new Error(`exit ${code}`);
}

function commandArgs(): string[] {
  const g = globalThis as {
    Deno?: { args: string[] };
    process?: { argv: string[] };
  };
  return g.Deno?.args ?? g.process?.argv.slice(2) ?? [];
}

/**
 * parseFlags for a script's main: prints --help and exits 0, or prints a
 * one-line error and exits 2.
 */
export function parseCommandLine(
  spec: CliSpec,
  args: readonly string[] = commandArgs(),
): Record<string, FlagValue> {
  try {
    const flags = parseFlags(spec, args);
    if (flags === null) {
      console.log(helpText(spec));
      exit(0);
    }
    return flags;
  } catch (e) {
    if (!(e instanceof CliError)) throw e;
    console.error(`${spec.name}: ${e.message} (see --help)`);
    exit(2);
  }
}

/** Whether stdout is an interactive terminal. */
export function stdoutIsTerminal(): boolean {
  const g = globalThis as {
    Deno?: { stdout: { isTerminal(): boolean } };
    process?: { stdout?: { isTTY?: boolean } };
  };
  if (g.Deno) return g.Deno.stdout.isTerminal();
  return g.process?.stdout?.isTTY === true;
}

function writeRaw(text: string): void {
  const g = globalThis as {
    Deno?: { stdout: { writeSync(b: Uint8Array): number } };
    process?: { stdout: { write(s: string): void } };
  };
  if (g.Deno) {
    const bytes = new TextEncoder().encode(text);
    let done = 0;
    while (done < bytes.length) {
      done += g.Deno.stdout.writeSync(bytes.subarray(done));
    }
  } else if (g.process) g.process.stdout.write(text);
  else console.log(text);
}

/** Seconds as "1m05s" or "12s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "?";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

export interface ProgressOptions {
  /** Printed before the bar. */
  label?: string;
  /** Force terminal mode on or off (default: detect). */
  terminal?: boolean;
  /** Plain mode: print a line every this many percent (default 10). */
  everyPercent?: number;
  /** Where lines go (default stdout; tests capture). */
  write?: (text: string) => void;
  /** Clock in milliseconds (tests). */
  now?: () => number;
}

/**
 * A progress bar with rate and ETA, redrawn in place on a terminal; when
 * stdout is a file or pipe it prints a plain line every `everyPercent`.
 */
export class Progress {
  readonly total: number;
  #done = 0;
  #start: number;
  #lastDraw = -Infinity;
  #lastPercentLine = -1;
  #terminal: boolean;
  #label: string;
  #every: number;
  #write: (text: string) => void;
  #now: () => number;

  constructor(total: number, options: ProgressOptions = {}) {
    this.total = Math.max(1, total);
    this.#now = options.now ?? (() => performance.now());
    this.#start = this.#now();
    this.#terminal = options.terminal ?? stdoutIsTerminal();
    this.#label = options.label ?? "";
    this.#every = options.everyPercent ?? 10;
    this.#write = options.write ?? writeRaw;
  }

  get done(): number {
    return this.#done;
  }

  /** Seconds left at the current rate (NaN before the first tick). */
  eta(): number {
    if (this.#done === 0) return NaN;
    const elapsed = (this.#now() - this.#start) / 1000;
    return (elapsed / this.#done) * (this.total - this.#done);
  }

  /** Advances by `n` and redraws; `info` is shown after the bar (a loss). */
  tick(n = 1, info = ""): void {
    this.#done = Math.min(this.total, this.#done + n);
    const now = this.#now();
    const finished = this.#done >= this.total;
    if (this.#terminal) {
      // Redraw at most 10 times a second, and always at the end.
      if (!finished && now - this.#lastDraw < 100) return;
      this.#lastDraw = now;
      this.#write(`\r\x1b[2K${this.#line(info, 30)}${finished ? "\n" : ""}`);
      return;
    }
    const percent = Math.floor((100 * this.#done) / this.total);
    const bucket = Math.floor(percent / this.#every);
    if (bucket > this.#lastPercentLine) {
      this.#lastPercentLine = bucket;
      this.#write(this.#line(info, 0) + "\n");
    }
  }

  #line(info: string, barWidth: number): string {
    const fraction = this.#done / this.total;
    const elapsed = (this.#now() - this.#start) / 1000;
    const parts: string[] = [];
    if (this.#label) parts.push(this.#label);
    if (barWidth > 0) {
      const filled = Math.round(fraction * barWidth);
      parts.push(`[${"#".repeat(filled)}${".".repeat(barWidth - filled)}]`);
    }
    parts.push(`${this.#done}/${this.total}`);
    parts.push(`${Math.floor(fraction * 100)}%`);
    parts.push(`${formatDuration(elapsed)} elapsed`);
    if (this.#done < this.total) {
      parts.push(`ETA ${formatDuration(this.eta())}`);
    }
    if (info) parts.push(info);
    return parts.join(" ");
  }
}

/** The --backend flag every script that computes takes. */
export const BACKEND_FLAG: FlagSpec = {
  type: "string",
  description:
    "Compute backend: auto picks WebGPU on a hardware GPU, else the wasm engine",
  choices: ["auto", "webgpu", "wasm"],
  default: "auto",
};

/**
 * Prints the one line saying which backend runs. It goes to stdout with the
 * rest of a script's report, so that stderr holds only errors.
 */
export function logBackend(line: string): void {
  console.log(line);
}
