#!/usr/bin/env node
// keras_run.mjs -- runs a Keras model config (Keras 2 / tf.keras dialect)
// in TensorFlow.js's Layers API, an implementation of Keras that tflc's
// code has nothing to do with, to get expected outputs for Keras files.
//
//   node tests/tfjs/keras_run.mjs --spec spec.json --weights w.npz
//        --inputs in.npz --out out.npz
//
// spec.json: {"topology": <model config: {"class_name", "config"}>,
//             "weights": {"<layer name>": ["<npz key>", ...], ...},
//             "inputs": ["<input layer name>", ...]}
// The weights of each named top-level layer are set in the order listed
// (the layer's own order: trainable, then non-trainable). in.npz holds one
// array per input, keyed by input name; out.npz gets "0", "1", ... in the
// model's output order. Exit status 0 on success, 2 on any error (message
// on stderr).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { readNpz, writeNpz } from '../rig/lib/npy.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i += 2) {
    if (!argv[i].startsWith('--') || argv[i + 1] === undefined) throw new Error(`bad argument ${argv[i]}`);
    o[argv[i].slice(2)] = argv[i + 1];
  }
  for (const k of ['spec', 'weights', 'inputs', 'out']) if (!o[k]) throw new Error(`missing --${k}`);
  return o;
}

// An npy array {dtype, shape, data: Uint8Array} as a tf.Tensor.
export function toTensor(a) {
  const buf = a.data.buffer.slice(a.data.byteOffset, a.data.byteOffset + a.data.byteLength);
  switch (a.dtype) {
    case 'float32': return tf.tensor(new Float32Array(buf), a.shape, 'float32');
    case 'float64': return tf.tensor(Float32Array.from(new Float64Array(buf)), a.shape, 'float32');
    case 'int32': return tf.tensor(new Int32Array(buf), a.shape, 'int32');
    case 'int64': return tf.tensor(Int32Array.from(new BigInt64Array(buf), Number), a.shape, 'int32');
    default: throw new Error(`unsupported dtype ${a.dtype}`);
  }
}

export function fromTensor(t) {
  const v = t.dataSync();
  const f = v instanceof Float32Array ? v : Float32Array.from(v);
  return { dtype: 'float32', shape: t.shape, data: new Uint8Array(f.buffer, f.byteOffset, f.byteLength) };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const spec = JSON.parse(fs.readFileSync(o.spec, 'utf8'));
  const weights = readNpz(o.weights).arrays;
  const inputs = readNpz(o.inputs).arrays;
  await tf.setBackend('cpu');
  const model = await tf.models.modelFromJSON({ modelTopology: spec.topology });
  for (const [name, keys] of Object.entries(spec.weights || {})) {
    const layer = model.getLayer(name);
    layer.setWeights(keys.map((k) => {
      if (!weights.has(k)) throw new Error(`no array '${k}' in ${o.weights}`);
      return toTensor(weights.get(k));
    }));
  }
  const xs = spec.inputs.map((n) => {
    if (!inputs.has(n)) throw new Error(`no input '${n}' in ${o.inputs}`);
    return toTensor(inputs.get(n));
  });
  let ys = model.predict(xs.length === 1 ? xs[0] : xs);
  if (!Array.isArray(ys)) ys = [ys];
  writeNpz(o.out, ys.map((y, i) => [String(i), fromTensor(y)]));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.join(HERE, 'keras_run.mjs')) {
  main().catch((e) => {
    process.stderr.write(`keras_run.mjs: error: ${e && e.stack ? e.stack : e}\n`);
    process.exit(2);
  });
}
