// runtimes.mjs -- drives Google's two TFLite runtimes compiled to WebAssembly,
// in Node, on raw tensor bytes:
//   litert  @litertjs/core (LiteRT.js, CompiledModel API, TFLite kernels +
//           XNNPACK), through its low-level TensorBuffer API so that every
//           element type it knows can be fed, not only float32/int32/uint8.
//   interp  @tensorflow/tfjs-tflite (the classic tflite::Interpreter), through
//           its TFLiteWebModelRunner, whose tensors are views into wasm memory.
//
// Contract: run(bytes, io, inputs) takes the model bytes (shapes already
// patched to the inputs' shapes), the I/O selection from tflite_fb.selectIO()
// and one {dtype, shape, data} per io.inputs entry, and returns one array per
// io.outputs entry. It throws an Error carrying the runtime's own log when the
// runtime fails, and also when it merely logs a line starting with ERROR (a
// LiteRT.js model that failed to allocate tensors still "runs", on garbage).
//
// Both glue scripts expect a browser or a web worker; the shims below give
// them what they look for (self, importScripts, location, a local fetch) and
// no more.
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { createRequire } from 'node:module';
import { itemSize, numElements } from './npy.mjs';

const require = createRequire(import.meta.url);

// ---- runtime log capture ---------------------------------------------------
// The wasm glue prints through console.*; everything it says is kept so that
// ERROR lines can fail the run and the log can be shown with the failure.
const captured = [];
let echo = false;
const realConsole = {};
export function captureConsole(verbose) {
  echo = verbose;
  for (const k of ['log', 'info', 'warn', 'error', 'debug']) {
    if (!realConsole[k]) realConsole[k] = console[k];
    console[k] = (...args) => {
      const text = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : String(a))).join(' ');
      for (const line of text.split('\n')) {
        // '%c' CSS styling from browser-oriented messages is dropped.
        const clean = line.replace(/%c/g, '');
        captured.push(clean);
        if (echo) process.stderr.write(`[runtime] ${clean}\n`);
      }
    };
  }
}

function logMark() { return captured.length; }
function logSince(mark) { return captured.slice(mark); }
function errorLines(lines) { return lines.filter((l) => /^\s*ERROR\b/.test(l)); }
// Said on every start in Node, whatever the model: not worth showing.
const NOISE = [/NPU accelerator could not be loaded/, /Failed to create default WebGPU device/];
// The log shown with a failure: everything but routine INFO chatter.
function tailForError(lines) {
  const keep = lines.filter((l) => !/^\s*INFO\b/.test(l) && l.trim() && !NOISE.some((re) => re.test(l)));
  return keep.length ? `\nruntime log:\n  ${keep.slice(-40).join('\n  ')}` : '';
}

class RuntimeError extends Error {}

function check(mark, what) {
  const lines = logSince(mark);
  const errs = errorLines(lines);
  if (errs.length) throw new RuntimeError(`${what}: the runtime logged an error: ${errs[0].trim()}${tailForError(lines)}`);
}

function wrapFailure(e, mark, what) {
  if (e instanceof RuntimeError) return e;
  const msg = e instanceof Error ? (echo && e.stack ? e.stack : e.message) : String(e);
  return new RuntimeError(`${what}: ${msg}${tailForError(logSince(mark))}`);
}

// ---- browser shims ---------------------------------------------------------
let shimmed = false;
function installShims() {
  if (shimmed) return;
  shimmed = true;
  globalThis.self = globalThis;
  globalThis.require = require;
  globalThis.importScripts = (url) => {
    const file = String(url);
    vm.runInThisContext(fs.readFileSync(file, 'utf8'), { filename: file });
  };
  // tfjs-tflite resolves "/abs/path" against location.origin.
  if (!globalThis.location) globalThis.location = { origin: '', href: '', protocol: 'file:' };
  // Both glue scripts fetch their .wasm by URL; serve absolute local paths.
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (url, opts) => {
    const s = String(url);
    if (s.startsWith('/')) {
      const type = s.endsWith('.wasm') ? 'application/wasm' : 'application/octet-stream';
      return new Response(fs.readFileSync(s), { headers: { 'Content-Type': type } });
    }
    return realFetch(url, opts);
  };
}

