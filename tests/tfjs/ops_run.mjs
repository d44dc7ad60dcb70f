#!/usr/bin/env node
// ops_run.mjs -- runs TF graphs in TensorFlow.js (its own implementation of
// TF's ops, pure-JS cpu backend) to get expected outputs for tflc's op
// conformance tests.
//
//   node tests/tfjs/ops_run.mjs BATCH.json RESULT.json
//
// BATCH.json: {"cases": [{"id", "model": {modelTopology, weightSpecs,
//   weightData (base64)}, "inputs": {name: {dtype, shape, data (base64,
//   little-endian)}}, "outputs": ["node", "node:1", ...]}]}
// RESULT.json: {"results": {id: {"outputs": {name: {dtype, shape, data}}}
//   or {"error": "message"}}}
// A case that fails in TF.js (unsupported op, bad graph) gets an error and
// the others still run. Exit status 0 unless the batch itself is unreadable.
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';

const TYPES = {
  float32: [Float32Array, 'float32'],
  int32: [Int32Array, 'int32'],
  bool: [Uint8Array, 'bool'],
};

function b64ToBytes(s) {
  const buf = Buffer.from(s, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

function toTensor(spec) {
  const t = TYPES[spec.dtype];
  if (!t) throw new Error(`input dtype ${spec.dtype} not supported by TF.js`);
  const bytes = b64ToBytes(spec.data);
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const arr = new t[0](copy.buffer);
  const vals = spec.dtype === 'bool' ? Array.from(arr, (x) => x !== 0) : arr;
  return tf.tensor(vals, spec.shape, t[1]);
}

async function fromTensor(x) {
  // The backend may hand back another typed array than x.dtype says (a
  // cast can share its input's Int32Array): convert by value.
  const data = await x.data();
  let bytes;
  if (x.dtype === 'bool') bytes = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  else if (x.dtype === 'int32') bytes = Buffer.from(Int32Array.from(data).buffer);
  else if (x.dtype === 'float32') bytes = Buffer.from(Float32Array.from(data).buffer);
  else throw new Error(`output dtype ${x.dtype} not supported`);
  return { dtype: x.dtype, shape: x.shape, data: bytes.toString('base64') };
}

async function runCase(c) {
  const wd = b64ToBytes(c.model.weightData || '');
  const weightData = wd.buffer.slice(wd.byteOffset, wd.byteOffset + wd.byteLength);
  const handler = tf.io.fromMemory({
    modelTopology: c.model.modelTopology,
    weightSpecs: c.model.weightSpecs,
    weightData,
    format: 'graph-model',
  });
  const model = await tf.loadGraphModel(handler);
  const feed = {};
  for (const [name, spec] of Object.entries(c.inputs)) feed[name] = toTensor(spec);
  let outs = await model.executeAsync(feed, c.outputs);
  if (!Array.isArray(outs)) outs = [outs];
  const res = {};
  for (let i = 0; i < c.outputs.length; i++) res[c.outputs[i]] = await fromTensor(outs[i]);
  tf.dispose(outs);
  tf.dispose(Object.values(feed));
  model.dispose();
  return res;
}

async function main() {
  const [batchPath, outPath] = process.argv.slice(2);
  if (!batchPath || !outPath) {
    process.stderr.write('usage: node ops_run.mjs BATCH.json RESULT.json\n');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  const batch = JSON.parse(fs.readFileSync(batchPath, 'utf8'));
  const results = {};
  for (const c of batch.cases) {
    try {
      results[c.id] = { outputs: await runCase(c) };
    } catch (e) {
      results[c.id] = { error: String(e && e.message ? e.message : e) };
    }
  }
  fs.writeFileSync(outPath, JSON.stringify({ backend: tf.getBackend(), version: tf.version.tfjs, results }));
}

main().catch((e) => {
  process.stderr.write(`ops_run.mjs: ${e && e.stack ? e.stack : e}\n`);
  process.exit(2);
});
