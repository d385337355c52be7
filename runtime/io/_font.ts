// A 5x7 bitmap font for printable ASCII (32-126), drawn for this project,
// in cells of 5x9 pixels: 7 rows down to the baseline and 2 for descenders.
// Each glyph is 9 characters, one per row from the top; a character is a
// base-32 digit whose 5 bits are the row's pixels, leftmost pixel highest.
// This module is browser compatible.

export const GLYPH_WIDTH = 5;
/** Cell height: 7 rows to the baseline, 2 below it. */
export const GLYPH_HEIGHT = 9;

const GLYPHS =
  "000000000444440400aa0000000aavavaa004fke5u400op248j300cik8lid00448000000" +
  "24888420084222480004lel4000044v4400000000cc48000v0000000000cc0001248g000" +
  "ehjlphe004c4444e00eh1248v00v2421he0026aiv2200vgu11he0068guhhe00v12488800" +
  "ehhehhe00ehhf12c000cc0cc0000cc0c4800248g8420000v0v0000842124800eh1240400" +
  "eh1dlle00ehhvhhh00uhhuhhu00ehggghe00sihhhis00vgguggv00vgguggg00ehgnhhf00" +
  "hhhvhhh00e44444e0072222ic00hikokih00ggggggv00hrllhhh00hhpljhh00ehhhhhe00" +
  "uhhuggg00ehhhlid00uhhukih00fgge11u00v44444400hhhhhhe00hhhhha400hhhllla00" +
  "hha4ahh00hha444400v1248gv00e88888e000g8421000e22222e004ah000000000000v00" +
  "84200000000e1fhf00ggmphhu0000egghe0011djhhf0000ehvge00698s8880000fhhhf1e" +
  "ggmphhh0040c444e002062222icggikoki00c44444e0000qllhh0000mphhh0000ehhhe00" +
  "00uhhhugg00fhhhf1100mpggg0000ege1u0088s88960000hhhjd0000hhha40000hhlla00" +
  "00ha4ah0000hhhhf1e00v248v00244844200444444400844244800008l20000";

const DIGITS = "0123456789abcdefghijklmnopqrstuv";

/**
 * Row bitmaps of `ch` (bit 4 = leftmost pixel); characters outside printable
 * ASCII draw as "?".
 */
export function glyphRows(ch: string): number[] {
  let code = ch.charCodeAt(0);
  if (!(code >= 32 && code <= 126)) code = 63;
  const start = (code - 32) * GLYPH_HEIGHT;
  const rows: number[] = [];
  for (let r = 0; r < GLYPH_HEIGHT; r++) {
    rows.push(DIGITS.indexOf(GLYPHS[start + r]));
  }
  return rows;
}
