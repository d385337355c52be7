// Kernel implementations keyed by backend and kernel name. Registering a
// key twice throws; a missing kernel's error names both.
// This module is browser compatible.
import { getBackend } from "./backend.ts";
import type { KernelName, KernelSignatures } from "./kernel_names.ts";

const registry = new Map<string, unknown>();

function key(backend: string, name: string): string {
  return `${backend}/${name}`;
}

export function registerKernel<K extends KernelName>(
  backend: string,
  name: K,
  impl: KernelSignatures[K],
): void {
  const k = key(backend, name);
  if (registry.has(k)) {
    throw new Error(
      `Kernel ${name} is already registered for backend ${backend}`,
    );
  }
  registry.set(k, impl);
}

/** Whether `backend` (default: the current one) implements `name`. */
export function hasKernel(
  name: KernelName,
  backend = getBackend().name,
): boolean {
  return registry.has(key(backend, name));
}

/** Runs kernel `name` on the current backend. */
export function runKernel<K extends KernelName>(
  name: K,
  ...args: Parameters<KernelSignatures[K]>
): ReturnType<KernelSignatures[K]> {
  const backend = getBackend().name;
  const impl = registry.get(key(backend, name)) as
    | ((
      ...a: Parameters<KernelSignatures[K]>
    ) => ReturnType<KernelSignatures[K]>)
    | undefined;
  if (!impl) {
    throw new Error(`Kernel ${name} is not registered for backend ${backend}`);
  }
  return impl(...args);
}
