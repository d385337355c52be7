// ONNX operator conformance: runs the single-node cases of the ONNX backend
// test data (Debian's libonnx-testdata: data/node, data/pytorch-converted,
// data/pytorch-operator) whose op our engine covers through the adapters in
// _ops.ts, on the wasm shims, and compares with the expected outputs.
//
// Every covered case runs twice, with the SIMD kernels and with their scalar
// twins, on a 2-thread engine. Tolerance: |got − want| ≤ atol + rtol·|want|
// with atol 1e-4, rtol 1e-3 (f32 kernels against numpy references computed
// in f32/f64); integer outputs (MaxPool indices) must match exactly.
// Per op it prints cases / covered / passed / skipped (with reasons) / not
// yet available, and fails if any covered case fails.
// IMPASTO_ONNX_TESTDATA overrides the data folder.
import assert from "node:assert/strict";
import { createTestEngine } from "../_engine.ts";
import { assertClose, randomArray } from "../_check.ts";
import { ProtoWriter } from "../../runtime/io/protobuf.ts";
import {
  decodeModel,
  decodeNode,
  decodeTensor,
  type OnnxModel,
  type OnnxTensor,
  opsetVersion,
  tensorToFloat32,
} from "../../runtime/io/onnx.ts";
import {
  ADAPTERS,
  type HostTensor,
  loadShims,
  Scratch,
  type Shims,
  Unsupported,
} from "./_ops.ts";

const DATA_ROOT = Deno.env.get("IMPASTO_ONNX_TESTDATA") ??
  "/usr/share/libonnx-testdata/data";
const SUITES = ["node", "pytorch-converted", "pytorch-operator"];
const ATOL = 1e-4;
const RTOL = 1e-3;

/** Cases that need a tolerance other than the default, and why. */
const TOLERANCE_EXCEPTIONS: Record<
  string,
  { atol: number; rtol: number; why: string }
> = {};

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

const available = SUITES.some((s) => isDir(`${DATA_ROOT}/${s}`));
const missingReason =
  `ONNX test data not found at ${DATA_ROOT}/{${SUITES}} (install Debian's libonnx-testdata, or set IMPASTO_ONNX_TESTDATA)`;

interface OpTally {
  cases: number;
  covered: number;
  passed: number;
  failed: number;
  skipped: Map<string, number>;
  unavailable: Map<string, number>;
}

function tally(map: Map<string, OpTally>, op: string): OpTally {
  let t = map.get(op);
  if (!t) {
    t = {
      cases: 0,
      covered: 0,
      passed: 0,
      failed: 0,
      skipped: new Map(),
      unavailable: new Map(),
    };
    map.set(op, t);
  }
  return t;
}

function bump(m: Map<string, number>, key: string): void {
  m.set(key, (m.get(key) ?? 0) + 1);
}

function listDir(path: string): string[] {
  return [...Deno.readDirSync(path)].map((e) => e.name).sort();
}

/** input_0.pb, input_1.pb, … in index order. */
function numbered(dir: string, prefix: string): string[] {
  return listDir(dir)
    .filter((f) => f.startsWith(prefix) && f.endsWith(".pb"))
    .sort((a, b) =>
      parseInt(a.slice(prefix.length)) - parseInt(b.slice(prefix.length))
    )
    .map((f) => `${dir}/${f}`);
}

function toHost(t: OnnxTensor): HostTensor {
  return { dims: t.dims, data: tensorToFloat32(t) };
}

/**
 * The node's input tensors: initializers by name, test data by name or in
 * the order of the graph inputs that are not initializers.
 */
function nodeInputs(
  model: OnnxModel,
  dataset: string,
): (HostTensor | null)[] {
  const g = model.graph;
  const values = new Map<string, OnnxTensor>();
  for (const t of g.initializers) values.set(t.name, t);
  const fed = g.inputs.filter((i) => !values.has(i.name));
  numbered(dataset, "input_").forEach((file, k) => {
    const t = decodeTensor(Deno.readFileSync(file));
    const name = fed.some((i) => i.name === t.name) ? t.name : fed[k]?.name;
    if (name !== undefined) values.set(name, t);
  });
  return g.nodes[0].inputs.map((name) => {
    if (name === "") return null;
    const t = values.get(name);
    if (!t) throw new Error(`no data for input ${name}`);
    return toHost(t);
  });
}

/** Expected outputs by node output position (null: not in the data). */
function expectedOutputs(
  model: OnnxModel,
  dataset: string,
): (OnnxTensor | null)[] {
  const files = numbered(dataset, "output_");
  const byName = new Map<string, OnnxTensor>();
  files.forEach((file, k) => {
    const t = decodeTensor(Deno.readFileSync(file));
    byName.set(model.graph.outputs[k]?.name ?? t.name, t);
  });
  return model.graph.nodes[0].outputs.map((name) => byName.get(name) ?? null);
}

