// Writes JavaScript-peer golden vectors with the REAL npm hypha-rpc client (version pinned in
// package.json). Usage: node make_vectors.js [OUT_DIR]   (default: ../golden/js)
//
// Each case is encoded exactly as the JS client sends it: `await rpc._encode(value)` on a
// server-less `new RPC(null, {client_id, silent: true})`, packed with the @msgpack/msgpack
// encoder the client itself depends on. Beside <name>.msgpack, index.json holds for each case
// an `expect` tree describing, from the JS value (not from the bytes), what a receiver must
// decode according to the spec (docs/wire-hypha.md). Never hand-edit the output.
"use strict";
const fs = require("fs");
const path = require("path");

const hyphaMain = require.resolve("hypha-rpc");
const { RPC } = require("hypha-rpc").hyphaWebsocketClient;
const msgpackPath = require.resolve("@msgpack/msgpack", { paths: [path.dirname(hyphaMain)] });
const msgpack = require(msgpackPath);

function pkgVersion(mainFile, name) {
  let dir = path.dirname(mainFile);
  for (;;) {
    const p = path.join(dir, "package.json");
    if (fs.existsSync(p)) {
      const pkg = JSON.parse(fs.readFileSync(p, "utf8"));
      if (pkg.name === name) return pkg.version;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`no package.json for ${name}`);
    dir = up;
  }
}

// --- expectations: what the spec says a receiver decodes, described as JSON ----------------
function num(x) {
  if (Number.isNaN(x)) return "NaN";
  if (x === Infinity) return "Infinity";
  if (x === -Infinity) return "-Infinity";
  return x;
}

function hex(u8) {
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength).toString("hex");
}

function expect(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (v instanceof Uint8Array) return { $bytes: hex(v) };  // plain bin (the view, not the buffer)
  if (v instanceof ArrayBuffer) return { $memoryview: hex(new Uint8Array(v)) };
  if (v instanceof DataView) {
    // defect: the WHOLE underlying buffer is sent, whatever the view's offset and length
    return { $memoryview: hex(new Uint8Array(v.buffer)) };
  }
  if (ArrayBuffer.isView(v)) {
    // defect: the WHOLE underlying buffer is sent (a subarray arrives with every element)
    const whole = new v.constructor(v.buffer);
    return { $typedarray: DTYPES[v.constructor.name], values: Array.from(whole, num) };
  }
  if (v instanceof Error) return { $error: v.toString(), trace: v.stack };
  if (v instanceof Set) return { $set: Array.from(v, expect) };
  if (v instanceof Map) return { $orderedmap: Array.from(v, ([k, x]) => [expect(k), expect(x)]) };
  if (Array.isArray(v)) return v.map(expect);
  if (v._rtype === "ndarray" && v._rvalue instanceof ArrayBuffer) {
    // rpc._ndarray(): `_rvalue` arrives as a nested memoryview map; a tolerant decoder unwraps it
    const whole = new CTORS[v._rdtype](v._rvalue);
    return { $ndarray: v._rdtype, shape: v._rshape, values: Array.from(whole, num) };
  }
  const out = {};
  for (const k of Object.keys(v)) if (k !== "_rtype") out[k] = expect(v[k]);
  if ("_rtype" in v) out._rtype = v._rtype;  // an unknown `_rtype` stays a dict, moved last
  return { $dict: Object.entries(out) };
}

const DTYPES = {
  Int8Array: "int8", Int16Array: "int16", Int32Array: "int32", Uint8Array: "uint8",
  Uint16Array: "uint16", Uint32Array: "uint32", Float32Array: "float32", Float64Array: "float64",
};
const CTORS = {
  int8: Int8Array, int16: Int16Array, int32: Int32Array, uint8: Uint8Array,
  uint16: Uint16Array, uint32: Uint32Array, float32: Float32Array, float64: Float64Array,
};

// --- cases -------------------------------------------------------------------------------------
function makeError(ctor, message) {
  // One stack frame and a checkout-relative path, so the vector does not depend on where the
  // repository lives or which node version runs (the client sends `error.stack` as `_rtrace`).
  const saved = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  const err = new ctor(message);
  Error.stackTraceLimit = saved;
  err.stack = err.stack.split(__dirname).join("tests/js");
  return err;
}

