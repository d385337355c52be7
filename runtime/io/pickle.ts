// A minimal, safe unpickler for PyTorch state dicts (pickle protocols 2-5).
//
// Pickle (https://docs.python.org/3/library/pickle.html, opcode reference in
// CPython's Lib/pickletools.py) is a stack machine whose GLOBAL/REDUCE
// opcodes can import and call any Python callable: loading an untrusted
// pickle in Python is arbitrary code execution. This reader executes nothing.
// It interprets the data opcodes a `torch.save` state dict uses and resolves
// globals only from a fixed allow-list of inert meanings:
//
//   collections.OrderedDict            → Map (insertion ordered)
//   torch._utils._rebuild_tensor_v2,
//   torch._utils._rebuild_tensor       → TorchTensorRef (a description, no data)
//   torch._utils._rebuild_parameter(_with_state) → its tensor argument
//   torch.<Dtype>Storage               → TorchStorageType (a marker, not callable)
//   torch.float32, torch.float16, …    → TorchDtype (a marker, not callable)
//
// Any other global (os.system, builtins.eval, …), calling a marker, NEWOBJ /
// INST / OBJ, extension codes, out-of-band buffers, protocol 0/1 text opcodes
// and unknown opcodes throw a one-line PickleError naming the opcode or
// global and its byte offset. Persistent ids (BINPERSID: how torch refers to
// tensor storages) are handed to a caller-supplied `persistentLoad`, which
// returns inert data too.
//
// Python values map to: None → null, bool → boolean, int → number (bigint
// beyond ±2^53), float → number, str → string, bytes → Uint8Array, list →
// array, tuple → frozen array (Object.isFrozen), dict / OrderedDict → Map,
// set / frozenset → Set.
//
// Safety: every read is bounded by the input; string/bytes lengths, memo
// size, stack size and mark depth are limited; each opcode consumes at least
// one byte and does work proportional to the items it pops, so time and
// memory are linear in the input. This module is browser compatible.

/** A malformed, unsupported or refused pickle: `offset` is the absolute byte position. */
export class PickleError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = "PickleError";
    this.offset = offset;
  }
}

/** `torch.FloatStorage` and friends: which element type a persistent storage holds. */
export class TorchStorageType {
  constructor(readonly name: string, readonly dtype: TorchDtypeName) {}
}

/** `torch.float32` and friends (pickled dtypes). */
export class TorchDtype {
  constructor(readonly name: TorchDtypeName) {}
}

export type TorchDtypeName =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool";

/** What `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, …)` describes. */
export class TorchTensorRef {
  constructor(
    /** Whatever `persistentLoad` returned for the storage argument. */
    readonly storage: unknown,
    /** In elements of the storage. */
    readonly storageOffset: number,
    readonly shape: readonly number[],
    /** In elements. */
    readonly stride: readonly number[],
    readonly requiresGrad: boolean,
  ) {}
}

export interface UnpickleOptions {
  /**
   * Resolves the value of a persistent id (BINPERSID). Torch storages use
   * `('storage', TorchStorageType, key, location, numel[, view_metadata])`.
   * Without it persistent ids are refused.
   */
  persistentLoad?: (pid: unknown, offset: number) => unknown;
  /** Most memo entries (default 1 << 20). */
  maxMemo?: number;
  /** Most values on the stack, all mark levels together (default 1 << 20). */
  maxStack?: number;
  /** Most nested MARKs (default 10000). */
  maxMarks?: number;
  /** Longest str/bytes in bytes (default 64 MiB). */
  maxStringBytes?: number;
}

const STORAGE_TYPES: Record<string, TorchDtypeName> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
};

const DTYPES: Record<string, TorchDtypeName> = {
  float32: "float32",
  float: "float32",
  float64: "float64",
  double: "float64",
  float16: "float16",
  half: "float16",
  bfloat16: "bfloat16",
  int64: "int64",
  long: "int64",
  int32: "int32",
  int: "int32",
  int16: "int16",
  short: "int16",
  int8: "int8",
  uint8: "uint8",
  bool: "bool",
};

/** Callable allow-listed globals: the only things REDUCE may "call". */
type Callable =
  | "OrderedDict"
  | "rebuild_tensor_v2"
  | "rebuild_tensor"
  | "rebuild_parameter"
  | "rebuild_parameter_state";

class AllowedCallable {
  constructor(readonly kind: Callable, readonly qualname: string) {}
}

const CALLABLES: Record<string, Callable> = {
  "collections.OrderedDict": "OrderedDict",
  "torch._utils._rebuild_tensor_v2": "rebuild_tensor_v2",
  "torch._utils._rebuild_tensor": "rebuild_tensor",
  "torch._utils._rebuild_parameter": "rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state": "rebuild_parameter_state",
};