function packageDir(name) {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    throw new Error(`npm package ${name} is not installed: run 'bash setup.sh' (or 'npm ci' in tests/rig)`);
  }
}

// ---- element types -----------------------------------------------------------
// LiteRT ElementType values (litert_model_types.h) <-> NumPy dtype names.
const LITERT_ELEM = {
  1: 'float32', 2: 'int32', 3: 'uint8', 4: 'int64', 6: 'bool', 7: 'int16',
  8: 'complex64', 9: 'int8', 10: 'float16', 11: 'float64', 12: 'complex128',
  13: 'uint64', 16: 'uint32', 17: 'uint16',
};
const LITERT_ELEM_NAMES = {
  0: 'NONE', 5: 'STRING', 14: 'RESOURCE', 15: 'VARIANT', 18: 'INT4', 19: 'BFLOAT16',
};
function litertDtype(v) {
  const d = LITERT_ELEM[v];
  if (!d) throw new Error(`element type ${LITERT_ELEM_NAMES[v] ?? v} cannot be passed through the rig`);
  return d;
}

function vecToArray(v) {
  const a = [];
  for (let i = 0; i < v.size(); i++) a.push(v.get(i));
  v.delete();
  return a;
}

// Matches runtime-reported names to the io entries: by name when every name
// is found, else by position (names the runtime invents, empty names).
function orderByName(runtimeNames, ioEntries, what) {
  const idx = runtimeNames.map((n) => ioEntries.findIndex((e) => e.name === n));
  if (idx.every((i) => i >= 0) && new Set(idx).size === idx.length && idx.length === ioEntries.length) return idx;
  if (runtimeNames.length === ioEntries.length) return runtimeNames.map((_, i) => i);
  throw new Error(`${what}: the runtime reports ${runtimeNames.length} tensors [${runtimeNames}] but the model file has ${ioEntries.length} [${ioEntries.map((e) => e.name)}]`);
}

// ---- LiteRT.js -----------------------------------------------------------------
export class LiteRtRuntime {
  static name = 'litert';

  static async load() {
    installShims();
    const dir = packageDir('@litertjs/core');
    const wasmDir = path.join(dir, 'wasm');
    globalThis.__dirname = wasmDir;
    const mark = logMark();
    try {
      const lrt = await import('@litertjs/core');
      const rt = await lrt.loadLiteRt(`${wasmDir}/`);
      const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
      return new LiteRtRuntime(rt, version);
    } catch (e) {
      throw wrapFailure(e, mark, 'loading LiteRT.js');
    }
  }

  constructor(rt, version) {
    this.rt = rt;
    this.w = rt.liteRtWasm;
    this.env = rt.getDefaultEnvironment().liteRtEnvironment;
    this.version = version;
  }

