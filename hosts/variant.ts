// The one place that reads IMPASTO_VARIANT: the engine variant a host is
// forced to use (threads-relaxed, threads-simd, single-relaxed,
// single-simd), so that every CPU path can be exercised in CI. A host's
// --engine-variant flag wins over the environment; neither means "the best
// the host supports" (Engine.create's own choice).
// This module is browser compatible.
import { type Variant, VARIANTS } from "../runtime/engine/engine.ts";

/** Thrown for an unknown variant name; the message is one line. */
export class VariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VariantError";
  }
}

function environment(name: string): string | undefined {
  const g = globalThis as {
    Deno?: { env: { get(k: string): string | undefined } };
    process?: { env?: Record<string, string | undefined> };
  };
  try {
    if (g.Deno) return g.Deno.env.get(name);
    return g.process?.env?.[name];
  } catch {
    return undefined; // Deno without --allow-env: treat as unset
  }
}

/** Validates a variant name (undefined and "" and "auto" mean automatic). */
export function parseVariant(
  name: string | undefined,
  source = "engine variant",
): Variant | undefined {
  if (name === undefined || name === "" || name === "auto") return undefined;
  if (!(VARIANTS as readonly string[]).includes(name)) {
    throw new VariantError(
      `${source} "${name}" is unknown; use one of ${
        VARIANTS.join(", ")
      } or auto`,
    );
  }
  return name as Variant;
}

/**
 * The forced variant: `flag` (a host's --engine-variant) if given, else the
 * IMPASTO_VARIANT environment variable (or `env` binding on edge hosts).
 */
export function engineVariant(
  flag?: string,
  env?: Record<string, unknown>,
): Variant | undefined {
  if (flag !== undefined) return parseVariant(flag, "--engine-variant");
  const bound = env?.IMPASTO_VARIANT;
  return parseVariant(
    typeof bound === "string" ? bound : environment("IMPASTO_VARIANT"),
    "IMPASTO_VARIANT",
  );
}
