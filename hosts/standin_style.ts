// A stand-in for models/style/mod.ts while that library is written: the same
// run-object shape (step, image, saveState/restoreState, dispose) over a tiny
// pixel-space optimisation (content MSE + Gram-matrix style loss on RGB, Adam)
// so that the hosts (browser worker, Node, edge) and their resumable-state
// plumbing are built and tested against real engine work.
// This module is browser compatible.
import {
  backward,
  noGrad,
  ops,
  type Tensor,
  tensor,
  tidy,
} from "../runtime/mod.ts";
import { Adam } from "../runtime/optim/mod.ts";
import { resizeImage, type RgbImage } from "../runtime/io/image.ts";
import { crc32 } from "../runtime/io/crc32.ts";

export interface StandInOptions {
  /** Longest side of the result in pixels. */
  size: number;
  /** Weight of the style term against the content term. */
  styleWeight: number;
  /** Total iterations of the run. */
  iterations: number;
  /** Adam learning rate. */
  learningRate?: number;
}

/** What one call of step() did. */
export interface StepReport {
  iteration: number;
  loss: number;
  done: boolean;
}

const MAGIC = 0x53495053; // "SPIS" little-endian: stand-in state
const VERSION = 1;

function fit(image: RgbImage, size: number): RgbImage {
  const scale = size / Math.max(image.width, image.height);
  return resizeImage(
    image,
    Math.max(1, Math.round(image.width * scale)),
    Math.max(1, Math.round(image.height * scale)),
  );
}

export class StandInStyleRun {
  readonly width: number;
  readonly height: number;
  readonly iterations: number;
  #iteration = 0;
  #loss = NaN;
  #x: Tensor;
  #content: Tensor;
  #styleGram: Tensor;
  #styleWeight: number;
  #optimizer: Adam;

  constructor(
    content: RgbImage,
    style: RgbImage,
    options: StandInOptions,
  ) {
    const c = fit(content, options.size);
    const s = fit(style, options.size);
    this.width = c.width;
    this.height = c.height;
    this.iterations = options.iterations;
    this.#styleWeight = options.styleWeight;
    const shape = [1, 3, c.height, c.width];
    this.#content = tensor(c.data, shape);
    this.#styleGram = noGrad(() =>
      tidy(() =>
        ops.gram(
          tensor(s.data, [1, 3, s.height, s.width]),
          1 / (s.width * s.height),
        )
      )
    );
    this.#x = tensor(c.data, shape);
    this.#x.requiresGrad = true;
    this.#optimizer = new Adam([this.#x], { lr: options.learningRate ?? 0.02 });
  }

  get iteration(): number {
    return this.#iteration;
  }

  get loss(): number {
    return this.#loss;
  }

  #once(): void {
    const loss = tidy(() => {
      const content = ops.mseLoss(this.#x, this.#content);
      const g = ops.gram(this.#x, 1 / (this.width * this.height));
      const style = ops.scale(
        ops.mseLoss(g, this.#styleGram),
        this.#styleWeight,
      );
      return ops.add(content, style);
    });
    this.#optimizer.zeroGrad();
    backward(loss);
    this.#loss = loss.item();
    loss.dispose();
    this.#optimizer.step();
    this.#optimizer.zeroGrad();
    this.#iteration++;
  }

  /**
   * Runs `n` more iterations, or as many as fit in `budgetMs` (at least one),
   * never past the run's total.
   */
  step(work: number | { budgetMs: number }): StepReport {
    const t0 = Date.now();
    const limit = typeof work === "number" ? work : Infinity;
    for (let k = 0; k < limit && this.#iteration < this.iterations; k++) {
      if (
        typeof work !== "number" && k > 0 && Date.now() - t0 >= work.budgetMs
      ) break;
      this.#once();
    }
    return {
      iteration: this.#iteration,
      loss: this.#loss,
      done: this.#iteration >= this.iterations,
    };
  }

  /** The current image, planar RGB clamped to 0..1. */
  image(): RgbImage {
    const data = this.#x.data().map((v) => Math.min(1, Math.max(0, v)));
    return { width: this.width, height: this.height, data };
  }

  /** The run's state: image, Adam moments, iteration; checksummed. */
  saveState(): Uint8Array {
    const sd = this.#optimizer.stateDict();
    const st = sd.state[0] ?? {};
    const header = new TextEncoder().encode(JSON.stringify({
      width: this.width,
      height: this.height,
      iteration: this.#iteration,
      loss: this.#loss,
      counters: Object.fromEntries(
        Object.entries(st).filter(([, v]) => typeof v === "number"),
      ),
      buffers: Object.keys(st).filter((k) => typeof st[k] !== "number"),
    }));
    const buffers = [
      this.#x.data(),
      ...Object.values(st).filter((v): v is Float32Array =>
        typeof v !== "number"
      ),
    ];
    const floats = buffers.reduce((n, b) => n + b.length, 0);
    const headerLen = (header.length + 3) & ~3;
    const out = new Uint8Array(16 + headerLen + 4 * floats + 4);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, MAGIC, true);
    dv.setUint32(4, VERSION, true);
    dv.setUint32(8, header.length, true);
    dv.setUint32(12, floats, true);
    out.set(header, 16);
    let o = 16 + headerLen;
    for (const b of buffers) {
      out.set(new Uint8Array(b.buffer, b.byteOffset, b.byteLength), o);
      o += b.byteLength;
    }
    dv.setUint32(o, crc32(out.subarray(0, o)), true);
    return out;
  }

  /** Restores a blob from saveState(); throws on a corrupt or foreign one. */
  restoreState(bytes: Uint8Array): void {
    const bad = (why: string): never => {
      throw new RangeError(`Invalid style state: ${why}`);
    };
    if (bytes.length < 20) bad("too short");
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (dv.getUint32(0, true) !== MAGIC) bad("not a style state");
    if (dv.getUint32(4, true) !== VERSION) bad("unsupported version");
    const end = bytes.length - 4;
    if (crc32(bytes.subarray(0, end)) !== dv.getUint32(end, true)) {
      bad("checksum mismatch");
    }
    const headerBytes = dv.getUint32(8, true);
    const floats = dv.getUint32(12, true);
    const headerLen = (headerBytes + 3) & ~3;
    if (16 + headerLen + 4 * floats !== end) bad("wrong length");
    const header = JSON.parse(
      new TextDecoder().decode(bytes.subarray(16, 16 + headerBytes)),
    );
    if (header.width !== this.width || header.height !== this.height) {
      bad(`size ${header.width}x${header.height} differs from this run`);
    }
    const n = this.#x.size;
    if (floats !== n * (1 + header.buffers.length)) bad("wrong buffer sizes");
    const all = new Float32Array(
      bytes.slice(16 + headerLen, end).buffer,
    );
    this.#x.write(all.subarray(0, n));
    const sd = this.#optimizer.stateDict();
    const state: Record<string, number | Float32Array> = {
      ...header.counters,
    };
    header.buffers.forEach((k: string, i: number) => {
      state[k] = all.slice((i + 1) * n, (i + 2) * n);
    });
    sd.state = header.buffers.length ? { 0: state } : {};
    this.#optimizer.loadStateDict(sd);
    this.#iteration = header.iteration;
    this.#loss = header.loss ?? NaN;
  }

  dispose(): void {
    this.#optimizer.zeroGrad();
    this.#optimizer.dispose();
    this.#x.dispose();
    this.#content.dispose();
    this.#styleGram.dispose();
  }
}
