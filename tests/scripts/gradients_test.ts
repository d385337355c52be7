// deno task gradients: a short run shows the vanishing gradient (first /
// last layer gradient norm far smaller for sigmoid + naive init than for
// ReLU + He) and, with --clip, a diverging run stopped on NaN next to a
// clipped one that stays finite. Also the shared CLI helpers (scripts/_cli.ts).
import assert from "node:assert/strict";
import { decode } from "image-js";
import { getBackend } from "../../runtime/backend.ts";
import { FASHION_MNIST_DIR } from "../../runtime/data/fashion_mnist.ts";
import { initBackend } from "../../runtime/mod.ts";
import {
  CliError,
  type CliSpec,
  formatDuration,
  helpText,
  parseFlags,
  Progress,
} from "../../scripts/_cli.ts";
import {
  firstLastRatio,
  runGradients,
  summaryTable,
} from "../../scripts/gradients.ts";
import { testWasmDir } from "../_engine.ts";

const haveData = (() => {
  try {
    return Deno.statSync(`${FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`)
      .isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "gradients: sigmoid + naive init vanishes, ReLU + He does not; clipping tames an exploding run",
  ignore: !haveData,
  fn: async () => {
    await initBackend({ threads: 2, wasmBaseUrl: testWasmDir() });
    const out = await Deno.makeTempDir();
    const lines: string[] = [];
    try {
      const { runs, png, csv } = await runGradients({
        out,
        steps: 6,
        samples: 512,
        clip: true,
        log: (l) => lines.push(l),
      });
      const [sigmoid, relu, exploding, clipped] = runs;
      const rs = firstLastRatio(sigmoid), rr = firstLastRatio(relu);
      // 12 sigmoid layers with N(0, 0.1²) weights scale the gradient by
      // about 0.25 * 0.1 * sqrt(64) = 0.2 each: ~1e-8 overall (measured
      // 8e-9), while He keeps it near 1 (measured 1.8). Assert a factor of
      // 1e4 between them, and each on its side of 1e-4.
      assert.ok(rs < 1e-4 * rr, `fc1/fc13: sigmoid ${rs} vs relu ${rr}`);
      assert.ok(rs < 1e-4, `sigmoid fc1/fc13 = ${rs}`);
      assert.ok(rr > 1e-1, `relu fc1/fc13 = ${rr}`);
      assert.equal(sigmoid.losses.length, 6);
      assert.ok(
        sigmoid.warnings.some((w) => /Vanishing gradient: layer fc1 /.test(w)),
      );
      // The unclipped exploding run stops on NaN (never writing NaN), the
      // clipped one completes with a finite loss.
      assert.ok(exploding.stopped, "exploding run stopped");
      assert.match(exploding.stopped!.message, /NaN|Inf/);
      assert.ok(exploding.losses.every(Number.isFinite));
      assert.equal(clipped.stopped, undefined);
      assert.equal(clipped.losses.length, 6);
      assert.ok(clipped.losses.every(Number.isFinite));
      // Files: CSV header + one row per completed step; PNG decodes.
      const rows = (await Deno.readTextFile(csv)).trim().split("\n");
      assert.equal(
        rows[0],
        "config,step,loss,grad_norm," +
          Array.from({ length: 13 }, (_, i) => `fc${i + 1}`).join(","),
      );
      assert.equal(rows.length, 1 + 6 + 6 + exploding.losses.length + 6);
      const image = decode(await Deno.readFile(png));
      assert.equal(image.width, 3 * 560);
      assert.ok(image.height > 800);
      // The printed summary carries the ratio row.
      const text = lines.join("\n");
      assert.match(text, /fc1\/fc13/);
      assert.equal(summaryTable(runs).split("\n").length, 2 + 13 + 4);
    } finally {
      await Deno.remove(out, { recursive: true });
      getBackend().dispose();
    }
  },
});

Deno.test("gradients: bad flags are one-line errors with exit status 2; --help exits 0", async () => {
  const run = async (...args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/gradients.ts", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: r.code,
      out: new TextDecoder().decode(r.stdout),
      err: new TextDecoder().decode(r.stderr),
    };
  };
  const bad = await run("--stpes", "3");
  assert.equal(bad.code, 2);
  assert.equal(
    bad.err.trim(),
    "deno task gradients: unknown flag --stpes (see --help)",
  );
  const neg = await run("--steps", "-4");
  assert.equal(neg.code, 2);
  assert.equal(
    neg.err.trim(),
    "deno task gradients: --steps must be at least 1, got -4 (see --help)",
  );
  const help = await run("--help");
  assert.equal(help.code, 0);
  assert.match(help.out, /^Usage: deno task gradients \[options\]/);
  assert.match(help.out, /--clip +Also run an exploding configuration/);
  assert.match(
    help.out,
    /--steps INTEGER +SGD steps per configuration \(default: 200\)/,
  );
});

