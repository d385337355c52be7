// The page in real Chromium (Debian's /usr/bin/chromium driven by
// playwright-core; never a downloaded browser): loads with threads when
// cross-origin isolated and single-threaded without, runs a tiny
// stylisation, checks that the canvas changes while the page stays
// responsive, that stop works and that the result downloads, and saves a
// screenshot to docs/images/browser.png. Skips without Chromium, without the
// bundles (deno task build:js) or without weights.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chromium, type Page } from "playwright-core";

const ROOT = new URL("../../", import.meta.url);
const CHROMIUM = "/usr/bin/chromium";
const WEIGHTS = new URL(
  "../shared/data/weights/vgg19-normalised-conv3_1/vgg19_normalised_conv1_1-conv3_1.safetensors",
  ROOT,
);
const ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const missing = !existsSync(CHROMIUM)
  ? `${CHROMIUM} is absent (apt-get install -y chromium)`
  : !existsSync(new URL("build/web/app.js", ROOT))
  ? "build/web/ is absent (deno task build:js)"
  : !existsSync(WEIGHTS)
  ? `no weights at ${WEIGHTS.pathname}`
  : null;
if (missing) console.log(`browser tests skipped: ${missing}`);

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function withServer(
  flags: string[],
  fn: (url: string) => Promise<void>,
): Promise<void> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "scripts/serve.ts",
      "--port",
      String(port),
      "--weights",
      WEIGHTS.pathname,
      ...flags,
    ],
    cwd: ROOT.pathname,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const url = `http://127.0.0.1:${port}/`;
  try {
    for (let i = 0;; i++) {
      try {
        await (await fetch(url)).body?.cancel();
        break;
      } catch (e) {
        if (i > 200) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    await fn(url);
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

async function withPage(url: string, fn: (page: Page) => Promise<void>) {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ARGS,
  });
  try {
    const page = await browser.newPage({
      viewport: { width: 1100, height: 640 },
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    await page.goto(url);
    await page.waitForSelector("body[data-state=ready]", { timeout: 30_000 });
    await fn(page);
    assert.deepEqual(errors, [], "no uncaught errors in the page");
  } finally {
    await browser.close();
  }
}

const canvasData = (page: Page) =>
  page.evaluate(() => {
    const c = document.getElementById("result") as HTMLCanvasElement;
    return c.toDataURL("image/png");
  });

async function configure(page: Page, size: number, iterations: number) {
  await page.fill("#size", String(size));
  await page.fill("#iterations", String(iterations));
  await page.waitForFunction(() =>
    !(document.getElementById("start") as HTMLButtonElement).disabled
  );
}

Deno.test({
  name: "page stylises in Chromium with threads, downloads the result",
  ignore: missing !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer([], (url) =>
      withPage(url, async (page) => {
        assert.equal(await page.evaluate(() => crossOriginIsolated), true);
        assert.match(
          await page.textContent("#engine") ?? "",
          /threads-(relaxed|simd), \d+ threads\. Style transfer: gatys-vgg\./,
        );
        await configure(page, 48, 60);
        const blank = await canvasData(page);
        await page.click("#start");
        // The canvas changes while it runs, and the page keeps answering.
        await page.waitForFunction(
          (before) =>
            (document.getElementById("result") as HTMLCanvasElement)
              .toDataURL("image/png") !== before,
          blank,
          { timeout: 30_000 },
        );
        const lag = await page.evaluate(async () => {
          let worst = 0;
          for (let i = 0; i < 10; i++) {
            const t0 = performance.now();
            await new Promise((r) => setTimeout(r, 10));
            worst = Math.max(worst, performance.now() - t0 - 10);
          }
          return worst;
        });
        assert.ok(lag < 500, `main thread stalled ${lag} ms`);
        await page.waitForSelector("body[data-state=done]", {
          timeout: 60_000,
        });
        assert.match(await page.textContent("#status") ?? "", /Done after 60/);
        const final = await canvasData(page);
        assert.notEqual(final, blank);
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          page.click("#download"),
        ]);
        const path = await download.path();
        const bytes = await Deno.readFile(path!);
        assert.deepEqual([...bytes.subarray(1, 4)], [0x50, 0x4e, 0x47]);
        assert.equal(download.suggestedFilename(), "impasto.png");
        await Deno.mkdir(new URL("docs/images/", ROOT), { recursive: true });
        await page.screenshot({
          path: new URL("docs/images/browser.png", ROOT).pathname,
        });
      })),
});

Deno.test({
  name: "without cross-origin isolation the page runs single-threaded; stop",
  ignore: missing !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer(["--no-isolation"], (url) =>
      withPage(url, async (page) => {
        assert.equal(await page.evaluate(() => crossOriginIsolated), false);
        assert.match(
          await page.textContent("#engine") ?? "",
          /single-(relaxed|simd), single-threaded: this page is not cross-origin isolated/,
        );
        await configure(page, 64, 5000);
        await page.click("#start");
        await page.waitForFunction(() =>
          /Iteration \d+/.test(
            document.getElementById("status")!.textContent ?? "",
          )
        );
        await page.click("#stop");
        await page.waitForSelector("body[data-state=stopped]", {
          timeout: 30_000,
        });
        assert.match(await page.textContent("#status") ?? "", /Stopped after/);
      })),
});

Deno.test({
  name: "serve --engine-variant forces the page's engine variant",
  ignore: missing !== null,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () =>
    withServer(
      ["--engine-variant", "threads-simd"],
      (url) =>
        withPage(url, async (page) => {
          assert.match(await page.textContent("#engine") ?? "", /threads-simd/);
        }),
    ),
});
