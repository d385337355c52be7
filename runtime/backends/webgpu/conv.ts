// The six convolution kernels on WebGPU as three implicit-GEMM patterns
// (gemm.ts), NCHW with groups, strides, dilation and padding:
//  - gather:   out[n, g·Co + m, oh, ow] = Σ_{c,r,s} in[n, g·Ci + c,
//              oh·sh − pt + r·dh, …] · w[g·Co + m, c, r, s]
//              (Conv2D; ConvTranspose2DBackpropInput).
//  - scatter-as-gather (the transposed convolution, each output gathers
//              the inputs that would scatter into it):
//              out[n, g·Co + m, oh, ow] = Σ_{c,r,s} in[n, g·Ci + c, ih, iw] ·
//              w[g·Ci + c, m, r, s] with oh = ih·sh − pt + r·dh
//              (Conv2DBackpropInput; ConvTranspose2D).
//  - filter:   dw[g·M + m, c, r, s] = Σ_{n,p} a[n, g·M + m, p] ·
//              b[n, g·Nc + c, oh·sh − pt + r·dh, …] (both filter gradients).
// Reflect padding (Conv2D only) maps out-of-range taps to their mirror in
// the gathers; its input gradient is computed on the padded grid and
// folded back onto the input (each mirrored tap adds to its source).
// This module is browser compatible.
import type { Conv2dAttrs, ConvTranspose2dAttrs } from "../../kernel_names.ts";
import { empty, type Shape, type Tensor } from "../../tensor.ts";
import { bind, gpu, groups1d, MAIN_1D, none, PARAMS, Params } from "./_wgsl.ts";
import { shader } from "./backend.ts";
import { type GemmSpec, runGemm, runGemmPlain } from "./gemm.ts";

/** Geometry words 8..: Ci Co H W OH OW R S sh sw pt pl dh dw G reflect bias */
interface Geometry {
  ci: number;
  co: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  r: number;
  s: number;
  sh: number;
  sw: number;
  pt: number;
  pl: number;
  dh: number;
  dw: number;
  g: number;
  reflect: boolean;
  bias: boolean;
}

function geometryParams(g: Geometry) {
  return (p: Params) =>
    p.u(g.ci, g.co, g.h, g.w, g.oh, g.ow, g.r, g.s, g.sh, g.sw)
      .i(g.pt, g.pl).u(g.dh, g.dw, g.g).b(g.reflect, g.bias);
}

const GEOMETRY = /* wgsl */ `
struct Geo { ci: u32, co: u32, h: u32, w: u32, oh: u32, ow: u32, r: u32,
  s: u32, sh: u32, sw: u32, pt: i32, pl: i32, dh: u32, dw: u32, g: u32,
  reflect: bool, bias: bool }
fn geo() -> Geo {
  return Geo(pu(8u), pu(9u), pu(10u), pu(11u), pu(12u), pu(13u), pu(14u),
    pu(15u), pu(16u), pu(17u), pi(18u), pi(19u), pu(20u), pu(21u), pu(22u),
    pu(23u) != 0u, pu(24u) != 0u);
}`;

const STORE_BIAS = /* wgsl */ `
  let q = geo();
  var b = 0.0;
  if (q.bias) { b = bias[(z % q.g) * q.co + m]; }
  y[(z * q.co + m) * q.oh * q.ow + n] = v + b;`;

const GATHER: GemmSpec = {
  bindings: `@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;`,
  prelude: GEOMETRY,
  loadA: `let q = geo();
  return wt[((z % q.g) * q.co + m) * q.ci * q.r * q.s + k];`,
  loadB: `let q = geo();
  let rs = q.r * q.s;
  let c = k / rs; let t = k % rs;
  let oh = n / q.ow; let ow = n % q.ow;
  var ih = i32(oh * q.sh + (t / q.s) * q.dh) - q.pt;
  var iw = i32(ow * q.sw + (t % q.s) * q.dw) - q.pl;
  if (q.reflect) {
    ih = reflectIndex(ih, i32(q.h)); iw = reflectIndex(iw, i32(q.w));
  } else if (ih < 0 || iw < 0 || ih >= i32(q.h) || iw >= i32(q.w)) {
    return 0.0;
  }
  return x[(z * q.ci + c) * q.h * q.w + u32(ih) * q.w + u32(iw)];`,
  store: STORE_BIAS,
  aKFast: true,
  bKFast: false,
};

