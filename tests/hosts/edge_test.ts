// The edge function over real HTTP on loopback, under `deno serve` and under
// workerd: stylize (multipart and JSON), resumable runs equal to an
// uninterrupted run, state integrity, limits, JSON errors without stacks.
// Needs build/edge/ (deno task build:js); the workerd part skips when the
// workerd binary is absent.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { getBackend, initBackend } from "../../runtime/mod.ts";
import { decodeImage } from "../../runtime/io/image.ts";
import { createStyleRun, type StyleRunOptions } from "../../hosts/style_run.ts";
import { sha256, toHex } from "../../hosts/edge/state.ts";
import { toBase64 } from "../../hosts/edge/handler.ts";
import {
  workerdBinary,
  workerdConfig,
} from "../../hosts/edge/workerd_config.ts";
import { engineVariant } from "../../hosts/variant.ts";

// IMPASTO_VARIANT (inherited by the servers) forces one engine path; workerd
// has no threads, so it runs the single-threaded twin (same bits).
const FORCED = engineVariant();

const ROOT = new URL("../../", import.meta.url);
const WORKERD = workerdBinary();
if (WORKERD === null) {
  console.log(
    "workerd test skipped: no workerd binary under node_modules (npm package workerd)",
  );
}
const CONTENT = await Deno.readFile(new URL("assets/images/chelsea.png", ROOT));
const STYLE = await Deno.readFile(
  new URL("assets/images/starry_night.jpg", ROOT),
);
const OPTIONS = { size: 48, iterations: 24, styleWeight: 1e5, seed: 3 };
// Real VGG weights (Gatys et al. through models/style) where the shared test
// weights exist, else the weight-free stand-in.
const WEIGHTS_PATH = new URL(
  "../shared/data/weights/vgg19-normalised-conv3_1/vgg19_normalised_conv1_1-conv3_1.safetensors",
  ROOT,
).pathname;
const WEIGHTS = existsSync(WEIGHTS_PATH)
  ? await Deno.readFile(WEIGHTS_PATH)
  : null;
if (!WEIGHTS) console.log("edge tests use the stand-in: no shared weights");

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

interface Host {
  url: string;
  stop(): Promise<void>;
}

