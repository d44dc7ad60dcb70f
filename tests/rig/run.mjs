#!/usr/bin/env node
// run.mjs -- tflc's test rig: runs .tflite models in Google's TFLite runtimes
// (compiled to WebAssembly, from npm) so tests can check converted models
// against a runtime nobody on this project wrote. See docs/testing.md.
//
//   node tests/rig/run.mjs run --model M.tflite --inputs in.npz --out out.npz
//        [--runtime litert|interp|auto] [--signature KEY]
//   node tests/rig/run.mjs compare --a A.tflite --b B.tflite [--runtime R]
//        [--runtime-b R] [--signature KEY] [--seed N] [--exact | --rtol R --atol A]
//        [--range LO,HI] [--int-range LO,HI] [--inputs in.npz]
//        [--save-inputs in.npz] [--save-outputs PREFIX]
//   node tests/rig/run.mjs info --model M.tflite [--signature KEY]
//   node tests/rig/run.mjs selftest
//   node tests/rig/run.mjs npz-copy --inputs in.npz --out out.npz
// Common: --verbose echoes everything the runtimes log to stderr;
// --no-precheck skips the rig's checks of the file (Flex/custom ops, variable
// tensors, I/O types) so that the runtime's own error shows.
//
// Contract: `run` writes outputs keyed like the inputs were: by name, or by
// position "0","1",... ("arr_0","arr_1",... as np.savez names positional
// arrays) when the inputs were positional. `compare` prints
// one JSON line. Exit status: 0 success / match, 1 compare mismatch, 2 any
// error (bad arguments, bad files, a runtime failure or a runtime log line
// starting with ERROR); errors are reported on stderr.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNpz, writeNpz, tflToNumpy, castArray, numElements } from './lib/npy.mjs';
import { readModel, selectIO, runtimeObstacles, patchInputShapes, numerics } from './lib/tflite_fb.mjs';
import { randomInputs, compareArrays, concreteShape } from './lib/inputs.mjs';
import { captureConsole, getRuntime, INTERP_TYPES } from './lib/runtimes.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

class UsageError extends Error {}

const say = (s) => process.stdout.write(`${s}\n`);
const warn = (s) => process.stderr.write(`${s}\n`);

// ---- arguments -------------------------------------------------------------------
const FLAGS = new Set(['exact', 'verbose', 'help', 'no_precheck']);
function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new UsageError(`unexpected argument '${a}'`);
    const eq = a.indexOf('=');
    const key = (eq > 0 ? a.slice(2, eq) : a.slice(2)).replace(/-/g, '_');
    if (FLAGS.has(key)) { opts[key] = true; continue; }
    const val = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (val === undefined) throw new UsageError(`option ${a} needs a value`);
    opts[key] = val;
  }
  return opts;
}

function need(opts, key) {
  if (opts[key] === undefined) throw new UsageError(`missing --${key.replace(/_/g, '-')}`);
  return opts[key];
}

function num(opts, key, dflt) {
  if (opts[key] === undefined) return dflt;
  const v = Number(opts[key]);
  if (!Number.isFinite(v)) throw new UsageError(`--${key.replace(/_/g, '-')} must be a number, got '${opts[key]}'`);
  return v;
}

function pair(opts, key) {
  if (opts[key] === undefined) return undefined;
  const p = String(opts[key]).split(',').map(Number);
  if (p.length !== 2 || !p.every(Number.isFinite) || p[0] > p[1]) throw new UsageError(`--${key.replace(/_/g, '-')} must be LO,HI with LO <= HI`);
  return p;
}

function checkKnown(opts, allowed) {
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k) && k !== 'verbose' && k !== 'no_precheck') throw new UsageError(`unknown option --${k.replace(/_/g, '-')}`);
  }
}

// ---- models ----------------------------------------------------------------------
function loadModelFile(file) {
  let bytes;
  try { bytes = new Uint8Array(fs.readFileSync(file)); }
  catch (e) { throw new Error(`${file}: cannot read (${e.code ?? e.message})`); }
  return { file, bytes, model: readModel(bytes, file) };
}

function describeTensor(name, t) {
  const d = {
    name, tensor_index: t.index, tensor_name: t.name, type: t.type_name,
    dtype: tflToNumpy(t.type), shape: t.shape, shape_signature: t.shape_signature,
  };
  if (t.unranked) d.unranked = true;
  if (t.quantization) d.quantization = t.quantization;
  return d;
}

