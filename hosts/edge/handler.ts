// The edge function: style transfer behind HTTP, in the module-worker shape
// (`export default { fetch }`) that both `deno serve` and workerd run.
//
//   GET  /health   → JSON: engine variant, memory, active runs, limits
//   POST /stylize  → the PNG (or JSON for resumable runs); the body is either
//     multipart/form-data (fields content, style: image files; options: JSON;
//     state: the blob from a previous response) or JSON
//     {content, style: base64 images, options?, state?: base64}.
//
// Options: size, styleWeight, iterations, keepColors, seed (see
// hosts/style_run.ts), resumable (bool), budgetMs. A resumable request
// (resumable: true or a state) answers JSON {done, iteration, iterations,
// loss, image, state, digest}: send `state` back with the same images and
// options to continue. The result equals an uninterrupted run's.
//
// Settings (workerd: text bindings; deno serve: environment variables):
//   IMPASTO_MAX_BODY_BYTES (16 MiB)   IMPASTO_MAX_PIXELS (input, 16 Mpx)
//   IMPASTO_MAX_SIZE (output side 512) IMPASTO_MAX_ITERATIONS (per request, 300)
//   IMPASTO_MAX_CONCURRENT (2)         IMPASTO_BUDGET_MS (per request, 20000)
//   IMPASTO_STATE_KEY (HMAC secret; default: random per process)
//   IMPASTO_VARIANT (engine variant)   IMPASTO_WEIGHTS (deno: weights path)
//   IMPASTO_THREADS (threads for a forced threads-* variant, default 2)
// workerd binds the engine as IMPASTO_WASM (a wasm module: it may not compile
// bytes at run time) and the weights as IMPASTO_WEIGHTS (data).
// This module is browser compatible.
import { getBackend, initBackend, type Variant } from "../../runtime/mod.ts";
import {
  decodeImage,
  encodeImage,
  ImageError,
  type RgbImage,
} from "../../runtime/io/image.ts";
import {
  createStyleRun,
  DEFAULT_STYLE_OPTIONS,
  styleImplementation,
  StyleOptionsError,
  type StyleRunOptions,
} from "../style_run.ts";
import { engineVariant, VariantError } from "../variant.ts";
import {
  openState,
  sealState,
  sha256,
  StateError,
  stateKey,
  toHex,
} from "./state.ts";

type Env = Record<string, unknown>;

export interface Limits {
  maxBodyBytes: number;
  maxPixels: number;
  maxSize: number;
  maxIterations: number;
  maxConcurrent: number;
  budgetMs: number;
}

export const DEFAULT_LIMITS: Limits = {
  maxBodyBytes: 16 << 20,
  maxPixels: 16 << 20,
  maxSize: 512,
  maxIterations: 300,
  maxConcurrent: 2,
  budgetMs: 20_000,
};

const SETTING_NAMES: Record<keyof Limits, string> = {
  maxBodyBytes: "IMPASTO_MAX_BODY_BYTES",
  maxPixels: "IMPASTO_MAX_PIXELS",
  maxSize: "IMPASTO_MAX_SIZE",
  maxIterations: "IMPASTO_MAX_ITERATIONS",
  maxConcurrent: "IMPASTO_MAX_CONCURRENT",
  budgetMs: "IMPASTO_BUDGET_MS",
};

/** An error the client caused: HTTP status and a one-line message. */
class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function isEnv(x: unknown): x is Env {
  // deno serve passes ServeHandlerInfo (remoteAddr, completed) here; workerd
  // passes the bindings, which always include IMPASTO_WASM.
  return typeof x === "object" && x !== null && "IMPASTO_WASM" in x;
}

function setting(env: Env | null, name: string): string | undefined {
  const bound = env?.[name];
  if (typeof bound === "string") return bound;
  const deno = (globalThis as {
    Deno?: { env: { get(k: string): string | undefined } };
  }).Deno;
  try {
    return deno?.env.get(name);
  } catch {
    return undefined;
  }
}

