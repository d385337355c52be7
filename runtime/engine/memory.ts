// Places tensors and kernel workspaces in the engine's linear memory.
// First-fit over an address-sorted free list with coalescing; blocks are
// 64-byte aligned (a cache line, and f32x4 loads stay aligned). Memory grows
// in whole wasm pages up to the wasm32 limit of 4 GiB.
// This module is browser compatible.

const ALIGN = 64;
const PAGE = 65536;
/** wasm32 addresses 4 GiB: 65536 pages of 64 KiB. */
export const MAX_PAGES = 65536;

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

/** Thrown when a request cannot fit in the engine's memory. */
export class EngineMemoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EngineMemoryError";
  }
}

export class MemoryManager {
  readonly memory: WebAssembly.Memory;
  readonly maxPages: number;
  /** Free blocks as parallel arrays sorted by start address. */
  #freeStart: number[] = [];
  #freeSize: number[] = [];
  #live = new Map<number, number>();
  #liveBytes = 0;
  #peakBytes = 0;

  constructor(
    memory: WebAssembly.Memory,
    heapBase: number,
    maxPages = MAX_PAGES,
  ) {
    this.memory = memory;
    this.maxPages = maxPages;
    const start = alignUp(heapBase, ALIGN);
    const end = memory.buffer.byteLength;
    if (end > start) this.#insertFree(start, end - start);
  }

  /** Bytes held by live allocations. */
  get liveBytes(): number {
    return this.#liveBytes;
  }

  /** The most bytes ever live at once since creation or resetPeak(). */
  get peakBytes(): number {
    return this.#peakBytes;
  }

  /** Bytes of linear memory (live, free and the engine's own data). */
  get reservedBytes(): number {
    return this.memory.buffer.byteLength;
  }

  /** Number of live allocations (for leak tests). */
  get liveCount(): number {
    return this.#live.size;
  }

  resetPeak(): void {
    this.#peakBytes = this.#liveBytes;
  }

  /** Allocates `bytes` (rounded up to 64) and returns the address. */
  alloc(bytes: number): number {
    if (!Number.isFinite(bytes) || bytes < 0) {
      throw new RangeError(`Cannot allocate ${bytes} bytes`);
    }
    const size = Math.max(ALIGN, alignUp(bytes, ALIGN));
    let i = this.#findFit(size);
    if (i < 0) {
      this.#grow(size);
      i = this.#findFit(size);
      if (i < 0) throw new EngineMemoryError("Engine memory is corrupt");
    }
    const ptr = this.#freeStart[i];
    const rest = this.#freeSize[i] - size;
    if (rest > 0) {
      this.#freeStart[i] = ptr + size;
      this.#freeSize[i] = rest;
    } else {
      this.#freeStart.splice(i, 1);
      this.#freeSize.splice(i, 1);
    }
    this.#live.set(ptr, size);
    this.#liveBytes += size;
    if (this.#liveBytes > this.#peakBytes) this.#peakBytes = this.#liveBytes;
    return ptr;
  }

  /** Returns a block from alloc() to the free list. */
  free(ptr: number): void {
    const size = this.#live.get(ptr);
    if (size === undefined) {
      throw new Error(`Engine memory: ${ptr} is not a live allocation`);
    }
    this.#live.delete(ptr);
    this.#liveBytes -= size;
    this.#insertFree(ptr, size);
  }

  #findFit(size: number): number {
    for (let i = 0; i < this.#freeSize.length; i++) {
      if (this.#freeSize[i] >= size) return i;
    }
    return -1;
  }

  #insertFree(start: number, size: number): void {
    const starts = this.#freeStart, sizes = this.#freeSize;
    let lo = 0, hi = starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] < start) lo = mid + 1;
      else hi = mid;
    }
    // Coalesce with the previous and next blocks where they touch.
    if (lo > 0 && starts[lo - 1] + sizes[lo - 1] === start) {
      sizes[lo - 1] += size;
      if (lo < starts.length && starts[lo - 1] + sizes[lo - 1] === starts[lo]) {
        sizes[lo - 1] += sizes[lo];
        starts.splice(lo, 1);
        sizes.splice(lo, 1);
      }
      return;
    }
    if (lo < starts.length && start + size === starts[lo]) {
      starts[lo] = start;
      sizes[lo] += size;
      return;
    }
    starts.splice(lo, 0, start);
    sizes.splice(lo, 0, size);
  }

  #grow(size: number): void {
    const end = this.memory.buffer.byteLength;
    const n = this.#freeStart.length;
    // A free block touching the end of memory counts towards the request.
    const tail = n > 0 && this.#freeStart[n - 1] + this.#freeSize[n - 1] === end
      ? this.#freeSize[n - 1]
      : 0;
    const currentPages = end / PAGE;
    const needPages = Math.ceil((size - tail) / PAGE);
    // Grow by at least an eighth of the current size to keep growth rare.
    const wantPages = Math.max(needPages, Math.ceil(currentPages / 8));
    const pages = Math.min(wantPages, this.maxPages - currentPages);
    if (pages < needPages) {
      throw new EngineMemoryError(
        `Out of engine memory: ${mib(size)} MiB requested with ${
          mib(this.#liveBytes)
        } MiB in use would pass the ${
          mib(this.maxPages * PAGE)
        } MiB limit; use a smaller image, fewer layers or tiling`,
      );
    }
    try {
      this.memory.grow(pages);
    } catch {
      throw new EngineMemoryError(
        `Out of engine memory: the host refused to grow memory to ${
          mib((currentPages + pages) * PAGE)
        } MiB; use a smaller image or tiling`,
      );
    }
    this.#insertFree(end, pages * PAGE);
  }
}