  async run(bytes, io, inputs, where) {
    const w = this.w;
    const mark = logMark();
    const owned = [];
    let ptr = 0;
    try {
      ptr = w._malloc(bytes.length);
      if (!ptr) throw new Error(`cannot allocate ${bytes.length} bytes in wasm memory`);
      w.HEAPU8.set(bytes, ptr);
      const model = w.loadModel(this.env, ptr, bytes.length);
      owned.push(model);
      check(mark, `${where}: LiteRT.js loadModel`);
      const compiled = await w.compileModel(this.env, model, {
        accelerator: 'wasm', cpuOptions: { numThreads: 1 }, gpuOptions: {}, webNNOptions: {},
      });
      owned.push(compiled);
      check(mark, `${where}: LiteRT.js compileModel`);

      // Signature index: LiteRT.js gives models without signature_defs one
      // placeholder signature over subgraph 0.
      let si = 0;
      const n = model.getNumSignatures();
      if (io.key !== null) {
        si = -1;
        for (let i = 0; i < n && si < 0; i++) {
          const s = model.getSignature(i);
          if (s.key() === io.key) si = i;
          s.delete();
        }
        if (si < 0) throw new Error(`LiteRT.js does not list signature '${io.key}'`);
      }
      const sig = model.getSignature(si);
      const inNames = vecToArray(sig.inputNames());
      const outNames = vecToArray(sig.outputNames());
      sig.delete();
      const inOrder = orderByName(inNames, io.inputs, `${where}: inputs`);
      const outOrder = orderByName(outNames, io.outputs, `${where}: outputs`);

      const buffers = [];
      for (let i = 0; i < inNames.length; i++) {
        const arr = inputs[inOrder[i]];
        const name = io.inputs[inOrder[i]].name;
        const tt = model.getInputTensorType(si, i);
        owned.push(tt);
        const dtype = litertDtype(tt.elementType().value);
        if (dtype !== arr.dtype) throw new Error(`input '${name}': LiteRT.js expects ${dtype}, got ${arr.dtype}`);
        const nbytes = tt.bytes();
        if (nbytes !== arr.data.length) {
          const lay = tt.layout();
          const dims = vecToArray(lay.dimensions());
          lay.delete();
          throw new Error(`input '${name}': LiteRT.js expects shape [${dims}] (${nbytes} bytes), got [${arr.shape}] (${arr.data.length} bytes)`);
        }
        const buf = w.LiteRtTensorBuffer.createManaged(this.env, w.LiteRtTensorBufferType.HOST_MEMORY, tt, Math.max(nbytes, 1));
        owned.push(buf);
        const p = buf.lock(w.LiteRtTensorBufferLockMode.WRITE);
        w.HEAPU8.set(arr.data, p);
        buf.unlock();
        buffers.push(buf);
      }
      check(mark, `${where}: LiteRT.js input buffers`);
      const results = await compiled.run(si, buffers);
      owned.push(...results);
      check(mark, `${where}: LiteRT.js run`);

      const outputs = new Array(io.outputs.length);
      for (let i = 0; i < results.length; i++) {
        const buf = results[i];
        const entry = io.outputs[outOrder[i]];
        const tt = buf.tensorType();
        const et = tt.elementType();
        let shape = null;
        if (et) {
          const lay = tt.layout();
          shape = vecToArray(lay.dimensions());
          lay.delete();
        }
        tt.delete();
        const nbytes = et && LITERT_ELEM[et.value] ? numElements(shape) * itemSize(LITERT_ELEM[et.value]) : -1;
        // Seen when the file declares an output shape static (no -1 in
        // shape_signature) that in fact follows a resized input: the run
        // reports nothing but hands back a buffer of the static size whose
        // type is garbage.
        if (!et || nbytes < 0 || nbytes > buf.size()) {
          const declared = entry.tensor.shape_signature ?? entry.tensor.shape;
          throw new Error(`output '${entry.name}': LiteRT.js returned an invalid buffer (${buf.size()} bytes); the file declares its shape static [${declared}], probably wrongly for these input shapes (use -1 in shape_signature, or --runtime interp)`);
        }
        const dtype = LITERT_ELEM[et.value];
        const p = buf.lock(w.LiteRtTensorBufferLockMode.READ);
        const data = w.HEAPU8.slice(p, p + nbytes);
        buf.unlock();
        outputs[outOrder[i]] = { dtype, shape, data };
      }
      check(mark, `${where}: LiteRT.js outputs`);
      return outputs;
    } catch (e) {
      throw wrapFailure(e, mark, where);
    } finally {
      for (const o of owned.reverse()) { try { o.delete(); } catch { /* already gone */ } }
      if (ptr) w._free(ptr);
    }
  }
}

// ---- tfjs-tflite (tflite::Interpreter) ------------------------------------------------
// The element types TFLiteWebModelRunner exposes (NumPy names).
export const INTERP_TYPES = ['int8', 'uint8', 'bool', 'int16', 'int32', 'uint32', 'float32', 'float64'];
const TYPED = {
  int8: Int8Array, uint8: Uint8Array, bool: Uint8Array, int16: Int16Array, int32: Int32Array,
  uint32: Uint32Array, float32: Float32Array, float64: Float64Array,
};

export class InterpRuntime {
  static name = 'interp';

