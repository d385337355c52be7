// The safe unpickler: pickles written by CPython (protocols 2, 4, 5) and by
// hand decode to the right values; code-execution gadgets, unknown opcodes,
// truncation, bad memo indices and absurd lengths throw a one-line
// PickleError naming the opcode or global and its byte offset.
import assert from "node:assert/strict";
import {
  PickleError,
  TorchDtype,
  TorchStorageType,
  TorchTensorRef,
  unpickle,
  UnpickleOptions,
} from "../../../runtime/io/pickle.ts";
import {
  PickleBuilder,
  randomFloats,
  stateDictPickle,
} from "./_torch_fixtures.ts";

function hex(s: string): Uint8Array {
  return Uint8Array.from(s.match(/../g)!.map((b) => parseInt(b, 16)));
}

function load(bytes: Uint8Array, options?: UnpickleOptions): unknown {
  return unpickle(bytes, options).value;
}

/** Asserts a one-line PickleError matching `pattern`, at byte `offset` when given. */
function assertRefused(
  fn: () => unknown,
  pattern: RegExp,
  offset?: number,
): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof PickleError, `expected PickleError, got ${e}`);
    assert.match(e.message, pattern);
    assert.match(e.message, /at byte \d+$/);
    assert.ok(!e.message.includes("\n"), "one line");
    if (offset !== undefined) assert.equal(e.offset, offset);
    return true;
  });
}

// CPython 3 `pickle.dumps(obj, protocol=p)` of
//   l = [7]
//   obj = {'a': [1, -2, 3.5, None, True, False, 300, 70000, -70000],
//          'b': (b'xy', 'é', 2**70, -2**63),
//          'c': OrderedDict([('k', (1,)), ('t', (1, 2, 3, 4))]),
//          's': {1, 2}, 'f': frozenset([3]), 'x': l, 'y': l}
// (protocol 4 and 5 use FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL,
// SHORT_BINBYTES, EMPTY_SET/ADDITEMS, FROZENSET, LONG1, BINFLOAT).
const CPYTHON_P4 =
  "800495b5000000000000007d94288c0161945d94284b014afeffffff47400c0000000000004e88894d2c014a701101004a90eefeff658c0162942843027879948c02c3a9948a090000000000000000408a08000000000000008074948c0163948c0b636f6c6c656374696f6e73948c0b4f72646572656444696374949394295294288c016b944b0185948c017494284b014b024b034b047494758c0173948f94284b014b02908c016694284b0391948c0178945d944b07618c0179946815752e";
const CPYTHON_P5 = "8005" + CPYTHON_P4.slice(4);

for (const [protocol, text] of [[4, CPYTHON_P4], [5, CPYTHON_P5]] as const) {
  Deno.test(`pickle: CPython protocol ${protocol} data decodes`, () => {
    const v = load(hex(text)) as Map<string, unknown>;
    assert.ok(v instanceof Map);
    assert.deepEqual([...v.keys()], ["a", "b", "c", "s", "f", "x", "y"]);
    assert.deepEqual(v.get("a"), [
      1,
      -2,
      3.5,
      null,
      true,
      false,
      300,
      70000,
      -70000,
    ]);
    const b = v.get("b") as unknown[];
    assert.ok(Object.isFrozen(b), "tuples are frozen arrays");
    assert.deepEqual(b[0], Uint8Array.of(0x78, 0x79));
    assert.equal(b[1], "é");
    assert.equal(b[2], 2n ** 70n);
    assert.equal(b[3], -(2n ** 63n));
    const c = v.get("c") as Map<string, unknown>;
    assert.ok(c instanceof Map);
    assert.deepEqual([...c.entries()], [["k", [1]], ["t", [1, 2, 3, 4]]]);
    assert.deepEqual(v.get("s"), new Set([1, 2]));
    assert.deepEqual(v.get("f"), new Set([3]));
    assert.equal(
      v.get("x"),
      v.get("y"),
      "memoized values are shared, as in Python",
    );
  });
}

Deno.test("pickle: CPython protocol 2 bytes need _codecs.encode, which is refused", () => {
  // pickle.dumps({'a': [1, b'xy']}, protocol=2): GLOBAL '_codecs encode' at byte 19.
  const p2 = hex(
    "80027d710058010000006171015d7102284b01635f636f646563730a656e636f64650a710358020000007879710458060000006c6174696e31710586710652710765732e",
  );
  assertRefused(
    () => load(p2),
    /^GLOBAL: refused global "_codecs\.encode" \(not in the state-dict allow-list\) at byte 19$/,
    19,
  );
});