// Why a runtime will refuse the model, from the file alone (null: no reason).
function staticObstacle(runtime, m, io) {
  const ob = runtimeObstacles(m.model, io);
  if (ob.flex_ops.length) return `Flex (Select TF) ops: ${ob.flex_ops.join(', ')}`;
  if (ob.custom_ops.length) return `custom ops: ${ob.custom_ops.join(', ')}`;
  if (ob.string_io) return 'string input/output tensors';
  if (ob.unsupported_io_types.length) return `input/output tensors of type ${ob.unsupported_io_types.join(', ')}`;
  if (runtime === 'litert' && ob.variable_tensors) return `${ob.variable_tensors} variable tensor(s): LiteRT.js refuses them ("Variable tensors not yet supported"); use --runtime interp`;
  if (runtime === 'interp') {
    if (ob.external_buffers) return `${ob.external_buffers} buffer(s) stored after the FlatBuffer (Buffer.offset), which the 2023 interpreter predates`;
    if (io.subgraph_index !== 0) return `signature '${io.key}' is on subgraph ${io.subgraph_index}; tfjs-tflite runs subgraph 0 only`;
    const bad = ob.io_types.filter((t) => !INTERP_TYPES.includes(t.toLowerCase()));
    if (bad.length) return `${bad.join(', ')} input/output tensors: tfjs-tflite cannot pass them`;
  }
  return null;
}

// 'auto' = LiteRT.js, or the interpreter for models with variable tensors.
function resolveRuntime(name, m) {
  if (name === undefined) return 'litert';
  if (name === 'auto') {
    const n = m.model.subgraphs.reduce((a, g) => a + g.tensors.filter((t) => t.is_variable).length, 0);
    return n ? 'interp' : 'litert';
  }
  if (name !== 'litert' && name !== 'interp') throw new UsageError(`--runtime must be litert, interp or auto, got '${name}'`);
  return name;
}

// --no-precheck turns the file-based checks off, to see what the runtime
// itself says (and to test that the rig catches it).
let precheck = true;

function assertRunnable(runtimeName, m, io) {
  if (!precheck) return;
  const why = staticObstacle(runtimeName, m, io);
  if (why) throw new Error(`${m.file}: cannot run in ${runtimeName}: ${why}`);
}

// Runs model `m` on `inputs` (one array per io.inputs entry, already in the
// model's dtypes) and returns the outputs in io.outputs order.
async function runModel(runtimeName, m, io, inputs) {
  assertRunnable(runtimeName, m, io);
  const patches = [];
  io.inputs.forEach((e, i) => {
    const t = e.tensor, shape = inputs[i].shape;
    if (t.unranked) {
      if (shape.length) patches.push({ tensor: t, shape });
      return;
    }
    const sig = t.shape_signature ?? t.shape;
    const bad = sig.length !== shape.length || sig.some((d, k) => d >= 0 && d !== shape[k]);
    if (bad) throw new Error(`${m.file}: input '${e.name}' has shape [${sig}], the given array has shape [${shape}]`);
    const dynamic = (t.shape_signature ?? []).some((d) => d < 0);
    if (dynamic || t.shape.join(',') !== shape.join(',')) patches.push({ tensor: t, shape });
  });
  // LiteRT.js sizes output buffers from the file's output types: an output
  // of unknown rank stays a scalar however the inputs were resized (seen:
  // it returned the first element only). The interpreter re-derives them.
  if (runtimeName === 'litert' && patches.some((p) => p.tensor.unranked) && io.outputs.some((e) => e.tensor.unranked)) {
    throw new Error(`${m.file}: cannot run in litert: inputs of unknown rank given rank > 0 while outputs [${io.outputs.filter((e) => e.tensor.unranked).map((e) => e.name)}] have unknown rank; LiteRT.js would return them as scalars; use --runtime interp (or scalar inputs)`);
  }
  const bytes = patches.length ? patchInputShapes(m.bytes, m.model, io.subgraph_index, patches, m.file) : m.bytes;
  const rt = await getRuntime(runtimeName);
  return rt.run(bytes, io, inputs, `${m.file} (${runtimeName})`);
}