const SPEC: CliSpec = {
  name: "demo",
  summary: "A demo.",
  flags: {
    n: { type: "integer", default: 3, min: 1, max: 10, description: "Count" },
    rate: { type: "number", description: "Rate" },
    mode: {
      type: "string",
      default: "a",
      choices: ["a", "b"],
      description: "Mode",
    },
    fast: { type: "boolean", short: "f", description: "Go fast" },
  },
};

Deno.test("cli: parsing, validation and help", () => {
  assert.deepEqual(parseFlags(SPEC, []), {
    n: 3,
    rate: undefined,
    mode: "a",
    fast: undefined,
  });
  assert.deepEqual(
    parseFlags(SPEC, ["--n", "7", "--rate=1e-3", "--mode", "b", "-f"]),
    { n: 7, rate: 0.001, mode: "b", fast: true },
  );
  assert.equal(parseFlags(SPEC, ["-h"]), null);
  const err = (args: string[], re: RegExp) =>
    assert.throws(() => parseFlags(SPEC, args), (e: Error) => {
      assert.ok(e instanceof CliError);
      assert.ok(!e.message.includes("\n"));
      assert.match(e.message, re);
      return true;
    });
  err(["--nope"], /^unknown flag --nope$/);
  err(["--n", "x"], /--n needs a number, got "x"/);
  err(["--n", "2.5"], /--n needs an integer/);
  err(["--n", "11"], /--n must be at most 10/);
  err(["--mode", "c"], /--mode must be one of a, b, got "c"/);
  err(["--rate", ""], /--rate needs a number/);
  assert.equal(parseFlags(SPEC, ["--rate", "-0.5"])!.rate, -0.5);
  err(["--n", "-3"], /--n must be at least 1, got -3/);
  err(["stray"], /Unexpected argument 'stray'/);
  const help = helpText(SPEC);
  assert.match(help, /--n INTEGER +Count \(default: 3\)/);
  assert.match(help, /-f, --fast +Go fast/);
  assert.match(help, /--mode a\|b +Mode \(default: a\)/);
});

Deno.test("cli: progress bar on a terminal, plain lines otherwise", () => {
  let t = 0;
  const plain: string[] = [];
  const p = new Progress(10, {
    label: "train",
    terminal: false,
    everyPercent: 50,
    write: (s) => plain.push(s),
    now: () => t,
  });
  for (let i = 0; i < 10; i++) {
    t += 1000;
    p.tick(1, "loss 1.0");
  }
  assert.deepEqual(plain, [
    "train 1/10 10% 1s elapsed ETA 9s loss 1.0\n",
    "train 5/10 50% 5s elapsed ETA 5s loss 1.0\n",
    "train 10/10 100% 10s elapsed loss 1.0\n",
  ]);
  t = 0;
  const tty: string[] = [];
  const q = new Progress(4, {
    terminal: true,
    write: (s) => tty.push(s),
    now: () => t,
  });
  q.tick();
  t += 50; // redraws are throttled to 10 per second
  q.tick();
  t += 200;
  q.tick(2);
  assert.equal(tty.length, 2);
  assert.ok(tty[0].startsWith("\r\x1b[2K"), "erases the line before redrawing");
  assert.match(tty[0], /\[#{8}\.{22}\] 1\/4 25% 0s elapsed ETA 0s$/);
  assert.match(tty[1], /\[#{30}\] 4\/4 100% 0s elapsed\n$/);
  assert.equal(formatDuration(65), "1m05s");
  assert.equal(formatDuration(7325), "2h02m");
  assert.equal(formatDuration(NaN), "?");
});