Deno.test("pickle: hand-built values (ints, floats, strings, containers, memo)", () => {
  const p = new PickleBuilder().proto(2).mark()
    .int(0).int(255).int(256).int(65535).int(65536).int(-1).int(2 ** 31 - 1)
    .int(-(2 ** 31))
    .int(2 ** 40).int(-(2 ** 40)).int(2n ** 64n)
    .float(-0.25).float(1e300).str("").str("日本").shortStr("short").binbytes(
      Uint8Array.of(0, 255),
    )
    .none().bool(true).bool(false)
    .emptyList().put(7).int(1).append().get(7).int(2).append()
    .emptyDict().str("k").emptyTuple().setitem()
    .tuple().stop().bytes();
  const v = load(p) as unknown[];
  assert.deepEqual(v.slice(0, 11), [
    0,
    255,
    256,
    65535,
    65536,
    -1,
    2 ** 31 - 1,
    -(2 ** 31),
    2 ** 40,
    -(2 ** 40),
    2n ** 64n,
  ]);
  assert.deepEqual(v.slice(11, 20), [
    -0.25,
    1e300,
    "",
    "日本",
    "short",
    Uint8Array.of(0, 255),
    null,
    true,
    false,
  ]);
  assert.equal(v[20], v[21], "BINGET returns the memoized list itself");
  assert.deepEqual(v[20], [1, 2]);
  assert.deepEqual(v[22], new Map([["k", []]]));
});

Deno.test("pickle: a torch state dict yields tensor references and persistent ids", () => {
  const bytes = stateDictPickle([
    {
      name: "w",
      key: "0",
      dtype: "float16",
      storage: new Uint8Array(12),
      shape: [2, 3],
      parameter: true,
    },
    {
      name: "b",
      key: "1",
      dtype: "float32",
      storage: new Uint8Array(8),
      shape: [2],
      offset: 0,
    },
  ], false);
  const pids: unknown[] = [];
  const v = load(bytes, {
    persistentLoad: (pid) => (pids.push(pid), `storage#${pids.length}`),
  }) as Map<string, unknown>;
  assert.deepEqual([...v.keys()], ["w", "b"]);
  const w = v.get("w") as TorchTensorRef;
  assert.ok(w instanceof TorchTensorRef);
  assert.equal(w.storage, "storage#1");
  assert.deepEqual([w.shape, w.stride, w.storageOffset], [[2, 3], [3, 1], 0]);
  const pid = pids[0] as unknown[];
  assert.equal(pid[0], "storage");
  assert.ok(pid[1] instanceof TorchStorageType && pid[1].dtype === "float16");
  assert.deepEqual(pid.slice(2), ["0", "cpu", 6]);
  // Without a persistentLoad hook persistent ids are refused.
  assertRefused(
    () => load(bytes),
    /^BINPERSID: persistent ids are not accepted here/,
  );
  // Dtype globals are inert values.
  const d = load(
    new PickleBuilder().proto(2).global("torch", "bfloat16").stop().bytes(),
  );
  assert.ok(d instanceof TorchDtype && d.name === "bfloat16");
});

Deno.test("pickle: GLOBAL os.system + REDUCE is refused at the GLOBAL, nothing runs", () => {
  const p = new PickleBuilder().proto(2).global("os", "system").str(
    "echo pwned",
  ).tupleN(1).reduce().stop().bytes();
  assertRefused(
    () => load(p),
    /^GLOBAL: refused global "os\.system" \(not in the state-dict allow-list\)/,
    2,
  );
  // The same through STACK_GLOBAL (protocol 4) and other classic gadgets.
  const q = new PickleBuilder().proto(4).shortStr("builtins").shortStr("eval")
    .stackGlobal()
    .shortStr("1+1").tupleN(1).reduce().stop().bytes();
  assertRefused(
    () => load(q),
    /^STACK_GLOBAL: refused global "builtins\.eval"/,
    18,
  );
  for (
    const [m, n] of [["subprocess", "Popen"], ["builtins", "getattr"], [
      "torch",
      "load",
    ], ["torch._utils", "x"]]
  ) {
    assertRefused(
      () => load(new PickleBuilder().proto(2).global(m, n).stop().bytes()),
      /refused global/,
      2,
    );
  }
});