// Picks the array for each model input from an .npz: by name, or by
// position: "0", "1", ... or "arr_0", "arr_1", ... (np.savez's names for
// positional arguments). Returns {arrays, positional}, positional being the
// key prefix used ('' or 'arr_') or null for names.
function bindInputs(npz, io, file, where) {
  let positional = null;
  for (const prefix of ['', 'arr_']) {
    if (io.inputs.length > 0 && io.inputs.every((e, i) => !npz.arrays.has(e.name) && npz.arrays.has(`${prefix}${i}`))) positional = prefix;
  }
  const used = new Set();
  const arrays = io.inputs.map((e, i) => {
    const key = positional !== null ? `${positional}${i}` : e.name;
    if (!npz.arrays.has(key)) {
      throw new Error(`${file}: no array for input '${e.name}' (position ${i}); model inputs: [${io.inputs.map((x) => x.name).join(', ')}]; ${file} has [${npz.names.join(', ')}]`);
    }
    used.add(key);
    const want = tflToNumpy(e.tensor.type);
    return castArray(npz.arrays.get(key), want, `${file}[${key}]`);
  });
  const extra = npz.names.filter((n) => !used.has(n));
  if (extra.length) throw new Error(`${file}: arrays [${extra.join(', ')}] match no input of ${where}; model inputs: [${io.inputs.map((x) => x.name).join(', ')}]`);
  return { arrays, positional };
}

// Output keys: the output names, or positions with the inputs' prefix when
// the inputs were positional or the names are not usable as keys.
function outputKeys(io, positional) {
  const names = io.outputs.map((e) => e.name);
  const unique = names.every((n) => n !== '') && new Set(names).size === names.length;
  return positional !== null || !unique ? names.map((_, i) => `${positional ?? ''}${i}`) : names;
}

// ---- commands ----------------------------------------------------------------------
async function cmdRun(opts) {
  checkKnown(opts, ['model', 'inputs', 'out', 'runtime', 'signature']);
  const m = loadModelFile(need(opts, 'model'));
  const io = selectIO(m.model, opts.signature);
  const out = need(opts, 'out');
  const runtime = resolveRuntime(opts.runtime, m);
  assertRunnable(runtime, m, io);
  const npz = readNpz(need(opts, 'inputs'));
  const { arrays, positional } = bindInputs(npz, io, opts.inputs, m.file);
  const outputs = await runModel(runtime, m, io, arrays);
  const keys = outputKeys(io, positional);
  writeNpz(out, keys.map((k, i) => [k, outputs[i]]));
  return 0;
}

// Pairs the entries of two I/O lists: by name when both have the same set of
// names, else by position (e.g. tflc's tensor names vs TF's).
function pairUp(ea, eb, what) {
  const na = ea.map((e) => e.name), nb = eb.map((e) => e.name);
  if (na.length !== nb.length) throw new Error(`${what}: A has ${na.length} [${na.join(', ')}], B has ${nb.length} [${nb.join(', ')}]`);
  const sameSet = new Set(na).size === na.length && na.every((n) => nb.includes(n));
  if (sameSet) return { order: na.map((n) => nb.indexOf(n)), by: 'name' };
  return { order: na.map((_, i) => i), by: 'position' };
}

