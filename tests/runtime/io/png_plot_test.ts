// PNG plots: the encoded file decodes with image-js at the expected size,
// lines are drawn in their colours inside the plot area, log axes skip
// non-positive values, and tick helpers give round numbers.
import assert from "node:assert/strict";
import { decode } from "image-js";
import {
  formatTick,
  linearTicks,
  plotPng,
  renderPlot,
  sequentialColor,
  textWidth,
} from "../../../runtime/io/png_plot.ts";

const RED = [220, 20, 20] as const;
const BLUE = [20, 20, 220] as const;

function countColor(
  data: ArrayLike<number>,
  channels: number,
  c: readonly number[],
  tol = 40,
): number {
  let n = 0;
  for (let i = 0; i < data.length; i += channels) {
    if (
      Math.abs(data[i] - c[0]) + Math.abs(data[i + 1] - c[1]) +
          Math.abs(data[i + 2] - c[2]) < tol
    ) n++;
  }
  return n;
}

Deno.test("png plot: decodes with image-js, expected size, non-background pixels", () => {
  const steps = 100;
  const png = plotPng(
    [
      {
        title: "Gradient norms",
        xLabel: "step",
        yLabel: "norm",
        logY: true,
        series: [
          {
            name: "fc1",
            y: Array.from({ length: steps }, (_, i) => 1e-8 * (1 + i / 10)),
            color: RED,
          },
          {
            name: "fc2",
            y: Array.from({ length: steps }, (_, i) => 0.5 + 0.1 * Math.sin(i)),
            color: BLUE,
          },
        ],
      },
      {
        title: "Loss",
        series: [{ name: "loss", y: [2.3, 1.5, 1.1, 0.9, 0.8] }],
      },
    ],
    { width: 400, height: 300, columns: 2, title: "test figure" },
  );
  // PNG signature.
  assert.deepEqual([...png.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
  const image = decode(png);
  assert.equal(image.width, 800);
  assert.equal(image.height, 300 + 2 * 9 + 16);
  const raw = image.getRawImage();
  const channels = image.channels;
  let nonWhite = 0;
  for (let i = 0; i < raw.data.length; i += channels) {
    if (raw.data[i] < 250 || raw.data[i + 1] < 250 || raw.data[i + 2] < 250) {
      nonWhite++;
    }
  }
  assert.ok(nonWhite > 5000, `non-background pixels: ${nonWhite}`);
  // Both series' colours appear as lines (a line ~400 px long at width 1.5).
  assert.ok(countColor(raw.data, channels, RED) > 200, "red series drawn");
  assert.ok(countColor(raw.data, channels, BLUE) > 200, "blue series drawn");
});

Deno.test("png plot: lines stay inside the plot area; bad values break lines", () => {
  const r = renderPlot(
    {
      logY: true,
      legend: false,
      yMin: 1e-2,
      yMax: 1e2,
      series: [{
        name: "a",
        color: RED,
        y: [1e-9, 1, NaN, 10, -5, 0, 1e9, 50],
      }],
    },
    { width: 300, height: 200 },
  );
  assert.equal(r.data.length, 300 * 200 * 4);
  // No red pixel in the outer 5-pixel margin of the figure.
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < r.width; x++) {
      if (x >= 5 && x < r.width - 5 && y >= 5 && y < r.height - 5) continue;
      const i = (y * r.width + x) * 4;
      const isRed = r.data[i] > 180 && r.data[i + 1] < 80 && r.data[i + 2] < 80;
      assert.ok(!isRed, `red pixel at ${x},${y} outside the plot`);
    }
  }
  assert.ok(countColor(r.data, 4, RED) > 50, "the clipped line is drawn");
  // An empty series and a constant one do not throw.
  renderPlot({
    series: [{ name: "empty", y: [] }, { name: "flat", y: [3, 3, 3] }],
  }, { width: 200, height: 150 });
  assert.throws(
    () => renderPlot({ series: [] }, { width: 30, height: 30 }),
    /too small/,
  );
});

Deno.test("png plot: ticks and labels", () => {
  assert.deepEqual(linearTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(linearTicks(0, 199, 6), [0, 50, 100, 150]);
  assert.deepEqual(linearTicks(-1, 1, 4), [-1, -0.5, 0, 0.5, 1]);
  assert.equal(formatTick(1e-8), "1e-8");
  assert.equal(formatTick(2.5e6), "2.5e6");
  assert.equal(formatTick(0.01), "0.01");
  assert.equal(formatTick(150), "150");
  assert.equal(formatTick(0), "0");
  assert.equal(textWidth("abc"), 17);
  assert.deepEqual(sequentialColor(0), [68, 1, 84]);
  assert.deepEqual(sequentialColor(1), [253, 231, 37]);
});
