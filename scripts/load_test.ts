// deno task load-test: starts the edge function on loopback (deno serve or
// workerd), sends a bounded number of small stylize requests from a few
// concurrent clients, and reports throughput, latency percentiles and the
// server's memory (RSS where the host reports it, and the engine's live
// bytes) sampled through /proc and /health, to show that memory stays flat.
import { parseArgs } from "node:util";
import { workerdBinary, workerdConfig } from "../hosts/edge/workerd_config.ts";

const ROOT = new URL("../", import.meta.url);
const USAGE = `Usage: deno task load-test [options]
  --host deno|workerd   which host runs the edge function (default deno)
  --requests N          requests to send (default 300, at most 5000)
  --concurrency N       clients in parallel (default 2)
  --size N              image size in pixels (default 32)
  --iterations N        iterations per request (default 4)
  --max-seconds S       stop sending after S seconds (default 120)
  --weights FILE        VGG weights (Gatys et al.); without: the stand-in`;

function fail(message: string): never {
  console.error(`load-test: ${message}\n${USAGE}`);
  Deno.exit(2);
}

const { values } = (() => {
  try {
    return parseArgs({
      args: Deno.args,
      options: {
        host: { type: "string", default: "deno" },
        requests: { type: "string", default: "300" },
        concurrency: { type: "string", default: "2" },
        size: { type: "string", default: "32" },
        iterations: { type: "string", default: "4" },
        "max-seconds": { type: "string", default: "120" },
        weights: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (e) {
    fail((e as Error).message.split("\n")[0]);
  }
})();
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
const int = (name: string, v: string, max: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    fail(`--${name} ${v} must be an integer in 1..${max}`);
  }
  return n;
};
const requests = int("requests", values.requests, 5000);
const concurrency = int("concurrency", values.concurrency, 16);
const size = int("size", values.size, 256);
const iterations = int("iterations", values.iterations, 100);
const maxSeconds = int("max-seconds", values["max-seconds"], 600);
if (values.host !== "deno" && values.host !== "workerd") {
  fail(`--host ${values.host}: use deno or workerd`);
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const port = freePort();
const weights = values.weights;
if (weights) {
  try {
    Deno.statSync(weights);
  } catch {
    fail(`--weights ${weights} cannot be read`);
  }
}
const settings: Record<string, string> = {
  ...(weights ? { IMPASTO_WEIGHTS: weights } : {}),
  IMPASTO_MAX_CONCURRENT: String(concurrency),
  IMPASTO_MAX_SIZE: String(size),
  IMPASTO_MAX_ITERATIONS: String(iterations),
};
let child: Deno.ChildProcess;
let tmp: string | null = null;
if (values.host === "deno") {
  child = new Deno.Command(Deno.execPath(), {
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
    env: settings,
    stdout: "null",
    stderr: "inherit",
  }).spawn();
} else {
  tmp = await Deno.makeTempDir();
  const config = `${tmp}/workerd.capnp`;
  await Deno.writeTextFile(
    config,
    await workerdConfig({ out: config, port, env: settings, weights }),
  );
  const binary = workerdBinary();
  if (!binary) fail("workerd is not installed (npm ci)");
  child = new Deno.Command(
    binary,
    {
      args: ["serve", config],
      cwd: ROOT.pathname,
      stdout: "null",
      stderr: "inherit",
    },
  ).spawn();
}
const url = `http://127.0.0.1:${port}`;

/** The server process's resident memory from /proc (Linux), in bytes. */
function serverRss(): number | undefined {
  try {
    const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function health(): Promise<Record<string, number>> {
  return await (await fetch(`${url}/health`)).json();
}

try {
  for (let i = 0;; i++) {
    try {
      await health();
      break;
    } catch (e) {
      if (i > 300) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const content = await Deno.readFile(
    new URL("assets/images/chelsea.png", ROOT),
  );
  const style = await Deno.readFile(
    new URL("assets/images/starry_night.jpg", ROOT),
  );
  const options = JSON.stringify({ size, iterations });
  const latencies: number[] = [];
  const samples: { at: number; rss?: number; heap?: number; live: number }[] =
    [];
  const statuses = new Map<number, number>();
  // One warm-up request (not counted): loads the network, whose tensors
  // then stay for the server's lifetime; the baseline for the leak check.
  const warm = new FormData();
  warm.set("content", new Blob([content]), "content.png");
  warm.set("style", new Blob([style]), "style.jpg");
  warm.set("options", options);
  await (await fetch(`${url}/stylize`, { method: "POST", body: warm }))
    .arrayBuffer();
  const baseline = await health();
  let sent = 0;
  const t0 = performance.now();
  const deadline = t0 + maxSeconds * 1000;

  const client = async () => {
    while (sent < requests && performance.now() < deadline) {
      sent++;
      const body = new FormData();
      body.set("content", new Blob([content]), "content.png");
      body.set("style", new Blob([style]), "style.jpg");
      body.set("options", options);
      const start = performance.now();
      const r = await fetch(`${url}/stylize`, { method: "POST", body });
      await r.arrayBuffer();
      latencies.push(performance.now() - start);
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      if (latencies.length % 25 === 0) {
        const h = await health();
        samples.push({
          at: latencies.length,
          rss: serverRss(),
          heap: h.jsHeapBytes,
          live: h.engineLiveBytes,
        });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const seconds = (performance.now() - t0) / 1000;
  const final = await health();

  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)];
  const mib = (b?: number) =>
    b === undefined ? "n/a" : (b / 2 ** 20).toFixed(1);
  console.log(
    `host ${values.host} (${
      weights ? "VGG weights" : "stand-in"
    }), ${latencies.length} requests (${size}px, ${iterations} iterations), ${concurrency} clients, ${
      seconds.toFixed(1)
    } s`,
  );
  console.log(
    `statuses: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(", ")}`,
  );
  console.log(
    `throughput ${
      (latencies.length / seconds).toFixed(1)
    } req/s; latency ms p50 ${pct(50).toFixed(1)}, p95 ${
      pct(95).toFixed(1)
    }, p99 ${pct(99).toFixed(1)}, max ${sorted.at(-1)!.toFixed(1)}`,
  );
  console.log(
    "memory samples (requests: RSS MiB / JS heap MiB / engine live bytes):",
  );
  console.log(
    "  " +
      samples.map((s) => `${s.at}: ${mib(s.rss)}/${mib(s.heap)}/${s.live}`)
        .join("; "),
  );
  const rss = samples.map((s) => s.rss).filter((r): r is number =>
    r !== undefined
  );
  if (rss.length >= 4) {
    // Compare the second half's mean with the first half's after warm-up.
    const warm = rss.slice(1);
    const half = Math.floor(warm.length / 2);
    const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
    const growth = mean(warm.slice(half)) - mean(warm.slice(0, half));
    console.log(
      `RSS drift after warm-up: ${mib(growth)} MiB (first-half mean ${
        mib(mean(warm.slice(0, half)))
      } MiB)`,
    );
  }
  console.log(
    `end: engine live bytes ${final.engineLiveBytes}, live tensors ${final.engineLiveTensors}, engine memory ${
      mib(final.engineMemoryBytes)
    } MiB`,
  );
  console.log(
    `baseline after warm-up: engine live bytes ${baseline.engineLiveBytes}, live tensors ${baseline.engineLiveTensors} (the shared network)`,
  );
  if (final.engineLiveTensors !== baseline.engineLiveTensors) {
    console.error("load-test: the server kept tensors alive after its runs");
    Deno.exitCode = 1;
  }
} finally {
  try {
    child.kill("SIGTERM");
  } catch { /* gone */ }
  // A threaded deno serve may never finish its graceful shutdown.
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
  }, 3000);
  await child.status;
  clearTimeout(timer);
  if (tmp) await Deno.remove(tmp, { recursive: true });
}