const SCATTER: GemmSpec = {
  bindings: GATHER.bindings,
  prelude: GEOMETRY,
  loadA: `let q = geo();
  let rs = q.r * q.s;
  return wt[(((z % q.g) * q.ci + k / rs) * q.co + m) * rs + k % rs];`,
  loadB: `let q = geo();
  let rs = q.r * q.s;
  let c = k / rs; let t = k % rs;
  let oh = n / q.ow; let ow = n % q.ow;
  let th = i32(oh) + q.pt - i32((t / q.s) * q.dh);
  let tw = i32(ow) + q.pl - i32((t % q.s) * q.dw);
  if (th < 0 || tw < 0) { return 0.0; }
  let uh = u32(th); let uw = u32(tw);
  if (uh % q.sh != 0u || uw % q.sw != 0u) { return 0.0; }
  let ih = uh / q.sh; let iw = uw / q.sw;
  if (ih >= q.h || iw >= q.w) { return 0.0; }
  return x[(z * q.ci + c) * q.h * q.w + ih * q.w + iw];`,
  store: STORE_BIAS,
  aKFast: true,
  bKFast: false,
};

// Filter gradient: Geo.co = M (rows), ci = Nc, (h, w) = b's spatial size,
// (oh, ow) = a's spatial size; word 25 = batch.
const FILTER: GemmSpec = {
  bindings: `@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> bt: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;`,
  prelude: GEOMETRY,
  loadA: `let q = geo();
  let hw = q.oh * q.ow;
  let b = k / hw;
  return a[((b * q.g + z) * q.co + m) * hw + k % hw];`,
  loadB: `let q = geo();
  let hw = q.oh * q.ow; let rs = q.r * q.s;
  let b = k / hw; let p = k % hw;
  let c = n / rs; let t = n % rs;
  var ih = i32((p / q.ow) * q.sh + (t / q.s) * q.dh) - q.pt;
  var iw = i32((p % q.ow) * q.sw + (t % q.s) * q.dw) - q.pl;
  if (q.reflect) {
    ih = reflectIndex(ih, i32(q.h)); iw = reflectIndex(iw, i32(q.w));
  } else if (ih < 0 || iw < 0 || ih >= i32(q.h) || iw >= i32(q.w)) {
    return 0.0;
  }
  return bt[((b * q.g + z) * q.ci + c) * q.h * q.w + u32(ih) * q.w + u32(iw)];`,
  aKFast: true,
  bKFast: true,
};

const REFLECT_FOLD = `${PARAMS}
@group(0) @binding(1) var<storage, read> dxp: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
fn sources(i: i32, n: i32, before: i32, after: i32) -> vec3<i32> {
  // Padded indices whose reflection is i (-1: none).
  var s = vec3<i32>(i + before, -1, -1);
  if (i >= 1 && i <= before) { s.y = before - i; }
  if (i <= n - 2 && i >= n - 1 - after) { s.z = before + 2 * n - 2 - i; }
  return s;
}
${MAIN_1D}
  let total = pu(0u); let H = pi(1u); let W = pi(2u);
  let pt = pi(3u); let pb = pi(4u); let pl = pi(5u); let pr = pi(6u);
  if (gi >= total) { return; }
  let plane = gi / u32(H * W); let rem = i32(gi % u32(H * W));
  let ih = rem / W; let iw = rem % W;
  let Hp = H + pt + pb; let Wp = W + pl + pr;
  let rows = sources(ih, H, pt, pb); let cols = sources(iw, W, pl, pr);
  var s = 0.0;
  for (var a = 0; a < 3; a = a + 1) {
    let hr = rows[a];
    if (hr < 0) { continue; }
    for (var b = 0; b < 3; b = b + 1) {
      let wc = cols[b];
      if (wc < 0) { continue; }
      s = s + dxp[plane * u32(Hp * Wp) + u32(hr * Wp + wc)];
    }
  }
  dx[gi] = s;
}`;