/** Resolves an allow-listed global to its inert meaning, or refuses it. */
function findGlobal(
  opcode: string,
  module: string,
  name: string,
  offset: number,
): unknown {
  const qualname = `${module}.${name}`;
  const callable = CALLABLES[qualname];
  if (callable) return new AllowedCallable(callable, qualname);
  if (module === "torch" && Object.hasOwn(STORAGE_TYPES, name)) {
    return new TorchStorageType(name, STORAGE_TYPES[name]);
  }
  if (module === "torch" && Object.hasOwn(DTYPES, name)) {
    return new TorchDtype(DTYPES[name]);
  }
  throw new PickleError(
    `${opcode}: refused global ${
      printable(qualname)
    } (not in the state-dict allow-list)`,
    offset,
  );
}

/** Opcode names for error messages (pickletools names). */
const OPCODE_NAMES: Record<number, string> = {
  0x28: "MARK",
  0x2e: "STOP",
  0x30: "POP",
  0x31: "POP_MARK",
  0x32: "DUP",
  0x46: "FLOAT",
  0x49: "INT",
  0x4a: "BININT",
  0x4b: "BININT1",
  0x4c: "LONG",
  0x4d: "BININT2",
  0x4e: "NONE",
  0x50: "PERSID",
  0x51: "BINPERSID",
  0x52: "REDUCE",
  0x53: "STRING",
  0x54: "BINSTRING",
  0x55: "SHORT_BINSTRING",
  0x56: "UNICODE",
  0x58: "BINUNICODE",
  0x61: "APPEND",
  0x62: "BUILD",
  0x63: "GLOBAL",
  0x64: "DICT",
  0x7d: "EMPTY_DICT",
  0x65: "APPENDS",
  0x67: "GET",
  0x68: "BINGET",
  0x69: "INST",
  0x6a: "LONG_BINGET",
  0x6c: "LIST",
  0x5d: "EMPTY_LIST",
  0x6f: "OBJ",
  0x70: "PUT",
  0x71: "BINPUT",
  0x72: "LONG_BINPUT",
  0x73: "SETITEM",
  0x74: "TUPLE",
  0x29: "EMPTY_TUPLE",
  0x75: "SETITEMS",
  0x47: "BINFLOAT",
  0x80: "PROTO",
  0x81: "NEWOBJ",
  0x82: "EXT1",
  0x83: "EXT2",
  0x84: "EXT4",
  0x85: "TUPLE1",
  0x86: "TUPLE2",
  0x87: "TUPLE3",
  0x88: "NEWTRUE",
  0x89: "NEWFALSE",
  0x8a: "LONG1",
  0x8b: "LONG4",
  0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES",
  0x8c: "SHORT_BINUNICODE",
  0x8d: "BINUNICODE8",
  0x8e: "BINBYTES8",
  0x8f: "EMPTY_SET",
  0x90: "ADDITEMS",
  0x91: "FROZENSET",
  0x92: "NEWOBJ_EX",
  0x93: "STACK_GLOBAL",
  0x94: "MEMOIZE",
  0x95: "FRAME",
  0x96: "BYTEARRAY8",
  0x97: "NEXT_BUFFER",
  0x98: "READONLY_BUFFER",
};

function opName(op: number): string {
  return OPCODE_NAMES[op] ??
    `unknown opcode 0x${op.toString(16).padStart(2, "0")}`;
}

/** A string made safe for a one-line message (control characters escaped, length capped). */
function printable(s: string): string {
  const short = s.length > 80 ? s.slice(0, 80) + "…" : s;
  return JSON.stringify(short);
}