const INTEGER_TYPES = new Set([2, 3, 4, 5, 6, 7, 9, 12, 13]);

function compare(
  label: string,
  got: HostTensor | null,
  want: OnnxTensor,
  tol: { atol: number; rtol: number },
): void {
  if (!got) return;
  assert.deepEqual(got.dims, want.dims, `${label}: output dims`);
  const exact = INTEGER_TYPES.has(want.dataType);
  assertClose(got.data, tensorToFloat32(want), {
    atol: exact ? 0 : tol.atol,
    rtol: exact ? 0 : tol.rtol,
    label,
  });
}

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0];
}

Deno.test({
  name: `ONNX operator conformance${
    available ? "" : ` (skipped: ${missingReason})`
  }`,
  ignore: !available,
  async fn() {
    const engine = await createTestEngine();
    const { shims, missing } = await loadShims();
    const ops = new Map<string, OpTally>();
    const uncovered = new Map<string, number>();
    let multiNode = 0;
    const failures: string[] = [];
    try {
      for (const suite of SUITES) {
        const root = `${DATA_ROOT}/${suite}`;
        if (!isDir(root)) continue;
        for (const name of listDir(root)) {
          const dir = `${root}/${name}`;
          let model: OnnxModel;
          try {
            model = decodeModel(Deno.readFileSync(`${dir}/model.onnx`));
          } catch (e) {
            // Every model in the data is valid ONNX: this is a decoder bug.
            failures.push(
              `${suite}/${name}: model.onnx does not decode: ${firstLine(e)}`,
            );
            continue;
          }
          if (model.graph.nodes.length !== 1) {
            multiNode++;
            continue;
          }
          const node = model.graph.nodes[0];
          const adapter = ADAPTERS[node.opType];
          if (!adapter || (node.domain !== "" && node.domain !== "ai.onnx")) {
            bump(uncovered, node.opType);
            continue;
          }
          const t = tally(ops, node.opType);
          t.cases++;
          const absent = adapter.shims.filter((s) => !shims[s]);
          if (absent.length) {
            bump(t.unavailable, absent.map((s) => missing[s]).join("; "));
            continue;
          }
          const label = `${suite}/${name}`;
          const tol = TOLERANCE_EXCEPTIONS[name] ?? { atol: ATOL, rtol: RTOL };
          let outcome: "passed" | "failed" | "skipped" | "unavailable" =
            "passed";
          let reason = "";
          const mem = new Scratch(engine);
          try {
            for (
              const dataset of listDir(dir).filter((d) =>
                d.startsWith("test_data_set_")
              )
            ) {
              const inputs = nodeInputs(model, `${dir}/${dataset}`);
              const expected = expectedOutputs(model, `${dir}/${dataset}`);
              for (const impl of ["simd", "scalar"] as const) {
                const got = adapter.run(
                  {
                    engine,
                    node,
                    opset: opsetVersion(model),
                    inputs,
                    options: { impl },
                    mem,
                  },
                  shims as Shims,
                );
                mem.freeAll();
                expected.forEach((want, i) => {
                  if (want) compare(`[${impl}] output ${i}`, got[i], want, tol);
                });
              }
            }
          } catch (e) {
            mem.freeAll();
            reason = firstLine(e);
            if (e instanceof Unsupported) outcome = "skipped";
            else if (/Engine has no kernel/.test(reason)) {
              outcome = "unavailable";
              reason = `kernel not in build/ (${reason})`;
            } else outcome = "failed";
          }
          if (outcome === "skipped") bump(t.skipped, reason);
          else if (outcome === "unavailable") bump(t.unavailable, reason);
          else {
            t.covered++;
            if (outcome === "passed") t.passed++;
            else {
              t.failed++;
              failures.push(`${label}: ${reason}`);
            }
          }
        }
      }
    } finally {
      engine.dispose();
    }
    console.log(report(ops, uncovered, multiNode));
    if (failures.length) {
      throw new Error(
        `${failures.length} covered ONNX case(s) failed:\n  ${
          failures.join("\n  ")
        }`,
      );
    }
  },
});

if (!available) console.log(`ONNX conformance skipped: ${missingReason}`);

