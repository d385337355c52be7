#!/usr/bin/env bash
# Runs the WebGPU kernel tests and bench:backends on a lent GPU machine
# (no network). Needs, carried beside the working tree (ignored paths):
#   build/device/deno.xz   the Deno 2.9.6 binary, xz-compressed
#   build/device/vulkan/   libvulkan1 (+ libglvnd0, libegl1) unpacked with dpkg -x
#   build/impasto-*.wasm   the engine
# Writes everything under $OUT (default /tmp/bench_gpu_out).
# Each step has its own timeout so that partial results survive.
#   WASM=0             skip the wasm (CPU) benchmark
#   GEMM_SWEEP="1e9 0" also run the WebGPU conv and style benchmarks with
#                      these --gemm-min-tiles values (1e9: 64×64 tiles only,
#                      the old tile; 0: the biggest tile always)
set -u
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/bench_gpu_out}
mkdir -p "$OUT" build/device/bin
if [ ! -x build/device/bin/deno ]; then
  xz -dc build/device/deno.xz > build/device/bin/deno && chmod +x build/device/bin/deno
fi
DENO="$PWD/build/device/bin/deno"
export XDG_RUNTIME_DIR=/tmp
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
export LD_LIBRARY_PATH="$PWD/build/device/vulkan/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"
# Offline: no deno.json (npm install) and no type checking.
export DENO_NO_PACKAGE_JSON=1
RUN=("$DENO" run -A --no-config --no-check)
(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc) > "$OUT/machine.txt" 2>&1

timeout ${TEST_TIMEOUT:-90} "$DENO" test -A --no-config --no-check tests/backends/webgpu_test.ts \
  > "$OUT/webgpu_test.txt" 2>&1
echo "webgpu_test exit $?" >> "$OUT/webgpu_test.txt"
tail -3 "$OUT/webgpu_test.txt"

timeout ${GPU_TIMEOUT:-90} "${RUN[@]}" scripts/bench_backends.ts --backends webgpu \
  --sizes 512,1024 --iterations 5 --warmup 2 --json "$OUT/webgpu.json" \
  > "$OUT/webgpu.txt" 2>&1
echo "exit $?" >> "$OUT/webgpu.txt"
cat "$OUT/webgpu.txt"

for t in ${GEMM_SWEEP:-}; do
  timeout ${SWEEP_TIMEOUT:-40} "${RUN[@]}" scripts/bench_backends.ts --backends webgpu \
    --workloads conv,style --sizes 512 --iterations 3 --warmup 1 \
    --gemm-min-tiles "$t" --json "$OUT/webgpu_tiles_$t.json" \
    > "$OUT/webgpu_tiles_$t.txt" 2>&1
  echo "exit $?" >> "$OUT/webgpu_tiles_$t.txt"
  echo "--- --gemm-min-tiles $t"; cat "$OUT/webgpu_tiles_$t.txt"
done

if [ "${WASM:-1}" != 0 ]; then
  timeout ${WASM_TIMEOUT:-150} "${RUN[@]}" scripts/bench_backends.ts --backends wasm \
    --sizes 512,1024 --iterations 3 --wasm-iterations 1 --warmup 1 \
    --json "$OUT/wasm.json" > "$OUT/wasm.txt" 2>&1
  echo "exit $?" >> "$OUT/wasm.txt"
  cat "$OUT/wasm.txt"
fi
