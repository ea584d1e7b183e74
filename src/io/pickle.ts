/**
 * A safe interpreter for a subset of Python's pickle protocol (protocols 0–5 as PyTorch and
 * Python write them), for reading PyTorch checkpoints without Python.
 *
 * Pickle is a small stack machine whose GLOBAL / REDUCE opcodes import and call arbitrary
 * Python functions; `pickle.load` of a hostile file runs its code. This interpreter never
 * runs anything: a GLOBAL is looked up in the caller's allow-list (`resolveGlobal`), which
 * returns a plain value or a `PyCallable` — a TypeScript function that *interprets* the call
 * (builds a dict, a tensor) — and refuses everything else before any later opcode is read.
 *
 * Supported opcodes (the names of Python's `pickletools`):
 * - framing: PROTO, FRAME, STOP
 * - constants: NONE, NEWTRUE, NEWFALSE, INT, BININT, BININT1, BININT2, LONG, LONG1, LONG4,
 *   FLOAT, BINFLOAT
 * - strings and bytes: BINUNICODE, SHORT_BINUNICODE, BINUNICODE8, BINSTRING,
 *   SHORT_BINSTRING (decoded as UTF-8, as torch.load does), BINBYTES, SHORT_BINBYTES,
 *   BINBYTES8, BYTEARRAY8
 * - containers: MARK, EMPTY_TUPLE, TUPLE, TUPLE1-3, EMPTY_LIST, LIST, APPEND, APPENDS,
 *   EMPTY_DICT, DICT, SETITEM, SETITEMS, EMPTY_SET, ADDITEMS, FROZENSET, POP, POP_MARK, DUP
 * - memo: PUT, BINPUT, LONG_BINPUT, MEMOIZE, GET, BINGET, LONG_BINGET
 * - objects (allow-listed globals only): GLOBAL, STACK_GLOBAL, REDUCE, NEWOBJ, NEWOBJ_EX,
 *   BUILD, BINPERSID, PERSID (handed to the caller's `persistentLoad`)
 *
 * Refused: INST and OBJ (protocol 0/1 object creation), EXT1/2/4 (the copyreg extension
 * registry), NEXT_BUFFER / READONLY_BUFFER (out-of-band buffers), STRING and UNICODE
 * (protocol-0 escaped text), and any opcode not listed.
 *
 * Python values map to: None → null, bool → boolean, int → number (bigint beyond 2^53),
 * float → number, str → string, bytes/bytearray → Uint8Array, list → array, tuple → frozen
 * array (`isTuple`), dict → `PyDict` (a Map), set/frozenset → Set.
 */

import { quoted } from '../errors.js';

/** A malformed pickle (truncated, bad opcode, inconsistent stack). */
export class PickleError extends Error {
  override name = 'PickleError';
}