function report(
  ops: Map<string, OpTally>,
  uncovered: Map<string, number>,
  multiNode: number,
): string {
  const lines = [
    `ONNX conformance (${DATA_ROOT}: ${
      SUITES.join(", ")
    }; atol ${ATOL}, rtol ${RTOL}, simd + scalar kernels)`,
    "op                  cases covered passed failed skipped n/a",
  ];
  const total = {
    cases: 0,
    covered: 0,
    passed: 0,
    failed: 0,
    skipped: 0,
    na: 0,
  };
  const notes: string[] = [];
  for (const [op, t] of [...ops].sort(([a], [b]) => a.localeCompare(b))) {
    const skipped = [...t.skipped.values()].reduce((a, b) => a + b, 0);
    const na = [...t.unavailable.values()].reduce((a, b) => a + b, 0);
    lines.push(
      `${op.padEnd(20)}${String(t.cases).padStart(5)}${
        String(t.covered).padStart(8)
      }${String(t.passed).padStart(7)}${String(t.failed).padStart(7)}${
        String(skipped).padStart(8)
      }${String(na).padStart(4)}`,
    );
    total.cases += t.cases;
    total.covered += t.covered;
    total.passed += t.passed;
    total.failed += t.failed;
    total.skipped += skipped;
    total.na += na;
    for (const [why, k] of t.skipped) {
      notes.push(`  ${op}: ${k} skipped: ${why}`);
    }
    for (const [why, k] of t.unavailable) {
      notes.push(`  ${op}: ${k} not yet available: ${why}`);
    }
  }
  lines.push(
    `${"total".padEnd(20)}${String(total.cases).padStart(5)}${
      String(total.covered).padStart(8)
    }${String(total.passed).padStart(7)}${String(total.failed).padStart(7)}${
      String(total.skipped).padStart(8)
    }${String(total.na).padStart(4)}`,
  );
  lines.push(...notes);
  const other = [...uncovered.values()].reduce((a, b) => a + b, 0);
  lines.push(
    `Not covered: ${other} single-node cases of ${uncovered.size} other op types, and ${multiNode} multi-node graphs.`,
  );
  return lines.join("\n");
}

// ---- Conv cases the ONNX 1.12 data lacks (auto_pad SAME_UPPER and VALID
// on Conv, SAME_* with dilations and groups): synthetic nodes, built as
// protobuf bytes and decoded like a model's, against an f64 direct
// convolution with the pads worked out by hand from the ONNX spec.

interface SyntheticConv {
  name: string;
  x: number[];
  w: number[];
  bias: boolean;
  strides: number[];
  dilations: number[];
  group: number;
  autoPad: string;
  /** Explicit pads attribute (NOTSET only). */
  padsAttr?: number[];
  /** [top, left, bottom, right] per the ONNX spec, by hand. */
  pads: number[];
}

const SYNTHETIC_CONV: SyntheticConv[] = [
  // H: out 3, total (3−1)·2+3−6 = 1 → 0/1; W: out 4, total 2 → 1/1.
  {
    name: "same_upper_stride2",
    x: [2, 3, 6, 7],
    w: [4, 3, 3, 3],
    bias: true,
    strides: [2, 2],
    dilations: [1, 1],
    group: 1,
    autoPad: "SAME_UPPER",
    pads: [0, 1, 1, 1],
  },
  {
    name: "same_lower_stride2",
    x: [2, 3, 6, 7],
    w: [4, 3, 3, 3],
    bias: true,
    strides: [2, 2],
    dilations: [1, 1],
    group: 1,
    autoPad: "SAME_LOWER",
    pads: [1, 1, 0, 1],
  },
  {
    name: "valid_strides_2_1",
    x: [1, 2, 7, 5],
    w: [3, 2, 3, 2],
    bias: true,
    strides: [2, 1],
    dilations: [1, 1],
    group: 1,
    autoPad: "VALID",
    pads: [0, 0, 0, 0],
  },
  // Dilated 3x3 spans 5: total 4 → 2/2.
  {
    name: "same_upper_dilated_grouped",
    x: [1, 4, 8, 9],
    w: [6, 2, 3, 3],
    bias: true,
    strides: [1, 1],
    dilations: [2, 2],
    group: 2,
    autoPad: "SAME_UPPER",
    pads: [2, 2, 2, 2],
  },
  {
    name: "same_lower_even_kernel",
    x: [1, 1, 5, 6],
    w: [2, 1, 2, 2],
    bias: false,
    strides: [1, 1],
    dilations: [1, 1],
    group: 1,
    autoPad: "SAME_LOWER",
    pads: [1, 1, 0, 0],
  },
  // H: out 4, total 3·3+4−10 = 3 → 1/2; W: out 2, total 2 → 1/1.
  {
    name: "same_upper_stride3",
    x: [1, 2, 10, 4],
    w: [2, 2, 4, 3],
    bias: true,
    strides: [3, 3],
    dilations: [1, 1],
    group: 1,
    autoPad: "SAME_UPPER",
    pads: [1, 1, 2, 1],
  },
  {
    name: "asymmetric_pads_group3_dilation",
    x: [2, 6, 7, 8],
    w: [6, 2, 3, 2],
    bias: false,
    strides: [1, 2],
    dilations: [2, 1],
    group: 3,
    autoPad: "NOTSET",
    padsAttr: [1, 0, 2, 3],
    pads: [1, 0, 2, 3],
  },
];

