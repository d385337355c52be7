// Tiled (implicit) GEMM for WebGPU: C[z][m][n] = Σ_k A(z, m, k) B(z, k, n),
// where A and B are WGSL functions that compute their element from any
// tensor layout. MatMul, Gram and all six convolution kernels are instances
// (convolutions as implicit GEMM: the im2col matrix is never stored,
// Chetlur et al. 2014, "cuDNN", §3.1).
// Each 16×16 workgroup computes a TM×TN tile of C (64 or 128 each way;
// chooseTile) with a (TM/16)×(TN/16) register block per invocation (up to
// 8×8), from TM×16 and 16×TN slices of A and B staged in workgroup memory
// as vec4 rows (Volkov & Demmel 2008: register blocking over a shared-memory
// tile). Each invocation reads its operands as whole vec4s, and the
// invocations of a row store adjacent columns (coalesced). The staging loop
// reads A and B along whichever axis is contiguous in memory (`aKFast`,
// `bKFast`) so global loads coalesce. Split-K (the reduction cut into
// `splits` slices written to a partial buffer, then summed) keeps the GPU
// busy when M×N is small and K large: filter gradients and Gram matrices.
// This module is browser compatible.
import { empty, type Tensor } from "../../tensor.ts";
import { bind, gpu, groups1d, MAIN_1D, PARAMS, Params } from "./_wgsl.ts";
import { shader } from "./backend.ts";
import type { BindingSpec } from "./protocol.ts";

/** The smallest tile edge (the split-K and dispatch bookkeeping unit). */
export const TILE = 64;
const TK = 16;

/** A tile shape: TM rows × TN columns of C per 16×16 workgroup. */
export interface Tile {
  tm: 64 | 128;
  tn: 64 | 128;
}

/**
 * Tile choice: the biggest tile that still yields at least `minTiles`
 * workgroups (about two per streaming multiprocessor on an H100: 132 SMs),
 * else 64×64 (with split-K where the caller allows it). Bigger tiles reuse
 * each staged value more (8×8 outputs per invocation: 16 shared-memory
 * vector reads per 64 FMAs instead of 8 per 16). Tests set `minTiles` to 0
 * (always the biggest tile) or Infinity (always 64×64) to cover both.
 */
export const gemmTuning = { minTiles: 264 };

const TILES: Tile[] = [
  { tm: 128, tn: 128 },
  { tm: 64, tn: 128 },
  { tm: 128, tn: 64 },
];
const SMALL: Tile = { tm: 64, tn: 64 };

export function chooseTile(m: number, n: number, z: number): Tile {
  for (const t of TILES) {
    if (t.tm === 128 && m <= 64) continue;
    if (t.tn === 128 && n <= 64) continue;
    const tiles = Math.ceil(m / t.tm) * Math.ceil(n / t.tn) * z;
    if (tiles >= gemmTuning.minTiles) return t;
  }
  return SMALL;
}

export interface GemmSpec {
  /** Tensor binding declarations (bindings 1..; see _wgsl.ts tensors()). */
  bindings: string;
  /** Extra WGSL (helpers). */
  prelude?: string;
  /** Body of fn loadA(z: u32, m: u32, k: u32) -> f32 (indices in range). */
  loadA: string;
  /** Body of fn loadB(z: u32, k: u32, n: u32) -> f32. */
  loadB: string;
  /**
   * Body of fn storeC(z: u32, split: u32, m: u32, n: u32, v: f32). Omitted:
   * the plain store C[((split·Z + z)·M + m)·N + n] = alpha·v into the last
   * binding, named C (which may be a split-K partial buffer).
   */
  store?: string;
  aKFast: boolean;
  bKFast: boolean;
}

const cache = new Map<GemmSpec, Map<string, string>>();

/**
 * The GEMM shader for one spec and tile. Invocation (tx, ty) owns the rows
 * 4·ty + 64·iv + c and the columns 4·tx + 64·jv + d (iv < TM/64, jv < TN/64,
 * c, d < 4): its A and B operands are whole vec4s of the staged slices, so
 * each k step reads TM/64 + TN/64 vec4s from workgroup memory for
 * (TM/16)·(TN/16) FMAs, and the 16 invocations of a row store 64 adjacent
 * columns. The slices are stored k-major as vec4 rows with one vec4 of
 * padding, which spreads the staging writes of the k-fast case over banks.
 * Every C element still sums its k terms in order with one fma each, so the
 * tile size does not change results.
 */
