// Tiled (implicit) GEMM for WebGPU: C[z][m][n] = Σ_k A(z, m, k) B(z, k, n),
// where A and B are WGSL functions that compute their element from any
// tensor layout. MatMul, Gram and all six convolution kernels are instances
// (convolutions as implicit GEMM: the im2col matrix is never stored,
// Chetlur et al. 2014, "cuDNN", §3.1).
// Each 16×16 workgroup computes a 64×64 tile of C, 4×4 per invocation, from
// 64×16 slices of A and B staged in workgroup memory (Volkov & Demmel 2008:
// register blocking over a shared-memory tile). Invocation (tx, ty) owns
// rows ty + 16i and columns tx + 16j, so neighbouring invocations read
// neighbouring shared-memory words (no bank conflicts) and store
// neighbouring columns (coalesced). The staging loop reads A and B along
// whichever axis is contiguous in memory (`aKFast`, `bKFast`) so global
// loads coalesce. Split-K (the reduction cut into `splits` slices written to
// a partial buffer, then summed) keeps the GPU busy when M×N is small and K
// large: filter gradients and Gram matrices.
// This module is browser compatible.
import { empty, type Tensor } from "../../tensor.ts";
import { bind, gpu, groups1d, MAIN_1D, PARAMS, Params } from "./_wgsl.ts";
import { shader } from "./backend.ts";
import type { BindingSpec } from "./protocol.ts";

export const TILE = 64;
const TK = 16;

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

const cache = new Map<GemmSpec, string>();

function source(spec: GemmSpec): string {
  let code = cache.get(spec);
  if (code) return code;
  const aIdx = spec.aKFast
    ? "let kk = e % 16u; let mm = e / 16u;"
    : "let mm = e % 64u; let kk = e / 64u;";
  const bIdx = spec.bKFast
    ? "let kk = e % 16u; let nn = e / 16u;"
    : "let nn = e % 64u; let kk = e / 64u;";
  const store = spec.store ??
    "C[((split * pu(5u) + z) * pu(0u) + m) * pu(1u) + n] = pf(6u) * v;";
  code = `${PARAMS}
${spec.bindings}
var<workgroup> As: array<f32, ${TK * TILE}>;
var<workgroup> Bs: array<f32, ${TK * TILE}>;
fn reflectIndex(i: i32, n: i32) -> i32 {
  if (i < 0) { return -i; }
  if (i >= n) { return 2 * n - 2 - i; }
  return i;
}
${spec.prelude ?? ""}
fn loadA(z: u32, m: u32, k: u32) -> f32 { ${spec.loadA} }
fn loadB(z: u32, k: u32, n: u32) -> f32 { ${spec.loadB} }
fn storeC(z: u32, split: u32, m: u32, n: u32, v: f32) { ${store} }
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let M = pu(0u); let N = pu(1u); let K = pu(2u);
  let splits = pu(3u); let chunk = pu(4u);
  let split = wid.z % splits; let z = wid.z / splits;
  let kBegin = split * chunk; let kEnd = min(K, kBegin + chunk);
  let m0 = (wid.y + pu(7u)) * 64u; let n0 = wid.x * 64u;
  var acc0 = vec4<f32>(0.0); var acc1 = vec4<f32>(0.0);
  var acc2 = vec4<f32>(0.0); var acc3 = vec4<f32>(0.0);
  for (var k0 = kBegin; k0 < kEnd; k0 = k0 + 16u) {
    for (var r = 0u; r < 4u; r = r + 1u) {
      let e = li + r * 256u;
      {
        ${aIdx}
        let gm = m0 + mm; let gk = k0 + kk;
        var v = 0.0;
        if (gm < M && gk < kEnd) { v = loadA(z, gm, gk); }
        As[kk * 64u + mm] = v;
      }
      {
        ${bIdx}
        let gn = n0 + nn; let gk = k0 + kk;
        var v = 0.0;
        if (gn < N && gk < kEnd) { v = loadB(z, gk, gn); }
        Bs[kk * 64u + nn] = v;
      }
    }
    workgroupBarrier();
    for (var kk = 0u; kk < 16u; kk = kk + 1u) {
      let rb = kk * 64u + lid.x;
      let b = vec4<f32>(Bs[rb], Bs[rb + 16u], Bs[rb + 32u], Bs[rb + 48u]);
      let ra = kk * 64u + lid.y;
      acc0 = fma(vec4<f32>(As[ra]), b, acc0);
      acc1 = fma(vec4<f32>(As[ra + 16u]), b, acc1);
      acc2 = fma(vec4<f32>(As[ra + 32u]), b, acc2);
      acc3 = fma(vec4<f32>(As[ra + 48u]), b, acc3);
    }
    workgroupBarrier();
  }
  var acc = array<vec4<f32>, 4>(acc0, acc1, acc2, acc3);
  for (var i = 0u; i < 4u; i = i + 1u) {
    let m = m0 + lid.y + 16u * i;
    if (m < M) {
      for (var j = 0u; j < 4u; j = j + 1u) {
        let n = n0 + lid.x + 16u * j;
        if (n < N) { storeC(z, split, m, n, acc[i][j]); }
      }
    }
  }
}`;
  cache.set(spec, code);
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
  code: string,
  bindings: BindingSpec[],
  p: Params,
  m: number,
  n: number,
  z: number,
): void {
  const cols = Math.ceil(n / TILE), rows = Math.ceil(m / TILE);
  if (cols > MAX_GROUPS || z > MAX_GROUPS) {
    throw new RangeError(
      `WebGPU GEMM: ${n} columns × ${z} batches exceed the dispatch limit`,
    );
  }
  for (let r0 = 0; r0 < rows; r0 += MAX_GROUPS) {
    p.at(7).u(r0);
    gpu().dispatch(shader(code), bindings, p.buffer, [
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
  dispatchTiles(source(spec), bindings, p, m, n, z);
}

/**
 * Runs a plain-store GEMM into `out` (contiguous [z, m, n]) scaled by alpha,
 * with split-K when it pays. `bindings` are the inputs (bindings 1..);
 * the output is the last binding, C.
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
  const splits = chooseSplits(m, n, z, k);
  const chunk = Math.ceil(Math.ceil(k / splits) / TK) * TK;
  const used = Math.max(1, Math.ceil(k / chunk));
  const part = used > 1 ? empty([used * z * m * n]) : out;
  const p = new Params().u(m, n, k, used, chunk, z).f(used > 1 ? 1 : alpha)
    .at(8);
  extra(p);
  dispatchTiles(
    source(spec),
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