function describe(v: unknown): string {
  if (v === null) return "None";
  if (Array.isArray(v)) return Object.isFrozen(v) ? "tuple" : "list";
  if (v instanceof Map) return "dict";
  if (v instanceof Set) return "set";
  if (v instanceof Uint8Array) return "bytes";
  if (v instanceof AllowedCallable) return v.qualname;
  if (v instanceof TorchStorageType) return `torch.${v.name}`;
  if (v instanceof TorchDtype) return `torch.${v.name}`;
  if (v instanceof TorchTensorRef) return "tensor";
  if (typeof v === "number") return Number.isInteger(v) ? "int" : "float";
  if (typeof v === "bigint") return "int";
  if (typeof v === "boolean") return "bool";
  return typeof v === "string" ? "str" : typeof v;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Unpickles one pickle starting at `start` and returns its value and the
 * offset just past its STOP opcode (so back-to-back pickles, as in torch's
 * legacy format, can be read in turn).
 */
export function unpickle(
  bytes: Uint8Array,
  options: UnpickleOptions = {},
  start = 0,
): { value: unknown; end: number } {
  const maxMemo = options.maxMemo ?? 1 << 20;
  const maxStack = options.maxStack ?? 1 << 20;
  const maxMarks = options.maxMarks ?? 10000;
  const maxString = options.maxStringBytes ?? 64 << 20;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;

  let stack: unknown[] = [];
  const marks: unknown[][] = [];
  let depth = 0; // values on the current stack plus every stack saved under a mark
  const memo = new Map<number, unknown>();
  let pos = start;
  let op = 0;
  let opOffset = start;

  const fail = (message: string): never => {
    throw new PickleError(`${opName(op)}: ${message}`, opOffset);
  };
  const need = (count: number): number => {
    if (count > n - pos) {
      fail(`truncated: needs ${count} bytes, ${n - pos} left`);
    }
    const at = pos;
    pos += count;
    return at;
  };
  const push = (v: unknown): void => {
    if (++depth > maxStack) fail(`stack exceeds ${maxStack} values`);
    stack.push(v);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail("stack underflow");
    depth--;
    return stack.pop();
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("stack underflow");
    return stack[stack.length - 1];
  };
  /** Pops everything above the last MARK, and the mark. */
  const popMark = (): unknown[] => {
    const items = stack;
    const saved = marks.pop();
    if (saved === undefined) fail("no MARK on the stack");
    stack = saved as unknown[];
    return items;
  };
  const length = (width: 1 | 4 | 8): number => {
    const at = need(width);
    let len: number;
    if (width === 1) len = bytes[at];
    else if (width === 4) len = view.getUint32(at, true);
    else {
      const hi = view.getUint32(at + 4, true);
      len = hi >= 0x200000
        ? Infinity
        : hi * 0x100000000 + view.getUint32(at, true);
    }
    if (len > maxString) {
      fail(`length ${len} exceeds the limit of ${maxString} bytes`);
    }
    return len;
  };
  const text = (len: number): string => {
    const at = need(len);
    try {
      return utf8.decode(bytes.subarray(at, at + len));
    } catch {
      return fail("invalid UTF-8");
    }
  };
  const latin1 = (len: number): string => {
    const at = need(len);
    let s = "";
    for (let i = 0; i < len; i++) s += String.fromCharCode(bytes[at + i]);
    return s;
  };
  /** A protocol-0 style line ending in \n (GLOBAL's module and name). */
  const line = (): string => {
    const limit = Math.min(n, pos + 1024);
    let end = pos;
    while (end < limit && bytes[end] !== 0x0a) end++;
    if (end >= limit) {
      fail(
        limit === n
          ? "truncated: unterminated line"
          : "line longer than 1024 bytes",
      );
    }
    const s = latin1(end - pos);
    pos++;
    return s;
  };
  const memoize = (index: number, v: unknown): void => {
    if (!memo.has(index) && memo.size >= maxMemo) {
      fail(`memo exceeds ${maxMemo} entries`);
    }
    memo.set(index, v);
  };
  const memoGet = (index: number): unknown => {
    if (!memo.has(index)) {
      fail(`memo index ${index} is not set (memo holds ${memo.size})`);
    }
    return memo.get(index);
  };
  const int = (v: unknown, what: string): number => {
    if (typeof v !== "number" || !Number.isInteger(v)) {
      fail(`${what} must be an int, got ${describe(v)}`);
    }
    return v as number;
  };
  const ints = (v: unknown, what: string): number[] => {
    if (!Array.isArray(v)) {
      fail(`${what} must be a tuple of ints, got ${describe(v)}`);
    }
    return (v as unknown[]).map((x) => int(x, what));
  };
  const dictOf = (v: unknown): Map<unknown, unknown> => {
    if (!(v instanceof Map)) fail(`expected a dict, got ${describe(v)}`);
    return v as Map<unknown, unknown>;
  };
  const setItem = (d: Map<unknown, unknown>, k: unknown, v: unknown): void => {
    if (k !== null && typeof k === "object" && !Array.isArray(k)) {
      fail(`unhashable dict key ${describe(k)}`);
    }
    d.set(k, v);
  };
  const call = (f: unknown, args: unknown): unknown => {
    if (!(f instanceof AllowedCallable)) fail(`refused to call ${describe(f)}`);
    if (!Array.isArray(args) || !Object.isFrozen(args)) {
      fail(`arguments must be a tuple, got ${describe(args)}`);
    }
    const a = args as unknown[];
    const name = (f as AllowedCallable).qualname;
    switch ((f as AllowedCallable).kind) {
      case "OrderedDict": {
        const d = new Map<unknown, unknown>();
        if (a.length === 0) return d;
        if (a.length === 1 && Array.isArray(a[0])) {
          for (const pair of a[0] as unknown[]) {
            if (!Array.isArray(pair) || pair.length !== 2) {
              fail(`${name}: items must be pairs`);
            }
            setItem(d, (pair as unknown[])[0], (pair as unknown[])[1]);
          }
          return d;
        }
        return fail(`${name}: unsupported arguments`);
      }
      case "rebuild_tensor_v2":
      case "rebuild_tensor": {
        const v2 = (f as AllowedCallable).kind === "rebuild_tensor_v2";
        // v2: (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (v2 ? a.length < 6 || a.length > 7 : a.length !== 4) {
          fail(`${name}: ${a.length} arguments`);
        }
        const shape = ints(a[2], "size");
        const stride = ints(a[3], "stride");
        if (shape.length !== stride.length) {
          fail(
            `${name}: size has ${shape.length} dims, stride ${stride.length}`,
          );
        }
        return new TorchTensorRef(
          a[0],
          int(a[1], "storage_offset"),
          shape,
          stride,
          v2 && a[4] === true,
        );
      }
      case "rebuild_parameter":
      case "rebuild_parameter_state":
        // (data, requires_grad, backward_hooks[, state]): the parameter is its data.
        if (a.length < 3 || a.length > 4 || !(a[0] instanceof TorchTensorRef)) {
          fail(`${name}: expected (tensor, requires_grad, hooks[, state])`);
        }
        return a[0];
    }
  };

  while (true) {
    if (pos >= n) {
      opOffset = pos;
      throw new PickleError(
        "truncated: no STOP opcode before the end of the data",
        pos,
      );
    }
    opOffset = pos;
    op = bytes[pos++];
    switch (op) {
      case 0x80: { // PROTO
        const proto = bytes[need(1)];
        if (proto < 2 || proto > 5) {
          fail(`unsupported protocol ${proto} (2-5 are read)`);
        }
        break;
      }
      case 0x95: { // FRAME: an 8-byte length; frames only group opcodes for buffered I/O
        const at = need(8);
        const hi = view.getUint32(at + 4, true);
        const len = hi * 0x100000000 + view.getUint32(at, true);
        if (len > n - pos) {
          fail(`frame of ${len} bytes runs past the end (${n - pos} left)`);
        }
        break;
      }
      case 0x2e: // STOP
        if (marks.length > 0) fail("unbalanced MARK");
        if (stack.length !== 1) {
          fail(`stack holds ${stack.length} values at STOP`);
        }
        return { value: stack[0], end: pos };
      case 0x28: // MARK
        if (marks.length >= maxMarks) {
          fail(`more than ${maxMarks} nested MARKs`);
        }
        marks.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        if (stack.length === 0) popMark(); // pickle pops a bare mark too
        else pop();
        break;
      case 0x31: // POP_MARK
        depth -= popMark().length;
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x4a: // BININT: signed 32-bit
        push(view.getInt32(need(4), true));
        break;
      case 0x4b: // BININT1: unsigned 8-bit
        push(bytes[need(1)]);
        break;
      case 0x4d: // BININT2: unsigned 16-bit
        push(view.getUint16(need(2), true));
        break;
      case 0x8a: // LONG1: n bytes of little-endian two's complement
      case 0x8b: { // LONG4
        const len = op === 0x8a ? bytes[need(1)] : view.getInt32(need(4), true);
        if (len < 0 || len > 1024) {
          fail(`long of ${len} bytes (at most 1024 read)`);
        }
        const at = need(len);
        let x = 0n;
        for (let i = len - 1; i >= 0; i--) {
          x = (x << 8n) | BigInt(bytes[at + i]);
        }
        if (len > 0 && bytes[at + len - 1] & 0x80) x -= 1n << BigInt(8 * len);
        push(x >= -(2n ** 53n) && x <= 2n ** 53n ? Number(x) : x);
        break;
      }
      case 0x47: // BINFLOAT: big-endian IEEE double
        push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        push(text(length(4)));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text(length(1)));
        break;
      case 0x8d: // BINUNICODE8
        push(text(length(8)));
        break;
      case 0x54: { // BINSTRING (Python 2 str): signed 32-bit length
        const len = view.getInt32(need(4), true);
        if (len < 0 || len > maxString) fail(`length ${len} is out of range`);
        push(latin1(len));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        push(latin1(length(1)));
        break;
      case 0x42: // BINBYTES
      case 0x43: // SHORT_BINBYTES
      case 0x8e: // BINBYTES8
      case 0x96: { // BYTEARRAY8
        const len = length(op === 0x43 ? 1 : op === 0x42 ? 4 : 8);
        const at = need(len);
        push(bytes.slice(at, at + len));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        push(Object.freeze([]));
        break;
      case 0x85: // TUPLE1
        push(Object.freeze([pop()]));
        break;
      case 0x86: { // TUPLE2
        const b = pop(), a = pop();
        push(Object.freeze([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop(), b = pop(), a = pop();
        push(Object.freeze([a, b, c]));
        break;
      }
      case 0x74: { // TUPLE
        const items = popMark();
        depth -= items.length;
        push(Object.freeze(items));
        break;
      }
      case 0x5d: // EMPTY_LIST
        push([]);
        break;
      case 0x6c: { // LIST
        const items = popMark();
        depth -= items.length;
        push(items);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(new Map());
        break;
      case 0x64: { // DICT
        const items = popMark();
        depth -= items.length;
        if (items.length % 2) fail("odd number of items");
        const d = new Map<unknown, unknown>();
        for (let i = 0; i < items.length; i += 2) {
          setItem(d, items[i], items[i + 1]);
        }
        push(d);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(new Set());
        break;
      case 0x90: { // ADDITEMS
        const items = popMark();
        depth -= items.length;
        const s = top();
        if (!(s instanceof Set)) fail(`expected a set, got ${describe(s)}`);
        for (const x of items) (s as Set<unknown>).add(x);
        break;
      }
      case 0x91: { // FROZENSET
        const items = popMark();
        depth -= items.length;
        push(new Set(items));
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) {
          fail(`expected a list, got ${describe(list)}`);
        }
        (list as unknown[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        depth -= items.length;
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) {
          fail(`expected a list, got ${describe(list)}`);
        }
        for (const x of items) (list as unknown[]).push(x);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop(), k = pop();
        setItem(dictOf(top()), k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        depth -= items.length;
        if (items.length % 2) fail("odd number of items");
        const d = dictOf(top());
        for (let i = 0; i < items.length; i += 2) {
          setItem(d, items[i], items[i + 1]);
        }
        break;
      }
      case 0x71: // BINPUT
        memoize(bytes[need(1)], top());
        break;
      case 0x72: // LONG_BINPUT
        memoize(view.getUint32(need(4), true), top());
        break;
      case 0x94: // MEMOIZE
        memoize(memo.size, top());
        break;
      case 0x68: // BINGET
        push(memoGet(bytes[need(1)]));
        break;
      case 0x6a: // LONG_BINGET
        push(memoGet(view.getUint32(need(4), true)));
        break;
      case 0x63: { // GLOBAL: "module\nname\n"
        const module = line();
        const name = line();
        push(findGlobal("GLOBAL", module, name, opOffset));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop(), module = pop();
        if (typeof module !== "string" || typeof name !== "string") {
          fail("module and name must be str");
        }
        push(
          findGlobal(
            "STACK_GLOBAL",
            module as string,
            name as string,
            opOffset,
          ),
        );
        break;
      }
      case 0x52: { // REDUCE: callable(*args)
        const args = pop();
        const f = pop();
        push(call(f, args));
        break;
      }
      case 0x62: { // BUILD: obj.__setstate__(state)
        const state = pop();
        const obj = top();
        // A state dict's OrderedDict carries `_metadata` (module versions) as
        // instance attributes: accepted and ignored. Nothing else is built.
        if (
          !(obj instanceof Map) || !(state === null || state instanceof Map)
        ) {
          fail(`refused to build ${describe(obj)} from ${describe(state)}`);
        }
        break;
      }
      case 0x51: { // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) {
          fail("persistent ids are not accepted here");
        }
        push(options.persistentLoad!(pid, opOffset));
        break;
      }
      case 0x81: // NEWOBJ: cls.__new__(cls, *args)
      case 0x92: { // NEWOBJ_EX
        if (op === 0x92) pop();
        pop();
        return fail(`refused to instantiate ${describe(pop())}`);
      }
      default:
        // INST, OBJ (arbitrary instantiation), EXT1/2/4 (extension registry),
        // NEXT_BUFFER/READONLY_BUFFER (out-of-band data), PERSID and the
        // protocol 0/1 text opcodes, and bytes that are no opcode at all.
        return fail(
          op in OPCODE_NAMES
            ? "opcode is not supported by this safe unpickler"
            : "refused",
        );
    }
  }
}