function checkGroups(op: string, cin: number, cout: number, g: number): void {
  if (!(g >= 1) || cin % g !== 0 || cout % g !== 0) {
    throw new RangeError(
      `${op}: channels ${cin} → ${cout} are not divisible by groups ${g}`,
    );
  }
}

function checkReflect(op: string, x: Shape, a: Conv2dAttrs): void {
  if (a.padMode !== "zero" && a.padMode !== "reflect") {
    throw new RangeError(
      `${op}: padMode must be "zero" or "reflect", got ${a.padMode}`,
    );
  }
  if (
    a.padMode === "reflect" &&
    (Math.max(a.padTop, a.padBottom) >= x[2] ||
      Math.max(a.padLeft, a.padRight) >= x[3])
  ) {
    throw new RangeError(
      `${op}: reflect padding must be smaller than the input (${x[2]}×${x[3]})`,
    );
  }
}

/** out [N, G·Co, OH, OW] gathered from in [N, G·Ci, H, W] (GATHER). */
export function convGather(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  out: Tensor,
  geo: Omit<Geometry, "bias">,
): void {
  const [n] = out.shape;
  runGemm(
    GATHER,
    geo.co,
    geo.oh * geo.ow,
    geo.ci * geo.r * geo.s,
    n * geo.g,
    [bind(x), bind(w), bias ? bind(bias) : none(), bind(out, true)],
    geometryParams({ ...geo, bias: bias !== null }),
  );
}

/** The transposed convolution as a gather (SCATTER). */
export function convScatter(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  out: Tensor,
  geo: Omit<Geometry, "bias" | "reflect">,
): void {
  const [n] = out.shape;
  runGemm(
    SCATTER,
    geo.co,
    geo.oh * geo.ow,
    geo.ci * geo.r * geo.s,
    n * geo.g,
    [bind(x), bind(w), bias ? bind(bias) : none(), bind(out, true)],
    geometryParams({ ...geo, reflect: false, bias: bias !== null }),
  );
}

/** dw [G·M, Nc, R, S] from a [N, G·M, OH, OW] and b [N, G·Nc, H, W]. */
export function convFilter(
  a: Tensor,
  b: Tensor,
  dw: Tensor,
  geo: Omit<Geometry, "bias">,
): void {
  const batch = a.shape[0];
  runGemmPlain(
    FILTER,
    geo.co,
    geo.ci * geo.r * geo.s,
    batch * geo.oh * geo.ow,
    geo.g,
    1,
    [bind(a), bind(b)],
    dw,
    geometryParams({ ...geo, bias: false }),
  );
}

export function conv2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  a: Conv2dAttrs,
  yShape: Shape,
): Tensor {
  const [, c, h, wd] = x.shape;
  const [k, , r, s] = w.shape;
  checkGroups("Conv2D", c, k, a.groups);
  checkReflect("Conv2D", x.shape, a);
  const y = empty(yShape);
  convGather(x, w, bias, y, {
    ci: c / a.groups,
    co: k / a.groups,
    h,
    w: wd,
    oh: yShape[2],
    ow: yShape[3],
    r,
    s,
    sh: a.strideH,
    sw: a.strideW,
    pt: a.padTop,
    pl: a.padLeft,
    dh: a.dilationH,
    dw: a.dilationW,
    g: a.groups,
    reflect: a.padMode === "reflect",
  });
  return y;
}

export function conv2dBackpropInput(
  dy: Tensor,
  w: Tensor,
  xShape: Shape,
  a: Conv2dAttrs,
): Tensor {
  const [n, c, h, wd] = xShape;
  const [k, , r, s] = w.shape;
  checkGroups("Conv2DBackpropInput", c, k, a.groups);
  checkReflect("Conv2DBackpropInput", xShape, a);
  const reflect = a.padMode === "reflect";
  const hp = reflect ? h + a.padTop + a.padBottom : h;
  const wp = reflect ? wd + a.padLeft + a.padRight : wd;
  const dxp = empty([n, c, hp, wp]);
  convScatter(dy, w, null, dxp, {
    ci: k / a.groups,
    co: c / a.groups,
    h: dy.shape[2],
    w: dy.shape[3],
    oh: hp,
    ow: wp,
    r,
    s,
    sh: a.strideH,
    sw: a.strideW,
    pt: reflect ? 0 : a.padTop,
    pl: reflect ? 0 : a.padLeft,
    dh: a.dilationH,
    dw: a.dilationW,
    g: a.groups,
  });
  if (!reflect) return dxp;
  const dx = empty(xShape);
  const total = dx.size;
  gpu().dispatch(
    shader(REFLECT_FOLD),
    [bind(dxp), bind(dx, true)],
    new Params().u(total).i(h, wd, a.padTop, a.padBottom, a.padLeft, a.padRight)
      .buffer,
    groups1d(total),
  );
  dxp.dispose();
  return dx;
}