async function waitHealthy(url: string, child: Deno.ChildProcess) {
  const t0 = Date.now();
  while (Date.now() - t0 < 30_000) {
    try {
      // Any answer means it listens (a misconfigured one answers 400).
      const r = await fetch(`${url}/health`);
      await r.body?.cancel();
      return;
    } catch { /* not listening yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error(`server at ${url} did not start`);
}

function stopper(child: Deno.ChildProcess) {
  return async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    // deno serve's graceful shutdown can wait forever on engine threads
    // (IMPASTO_VARIANT=threads-*): SIGKILL after 3 s.
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 3000);
    await child.status;
    clearTimeout(timer);
  };
}

const SETTINGS = {
  IMPASTO_MAX_ITERATIONS: "10",
  IMPASTO_MAX_CONCURRENT: "1",
  IMPASTO_MAX_SIZE: "96",
  IMPASTO_MAX_BODY_BYTES: String(2 << 20),
  IMPASTO_STATE_KEY: "test-key",
};

async function startDenoServe(
  env: Record<string, string> = {},
): Promise<Host> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "serve",
      "-A",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "hosts/edge/handler.ts",
    ],
    cwd: ROOT.pathname,
    env: {
      ...SETTINGS,
      ...(WEIGHTS ? { IMPASTO_WEIGHTS: WEIGHTS_PATH } : {}),
      ...env,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child);
  return { url, stop: stopper(child) };
}

async function startWorkerd(): Promise<Host> {
  const port = freePort();
  const dir = await Deno.makeTempDir({
    dir: new URL("build/edge/", ROOT).pathname,
  });
  const config = `${dir}/workerd.capnp`;
  await Deno.writeTextFile(
    config,
    await workerdConfig({
      out: config,
      port,
      env: SETTINGS,
      weights: WEIGHTS ? WEIGHTS_PATH : undefined,
      variant: FORCED?.replace("threads-", "single-"),
    }),
  );
  const child = new Deno.Command(WORKERD!, {
    args: ["serve", config],
    cwd: ROOT.pathname,
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url, child);
  return {
    url,
    stop: async () => {
      await stopper(child)();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function form(options: Record<string, unknown>, state?: string): FormData {
  const f = new FormData();
  f.set("content", new Blob([CONTENT]), "content.png");
  f.set("style", new Blob([STYLE]), "style.jpg");
  f.set("options", JSON.stringify(options));
  if (state) f.set("state", state);
  return f;
}

async function post(url: string, body: FormData | unknown) {
  const r = await fetch(`${url}/stylize`, {
    method: "POST",
    body: body instanceof FormData ? body : JSON.stringify(body),
    headers: body instanceof FormData
      ? {}
      : { "content-type": "application/json" },
  });
  return r;
}

async function errorOf(r: Response, status: number): Promise<string> {
  assert.equal(r.status, status);
  assert.match(r.headers.get("content-type") ?? "", /application\/json/);
  const { error } = await r.json();
  assert.equal(typeof error, "string");
  assert.doesNotMatch(error, /\n\s+at /, "no stack trace in errors");
  return error;
}

/** Continues a resumable run request after request until done. */
async function resumeToEnd(url: string, options: Record<string, unknown>) {
  let state: string | undefined;
  let requests = 0;
  for (;;) {
    const r = await post(url, form({ ...options, resumable: true }, state));
    assert.equal(r.status, 200, await r.clone().text());
    const out = await r.json();
    requests++;
    if (out.done) return { ...out, requests };
    state = out.state;
  }
}

// The reference: the same run uninterrupted, in this process.
async function referenceDigest(options: StyleRunOptions): Promise<string> {
  await initBackend({ threads: 2, variant: FORCED });
  try {
    const run = await createStyleRun(
      decodeImage(CONTENT),
      decodeImage(STYLE),
      options,
      WEIGHTS,
    );
    run.step(options.iterations);
    const f32 = run.image().data;
    run.dispose();
    return toHex(await sha256(new Uint8Array(f32.buffer)));
  } finally {
    getBackend().dispose();
  }
}

const reference = referenceDigest({ keepColors: false, ...OPTIONS });

async function exerciseHost(t: Deno.TestContext, host: Host) {
  await t.step("GET /health reports engine and memory", async () => {
    const h = await (await fetch(`${host.url}/health`)).json();
    assert.equal(h.ok, true);
    assert.match(h.variant, FORCED ? /./ : /^single-/);
    assert.equal(h.limits.maxIterations, 10);
    assert.equal(typeof h.engineLiveBytes, "number");
    assert.equal(h.implementation, WEIGHTS ? "gatys-vgg" : "stand-in");
  });

  let png: Uint8Array;
  await t.step("multipart POST /stylize returns the PNG", async () => {
    const r = await post(host.url, form({ ...OPTIONS, iterations: 6 }));
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("content-type"), "image/png");
    png = new Uint8Array(await r.arrayBuffer());
    const img = decodeImage(png);
    assert.deepEqual([img.width, img.height], [48, 32]);
  });

  await t.step("JSON with base64 images gives the same PNG", async () => {
    const r = await post(host.url, {
      content: toBase64(CONTENT),
      style: toBase64(STYLE),
      options: { ...OPTIONS, iterations: 6 },
    });
    assert.equal(r.status, 200);
    assert.deepEqual(new Uint8Array(await r.arrayBuffer()), png);
  });

  await t.step(
    "a run resumed across requests equals the uninterrupted run",
    async () => {
      // 24 iterations at most 10 per request: at least 3 requests.
      const out = await resumeToEnd(host.url, OPTIONS);
      assert.ok(out.requests >= 3, `${out.requests} requests`);
      assert.equal(out.iteration, OPTIONS.iterations);
      assert.equal(out.digest, await reference);
      // Tiny time budgets: about one iteration per request, same result.
      const slow = await resumeToEnd(host.url, { ...OPTIONS, budgetMs: 1 });
      assert.equal(slow.digest, await reference);
      assert.ok(slow.requests >= out.requests);
    },
  );

  await t.step("tampered, foreign and mismatched states: 400", async () => {
    const first = await (await post(
      host.url,
      form({ ...OPTIONS, resumable: true }),
    )).json();
    const bytes = Uint8Array.from(atob(first.state), (c) => c.charCodeAt(0));
    bytes[bytes.length >> 1] ^= 1;
    let e = await errorOf(
      await post(host.url, form(OPTIONS, toBase64(bytes))),
      400,
    );
    assert.match(e, /integrity/);
    e = await errorOf(
      await post(host.url, form(OPTIONS, toBase64(new Uint8Array(64)))),
      400,
    );
    assert.match(e, /not an impasto edge state/);
    e = await errorOf(
      await post(host.url, form({ ...OPTIONS, seed: 4 }, first.state)),
      400,
    );
    assert.match(e, /another request/);
  });

  await t.step("limits are enforced before work, errors are JSON", async () => {
    assert.match(
      await errorOf(await post(host.url, form({ ...OPTIONS, size: 97 })), 400),
      /size 97/,
    );
    assert.match(
      await errorOf(
        await post(host.url, form({ ...OPTIONS, iterations: 11 })),
        400,
      ),
      /resumable/,
    );
    const big = new FormData();
    big.set("content", new Blob([new Uint8Array(3 << 20)]), "big.png");
    assert.match(await errorOf(await post(host.url, big), 413), /limit/);
    assert.match(
      await errorOf(await post(host.url, { content: 1, style: "" }), 400),
      /base64/,
    );
    await errorOf(await fetch(`${host.url}/nothing`), 404);
    await errorOf(await fetch(`${host.url}/stylize`), 405);
    const notImage = form({ ...OPTIONS, iterations: 2 });
    notImage.set("content", new Blob([new Uint8Array(100)]), "x.png");
    assert.match(await errorOf(await post(host.url, notImage), 400), /PNG/);
  });

  await t.step("runs over the concurrency limit get 503", async () => {
    // Start a long run (10 iterations at size 96) and race a second one.
    const slow = post(host.url, form({ ...OPTIONS, size: 96, iterations: 10 }));
    await new Promise((r) => setTimeout(r, 30));
    const second = await post(host.url, form({ ...OPTIONS, iterations: 2 }));
    const first = await slow;
    if (first.status === 200) await first.body?.cancel();
    const statuses = [first.status, second.status].sort();
    // The first may already be done on a fast machine; then both succeed.
    // Which of the two got the slot depends on timing; the other gets 503.
    const refused = [first, second].find((r) => r.status === 503);
    if (refused) {
      assert.deepEqual(statuses, [200, 503]);
      assert.equal(refused.headers.get("retry-after"), "1");
      await errorOf(refused, 503);
    } else {
      assert.deepEqual(statuses, [200, 200]);
    }
    await second.body?.cancel().catch(() => {});
    const h = await (await fetch(`${host.url}/health`)).json();
    assert.equal(h.active, 0);
    // Only the shared network's parameters stay (10 tensors for conv1_1 …
    // conv3_1: weight + bias each), whatever the number of runs.
    assert.equal(
      h.engineLiveTensors,
      WEIGHTS ? 10 : 0,
      "runs free their tensors",
    );
  });
}

Deno.test({
  name: "edge function under deno serve",
  ignore: !existsSync(new URL("build/edge/handler.js", ROOT)),
  sanitizeResources: false,
  fn: async (t) => {
    const host = await startDenoServe();
    try {
      await exerciseHost(t, host);
    } finally {
      await host.stop();
    }
  },
});

Deno.test({
  name: "edge function under workerd (single-threaded, precompiled wasm)",
  ignore: WORKERD === null ||
    !existsSync(new URL("build/edge/handler.js", ROOT)),
  sanitizeResources: false,
  fn: async (t) => {
    const host = await startWorkerd();
    try {
      await exerciseHost(t, host);
    } finally {
      await host.stop();
    }
  },
});

Deno.test({
  name: "a bad IMPASTO_VARIANT is a one-line 400, not a crash",
  sanitizeResources: false,
  fn: async () => {
    const host = await startDenoServe({ IMPASTO_VARIANT: "threads-fast" });
    // The server answers every request with the configuration error.
    try {
      const e = await errorOf(await fetch(`${host.url}/health`), 400);
      assert.match(e, /IMPASTO_VARIANT "threads-fast" is unknown/);
    } finally {
      await host.stop();
    }
  },
});