Deno.test("pickle: calling or instantiating anything but the allow-listed rebuilders is refused", () => {
  // REDUCE on an inert marker (a storage class is not callable here).
  const storageCall = new PickleBuilder().proto(2).global(
    "torch",
    "FloatStorage",
  ).emptyTuple().reduce().stop().bytes();
  assertRefused(
    () => load(storageCall),
    /^REDUCE: refused to call torch\.FloatStorage/,
  );
  // REDUCE on plain data.
  assertRefused(
    () =>
      load(
        new PickleBuilder().proto(2).str("x").emptyTuple().reduce().stop()
          .bytes(),
      ),
    /refused to call str/,
  );
  // NEWOBJ (cls.__new__) even of an allowed class.
  const newobj = new PickleBuilder().proto(2).global(
    "collections",
    "OrderedDict",
  ).emptyTuple().raw(0x81).stop().bytes();
  assertRefused(
    () => load(newobj),
    /^NEWOBJ: refused to instantiate collections\.OrderedDict/,
  );
  // INST / OBJ (protocol 0/1 instantiation), EXT1 (extension registry), NEXT_BUFFER.
  assertRefused(
    () =>
      load(
        new PickleBuilder().proto(2).raw(
          0x69,
          ...new TextEncoder().encode("os\nsystem\n"),
        ).bytes(),
      ),
    /^INST: opcode is not supported/,
    2,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(2).mark().raw(0x6f).stop().bytes()),
    /^OBJ: opcode is not supported/,
    3,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(2).raw(0x82, 1).stop().bytes()),
    /^EXT1:/,
    2,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(5).raw(0x97).stop().bytes()),
    /^NEXT_BUFFER:/,
    2,
  );
  // BUILD on anything but a dict (setstate would run arbitrary code in Python).
  const build = new PickleBuilder().proto(2).emptyList().emptyDict().build()
    .stop().bytes();
  assertRefused(
    () => load(build),
    /^BUILD: refused to build list from dict/,
    4,
  );
  // Wrong argument shapes for the rebuilders.
  const badTensor = new PickleBuilder().proto(2).global(
    "torch._utils",
    "_rebuild_tensor_v2",
  ).mark().none()
    .str("0").emptyTuple().emptyTuple().bool(false).none().tuple().reduce()
    .stop().bytes();
  assertRefused(
    () => load(badTensor),
    /storage_offset must be an int, got str/,
  );
});

Deno.test("pickle: unknown opcodes and protocols outside 2-5 are refused with their offset", () => {
  assertRefused(
    () => load(new PickleBuilder().proto(2).none().raw(0xff).stop().bytes()),
    /^unknown opcode 0xff: refused at byte 3$/,
    3,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(2).raw(0x00).bytes()),
    /unknown opcode 0x00/,
    2,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(1).none().stop().bytes()),
    /^PROTO: unsupported protocol 1/,
    0,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(6).none().stop().bytes()),
    /unsupported protocol 6/,
    0,
  );
  // Protocol 0 text opcodes.
  assertRefused(
    () => load(new TextEncoder().encode("I1\n.")),
    /^INT: opcode is not supported/,
    0,
  );
});

Deno.test("pickle: truncated data, at every cut point", () => {
  const bytes = stateDictPickle([
    {
      name: "w",
      key: "0",
      dtype: "float32",
      storage: new Uint8Array(24),
      shape: [2, 3],
      parameter: true,
    },
  ], false);
  const options = { persistentLoad: (pid: unknown) => pid };
  load(bytes, options);
  for (let n = 0; n < bytes.length; n++) {
    assertRefused(
      () => load(bytes.subarray(0, n), options),
      /truncated|stack underflow|MARK|stack holds|STOP/,
    );
  }
  assertRefused(
    () => load(new PickleBuilder().proto(2).str("abc").bytes().subarray(0, 9)),
    /^BINUNICODE: truncated: needs 3 bytes, 2 left at byte 2$/,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(2).none().bytes()),
    /no STOP opcode/,
    3,
  );
});

Deno.test("pickle: memo index out of range, stack misuse", () => {
  assertRefused(
    () =>
      load(new PickleBuilder().proto(2).none().put(0).get(5).stop().bytes()),
    /^BINGET: memo index 5 is not set \(memo holds 1\) at byte 5$/,
    5,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(2).get(70000).stop().bytes()),
    /^LONG_BINGET: memo index 70000/,
    2,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(2).put(0).stop().bytes()),
    /^BINPUT: stack underflow/,
    2,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(2).tuple().stop().bytes()),
    /^TUPLE: no MARK on the stack/,
    2,
  );
  assertRefused(
    () => load(new PickleBuilder().proto(2).none().none().stop().bytes()),
    /^STOP: stack holds 2 values/,
    4,
  );
  assertRefused(
    () =>
      load(new PickleBuilder().proto(2).int(1).int(2).append().stop().bytes()),
    /expected a list, got int/,
  );
  assertRefused(
    () =>
      load(
        new PickleBuilder().proto(2).emptyTuple().int(1).append().stop()
          .bytes(),
      ),
    /expected a list, got tuple/,
  );
  assertRefused(
    () =>
      load(
        new PickleBuilder().proto(2).emptyDict().mark().int(1).setitems().stop()
          .bytes(),
      ),
    /odd number of items/,
  );
  assertRefused(
    () =>
      load(
        new PickleBuilder().proto(2).emptyDict().emptyDict().none().setitem()
          .stop().bytes(),
      ),
    /unhashable dict key dict/,
  );
});