export function conv2dBackpropFilter(
  x: Tensor,
  dy: Tensor,
  wShape: Shape,
  a: Conv2dAttrs,
): Tensor {
  const [, c, h, wd] = x.shape;
  const [k, , r, s] = wShape;
  checkGroups("Conv2DBackpropFilter", c, k, a.groups);
  checkReflect("Conv2DBackpropFilter", x.shape, a);
  const dw = empty(wShape);
  convFilter(dy, x, dw, {
    co: k / a.groups,
    ci: c / a.groups,
    h,
    w: wd,
    oh: dy.shape[2],
    ow: dy.shape[3],
    r,
    s,
    sh: a.strideH,
    sw: a.strideW,
    pt: a.padTop,
    pl: a.padLeft,
    dh: a.dilationH,
    dw: a.dilationW,
    g: a.groups,
    reflect: a.padMode === "reflect",
  });
  return dw;
}

export function convTranspose2d(
  x: Tensor,
  w: Tensor,
  bias: Tensor | null,
  a: ConvTranspose2dAttrs,
  yShape: Shape,
): Tensor {
  const [, c, h, wd] = x.shape;
  const [, kg, r, s] = w.shape;
  checkGroups("ConvTranspose2D", c, kg * a.groups, a.groups);
  const y = empty(yShape);
  convScatter(x, w, bias, y, {
    ci: c / a.groups,
    co: kg,
    h,
    w: wd,
    oh: yShape[2],
    ow: yShape[3],
    r,
    s,
    sh: a.strideH,
    sw: a.strideW,
    pt: a.padTop,
    pl: a.padLeft,
    dh: a.dilationH,
    dw: a.dilationW,
    g: a.groups,
  });
  return y;
}

export function convTranspose2dBackpropInput(
  dy: Tensor,
  w: Tensor,
  xShape: Shape,
  a: ConvTranspose2dAttrs,
): Tensor {
  const [, c, h, wd] = xShape;
  const [, kg, r, s] = w.shape;
  checkGroups("ConvTranspose2DBackpropInput", c, kg * a.groups, a.groups);
  const dx = empty(xShape);
  convGather(dy, w, null, dx, {
    ci: kg,
    co: c / a.groups,
    h: dy.shape[2],
    w: dy.shape[3],
    oh: h,
    ow: wd,
    r,
    s,
    sh: a.strideH,
    sw: a.strideW,
    pt: a.padTop,
    pl: a.padLeft,
    dh: a.dilationH,
    dw: a.dilationW,
    g: a.groups,
    reflect: false,
  });
  return dx;
}

export function convTranspose2dBackpropFilter(
  x: Tensor,
  dy: Tensor,
  wShape: Shape,
  a: ConvTranspose2dAttrs,
): Tensor {
  const [, c, h, wd] = x.shape;
  const [, kg, r, s] = wShape;
  checkGroups("ConvTranspose2DBackpropFilter", c, kg * a.groups, a.groups);
  const dw = empty(wShape);
  convFilter(x, dy, dw, {
    co: c / a.groups,
    ci: kg,
    h: dy.shape[2],
    w: dy.shape[3],
    oh: h,
    ow: wd,
    r,
    s,
    sh: a.strideH,
    sw: a.strideW,
    pt: a.padTop,
    pl: a.padLeft,
    dh: a.dilationH,
    dw: a.dilationW,
    g: a.groups,
    reflect: false,
  });
  return dw;
}
