import assert from "node:assert/strict";
import {
  empty,
  keep,
  ones,
  tensor,
  tidy,
  zeros,
} from "../../runtime/tensor.ts";
import { disposeBackendAtEnd, liveCount, setupBackend } from "./_gradcheck.ts";
import { getBackend } from "../../runtime/backend.ts";

await setupBackend();

Deno.test("tensor basics: values, shapes, views", () => {
  const before = liveCount();
  const t = tensor([1, 2, 3, 4, 5, 6], [2, 3]);
  assert.equal(t.size, 6);
  assert.equal(t.rank, 2);
  assert.deepEqual([...t.data()], [1, 2, 3, 4, 5, 6]);
  const v = t.view([3, -1]);
  assert.deepEqual(v.shape, [3, 2]);
  assert.equal(v.storage, t.storage);
  assert.equal(liveCount(), before + 1);
  t.dispose();
  // The view keeps the storage alive.
  assert.deepEqual([...v.data()], [1, 2, 3, 4, 5, 6]);
  v.dispose();
  v.dispose(); // idempotent
  assert.equal(liveCount(), before);
  assert.throws(() => v.data(), /disposed/);
  tidy(() => {
    assert.throws(() => tensor([1, 2, 3], [2, 2]), /do not fill/);
    assert.throws(() => zeros([2]).item(), /one-element/);
    assert.throws(() => ones([2, 2]).view([3, -1]), /Cannot reshape/);
    assert.throws(() => empty([2]).write([1]), /write/);
  });
  assert.equal(liveCount(), before);
});

Deno.test("tidy frees everything but its result; keep escapes", () => {
  const before = liveCount();
  const bytes = getBackend().memory().liveBytes;
  let kept = null as ReturnType<typeof zeros> | null;
  const out = tidy(() => {
    zeros([100]);
    kept = keep(ones([3]));
    const inner = tidy(() => {
      zeros([5]);
      return { a: ones([2]), b: [zeros([1]), null] };
    });
    assert.equal(inner.a.disposed, false);
    return ones([4]);
  });
  assert.equal(out.disposed, false);
  assert.equal(kept!.disposed, false);
  assert.equal(liveCount(), before + 2);
  out.dispose();
  kept!.dispose();
  assert.equal(liveCount(), before);
  assert.equal(getBackend().memory().liveBytes, bytes);
  // A throwing tidy still frees.
  assert.throws(() =>
    tidy(() => {
      zeros([10]);
      throw new Error("boom");
    }), /boom/);
  assert.equal(liveCount(), before);
});

disposeBackendAtEnd();
