// The page's compute thread: owns the engine (and so its thread pool, whose
// caller may block in Atomics.wait here but never on the page's main
// thread), decodes the images, runs the style transfer in short slices and
// posts each improved image to the page. Messages: see ToWorker/FromWorker.
// This module is browser compatible.
import { initBackend } from "../runtime/mod.ts";
import { decodeImage } from "../runtime/io/image.ts";
import {
  createStyleRun,
  styleImplementation,
  type StyleRunOptions,
} from "../hosts/style_run.ts";
import { parseVariant } from "../hosts/variant.ts";

export type ToWorker =
  | {
    type: "start";
    content: ArrayBuffer;
    style: ArrayBuffer;
    options: StyleRunOptions;
  }
  | { type: "stop" };

export type FromWorker =
  | {
    type: "ready";
    variant: string;
    threads: number;
    isolated: boolean;
    weights: boolean;
    implementation: string;
  }
  | {
    type: "progress";
    iteration: number;
    iterations: number;
    loss: number;
    width: number;
    height: number;
    rgba: Uint8ClampedArray<ArrayBuffer>;
    msPerIteration: number;
  }
  | { type: "done"; stopped: boolean; iteration: number }
  | { type: "error"; message: string };

const scope = globalThis as unknown as {
  postMessage(m: FromWorker, transfer?: Transferable[]): void;
  addEventListener(t: "message", l: (e: MessageEvent<ToWorker>) => void): void;
  crossOriginIsolated?: boolean;
};
const post = (m: FromWorker, transfer: Transferable[] = []) =>
  scope.postMessage(m, transfer);

/** How long one slice of work runs before the worker looks at its inbox. */
const SLICE_MS = 120;

let stopRequested = false;
let running = false;
let weights: Promise<Uint8Array | null> | null = null;

function oneLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}

async function start(): Promise<void> {
  const config = await (await fetch("/config.json")).json() as {
    variant: string | null;
    weights: boolean;
  };
  const isolated = scope.crossOriginIsolated === true;
  const variant = parseVariant(config.variant ?? undefined);
  const backend = await initBackend({
    threads: isolated ? navigator.hardwareConcurrency : 1,
    variant,
  });
  const engine = (backend as unknown as {
    engine: { variant: string; threads: number };
  }).engine;
  const bytes = config.weights ? await fetch("/weights") : null;
  const loaded = bytes?.ok ? new Uint8Array(await bytes.arrayBuffer()) : null;
  weights = Promise.resolve(loaded);
  post({
    type: "ready",
    variant: engine.variant,
    threads: engine.threads,
    isolated,
    weights: config.weights,
    implementation: styleImplementation(loaded),
  });
}

function toRgba(
  image: { width: number; height: number; data: Float32Array },
): Uint8ClampedArray<ArrayBuffer> {
  const n = image.width * image.height;
  const out = new Uint8ClampedArray(4 * n);
  for (let i = 0; i < n; i++) {
    out[4 * i] = image.data[i] * 255 + 0.5;
    out[4 * i + 1] = image.data[n + i] * 255 + 0.5;
    out[4 * i + 2] = image.data[2 * n + i] * 255 + 0.5;
    out[4 * i + 3] = 255;
  }
  return out;
}

async function stylize(m: Extract<ToWorker, { type: "start" }>) {
  running = true;
  stopRequested = false;
  const content = decodeImage(new Uint8Array(m.content), { name: "content" });
  const style = decodeImage(new Uint8Array(m.style), { name: "style" });
  const run = await createStyleRun(content, style, m.options, await weights);
  try {
    let report = { iteration: 0, loss: NaN, done: run.iterations === 0 };
    while (!report.done && !stopRequested) {
      const t0 = performance.now(), i0 = run.iteration;
      report = run.step({ budgetMs: SLICE_MS });
      const image = run.image();
      const rgba = toRgba(image);
      post({
        type: "progress",
        iteration: report.iteration,
        iterations: run.iterations,
        loss: report.loss,
        width: image.width,
        height: image.height,
        rgba,
        msPerIteration: (performance.now() - t0) / (run.iteration - i0),
      }, [rgba.buffer]);
      // Let "stop" arrive.
      await new Promise((r) => setTimeout(r, 0));
    }
    post({ type: "done", stopped: stopRequested, iteration: run.iteration });
  } finally {
    run.dispose();
    running = false;
  }
}

scope.addEventListener("message", (e) => {
  const m = e.data;
  if (m.type === "stop") {
    stopRequested = true;
  } else if (m.type === "start" && !running) {
    stylize(m).catch((err) => {
      running = false;
      post({ type: "error", message: oneLine(err) });
    });
  }
});

start().catch((e) => post({ type: "error", message: oneLine(e) }));
