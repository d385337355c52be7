// Helpers shared by the WebGPU kernels: bindings, packed parameters, 1-D
// dispatch geometry and the WGSL preamble every shader starts with.
// Every shader reads its parameters from binding 0 (`P`, u32 words; floats
// as bit patterns) and its tensors from bindings 1.., in the order the
// kernel passes them: a shader must reference every binding it declares
// (layout "auto" drops unused ones and the bind group would not match).
// This module is browser compatible.
import { getBackend } from "../../backend.ts";
import type { Tensor } from "../../tensor.ts";
import type { WebGpuBackend } from "./backend.ts";
import type { BindingSpec } from "./protocol.ts";

export function gpu(): WebGpuBackend {
  return getBackend() as WebGpuBackend;
}

/** Binding of a tensor's elements (read-only unless `write`). */
export function bind(t: Tensor, write = false): BindingSpec {
  return { id: t.storage.handle, offset: t.offset, length: t.size, write };
}

/** Binding standing in for an absent optional tensor. */
export function none(): BindingSpec {
  return { id: 0, offset: 0, length: 4, write: false };
}

/** Packs kernel parameters as u32 words (at most 64). */
export class Params {
  #u = new Uint32Array(64);
  #f = new Float32Array(this.#u.buffer);
  #i = new Int32Array(this.#u.buffer);
  #n = 0;
  u(...v: number[]): this {
    for (const x of v) this.#u[this.#n++] = x >>> 0;
    return this;
  }
  i(...v: number[]): this {
    for (const x of v) this.#i[this.#n++] = x | 0;
    return this;
  }
  f(...v: number[]): this {
    for (const x of v) this.#f[this.#n++] = x;
    return this;
  }
  b(...v: boolean[]): this {
    for (const x of v) this.#u[this.#n++] = x ? 1 : 0;
    return this;
  }
  /** Moves the write position to word `i` (zero-filled gap). */
  at(i: number): this {
    this.#n = i;
    return this;
  }
  get buffer(): ArrayBuffer {
    return this.#u.buffer.slice(0, 256);
  }
}

/** Workgroups for `n` invocations in groups of `size`, folded into 2-D. */
export function groups1d(n: number, size = 256): [number, number, number] {
  const total = Math.max(1, Math.ceil(n / size));
  const x = Math.min(total, 65535);
  return [x, Math.ceil(total / x), 1];
}

/** The parameter binding and accessors. */
export const PARAMS = /* wgsl */ `
@group(0) @binding(0) var<storage, read> P: array<u32>;
fn pu(i: u32) -> u32 { return P[i]; }
fn pi(i: u32) -> i32 { return bitcast<i32>(P[i]); }
fn pf(i: u32) -> f32 { return bitcast<f32>(P[i]); }
`;

/** Declares tensor bindings 1..: [name, "read" | "read_write", type]. */
export function tensors(
  ...decls: [string, "read" | "read_write", string?][]
): string {
  return decls.map(([name, access, type], i) =>
    `@group(0) @binding(${i + 1}) var<storage, ${access}> ${name}: array<${
      type ?? "f32"
    }>;`
  ).join("\n");
}

/** Entry point header of a 1-D kernel (index `gi`, size 256). */
export const MAIN_1D = /* wgsl */ `
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
  let gi = (wid.y * nwg.x + wid.x) * 256u + li;`;