function readLimits(env: Env | null): Limits {
  const limits = { ...DEFAULT_LIMITS };
  for (const [key, name] of Object.entries(SETTING_NAMES)) {
    const text = setting(env, name);
    if (text === undefined) continue;
    const value = Number(text);
    if (!(Number.isInteger(value) && value > 0)) {
      throw new Error(`${name}=${text} is not a positive integer`);
    }
    limits[key as keyof Limits] = value;
  }
  return limits;
}

interface Server {
  limits: Limits;
  key: CryptoKey;
  variant: Variant;
  weights: Uint8Array | null;
  weightsSource: string | null;
  active: number;
  served: number;
}

let starting: Promise<Server> | null = null;

async function loadWeights(
  env: Env | null,
): Promise<[Uint8Array | null, string | null]> {
  const bound = env?.IMPASTO_WEIGHTS;
  if (bound instanceof ArrayBuffer) {
    return [new Uint8Array(bound), "binding IMPASTO_WEIGHTS"];
  }
  const path = setting(env, "IMPASTO_WEIGHTS");
  if (!path) return [null, null];
  const deno = (globalThis as {
    Deno?: { readFile(p: string): Promise<Uint8Array> };
  }).Deno;
  if (!deno) return [null, null];
  try {
    return [await deno.readFile(path), path];
  } catch {
    throw new Error(`IMPASTO_WEIGHTS=${path} cannot be read`);
  }
}

/** Starts the engine and reads settings once per process (or isolate). */
function server(env: Env | null): Promise<Server> {
  starting ??= (async () => {
    const limits = readLimits(env);
    let variant = engineVariant(undefined, env ?? undefined);
    const modules: Partial<Record<Variant, WebAssembly.Module>> = {};
    if (env?.IMPASTO_WASM instanceof WebAssembly.Module) {
      // Edge hosts bind one precompiled single-threaded module.
      const bound = (setting(env, "IMPASTO_WASM_VARIANT") ??
        "single-relaxed") as Variant;
      modules[bound] = env.IMPASTO_WASM;
      variant ??= bound;
    }
    // One thread by default (edge functions get one core); a forced
    // threads-* variant under deno serve gets IMPASTO_THREADS (default 2).
    const threads = variant?.startsWith("threads")
      ? Number(setting(env, "IMPASTO_THREADS") ?? 2)
      : 1;
    const backend = await initBackend({ threads, variant, modules });
    const [weights, weightsSource] = await loadWeights(env);
    return {
      limits,
      key: await stateKey(setting(env, "IMPASTO_STATE_KEY")),
      variant: (backend as unknown as { engine: { variant: Variant } })
        .engine.variant,
      weights,
      weightsSource,
      active: 0,
      served: 0,
    };
  })();
  starting.catch(() => starting = null);
  return starting;
}

function json(status: number, body: unknown, headers: HeadersInit = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

// A client whose body is refused still gets its 413 when the overshoot is
// small: the rest is read and dropped, up to this many bytes, rather than
// closing the connection under it (a broken pipe instead of an answer).
const DRAIN_BYTES = 8 << 20;

async function drain(
  reader: ReadableStreamDefaultReader<Uint8Array>,
): Promise<void> {
  let dropped = 0;
  while (dropped < DRAIN_BYTES) {
    const { done, value } = await reader.read();
    if (done) return;
    dropped += value.length;
  }
  await reader.cancel().catch(() => {});
}

async function readBody(request: Request, limit: number): Promise<Uint8Array> {
  const tooBig = (size: string) =>
    new HttpError(
      413,
      `body ${size}is over the ${limit}-byte limit; send smaller images`,
    );
  const declared = Number(request.headers.get("content-length") ?? NaN);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  if (declared > limit) {
    if (declared - limit <= DRAIN_BYTES) await drain(reader);
    else await reader.cancel().catch(() => {});
    throw tooBig(`of ${declared} bytes `);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await drain(reader);
      throw tooBig("");
    }
    chunks.push(value);
  }
  const body = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    body.set(c, o);
    o += c.length;
  }
  return body;
}