Deno.test("pickle: huge lengths and resource limits", () => {
  // BINUNICODE claiming 4 GB - 16: refused by the string limit before any allocation.
  const huge = new PickleBuilder().proto(2).raw(
    0x58,
    0xf0,
    0xff,
    0xff,
    0xff,
    0x61,
  ).stop().bytes();
  assertRefused(
    () => load(huge),
    /^BINUNICODE: length 4294967280 exceeds the limit of 67108864 bytes at byte 2$/,
  );
  // Within the limit but past the end: truncated.
  const past = new PickleBuilder().proto(2).raw(
    0x58,
    0x00,
    0x00,
    0x10,
    0x00,
    0x61,
  ).stop().bytes();
  assertRefused(
    () => load(past),
    /^BINUNICODE: truncated: needs 1048576 bytes/,
  );
  // BINBYTES8 with a 2^60 length.
  const bytes8 = new PickleBuilder().proto(4).raw(
    0x8e,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0x10,
  ).stop().bytes();
  assertRefused(() => load(bytes8), /^BINBYTES8: length .* exceeds the limit/);
  // LONG4 with a huge byte count.
  assertRefused(
    () =>
      load(
        new PickleBuilder().proto(2).raw(0x8b, 0, 0, 0, 0x40).stop().bytes(),
      ),
    /^LONG4: long of \d+ bytes/,
  );
  // Invalid UTF-8.
  assertRefused(
    () => load(new PickleBuilder().proto(2).raw(0x8c, 1, 0xff).stop().bytes()),
    /invalid UTF-8/,
  );
  // A FRAME longer than the data.
  assertRefused(
    () =>
      load(
        new PickleBuilder().proto(4).raw(0x95, 0xff, 0xff, 0, 0, 0, 0, 0, 0)
          .none().stop().bytes(),
      ),
    /^FRAME: frame of 65535 bytes runs past/,
  );
  // Options bound memo, stack, marks and strings.
  const memo = new PickleBuilder().proto(2).none();
  for (let i = 0; i < 10; i++) memo.put(i);
  assertRefused(
    () => load(memo.stop().bytes(), { maxMemo: 5 }),
    /^BINPUT: memo exceeds 5 entries/,
  );
  const stack = new PickleBuilder().proto(2).mark();
  for (let i = 0; i < 10; i++) stack.none();
  assertRefused(
    () => load(stack.tuple().stop().bytes(), { maxStack: 8 }),
    /^NONE: stack exceeds 8 values/,
  );
  const marks = new PickleBuilder().proto(2);
  for (let i = 0; i < 20000; i++) marks.mark();
  assertRefused(
    () => load(marks.bytes()),
    /^MARK: more than 10000 nested MARKs/,
  );
  assertRefused(
    () =>
      load(new PickleBuilder().proto(2).str("abcdef").stop().bytes(), {
        maxStringBytes: 4,
      }),
    /length 6 exceeds the limit of 4/,
  );
  // A deep but legal nesting (DUP + APPEND of itself) does not recurse or hang.
  const cyc = new PickleBuilder().proto(2).emptyList().raw(0x32).append().stop()
    .bytes();
  const list = load(cyc) as unknown[];
  assert.equal(list[0], list);
});

Deno.test("pickle: random corruption of a state dict only ever throws PickleError", () => {
  const bytes = stateDictPickle([
    {
      name: "a",
      key: "0",
      dtype: "float32",
      storage: new Uint8Array(24),
      shape: [2, 3],
      parameter: true,
    },
    {
      name: "b",
      key: "1",
      dtype: "bfloat16",
      storage: new Uint8Array(4),
      shape: [2],
    },
  ], false);
  const noise = randomFloats(6000, 7);
  const options = { persistentLoad: (pid: unknown) => pid };
  for (let trial = 0; trial < 2000; trial++) {
    const b = bytes.slice();
    for (let k = 0; k < 3; k++) {
      b[Math.floor(((noise[(trial * 3 + k) % 6000] + 1) / 2) * b.length)] = Math
        .floor(
          ((noise[(trial * 3 + k + 1) % 6000] + 1) / 2) * 256,
        );
    }
    try {
      load(b, options);
    } catch (e) {
      assert.ok(e instanceof PickleError, `trial ${trial}: ${e}`);
      assert.ok(!e.message.includes("\n"));
    }
  }
});

Deno.test("pickle: back-to-back pickles are read in turn from a start offset", () => {
  const a = new PickleBuilder().proto(2).int(1001).stop().bytes();
  const b = new PickleBuilder().proto(2).str("x").stop().bytes();
  const both = new Uint8Array([...a, ...b]);
  const first = unpickle(both);
  assert.deepEqual(first, { value: 1001, end: a.length });
  assert.deepEqual(unpickle(both, {}, first.end), {
    value: "x",
    end: both.length,
  });
});