  static async load() {
    installShims();
    const dir = packageDir('@tensorflow/tfjs-tflite');
    const mark = logMark();
    try {
      const tflite = require('@tensorflow/tfjs-tflite');
      tflite.setWasmPath(`${path.join(dir, 'wasm')}/`);
      // The multi-threaded build needs Web Workers: make the feature probe
      // (which posts a SharedArrayBuffer on a MessageChannel) fail, so the
      // single-threaded SIMD build is chosen. The probe result is cached.
      const MC = globalThis.MessageChannel;
      globalThis.MessageChannel = undefined;
      try { await tflite.getWasmFeatures(); } finally { globalThis.MessageChannel = MC; }
      const version = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
      return new InterpRuntime(tflite, version);
    } catch (e) {
      throw wrapFailure(e, mark, 'loading tfjs-tflite');
    }
  }

  constructor(tflite, version) {
    this.tflite = tflite;
    this.version = version;
  }

  async run(bytes, io, inputs, where) {
    if (io.subgraph_index !== 0) throw new Error(`${where}: tfjs-tflite runs subgraph 0 only; signature '${io.key}' is on subgraph ${io.subgraph_index} (use --runtime litert)`);
    for (const e of [...io.inputs, ...io.outputs]) {
      const t = e.tensor.type_name.toLowerCase();
      if (!INTERP_TYPES.includes(t)) throw new Error(`${where}: tfjs-tflite cannot pass ${e.tensor.type_name} tensors ('${e.name}'); use --runtime litert`);
    }
    const mark = logMark();
    let runner = null;
    try {
      const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
      const model = await this.tflite.loadTFLiteModel(ab, { numThreads: 1 });
      runner = model.modelRunner;
      check(mark, `${where}: tfjs-tflite load`);
      const ins = runner.getInputs();
      const byId = (infos, entries, what) => {
        const ids = infos.map((x) => x.id);
        const ord = entries.map((e) => ids.indexOf(e.tensor.index));
        if (ord.every((k) => k >= 0) && infos.length === entries.length) return ord;
        throw new Error(`${what}: the interpreter reports tensors [${ids}], the model file has [${entries.map((e) => e.tensor.index)}]`);
      };
      const inPos = byId(ins, io.inputs, `${where}: inputs`);
      for (let i = 0; i < io.inputs.length; i++) {
        const info = ins[inPos[i]];
        const arr = inputs[i];
        if (info.dataType !== arr.dtype) throw new Error(`input '${io.inputs[i].name}': the interpreter expects ${info.dataType}, got ${arr.dtype}`);
        const shape = parseShape(info.shape);
        if (shape.join(',') !== arr.shape.join(',')) throw new Error(`input '${io.inputs[i].name}': the interpreter expects shape [${shape}], got [${arr.shape}]`);
        const view = info.data();
        const T = TYPED[arr.dtype];
        view.set(new T(arr.data.slice().buffer));
      }
      if (!runner.infer()) throw new Error('inference failed (TFLiteWebModelRunner.infer returned false)');
      check(mark, `${where}: tfjs-tflite infer`);
      const outs = runner.getOutputs();
      const outPos = byId(outs, io.outputs, `${where}: outputs`);
      return io.outputs.map((e, i) => {
        const info = outs[outPos[i]];
        const dtype = info.dataType;
        const src = info.data();
        const data = new Uint8Array(src.buffer, src.byteOffset, src.byteLength).slice();
        return { dtype, shape: parseShape(info.shape), data };
      });
    } catch (e) {
      throw wrapFailure(e, mark, where);
    } finally {
      if (runner) { try { runner.cleanUp(); } catch { /* already gone */ } }
    }
  }
}

function parseShape(s) {
  return s === '' ? [] : String(s).split(',').map(Number);
}

export const RUNTIMES = { litert: LiteRtRuntime, interp: InterpRuntime };

const loaded = new Map();
export async function getRuntime(name) {
  if (!RUNTIMES[name]) throw new Error(`unknown runtime '${name}' (litert, interp)`);
  if (!loaded.has(name)) loaded.set(name, await RUNTIMES[name].load());
  return loaded.get(name);
}
