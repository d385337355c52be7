// deno task serve: the browser page (web/) with the bundles (build/web/),
// the engine's wasm (build/), the example images and one weights file.
// Pages are cross-origin isolated (COOP same-origin + COEP require-corp) so
// that SharedArrayBuffer, and so the engine's threads, exist; with
// --no-isolation the page runs single-threaded and says so.
import { parseArgs } from "node:util";
import { extname, normalize } from "node:path";

const ROOT = new URL("../", import.meta.url);
const SHARED_WEIGHTS = new URL(
  "../shared/data/weights/vgg19-normalised-conv3_1/vgg19_normalised_conv1_1-conv3_1.safetensors",
  ROOT,
);

const USAGE = `Usage: deno task serve [options]
  --port N              port (default 8000; 0 picks a free one)
  --host ADDR           address to listen on (default 127.0.0.1)
  --weights FILE        VGG weights the page uses (default: $IMPASTO_WEIGHTS,
                        else the shared test weights where present)
  --engine-variant V    force the engine variant in the page (threads-relaxed,
                        threads-simd, single-relaxed, single-simd)
  --no-isolation        serve without COOP/COEP: no threads (to test fallback)`;

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".json": "application/json",
  ".svg": "image/svg+xml",
};

// URL prefix → folder in the repository; nothing else is served.
const MOUNTS: [string, string][] = [
  ["/build/web/", "build/web/"],
  ["/build/", "build/"], // the engine's .wasm files only (see below)
  ["/assets/images/", "assets/images/"],
  ["/web/", "web/"],
];

export interface ServeOptions {
  port: number;
  host: string;
  weights: string | null;
  variant: string | null;
  isolation: boolean;
}

function fail(message: string): never {
  console.error(`serve: ${message}`);
  Deno.exit(2);
}

function parse(args: string[]): ServeOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string", default: "8000" },
        host: { type: "string", default: "127.0.0.1" },
        weights: { type: "string" },
        "engine-variant": { type: "string" },
        "no-isolation": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (e) {
    fail(`${(e as Error).message.split("\n")[0]}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    fail(`--port ${values.port} is not a port number`);
  }
  const variant = values["engine-variant"] ?? Deno.env.get("IMPASTO_VARIANT");
  const known = [
    "threads-relaxed",
    "threads-simd",
    "single-relaxed",
    "single-simd",
  ];
  if (variant && variant !== "auto" && !known.includes(variant)) {
    fail(`--engine-variant ${variant} is unknown; use one of ${known}`);
  }
  let weights = values.weights ?? Deno.env.get("IMPASTO_WEIGHTS") ?? null;
  if (weights) {
    try {
      Deno.statSync(weights);
    } catch {
      fail(`--weights ${weights} cannot be read`);
    }
  } else {
    try {
      Deno.statSync(SHARED_WEIGHTS);
      weights = SHARED_WEIGHTS.pathname;
    } catch { /* no weights: the page says so */ }
  }
  return {
    port,
    host: values.host,
    weights,
    variant: variant && variant !== "auto" ? variant : null,
    isolation: !values["no-isolation"],
  };
}

function headers(options: ServeOptions, type: string): Headers {
  const h = new Headers({ "content-type": type, "cache-control": "no-store" });
  if (options.isolation) {
    h.set("cross-origin-opener-policy", "same-origin");
    h.set("cross-origin-embedder-policy", "require-corp");
    h.set("cross-origin-resource-policy", "same-origin");
  }
  return h;
}

async function file(
  options: ServeOptions,
  path: string,
  type = TYPES[extname(path)] ?? "application/octet-stream",
): Promise<Response> {
  try {
    const body = await Deno.readFile(path);
    return new Response(body, { headers: headers(options, type) });
  } catch {
    return new Response("not found\n", {
      status: 404,
      headers: headers(options, "text/plain"),
    });
  }
}

/** The request handler, exported for tests. */
export function handler(options: ServeOptions) {
  return (request: Request): Promise<Response> | Response => {
    const path = decodeURIComponent(new URL(request.url).pathname);
    if (path === "/" || path === "/index.html") {
      return file(options, new URL("web/index.html", ROOT).pathname);
    }
    if (path === "/config.json") {
      return new Response(
        JSON.stringify({
          isolation: options.isolation,
          variant: options.variant,
          weights: options.weights !== null,
        }),
        { headers: headers(options, TYPES[".json"]) },
      );
    }
    if (path === "/weights" && options.weights) {
      return file(options, options.weights, "application/octet-stream");
    }
    for (const [prefix, dir] of MOUNTS) {
      if (!path.startsWith(prefix)) continue;
      const rest = normalize(path.slice(prefix.length));
      if (rest.startsWith("..") || rest.startsWith("/")) break;
      if (prefix === "/build/" && !/^impasto-[a-z-]+\.wasm$/.test(rest)) break;
      return file(options, new URL(dir + rest, ROOT).pathname);
    }
    return file(options, "/nonexistent");
  };
}

if (import.meta.main) {
  const options = parse(Deno.args);
  Deno.serve({
    port: options.port,
    hostname: options.host,
    onListen: ({ hostname, port }) => {
      console.log(
        `impasto page on http://${hostname}:${port}/ (${
          options.isolation
            ? "cross-origin isolated: threads"
            : "no isolation: single-threaded"
        }; weights: ${options.weights ?? "none"})`,
      );
    },
  }, handler(options));
}
