// CRC-32 as used by ZIP, gzip and PNG: checks ZIP entries and the integrity
// of saved run states (models/style/state.ts, hosts/standin_style.ts).
// This module is browser compatible.
//
// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320), slicing-by-8 tables:
// 8 table lookups per 8 input bytes instead of 8 dependent shift/lookup steps.
const CRC_TABLES: Uint32Array = (() => {
  const t = new Uint32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n];
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff] ^ (c >>> 8);
      t[k * 256 + n] = c;
    }
  }
  return t;
})();

/**
 * CRC-32 as used by ZIP, gzip and PNG. Pass the previous result as `crc` to
 * continue over several chunks. Returns an unsigned 32-bit number.
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const t = CRC_TABLES;
  let c = ~crc;
  let i = 0;
  const n = bytes.length;
  const end8 = n - (n & 7);
  for (; i < end8; i += 8) {
    const lo = c ^
      (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) |
        (bytes[i + 3] << 24));
    const hi = bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) |
      (bytes[i + 7] << 24);
    c = t[1792 + (lo & 0xff)] ^ t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^ t[1024 + (lo >>> 24)] ^
      t[768 + (hi & 0xff)] ^ t[512 + ((hi >>> 8) & 0xff)] ^
      t[256 + ((hi >>> 16) & 0xff)] ^ t[hi >>> 24];
  }
  for (; i < n; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}
