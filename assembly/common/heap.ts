// The boundary between the module's static data and the memory the
// TypeScript memory manager owns.

/** First byte the TypeScript memory manager may use. */
export function heap_base(): usize {
  return __heap_base;
}