/** A global that is not on the allow-list; nothing has been run. */
export class RefusedGlobalError extends Error {
  override name = 'RefusedGlobalError';
  constructor(
    readonly module: string,
    readonly qualname: string,
  ) {
    super(`${module}.${qualname}`);
  }
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | readonly PyValue[]
  | PyDict
  | Set<PyValue>
  | PyCallable
  | PyObject
  | object;

/** A Python dict (or OrderedDict): insertion-ordered, keys by value for strings and numbers. */
export class PyDict extends Map<PyValue, PyValue> {
  /** The instance state a BUILD gave it (a state_dict's `_metadata`), if any. */
  attrs?: PyValue;
}

/** An object that BUILD may give state to (Python's __setstate__, interpreted). */
export interface HasState {
  setState(state: PyValue): void;
}
const hasSetState = (v: unknown): v is HasState =>
  typeof v === 'object' && v !== null && typeof (v as Partial<HasState>).setState === 'function';

/** An instance of an allow-listed plain-data class (e.g. argparse.Namespace): its state only. */
export class PyObject implements HasState {
  state: PyValue = null;
  constructor(readonly cls: string) {}
  setState(state: PyValue): void {
    this.state = state;
  }
}

/** An allow-listed global that the interpreter may "call": `call` interprets the call. */
export class PyCallable {
  constructor(
    /** module.qualname, for messages. */
    readonly name: string,
    /** REDUCE: f(*args). */
    readonly call?: (args: readonly PyValue[]) => PyValue,
    /** NEWOBJ: cls.__new__(cls, *args). */
    readonly newobj?: (args: readonly PyValue[]) => PyValue,
  ) {}
}

export const isTuple = (v: unknown): v is readonly PyValue[] => Array.isArray(v) && Object.isFrozen(v);
const tuple = (items: PyValue[]): readonly PyValue[] => Object.freeze(items);

export interface UnpickleOptions {
  /** Where to start reading (default 0). */
  offset?: number;
  /** The allow-list: returns the value of module.name, or undefined to refuse it. */
  resolveGlobal(module: string, name: string): PyValue | undefined;
  /** BINPERSID / PERSID: the object a persistent id stands for (PyTorch: storages). */
  persistentLoad?(pid: PyValue): PyValue;
}

const OP_NAMES: Record<number, string> = {
  105: 'INST',
  111: 'OBJ',
  130: 'EXT1',
  131: 'EXT2',
  132: 'EXT4',
  151: 'NEXT_BUFFER',
  152: 'READONLY_BUFFER',
  83: 'STRING',
  86: 'UNICODE',
};

const MAX_LONG_BYTES = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Runs one pickle from `bytes` (starting at `options.offset`) up to its STOP; returns the
 * value and the offset just after STOP. Throws PickleError or RefusedGlobalError (or
 * whatever the callbacks throw).
 */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): { value: PyValue; end: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = options.offset ?? 0;
  const stack: PyValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();

  const fail = (why: string): never => {
    throw new PickleError(why);
  };
  const need = (n: number) => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > bytes.byteLength)
      fail(`the pickle ends early (needs ${n} more bytes at offset ${pos}); the file is truncated`);
  };
  const u8 = () => {
    need(1);
    return bytes[pos++];
  };
  const u16 = () => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = view.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a length of ${v} bytes at offset ${pos - 8}`);
    return Number(v);
  };
  const take = (n: number) => {
    need(n);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const text = (n: number) => {
    const b = take(n);
    try {
      return utf8.decode(b);
    } catch {
      return fail(`a string at offset ${pos - n} is not UTF-8`);
    }
  };
  const line = () => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail('the pickle ends early (an unterminated text line); the file is truncated');
    const s = new TextDecoder('latin1').decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s.endsWith('\r') ? s.slice(0, -1) : s;
  };
  const pop = (): PyValue => {
    if (stack.length <= (marks.at(-1) ?? 0)) fail(`the stack is empty at offset ${pos - 1}`);
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length <= (marks.at(-1) ?? 0)) fail(`the stack is empty at offset ${pos - 1}`);
    return stack[stack.length - 1];
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail(`no MARK before offset ${pos - 1}`);
    return stack.splice(m!);
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) fail(`memo entry ${i} is used before it is set`);
    return memo.get(i)!;
  };
  const memoPut = (i: number) => memo.set(i, top());
  const int = (n: bigint): number | bigint =>
    n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
  const long = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return int(v);
  };
  const textInt = (s: string): number | bigint => {
    const t = s.replace(/L$/, '');
    if (!/^[+-]?\d+$/.test(t) || t.length > MAX_LONG_BYTES) fail(`${quoted(s, 40)} is not an integer`);
    return int(BigInt(t));
  };
  const dictOf = (v: PyValue, op: string): PyDict => {
    if (!(v instanceof PyDict)) fail(`${op} on something that is not a dict`);
    return v as PyDict;
  };
  const listOf = (v: PyValue, op: string): PyValue[] => {
    if (!Array.isArray(v) || isTuple(v)) fail(`${op} on something that is not a list`);
    return v as PyValue[];
  };
  const setItems = (d: PyDict, items: PyValue[]) => {
    if (items.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
  };
  const global = (module: string, name: string): PyValue => {
    const v = options.resolveGlobal(module, name);
    if (v === undefined) throw new RefusedGlobalError(module, name);
    return v;
  };
  const callable = (v: PyValue, op: string): PyCallable => {
    if (!(v instanceof PyCallable)) fail(`${op} on something that is not callable`);
    return v as PyCallable;
  };
  const argsOf = (v: PyValue, op: string): readonly PyValue[] => {
    if (!isTuple(v)) fail(`${op} with arguments that are not a tuple`);
    return v as readonly PyValue[];
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail(`pickle protocol ${bytes[pos - 1]} is newer than 5`);
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        if (marks.length) fail('STOP inside a MARK');
        return { value: pop(), end: pos };

      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(long(take(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0 || n > MAX_LONG_BYTES) fail(`an integer of ${n} bytes`);
        stack.push(long(take(n)));
        break;
      }
      case 0x49: {
        // INT (text): "01" / "00" are True / False in protocol 0
        const s = line();
        stack.push(s === '01' ? true : s === '00' ? false : textInt(s));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(textInt(line()));
        break;
      case 0x46: {
        // FLOAT (text)
        const s = line();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[+-]?nan$/i.test(s)) fail(`${quoted(s, 40)} is not a float`);
        stack.push(v);
        break;
      }
      case 0x47: // BINFLOAT: big-endian
        need(8);
        stack.push(view.getFloat64(pos, false));
        pos += 8;
        break;

      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: {
        // BINSTRING (Python 2 str)
        const n = i32();
        if (n < 0) fail('a negative string length');
        stack.push(text(n));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(text(u8()));
        break;
      case 0x42: // BINBYTES
        stack.push(take(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(take(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(take(u64()).slice());
        break;

      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(tuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(tuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(tuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(tuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(tuple([pop(), b, c]));
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x61: {
        // APPEND
        const v = pop();
        listOf(top(), 'APPEND').push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        const list = listOf(top(), 'APPENDS');
        for (const v of items) list.push(v);
        break;
      }
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        dictOf(top(), 'SETITEM').set(k, v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(dictOf(top(), 'SETITEMS'), items);
        break;
      }
      case 0x8f: // EMPTY_SET
        stack.push(new Set<PyValue>());
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail('ADDITEMS on something that is not a set');
        for (const v of items) (s as Set<PyValue>).add(v);
        break;
      }
      case 0x91: // FROZENSET
        stack.push(new Set<PyValue>(popMark()));
        break;
      case 0x30: // POP
        if (stack.length > (marks.at(-1) ?? 0)) stack.pop();
        else popMark(); // Python: POP with an empty frame discards the mark
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;

      case 0x70: // PUT (text)
        memoPut(Number(textInt(line())));
        break;
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x67: // GET (text)
        stack.push(memoGet(Number(textInt(line()))));
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;

      case 0x63: {
        // GLOBAL: "module\nname\n"
        const module = line();
        stack.push(global(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          fail('STACK_GLOBAL with a module or name that is not a string');
        stack.push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE: f(*args)
        const args = argsOf(pop(), 'REDUCE');
        const f = callable(pop(), 'REDUCE');
        if (!f.call) fail(`${f.name} cannot be called`);
        stack.push(f.call!(args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = argsOf(pop(), 'NEWOBJ');
        const cls = callable(pop(), 'NEWOBJ');
        if (!cls.newobj) fail(`${cls.name} cannot be instantiated`);
        stack.push(cls.newobj!(args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
        const kwargs = pop();
        const args = argsOf(pop(), 'NEWOBJ_EX');
        const cls = callable(pop(), 'NEWOBJ_EX');
        if (!cls.newobj || !(kwargs instanceof PyDict) || kwargs.size)
          fail(`${cls.name} cannot be instantiated`);
        stack.push(cls.newobj!(args));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state) / obj.__dict__.update(state)
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict) obj.attrs = state;
        else if (hasSetState(obj)) obj.setState(state);
        else fail('BUILD on an object that takes no state');
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!options.persistentLoad) fail('a persistent id, but this file may not have any');
        stack.push(options.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = line();
        if (!options.persistentLoad) fail('a persistent id, but this file may not have any');
        stack.push(options.persistentLoad!(pid));
        break;
      }

      default: {
        const name = OP_NAMES[op];
        fail(
          name
            ? `it uses the pickle opcode ${name} (offset ${at}), which pss does not interpret`
            : `unknown pickle opcode 0x${op.toString(16).padStart(2, '0')} at offset ${at}`,
        );
      }
    }
  }
}