function syntheticConvNode(c: SyntheticConv): Uint8Array {
  const w = new ProtoWriter().string(1, "X").string(1, "W");
  if (c.bias) w.string(1, "B");
  w.string(2, "Y").string(4, "Conv");
  const ints = (name: string, v: number[]) =>
    w.message(5, (a) => a.string(1, name).packedVarints(8, v).int(20, 7));
  ints("kernel_shape", c.w.slice(2));
  ints("strides", c.strides);
  ints("dilations", c.dilations);
  if (c.padsAttr) ints("pads", c.padsAttr);
  w.message(5, (a) => a.string(1, "group").int(3, c.group).int(20, 2));
  w.message(
    5,
    (a) =>
      a.string(1, "auto_pad").bytes(4, new TextEncoder().encode(c.autoPad)).int(
        20,
        3,
      ),
  );
  return w.finish();
}

/** f64 direct convolution with explicit [top, left, bottom, right] pads. */
function convReference(
  c: SyntheticConv,
  x: Float32Array,
  w: Float32Array,
  b: Float32Array | null,
): HostTensor {
  const [N, C, H, W] = c.x, [M, Cg, R, S] = c.w;
  const [sh, sw] = c.strides, [dh, dw] = c.dilations;
  const [pt, pl, pb, pr] = c.pads;
  const OH = Math.floor((H + pt + pb - ((R - 1) * dh + 1)) / sh) + 1;
  const OW = Math.floor((W + pl + pr - ((S - 1) * dw + 1)) / sw) + 1;
  const Mg = M / c.group;
  const y = new Float32Array(N * M * OH * OW);
  for (let n = 0; n < N; n++) {
    for (let m = 0; m < M; m++) {
      const g = Math.floor(m / Mg);
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++) {
          let acc = b ? b[m] : 0;
          for (let cg = 0; cg < Cg; cg++) {
            const ch = g * Cg + cg;
            for (let r = 0; r < R; r++) {
              const ih = oh * sh - pt + r * dh;
              if (ih < 0 || ih >= H) continue;
              for (let s = 0; s < S; s++) {
                const iw = ow * sw - pl + s * dw;
                if (iw < 0 || iw >= W) continue;
                acc += x[((n * C + ch) * H + ih) * W + iw] *
                  w[((m * Cg + cg) * R + r) * S + s];
              }
            }
          }
          y[((n * M + m) * OH + oh) * OW + ow] = acc;
        }
      }
    }
  }
  return { dims: [N, M, OH, OW], data: y };
}

Deno.test("ONNX Conv auto_pad SAME_UPPER/SAME_LOWER/VALID, dilations, groups (synthetic)", async () => {
  const engine = await createTestEngine();
  const { shims, missing } = await loadShims();
  try {
    if (!shims.conv2d) {
      console.log(`synthetic Conv cases not yet available: ${missing.conv2d}`);
      return;
    }
    let seed = 1;
    for (const c of SYNTHETIC_CONV) {
      const node = decodeNode(syntheticConvNode(c));
      const x = randomArray(c.x.reduce((a, b) => a * b), seed++);
      const w = randomArray(c.w.reduce((a, b) => a * b), seed++);
      const b = c.bias ? randomArray(c.w[0], seed++) : null;
      const want = convReference(c, x, w, b);
      const inputs = [{ dims: c.x, data: x }, { dims: c.w, data: w }];
      if (b) inputs.push({ dims: [c.w[0]], data: b });
      for (const impl of ["simd", "scalar"] as const) {
        const mem = new Scratch(engine);
        try {
          const [got] = ADAPTERS.Conv.run(
            { engine, node, opset: 11, inputs, options: { impl }, mem },
            shims as Shims,
          );
          assert.deepEqual(got!.dims, want.dims, `${c.name}: dims`);
          assertClose(got!.data, want.data, {
            atol: ATOL,
            rtol: RTOL,
            label: `${c.name} [${impl}]`,
          });
        } finally {
          mem.freeAll();
        }
      }
    }
    console.log(
      `${SYNTHETIC_CONV.length} synthetic Conv cases passed (simd + scalar)`,
    );
  } finally {
    engine.dispose();
  }
});