function source(spec: GemmSpec, tile: Tile): string {
  const tileKey = `${tile.tm}x${tile.tn}`;
  let byTile = cache.get(spec);
  if (!byTile) cache.set(spec, byTile = new Map());
  let code = byTile.get(tileKey);
  if (code) return code;
  const { tm, tn } = tile;
  const rowA = tm / 4 + 1, rowB = tn / 4 + 1; // vec4s per staged k row
  const aIdx = spec.aKFast
    ? `let kk = e % ${TK}u; let mm = e / ${TK}u;`
    : `let mm = e % ${tm}u; let kk = e / ${tm}u;`;
  const bIdx = spec.bKFast
    ? `let kk = e % ${TK}u; let nn = e / ${TK}u;`
    : `let nn = e % ${tn}u; let kk = e / ${tn}u;`;
  const store = spec.store ??
    "C[((split * pu(5u) + z) * pu(0u) + m) * pu(1u) + n] = pf(6u) * v;";
  const iv = tm / 64, jv = tn / 64;
  const decl: string[] = [], loadAv: string[] = [], loadBv: string[] = [];
  const fmas: string[] = [], stores: string[] = [];
  for (let a = 0; a < iv; a++) {
    loadAv.push(`let a${a} = As[ra + ${16 * a}u];`);
  }
  for (let b = 0; b < jv; b++) {
    loadBv.push(`let b${b} = Bs[rb + ${16 * b}u];`);
  }
  for (let a = 0; a < iv; a++) {
    for (let c = 0; c < 4; c++) {
      const row: string[] = [];
      for (let b = 0; b < jv; b++) {
        const acc = `acc${a}_${c}_${b}`;
        decl.push(`var ${acc} = vec4<f32>(0.0);`);
        fmas.push(`${acc} = fma(vec4<f32>(a${a}[${c}]), b${b}, ${acc});`);
        row.push(
          `storeRow(z, split, mBase + ${64 * a + c}u, nBase + ${
            64 * b
          }u, N, ${acc});`,
        );
      }
      stores.push(...row);
    }
  }
  code = `${PARAMS}
${spec.bindings}
var<workgroup> As: array<vec4<f32>, ${TK * rowA}>;
var<workgroup> Bs: array<vec4<f32>, ${TK * rowB}>;
fn reflectIndex(i: i32, n: i32) -> i32 {
  if (i < 0) { return -i; }
  if (i >= n) { return 2 * n - 2 - i; }
  return i;
}
${spec.prelude ?? ""}
fn loadA(z: u32, m: u32, k: u32) -> f32 { ${spec.loadA} }
fn loadB(z: u32, k: u32, n: u32) -> f32 { ${spec.loadB} }
fn storeC(z: u32, split: u32, m: u32, n: u32, v: f32) { ${store} }
fn storeRow(z: u32, split: u32, m: u32, n: u32, N: u32, v: vec4<f32>) {
  if (m >= pu(0u)) { return; }
  for (var d = 0u; d < 4u; d = d + 1u) {
    if (n + d < N) { storeC(z, split, m, n + d, v[d]); }
  }
}
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = pu(0u); let N = pu(1u); let K = pu(2u);
  let splits = pu(3u); let chunk = pu(4u);
  let split = wid.z % splits; let z = wid.z / splits;
  let kBegin = split * chunk; let kEnd = min(K, kBegin + chunk);
  let m0 = (wid.y + pu(7u)) * ${tm}u; let n0 = wid.x * ${tn}u;
  ${decl.join("\n  ")}
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + ${TK}u) {
    for (var r = 0u; r < ${(TK * tm) / 256}u; r = r + 1u) {
      let e = li + r * 256u;
      ${aIdx}
      let gm = m0 + mm; let gk = k0 + kk;
      var v = 0.0;
      if (gm < M && gk < kEnd) { v = loadA(z, gm, gk); }
      As[kk * ${rowA}u + mm / 4u][mm % 4u] = v;
    }
    for (var r = 0u; r < ${(TK * tn) / 256}u; r = r + 1u) {
      let e = li + r * 256u;
      ${bIdx}
      let gn = n0 + nn; let gk = k0 + kk;
      var v = 0.0;
      if (gn < N && gk < kEnd) { v = loadB(z, gk, gn); }
      Bs[kk * ${rowB}u + nn / 4u][nn % 4u] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk = kk + 1u) {
      let ra = kk * ${rowA}u + lid.y;
      let rb = kk * ${rowB}u + lid.x;
      ${loadAv.join(" ")}
      ${loadBv.join(" ")}
      ${fmas.join("\n      ")}
    }
    workgroupBarrier();
  }
  let mBase = m0 + 4u * lid.y; let nBase = n0 + 4u * lid.x;
  ${stores.join("\n  ")}
}`;
  byTile.set(tileKey, code);
  return code;
}

