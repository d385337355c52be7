// The batched GEMM shared by the Winograd convolutions (F(2x2,3x3): 16
// slabs, F(4x4,3x3): 36): for every transform element xi,
// M_xi = U_xi · V_xi (Lavin & Gray 2016, eq. 12), where U_xi holds the
// transformed weights of output channels kb0 .. kb0+kb packed as the 6x8
// micro-kernel's A panels, V_xi the transformed input tiles as its B panels
// (`panels` panels of NR tiles), and M_xi the kb x NT result. Not exported
// from the family: the drivers inline it.
// Slab strides uXi, vXi, mXi are in floats.
import { MR, NR, ukernel6x8 } from "../f32-gemm/f32-gemm-6x8-ukernel-wasmsimd";

/** Channels of U and V summed per micro-kernel call (K-blocking). */
const KC_BLOCK: i32 = 256; // an A panel (MR x 256) is 6 KiB: L1-resident

// @ts-ignore: decorator
@inline
export function winogradSlabGemm(
  slabs: i32,
  u: usize, uXi: usize,
  v: usize, vXi: usize,
  m: usize, mXi: usize,
  C: i32, kb0: i32, kb: i32, NT: i32, panels: i32, tmp: usize,
): void {
  const used = kb * NT;
  for (let xi = 0; xi < slabs; xi++) {
    const mX = m + ((<usize>xi * mXi) << 2);
    for (let e = 0; e < used; e += 4) v128.store(mX + (<usize>e << 2), f32x4.splat(0));
  }
  for (let xi = 0; xi < slabs; xi++) {
    const uX = u + ((<usize>xi * uXi) << 2);
    const vX = v + ((<usize>xi * vXi) << 2);
    const mX = m + ((<usize>xi * mXi) << 2);
    for (let c0 = 0; c0 < C; c0 += KC_BLOCK) {
      const kc = min(KC_BLOCK, C - c0);
      for (let mm = 0; mm < kb; mm += MR) {
        const ap = uX + ((<usize>(kb0 + mm) * <usize>C + <usize>(c0 * MR)) << 2);
        const mr = min(MR, kb - mm);
        for (let q = 0; q < panels; q++) {
          ukernel6x8(
            kc, ap, vX + (<usize>(q * C * NR + c0 * NR) << 2),
            mX + (<usize>(mm * NT + q * NR) << 2), NT, mr, NR, tmp,
          );
        }
      }
    }
  }
}