async function cmdCompare(opts) {
  checkKnown(opts, ['a', 'b', 'runtime', 'runtime_b', 'signature', 'seed', 'exact', 'rtol', 'atol', 'range', 'int_range', 'inputs', 'save_inputs', 'save_outputs']);
  const ma = loadModelFile(need(opts, 'a'));
  const mb = loadModelFile(need(opts, 'b'));
  const seed = num(opts, 'seed', 0);
  if (!Number.isInteger(seed) || seed < 0) throw new UsageError('--seed must be a non-negative integer');
  const exact = Boolean(opts.exact);
  if (exact && (opts.rtol !== undefined || opts.atol !== undefined)) throw new UsageError('--exact excludes --rtol/--atol');
  const rtol = num(opts, 'rtol', 1e-5), atol = num(opts, 'atol', 1e-6);
  const ioa = selectIO(ma.model, opts.signature);
  const iob = selectIO(mb.model, opts.signature);
  const ra = resolveRuntime(opts.runtime, ma);
  const rb = opts.runtime_b !== undefined ? resolveRuntime(opts.runtime_b, mb) : resolveRuntime(opts.runtime, mb);
  assertRunnable(ra, ma, ioa);
  assertRunnable(rb, mb, iob);

  const inPair = pairUp(ioa.inputs, iob.inputs, 'the models have different inputs');
  let inputsA;
  if (opts.inputs !== undefined) {
    inputsA = bindInputs(readNpz(opts.inputs), ioa, opts.inputs, ma.file).arrays;
  } else {
    const specs = ioa.inputs.map((e) => ({
      name: e.name, dtype: tflToNumpy(e.tensor.type), shape: concreteShape(e.tensor),
      quantized: Boolean(e.tensor.quantization && e.tensor.quantization.scale.length),
    }));
    const bad = specs.find((s) => s.dtype === null);
    if (bad) throw new Error(`${ma.file}: input '${bad.name}' has type ${ioa.inputs[specs.indexOf(bad)].tensor.type_name}, which the rig cannot generate`);
    inputsA = randomInputs(specs, seed, { range: pair(opts, 'range'), intRange: pair(opts, 'int_range') });
  }
  // B gets the very same arrays, in its own input order.
  const inputsB = new Array(iob.inputs.length);
  inPair.order.forEach((j, i) => {
    const want = tflToNumpy(iob.inputs[j].tensor.type);
    if (want !== inputsA[i].dtype) throw new Error(`input '${ioa.inputs[i].name}' is ${inputsA[i].dtype} in A but ${iob.inputs[j].tensor.type_name} in B ('${iob.inputs[j].name}')`);
    inputsB[j] = inputsA[i];
  });
  if (opts.save_inputs) writeNpz(opts.save_inputs, ioa.inputs.map((e, i) => [e.name || String(i), inputsA[i]]));

  const outA = await runModel(ra, ma, ioa, inputsA);
  const outB = await runModel(rb, mb, iob, inputsB);
  if (opts.save_outputs) {
    writeNpz(`${opts.save_outputs}.a.npz`, outputKeys(ioa, null).map((k, i) => [k, outA[i]]));
    writeNpz(`${opts.save_outputs}.b.npz`, outputKeys(iob, null).map((k, i) => [k, outB[i]]));
  }
  const outPair = pairUp(ioa.outputs, iob.outputs, 'the models have different outputs');
  const outputs = ioa.outputs.map((e, i) => {
    const j = outPair.order[i];
    const r = compareArrays(outA[i], outB[j], { exact, rtol, atol });
    const o = { name: e.name, dtype: outA[i].dtype, shape: outA[i].shape, ...r };
    if (iob.outputs[j].name !== e.name) o.name_b = iob.outputs[j].name;
    if (outB[j].dtype !== outA[i].dtype) o.dtype_b = outB[j].dtype;
    if (outB[j].shape.join(',') !== outA[i].shape.join(',')) o.shape_b = outB[j].shape;
    return o;
  });
  const ok = outputs.every((o) => o.ok);
  const result = {
    ok, a: ma.file, b: mb.file, runtime: ra, runtime_b: rb, seed: opts.inputs === undefined ? seed : null,
    mode: exact ? 'exact' : 'tolerance', rtol: exact ? null : rtol, atol: exact ? null : atol,
    matched_inputs_by: inPair.by, matched_outputs_by: outPair.by,
    inputs: ioa.inputs.map((e, i) => ({ name: e.name, dtype: inputsA[i].dtype, shape: inputsA[i].shape })),
    outputs,
  };
  say(JSON.stringify(result));
  return ok ? 0 : 1;
}