function fromBase64(text: unknown, field: string): Uint8Array {
  if (typeof text !== "string") {
    throw new HttpError(400, `"${field}" must be a base64 string`);
  }
  try {
    const bin = atob(text.replace(/^data:[^,]*,/, ""));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    throw new HttpError(400, `"${field}" is not valid base64`);
  }
}

export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

interface StylizeRequest {
  content: Uint8Array;
  style: Uint8Array;
  options: Record<string, unknown>;
  state: Uint8Array | null;
}

async function parseRequest(
  request: Request,
  body: Uint8Array,
): Promise<StylizeRequest> {
  const type = request.headers.get("content-type") ?? "";
  if (type.startsWith("multipart/form-data")) {
    let form: FormData;
    try {
      form = await new Response(body as BodyInit, {
        headers: { "content-type": type },
      }).formData();
    } catch {
      throw new HttpError(400, "multipart body cannot be parsed");
    }
    const bytesOf = async (name: string, required: boolean) => {
      const v = form.get(name);
      if (v === null) {
        if (required) throw new HttpError(400, `missing form field "${name}"`);
        return null;
      }
      return typeof v === "string"
        ? (name === "state" ? fromBase64(v, name) : new TextEncoder().encode(v))
        : new Uint8Array(await v.arrayBuffer());
    };
    const optionsText = form.get("options");
    let options: Record<string, unknown> = {};
    if (typeof optionsText === "string" && optionsText.trim()) {
      try {
        options = JSON.parse(optionsText);
      } catch {
        throw new HttpError(400, `form field "options" is not JSON`);
      }
    }
    return {
      content: (await bytesOf("content", true))!,
      style: (await bytesOf("style", true))!,
      options,
      state: await bytesOf("state", false),
    };
  }
  if (type.startsWith("application/json") || type === "") {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(new TextDecoder().decode(body));
    } catch {
      throw new HttpError(400, "body is not JSON (or multipart/form-data)");
    }
    if (typeof parsed !== "object" || parsed === null) {
      throw new HttpError(400, "body must be a JSON object");
    }
    return {
      content: fromBase64(parsed.content, "content"),
      style: fromBase64(parsed.style, "style"),
      options: (parsed.options ?? {}) as Record<string, unknown>,
      state: parsed.state == null ? null : fromBase64(parsed.state, "state"),
    };
  }
  throw new HttpError(
    415,
    `content-type ${type} is not supported; send multipart/form-data or application/json`,
  );
}

/** Width and height from a PNG or JPEG header, without decoding pixels. */
export function imageDimensions(
  b: Uint8Array,
): { width: number; height: number } | null {
  if (b.length >= 24 && b[0] === 0x89 && b[1] === 0x50) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
    let i = 2;
    while (i + 9 < b.length) {
      if (b[i] !== 0xff) return null;
      const marker = b[i + 1];
      const length = (b[i + 2] << 8) | b[i + 3];
      // Start-of-frame markers (baseline, progressive, …), not DHT/JPG/DAC.
      if (
        marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 &&
        marker !== 0xc8 && marker !== 0xcc
      ) {
        return {
          height: (b[i + 5] << 8) | b[i + 6],
          width: (b[i + 7] << 8) | b[i + 8],
        };
      }
      i += 2 + length;
    }
  }
  return null;
}

function positiveInt(
  options: Record<string, unknown>,
  name: string,
  fallback: number,
): number {
  const v = options[name] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new HttpError(400, `option ${name} must be a positive integer`);
  }
  return v;
}

