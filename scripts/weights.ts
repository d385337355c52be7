// deno task weights <name> — downloads published VGG/AlexNet weights into
// the cache (SHA-256 verified, resumable) and converts them to safetensors
// with their preprocessing recorded. Thin: models/weight_cache.ts does the
// work; `deno task weights --list` shows the names.
import { cacheDir, fetchWeights } from "../models/weight_cache.ts";
import { WEIGHT_REGISTRY } from "../models/weight_registry.ts";
import { type CliSpec, formatDuration, parseCommandLine } from "./_cli.ts";

export const CLI: CliSpec = {
  name: "deno task weights",
  summary:
    "Downloads published VGG19/VGG16/AlexNet weights (deno task weights <name>) into the cache, " +
    "verifies their SHA-256, resumes interrupted downloads, and converts them to safetensors " +
    "with the preprocessing they expect recorded in the metadata.",
  flags: {
    "cache-dir": {
      type: "string",
      description:
        "Cache directory (default: $IMPASTO_CACHE or ~/.cache/impasto/weights)",
      valueName: "DIR",
    },
    out: {
      type: "string",
      description: "Write the converted safetensors here instead of the cache",
      valueName: "FILE",
    },
    url: {
      type: "string",
      description: "Download from this URL instead of the published location",
      valueName: "URL",
    },
    sha256: {
      type: "string",
      description: "Expected SHA-256 of the download (full or a prefix)",
      valueName: "HEX",
    },
    "only-taps": {
      type: "string",
      description:
        "Keep only the layers these taps need, e.g. relu1_1,relu2_1,relu3_1,relu4_1,relu5_1 " +
        "(safetensors sources: only those tensors are downloaded)",
      valueName: "TAP,…",
    },
    model: {
      type: "string",
      choices: ["vgg16", "vgg19", "alexnet", "alexnet-caffe"],
      description: "With --url: which model the file holds (for --only-taps)",
    },
    force: {
      type: "boolean",
      description: "Download and convert again even if cached",
    },
    list: {
      type: "boolean",
      description: "List the known weights and exit",
    },
  },
  epilog: "Examples:\n" +
    "  deno task weights vgg19\n" +
    "  deno task weights vgg19-timm --only-taps relu1_1,relu2_1,relu3_1,relu4_1,relu5_1\n" +
    "  deno task weights alexnet --cache-dir /data/weights\n" +
    "  deno task weights mine --url https://example.org/vgg19.pth --sha256 0123abcd --model vgg19",
};

function listText(): string {
  const width = Math.max(...WEIGHT_REGISTRY.map((e) => e.name.length)) + 2;
  return [
    `Cache: ${cacheDir()}`,
    "",
    ...WEIGHT_REGISTRY.map((e) =>
      `  ${e.name.padEnd(width)}${e.description} (about ${e.approxMB} MB)\n  ${
        "".padEnd(width)
      }${e.url}`
    ),
  ].join("\n");
}

const MB = 1e6;

/** A download progress callback drawing a bar with bytes, rate and ETA. */
export function progressPrinter(
  write: (s: string) => void,
  terminal: boolean,
  now: () => number = () => performance.now(),
): (p: { done: number; total?: number; received: number }) => void {
  const start = now();
  let last = -Infinity, lastPercent = -1;
  return ({ done, total, received }) => {
    const t = now();
    const finished = total !== undefined && done >= total;
    const seconds = (t - start) / 1000;
    const rate = seconds > 0 ? received / seconds : 0;
    const eta = total !== undefined && rate > 0 ? (total - done) / rate : NaN;
    const percent = total ? Math.floor((100 * done) / total) : 0;
    const bar = total
      ? `[${"#".repeat(Math.round((30 * done) / total)).padEnd(30, ".")}] `
      : "";
    const line = `${bar}${(done / MB).toFixed(1)}${
      total ? `/${(total / MB).toFixed(1)}` : ""
    } MB ${total ? `${percent}% ` : ""}${(rate / MB).toFixed(2)} MB/s${
      finished || !Number.isFinite(eta) ? "" : ` ETA ${formatDuration(eta)}`
    }`;
    if (terminal) {
      if (!finished && t - last < 100) return;
      last = t;
      write(`\r\x1b[2K${line}${finished ? "\n" : ""}`);
    } else if (finished || Math.floor(percent / 10) > lastPercent) {
      lastPercent = Math.floor(percent / 10);
      write(line + "\n");
    }
  };
}

/** Splits the leading positional name off the arguments. */
export function splitName(
  args: readonly string[],
): [string | undefined, string[]] {
  if (args.length && !args[0].startsWith("-")) return [args[0], args.slice(1)];
  return [undefined, [...args]];
}

if (import.meta.main) {
  const [name, rest] = splitName(Deno.args);
  const flags = parseCommandLine(CLI, rest);
  if (flags.list) {
    console.log(listText());
    Deno.exit(0);
  }
  if (!name) {
    console.error(
      `${CLI.name}: give a weights name (${
        WEIGHT_REGISTRY.map((e) => e.name).join(", ")
      }) (see --help)`,
    );
    Deno.exit(2);
  }
  const encoder = new TextEncoder();
  const write = (s: string) => Deno.stdout.writeSync(encoder.encode(s));
  const started = performance.now();
  try {
    const onlyTaps = (flags["only-taps"] as string | undefined)?.split(",")
      .map((s) => s.trim()).filter(Boolean);
    const result = await fetchWeights({
      name,
      url: flags.url as string | undefined,
      sha256: flags.sha256 as string | undefined,
      cacheDir: flags["cache-dir"] as string | undefined,
      out: flags.out as string | undefined,
      onlyTaps,
      model: flags.model as "vgg19" | undefined,
      force: flags.force === true,
      onProgress: progressPrinter(write, Deno.stdout.isTerminal()),
      log: (line) => console.log(line),
    });
    if (!result.cached) {
      console.log(
        `Done in ${
          formatDuration((performance.now() - started) / 1000)
        }: ${result.path}`,
      );
    }
  } catch (e) {
    // Every failure is one line: what is missing or wrong, and what to do.
    console.error(`weights: ${(e as Error).message.split("\n")[0]}`);
    Deno.exit(1);
  }
}