// Builtin operator names, read from the project's own schema facts table.
function opNames() {
  const names = {};
  try {
    const text = fs.readFileSync(path.join(HERE, '..', '..', 'src', 'ops', 'tflite_schema.def'), 'utf8');
    for (const m of text.matchAll(/^TFL_OP\((\w+),\s*(\d+)\s*,/gm)) names[Number(m[2])] = m[1];
  } catch { /* names are a convenience; codes are still shown */ }
  return names;
}

async function cmdInfo(opts) {
  checkKnown(opts, ['model', 'signature']);
  const m = loadModelFile(need(opts, 'model'));
  const io = selectIO(m.model, opts.signature);
  const names = opNames();
  const counts = new Map();
  for (const g of m.model.subgraphs) {
    for (const op of g.operators) {
      const c = m.model.opcodes[op.opcode_index];
      const name = c.builtin_code === 32 ? `CUSTOM:${c.custom_code ?? ''}` : names[c.builtin_code] ?? `BUILTIN_${c.builtin_code}`;
      counts.set(name, (counts.get(name) ?? 0) + 1);
    }
  }
  const runtimes = {};
  for (const r of ['litert', 'interp']) {
    const why = staticObstacle(r, m, io);
    runtimes[r] = why ? { ok: false, reason: why } : { ok: true };
  }
  const info = {
    model: m.file,
    size: m.bytes.length,
    version: m.model.version,
    description: m.model.description,
    signature: io.key,
    subgraph_index: io.subgraph_index,
    numerics: numerics(m.model),
    inputs: io.inputs.map((e) => describeTensor(e.name, e.tensor)),
    outputs: io.outputs.map((e) => describeTensor(e.name, e.tensor)),
    signatures: m.model.signatures.map((s) => ({
      key: s.key, subgraph_index: s.subgraph_index,
      inputs: s.inputs.map((x) => x.name), outputs: s.outputs.map((x) => x.name),
    })),
    subgraphs: m.model.subgraphs.map((g) => ({ name: g.name, tensors: g.tensors.length, operators: g.operators.length })),
    operators: Object.fromEntries([...counts.entries()].sort()),
    obstacles: runtimeObstacles(m.model, io),
    runtimes,
  };
  say(JSON.stringify(info));
  return 0;
}

// Loads both runtimes and checks that each answers: LiteRT.js is loaded, the
// interpreter's wasm is started by asking it to load an invalid model.
async function cmdSelftest(opts) {
  checkKnown(opts, []);
  const lrt = await getRuntime('litert');
  const interp = await getRuntime('interp');
  let refused = false;
  try {
    await interp.tflite.loadTFLiteModel(new ArrayBuffer(16), { numThreads: 1 });
  } catch (e) {
    refused = /TFLiteWebModelRunner/.test(String(e.message));
  }
  if (!refused) throw new Error('tfjs-tflite did not start (expected it to refuse a 16-byte model)');
  say(`rig ok: node ${process.version}, @litertjs/core ${lrt.version}, @tensorflow/tfjs-tflite ${interp.version}`);
  return 0;
}

// Reads an .npz and writes its arrays back out: lets the tests check the
// rig's .npy/.npz code against NumPy itself.
async function cmdNpzCopy(opts) {
  checkKnown(opts, ['inputs', 'out']);
  const npz = readNpz(need(opts, 'inputs'));
  writeNpz(need(opts, 'out'), npz.names.map((k) => [k, npz.arrays.get(k)]));
  return 0;
}

const COMMANDS = { run: cmdRun, compare: cmdCompare, info: cmdInfo, selftest: cmdSelftest, 'npz-copy': cmdNpzCopy };

function usage() {
  // The synopsis is the first block of the header comment after a blank '//'.
  const text = fs.readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n');
  const start = text.indexOf('//') + 1;
  const end = text.indexOf('//', start);
  return `usage:\n${text.slice(start, end).map((l) => l.replace(/^\/\/ ?/, '')).join('\n')}`;
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') { say(usage()); return cmd ? 0 : 2; }
  const fn = COMMANDS[cmd];
  if (!fn) throw new UsageError(`unknown command '${cmd}' (run, compare, info, selftest, npz-copy)`);
  const opts = parseArgs(rest);
  if (opts.help) { say(usage()); return 0; }
  captureConsole(Boolean(opts.verbose));
  precheck = !opts.no_precheck;
  return fn(opts);
}

// The wasm glue may reject promises outside our awaits: fail the same way.
process.on('unhandledRejection', (e) => {
  warn(`run.mjs: error: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(2);
});

try {
  const code = await main(process.argv.slice(2));
  process.exitCode = code;
} catch (e) {
  warn(`run.mjs: ${e instanceof UsageError ? 'usage' : 'error'}: ${e instanceof Error ? e.message : String(e)}`);
  if (e instanceof UsageError) warn('try: node tests/rig/run.mjs --help');
  process.exitCode = 2;
}
// Emscripten runtimes may keep handles open; the answer is already written.
await new Promise((r) => setImmediate(r));
process.exit(process.exitCode);