function cases(rpc) {
  const c = [];
  const add = (name, value, note) => c.push({ name, value, note });
  const samples = {
    int8: [-128, -1, 0, 1, 127], int16: [-32768, -2, 0, 3, 32767],
    int32: [-2147483648, -3, 0, 5, 2147483647], uint8: [0, 1, 128, 254, 255],
    uint16: [0, 1, 32768, 65535], uint32: [0, 1, 2147483648, 4294967295],
    float32: [0, -1.5, 0.1, 3.4028234663852886e38, NaN, Infinity, -Infinity],
    float64: [0, -1.5, 0.1, 1.7976931348623157e308, 5e-324, NaN, -Infinity],
  };
  for (const [dtype, ctor] of Object.entries(CTORS)) {
    add(`typedarray_${dtype}`, new ctor(samples[dtype]),
      dtype === "uint8" ? "Uint8Array is sent as plain bin (bytes), not as typedarray" : undefined);
    add(`typedarray_${dtype}_empty`, new ctor(0));
  }
  const big = new Int8Array(65540);
  for (let i = 0; i < big.length; i++) big[i] = (i % 256) - 128;
  add("typedarray_int8_bin32", big);
  add("typedarray_subarray", new Int16Array([1, 2, 3, 4]).subarray(1, 3),
    "defect: the whole buffer (4 elements) is sent for subarray(1, 3)");
  add("typedarray_offset_view", new Float32Array(new Float32Array([1, 2, 3, 4]).buffer, 4, 2),
    "defect: the whole buffer is sent, byteOffset and length are ignored");
  add("uint8array_subarray", new Uint8Array([9, 8, 7, 6]).subarray(1, 3),
    "Uint8Array is sent as is: only the view's bytes");
  add("arraybuffer", new Uint8Array([1, 2, 3, 250]).buffer);
  add("arraybuffer_empty", new ArrayBuffer(0));
  add("dataview", new DataView(new Uint8Array([5, 6, 7]).buffer));
  add("dataview_offset", new DataView(new Uint8Array([5, 6, 7, 8]).buffer, 1, 2),
    "defect: the whole buffer is sent");
  add("map_str_keys", new Map([["b", 1], ["a", "x"], ["c", null]]));
  add("map_nonstr_keys", new Map([[1, "one"], ["two", 2], [2.5, true], [true, -1], [null, 0]]),
    "orderedmap pairs may carry any key; they decode to an OrderedDict");
  add("map_nested", new Map([["m", new Map([[1, new Float32Array([0.5])]])], ["l", [1, 2]]]));
  add("map_empty", new Map());
  add("set_mixed", new Set([1, "x", 2.5, null, true]));
  add("set_empty", new Set());
  add("error", makeError(Error, "boom"));
  add("error_typeerror", makeError(TypeError, "bad type"));
  add("object_nested", {
    a: new Uint8Array([1, 2]),
    b: [1, new Float64Array([0.5]), { c: new Set([3]) }],
    d: { e: new Map([["k", "v"]]), f: new Int32Array([7, -7]) },
    s: "text", n: 1.25, i: -7, z: null, t: true,
  });
  add("object_primitives", { x: 1, y: [2, 3, { z: "w" }] });
  add("object_key_order", { zeta: 1, alpha: 2, mid: 3 });
  add("object_rtype_custom", { _rtype: "custom", v: new Int16Array([1]), w: 2 });
  add("numbers", [0, 1, -1, 127, 128, -33, 65536, 2 ** 32, 2 ** 53 - 1, -(2 ** 53 - 1), 1.5, -0.25, 1e300]);
  add("strings", ["", "a", "x".repeat(40), "é€\u{1F600}"]);
  add("ndarray_helper", rpc._ndarray(new Float32Array([1, 2, 3])),
    "rpc._ndarray(): `_rvalue` is a nested memoryview map (hypha-rpc's Python client fails on it)");
  add("ndarray_helper_2d", rpc._ndarray(new Int32Array([1, 2, 3, 4, 5, 6]), [2, 3]));
  return c;
}

async function main() {
  const out = path.resolve(process.argv[2] || path.join(__dirname, "..", "golden", "js"));
  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(out)) if (f.endsWith(".msgpack")) fs.unlinkSync(path.join(out, f));
  const rpc = new RPC(null, { client_id: "polycodec-vectors", silent: true });
  const index = {
    generator: "tests/js/make_vectors.js",
    "hypha-rpc": pkgVersion(hyphaMain, "hypha-rpc"),
    "@msgpack/msgpack": pkgVersion(msgpackPath, "@msgpack/msgpack"),
    cases: {},
  };
  for (const { name, value, note } of cases(rpc)) {
    const expected = expect(value);  // before _encode: it deletes and re-adds `_rtype`
    const bytes = msgpack.encode(await rpc._encode(value, "vectors"));
    fs.writeFileSync(path.join(out, `${name}.msgpack`), bytes);
    index.cases[name] = { expect: expected, size: bytes.length };
    if (note) index.cases[name].note = note;
  }
  fs.writeFileSync(path.join(out, "index.json"), JSON.stringify(index, null, 1) + "\n");
  console.log(`wrote ${Object.keys(index.cases).length} vectors to ${out}`);
  process.exit(0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