function runOptions(
  options: Record<string, unknown>,
  limits: Limits,
): StyleRunOptions {
  const d = DEFAULT_STYLE_OPTIONS;
  const size = positiveInt(options, "size", Math.min(d.size, limits.maxSize));
  if (size > limits.maxSize) {
    throw new HttpError(
      400,
      `size ${size} is over this server's limit of ${limits.maxSize} pixels`,
    );
  }
  const styleWeight = options.styleWeight ?? d.styleWeight;
  if (
    typeof styleWeight !== "number" || !(styleWeight >= 0) ||
    !Number.isFinite(styleWeight)
  ) {
    throw new HttpError(400, "option styleWeight must be a number >= 0");
  }
  const seed = options.seed ?? d.seed;
  if (typeof seed !== "number" || !Number.isInteger(seed)) {
    throw new HttpError(400, "option seed must be an integer");
  }
  return {
    size,
    styleWeight,
    iterations: positiveInt(options, "iterations", d.iterations),
    keepColors: options.keepColors === true,
    seed,
  };
}

function decode(bytes: Uint8Array, name: string, limits: Limits): RgbImage {
  const dims = imageDimensions(bytes);
  if (dims && dims.width * dims.height > limits.maxPixels) {
    throw new HttpError(
      413,
      `${name} has ${dims.width}x${dims.height} pixels, over the limit of ${limits.maxPixels}; downscale it`,
    );
  }
  try {
    return decodeImage(bytes, { name, maxPixels: limits.maxPixels });
  } catch (e) {
    if (e instanceof ImageError) throw new HttpError(400, e.message);
    throw e;
  }
}

const tick = () => new Promise((r) => setTimeout(r, 0));

async function stylize(request: Request, srv: Server): Promise<Response> {
  const { limits } = srv;
  const body = await readBody(request, limits.maxBodyBytes);
  const req = await parseRequest(request, body);
  const options = runOptions(req.options, limits);
  const resumable = req.options.resumable === true || req.state !== null;
  const remaining = resumable ? limits.maxIterations : options.iterations;
  if (!resumable && options.iterations > limits.maxIterations) {
    throw new HttpError(
      400,
      `${options.iterations} iterations are over the per-request limit of ${limits.maxIterations}; send resumable: true and continue with the returned state`,
    );
  }
  const requestedBudget = req.options.budgetMs ?? limits.budgetMs;
  if (typeof requestedBudget !== "number" || !(requestedBudget > 0)) {
    throw new HttpError(400, "option budgetMs must be a positive number");
  }
  const budgetMs = Math.min(requestedBudget, limits.budgetMs);
  const contentImage = decode(req.content, "content", limits);
  const styleImage = decode(req.style, "style", limits);
  const requestId = toHex(
    await sha256(
      req.content,
      req.style,
      new TextEncoder().encode(JSON.stringify(options)),
    ),
  );
  let resumeBlob: Uint8Array | null = null;
  if (req.state) {
    const { header, blob } = await openState(srv.key, req.state);
    if (header.implementation !== styleImplementation(srv.weights)) {
      throw new StateError("state was written by another style implementation");
    }
    if (header.request !== requestId) {
      throw new StateError(
        "state belongs to another request: send the same images and options",
      );
    }
    resumeBlob = blob;
  }
  if (srv.active >= limits.maxConcurrent) {
    throw new HttpError(
      503,
      `server is busy (${srv.active} runs in progress); retry shortly`,
    );
  }
  srv.active++;
  const run = await createStyleRun(
    contentImage,
    styleImage,
    options,
    srv.weights,
  ).catch((e) => {
    srv.active--;
    if (e instanceof StyleOptionsError) throw new HttpError(400, e.message);
    throw e;
  });
  try {
    if (resumeBlob) {
      try {
        run.restoreState(resumeBlob);
      } catch (e) {
        throw new StateError(String((e as Error).message ?? e));
      }
    }
    const t0 = Date.now();
    const start = run.iteration;
    let report = { iteration: run.iteration, loss: NaN, done: false };
    let lastYield = t0;
    // One iteration at a time, at least one per request, within the budget
    // and the per-request iteration limit. Yielding every ~20 ms (or every 8
    // iterations: workerd's clock stands still until the next I/O) keeps
    // /health answering during a run.
    while (
      run.iteration < run.iterations &&
      run.iteration - start < remaining &&
      (run.iteration === start || Date.now() - t0 < budgetMs)
    ) {
      report = run.step(1);
      if (Date.now() - lastYield > 20 || (run.iteration - start) % 8 === 0) {
        await tick();
        lastYield = Date.now();
      }
    }
    const done = run.iteration >= run.iterations;
    const image = run.image();
    const png = encodeImage(image);
    srv.served++;
    if (!resumable) {
      if (!done) {
        throw new HttpError(
          503,
          `run did not finish within the ${budgetMs} ms budget; send resumable: true and continue with the returned state`,
        );
      }
      return new Response(png as BodyInit, {
        headers: {
          "content-type": "image/png",
          "x-impasto-iterations": String(run.iteration),
        },
      });
    }
    const state = await sealState(srv.key, {
      implementation: styleImplementation(srv.weights),
      request: requestId,
      iteration: run.iteration,
      iterations: run.iterations,
    }, run.saveState());
    const f32 = image.data;
    return json(200, {
      done,
      iteration: run.iteration,
      iterations: run.iterations,
      loss: report.loss,
      image: toBase64(png),
      state: toBase64(state),
      digest: toHex(
        await sha256(
          new Uint8Array(f32.buffer, f32.byteOffset, f32.byteLength),
        ),
      ),
    });
  } finally {
    run.dispose();
    srv.active--;
  }
}