/** Parameters words 8.. of a GEMM instance (its loads and store read them). */
export type Extra = (p: Params) => void;

/** How many K slices: enough workgroups for a large GPU, slices ≥ 256. */
export function chooseSplits(
  m: number,
  n: number,
  z: number,
  k: number,
): number {
  const tiles = Math.ceil(m / TILE) * Math.ceil(n / TILE) * z;
  const want = Math.ceil(512 / tiles);
  const most = Math.floor(k / 256);
  let s = Math.max(1, Math.min(want, most, 64));
  // Partial sums of at most 64 Mi floats.
  while (s > 1 && s * m * n * z > 64 * 2 ** 20) s--;
  return s;
}

const SUM_SPLITS = `${PARAMS}
@group(0) @binding(1) var<storage, read> part: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
${MAIN_1D}
  let total = pu(0u); let splits = pu(1u);
  if (gi >= total) { return; }
  var s = 0.0;
  for (var i = 0u; i < splits; i = i + 1u) { s = s + part[i * total + gi]; }
  C[gi] = pf(2u) * s;
}`;

const MAX_GROUPS = 65535;

/**
 * Dispatches a GEMM grid, cutting the tile rows into chunks of at most
 * 65535 workgroups (word 7 of the parameters: the chunk's first tile row).
 */
function dispatchTiles(
  spec: GemmSpec,
  tile: Tile,
  bindings: BindingSpec[],
  p: Params,
  m: number,
  n: number,
  z: number,
): void {
  const cols = Math.ceil(n / tile.tn), rows = Math.ceil(m / tile.tm);
  if (cols > MAX_GROUPS || z > MAX_GROUPS) {
    throw new RangeError(
      `WebGPU GEMM: ${n} columns × ${z} batches exceed the dispatch limit`,
    );
  }
  const code = shader(source(spec, tile));
  for (let r0 = 0; r0 < rows; r0 += MAX_GROUPS) {
    p.at(7).u(r0);
    gpu().dispatch(code, bindings, p.buffer, [
      cols,
      Math.min(MAX_GROUPS, rows - r0),
      z,
    ]);
  }
}

/** Runs a custom-store GEMM (splits = 1): bindings in declaration order. */
export function runGemm(
  spec: GemmSpec,
  m: number,
  n: number,
  k: number,
  z: number,
  bindings: BindingSpec[],
  extra: Extra,
): void {
  const p = new Params().u(m, n, k, 1, Math.max(k, 1), z).f(1).at(8);
  extra(p);
  dispatchTiles(spec, chooseTile(m, n, z), bindings, p, m, n, z);
}

/**
 * Runs a plain-store GEMM into `out` (contiguous [z, m, n]) scaled by alpha,
 * with split-K when it pays (only with 64×64 tiles: a bigger tile is chosen
 * only when there are already enough workgroups). `bindings` are the inputs
 * (bindings 1..); the output is the last binding, C.
 */
export function runGemmPlain(
  spec: GemmSpec,
  m: number,
  n: number,
  k: number,
  z: number,
  alpha: number,
  bindings: BindingSpec[],
  out: Tensor,
  extra: Extra,
): void {
  const tile = chooseTile(m, n, z);
  const splits = tile === SMALL ? chooseSplits(m, n, z, k) : 1;
  const chunk = Math.ceil(Math.ceil(k / splits) / TK) * TK;
  const used = Math.max(1, Math.ceil(k / chunk));
  const part = used > 1 ? empty([used * z * m * n]) : out;
  const p = new Params().u(m, n, k, used, chunk, z).f(used > 1 ? 1 : alpha)
    .at(8);
  extra(p);
  dispatchTiles(
    spec,
    tile,
    [...bindings, bind(part, true)],
    p,
    m,
    n,
    z * used,
  );
  if (used > 1) {
    const total = z * m * n;
    gpu().dispatch(
      shader(SUM_SPLITS),
      [bind(part), bind(out, true)],
      new Params().u(total, used).f(alpha).buffer,
      groups1d(total),
    );
    part.dispose();
  }
}
