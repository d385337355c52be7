// The page: picks or drops a content photo and a style image (bundled
// examples by default), starts the style transfer in a dedicated worker
// (web/stylize_worker.ts, which owns the engine), draws each improved image,
// and offers stop and download. The main thread never computes or blocks.
// This module is browser compatible.
import type { FromWorker, ToWorker } from "./stylize_worker.ts";

const $ = <T extends HTMLElement>(id: string) =>
  document.getElementById(id) as T;

const ui = {
  engine: $<HTMLParagraphElement>("engine"),
  status: $<HTMLParagraphElement>("status"),
  progress: $<HTMLProgressElement>("progress"),
  start: $<HTMLButtonElement>("start"),
  stop: $<HTMLButtonElement>("stop"),
  download: $<HTMLAnchorElement>("download"),
  canvas: $<HTMLCanvasElement>("result"),
  size: $<HTMLInputElement>("size"),
  strength: $<HTMLInputElement>("strength"),
  strengthValue: $<HTMLOutputElement>("strength-value"),
  iterations: $<HTMLInputElement>("iterations"),
  keepColors: $<HTMLInputElement>("keep-colors"),
};

const images: Record<"content" | "style", ArrayBuffer | null> = {
  content: null,
  style: null,
};
let ready = false;
let running = false;
let downloadUrl: string | null = null;

/** Style strength slider: a log scale, 10^value (10³ … 10⁷; default 10⁵). */
function styleWeight(): number {
  return Math.round(10 ** Number(ui.strength.value));
}

function setImage(which: "content" | "style", bytes: ArrayBuffer) {
  images[which] = bytes;
  const img = $<HTMLImageElement>(`${which}-preview`);
  if (img.src.startsWith("blob:")) URL.revokeObjectURL(img.src);
  img.src = URL.createObjectURL(new Blob([bytes]));
  updateButtons();
}

function updateButtons() {
  ui.start.disabled = !ready || running || !images.content || !images.style;
  ui.stop.disabled = !running;
}

function wireInput(which: "content" | "style") {
  const drop = $<HTMLLabelElement>(`${which}-drop`);
  const input = $<HTMLInputElement>(`${which}-file`);
  input.addEventListener("change", async () => {
    const f = input.files?.[0];
    if (f) setImage(which, await f.arrayBuffer());
  });
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    const f = e.dataTransfer?.files?.[0];
    if (f) setImage(which, await f.arrayBuffer());
  });
}

const worker = new Worker(new URL("./stylize_worker.js", import.meta.url), {
  type: "module",
});
const send = (m: ToWorker, transfer: Transferable[] = []) =>
  worker.postMessage(m, transfer);

function draw(m: Extract<FromWorker, { type: "progress" }>) {
  if (ui.canvas.width !== m.width || ui.canvas.height !== m.height) {
    ui.canvas.width = m.width;
    ui.canvas.height = m.height;
  }
  ui.canvas.getContext("2d")!.putImageData(
    new ImageData(m.rgba, m.width, m.height),
    0,
    0,
  );
  ui.progress.value = m.iteration / m.iterations;
  ui.status.textContent = `Iteration ${m.iteration} of ${m.iterations}, ` +
    `loss ${m.loss.toPrecision(4)}, ${
      m.msPerIteration.toFixed(1)
    } ms per iteration`;
}

function finishDownload() {
  ui.canvas.toBlob((blob) => {
    if (!blob) return;
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(blob);
    ui.download.href = downloadUrl;
    ui.download.classList.remove("disabled");
  }, "image/png");
}

worker.addEventListener("message", (e: MessageEvent<FromWorker>) => {
  const m = e.data;
  switch (m.type) {
    case "ready":
      ready = true;
      ui.engine.textContent = m.isolated
        ? `Engine: ${m.variant}, ${m.threads} threads.`
        : `Engine: ${m.variant}, single-threaded: this page is not cross-origin isolated (serve it with COOP/COEP headers for threads).`;
      ui.engine.textContent += ` Style transfer: ${m.implementation}.`;
      ui.engine.classList.toggle("warn", !m.isolated);
      ui.status.textContent = m.weights
        ? "Ready."
        : "Ready (no VGG weights on this server; start it with --weights FILE).";
      document.body.dataset.state = "ready";
      updateButtons();
      break;
    case "progress":
      draw(m);
      break;
    case "done":
      running = false;
      ui.status.textContent = `${
        m.stopped ? "Stopped" : "Done"
      } after ${m.iteration} iterations.`;
      document.body.dataset.state = m.stopped ? "stopped" : "done";
      finishDownload();
      updateButtons();
      break;
    case "error":
      running = false;
      ui.status.textContent = `Error: ${m.message}`;
      document.body.dataset.state = "error";
      updateButtons();
      break;
  }
});
worker.addEventListener("error", (e) => {
  ui.status.textContent = `Error: ${e.message}`;
  document.body.dataset.state = "error";
});

ui.start.addEventListener("click", () => {
  if (!images.content || !images.style) return;
  running = true;
  document.body.dataset.state = "running";
  ui.download.classList.add("disabled");
  ui.status.textContent = "Starting…";
  updateButtons();
  // Copies: the page keeps its images for the next run.
  send({
    type: "start",
    content: images.content.slice(0),
    style: images.style.slice(0),
    options: {
      size: Math.max(16, Math.min(1024, Number(ui.size.value) || 192)),
      styleWeight: styleWeight(),
      iterations: Math.max(1, Math.floor(Number(ui.iterations.value) || 1)),
      keepColors: ui.keepColors.checked,
      seed: 0,
    },
  });
});
ui.stop.addEventListener("click", () => send({ type: "stop" }));
ui.strength.addEventListener("input", () => {
  ui.strengthValue.textContent = String(styleWeight());
});

wireInput("content");
wireInput("style");
// The bundled examples, until the person picks their own.
for (
  const [which, url] of [
    ["content", "/assets/images/chelsea.png"],
    ["style", "/assets/images/starry_night.jpg"],
  ] as const
) {
  fetch(url).then((r) => r.arrayBuffer()).then((b) => {
    if (!images[which]) setImage(which, b);
  });
}