function memoryReport(): Record<string, number> {
  const g = globalThis as {
    Deno?: { memoryUsage(): { rss: number; heapUsed: number } };
    process?: { memoryUsage?(): { rss: number; heapUsed: number } };
  };
  const usage = g.Deno?.memoryUsage?.() ?? g.process?.memoryUsage?.();
  return usage ? { rssBytes: usage.rss, jsHeapBytes: usage.heapUsed } : {};
}

function health(srv: Server): Response {
  const backend = getBackend();
  const info = backend.memory();
  const engine = (backend as unknown as {
    engine: { memory: WebAssembly.Memory; threads: number };
  }).engine;
  return json(200, {
    ok: true,
    implementation: styleImplementation(srv.weights),
    variant: srv.variant,
    threads: engine.threads,
    weights: srv.weightsSource ? srv.weights!.length : null,
    active: srv.active,
    served: srv.served,
    engineLiveBytes: info.liveBytes,
    engineLiveTensors: info.liveCount,
    engineMemoryBytes: engine.memory.buffer.byteLength,
    ...memoryReport(),
    limits: srv.limits,
  });
}

async function fetch(request: Request, envOrInfo?: unknown): Promise<Response> {
  try {
    const env = isEnv(envOrInfo) ? envOrInfo : null;
    const srv = await server(env);
    const url = new URL(request.url);
    if (url.pathname === "/health" && request.method === "GET") {
      return health(srv);
    }
    if (url.pathname === "/stylize") {
      if (request.method !== "POST") {
        return json(405, { error: "use POST /stylize" }, { allow: "POST" });
      }
      return await stylize(request, srv);
    }
    return json(404, {
      error:
        `no route ${request.method} ${url.pathname}; use POST /stylize or GET /health`,
    });
  } catch (e) {
    if (e instanceof HttpError) {
      return json(
        e.status,
        { error: e.message },
        e.status === 503 ? { "retry-after": "1" } : {},
      );
    }
    if (e instanceof StateError || e instanceof VariantError) {
      return json(400, { error: e.message });
    }
    // Unexpected: log for the operator, answer one line without a stack.
    console.error(e);
    const message = String((e as Error)?.message ?? e).split("\n")[0];
    return json(500, { error: `internal error: ${message}` });
  }
}

export default { fetch };
