#!/usr/bin/env node
// keras_gen.mjs -- Keras models built with TensorFlow.js's Layers API (a
// Keras implementation independent of tflc), with seeded weights and
// inputs, and TF.js's own predictions as the expected outputs.
//
//   node tests/tfjs/keras_gen.mjs --out DIR [--only NAME,NAME]
//
// For every case, DIR/<name>/ gets:
//   model.json    {"topology": model.toJSON() (a Keras 2 model config),
//                  "layers": [{"name", "class_name", "weights": [{"name", "shape"}],
//                              "sub": [...same, for a nested model...]}],
//                  "inputs": [{"name", "shape", "dtype"}], "outputs": [names],
//                  "rtol", "atol"}
//   weights.npz   each layer's weights in the layer's order, keyed
//                 "<layer>/<index>" (nested: "<outer>/<inner>/<index>")
//   inputs.npz    one array per input, keyed "0", "1", ...
//   expected.npz  TF.js's outputs, keyed "0", "1", ... in model output order
// t_keras_tfjs.py writes these as .h5 and .keras files and checks tflc's
// conversions against expected.npz. Exit 0, or 2 with a message.
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { writeNpz } from '../rig/lib/npy.mjs';

const L = tf.layers;

// ---- seeded numbers ----
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const uni = (r, lo, hi) => lo + (hi - lo) * r();

// Weights by role, scaled so activations stay near unit size.
function weightValues(name, shape, r) {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = new Float32Array(n);
  const base = name.split('/').pop();
  const fanIn = shape.length >= 2 ? shape.slice(0, -1).reduce((a, b) => a * b, 1) : 1;
  for (let i = 0; i < n; i++) {
    if (base === 'moving_variance') v[i] = uni(r, 0.5, 1.5);
    else if (base === 'gamma') v[i] = uni(r, 0.5, 1.5);
    else if (base === 'beta' || base === 'moving_mean' || base === 'bias') v[i] = uni(r, -0.5, 0.5);
    else if (base === 'alpha') v[i] = uni(r, 0, 0.5);
    else if (base === 'embeddings') v[i] = uni(r, -1, 1);
    else if (base === 'depthwise_kernel') v[i] = uni(r, -1, 1) * Math.sqrt(3 / (shape[0] * shape[1]));
    else if (base === 'kernel' && shape.length === 4 && name.includes('transpose'))
      v[i] = uni(r, -1, 1) * Math.sqrt(3 / (shape[0] * shape[1] * shape[3]));
    else v[i] = uni(r, -1, 1) * Math.sqrt(3 / fanIn);
  }
  return v;
}

function seedWeights(layers, r) {
  for (const l of layers) {
    if (l.layers) { seedWeights(l.layers, r); continue; }
    if (!l.weights.length) continue;
    l.setWeights(l.weights.map((w) => tf.tensor(weightValues(w.originalName, w.shape, r), w.shape)));
  }
}

function layerInfo(layers, prefix, out, entries) {
  return layers.map((l) => {
    const info = { name: l.name, class_name: l.getClassName(), weights: [] };
    if (l.layers) {
      info.sub = layerInfo(l.layers, `${prefix}${l.name}/`, out, entries);
      return info;
    }
    l.getWeights().forEach((t, i) => {
      const w = l.weights[i];
      // The weight's name inside its layer: "kernel", or for wrappers
      // "forward_lstm_LSTM1/kernel" (Keras names them the same way).
      const own = w.originalName.startsWith(`${l.name}/`) ? w.originalName.slice(l.name.length + 1)
        : w.originalName.split('/').pop();
      info.weights.push({ name: own, shape: w.shape });
      entries.push([`${prefix}${l.name}/${i}`, toNpy(t)]);
    });
    return info;
  });
}

function toNpy(t) {
  const v = t.dataSync();
  if (t.dtype === 'int32') {
    const a = Int32Array.from(v);
    return { dtype: 'int32', shape: t.shape, data: new Uint8Array(a.buffer) };
  }
  const a = Float32Array.from(v);
  return { dtype: 'float32', shape: t.shape, data: new Uint8Array(a.buffer) };
}

// ---- the cases ----
// Each returns {model, inputs?: [{dtype, range}], rtol?, atol?}. Inputs are
// uniform in [-2, 2) unless said otherwise; the batch is 2.
const seq = (layers) => tf.sequential({ layers });
const inp = (shape, name, dtype) => tf.input({ shape, name, dtype });
const fn = (inputs, outputs, name) => tf.model({ inputs, outputs, name });

const CASES = {
  dense_relu_softmax: () => seq([L.dense({ inputShape: [8], units: 16, activation: 'relu' }),
    L.dense({ units: 4, activation: 'softmax' })]),
  dense_nobias_tanh_sigmoid: () => seq([L.dense({ inputShape: [6], units: 8, useBias: false, activation: 'tanh' }),
    L.dense({ units: 3, activation: 'sigmoid' })]),
  dense_relu6_linear: () => seq([L.dense({ inputShape: [5], units: 7, activation: 'relu6' }),
    L.dense({ units: 2 })]),
  dense_rank3: () => seq([L.dense({ inputShape: [5, 6], units: 7, activation: 'relu' }),
    L.flatten({}), L.dense({ units: 3 })]),
  activations_a: () => seq([L.inputLayer({ inputShape: [12] }), L.activation({ activation: 'elu' }),
    L.dense({ units: 12 }), L.activation({ activation: 'selu' }), L.dense({ units: 12 }),
    L.activation({ activation: 'softplus' }), L.dense({ units: 12 }), L.activation({ activation: 'softsign' })]),
  activations_b: () => seq([L.inputLayer({ inputShape: [12] }), L.activation({ activation: 'swish' }),
    L.dense({ units: 12 }), L.activation({ activation: 'mish' }), L.dense({ units: 12 }),
    L.activation({ activation: 'relu6' }), L.dense({ units: 6, activation: 'elu' })]),
  // hard_sigmoid is clip(0.2x + 0.5, 0, 1) in Keras 2 and TF.js, but
  // relu6(x + 3) / 6 in Keras 3: the .keras variant's expected output is
  // computed with TF.js ops from the Keras 3 definition.
  activation_hard_sigmoid: () => ({
    model: seq([L.inputLayer({ inputShape: [16] }), L.activation({ activation: 'hardSigmoid' })]),
    inputs: [{ range: [-5, 5] }],
    predictK3: (xs) => [tf.div(tf.relu6(tf.add(xs[0], 3)), 6)],
  }),
  activations_c: () => seq([L.inputLayer({ inputShape: [12] }), L.activation({ activation: 'gelu' }),
    L.dense({ units: 12, activation: 'softplus' }), L.dense({ units: 5, activation: 'softmax' })]),
  activation_layers: () => seq([L.dense({ inputShape: [10], units: 10 }), L.leakyReLU({ alpha: 0.1 }),
    L.dense({ units: 10 }), L.prelu({}), L.dense({ units: 10 }), L.leakyReLU({}),
    L.dense({ units: 10 }), L.reLU({ maxValue: 3 }), L.dense({ units: 10 }), L.reLU({ maxValue: 6 }),
    L.dense({ units: 10 }), L.elu({}), L.dense({ units: 4 }), L.softmax({})]),
  relu_layer_fused: () => seq([L.dense({ inputShape: [6], units: 9 }), L.reLU({}), L.dense({ units: 3 })]),
  conv2d_same_relu: () => seq([L.conv2d({ inputShape: [9, 9, 3], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
    L.conv2d({ filters: 4, kernelSize: [1, 1] })]),
  conv2d_valid_strides: () => seq([L.conv2d({ inputShape: [11, 10, 2], filters: 6, kernelSize: [3, 5], strides: [2, 1], activation: 'relu6' }),
    L.conv2d({ filters: 3, kernelSize: 2, strides: 2, padding: 'same', useBias: false, activation: 'sigmoid' })]),
  conv2d_dilated: () => seq([L.conv2d({ inputShape: [12, 12, 3], filters: 5, kernelSize: 3, dilationRate: 2, activation: 'tanh' }),
    L.conv2d({ filters: 2, kernelSize: 3, dilationRate: [1, 2], padding: 'same' })]),
  conv1d_variants: () => seq([L.conv1d({ inputShape: [16, 4], filters: 6, kernelSize: 3, activation: 'relu' }),
    L.conv1d({ filters: 5, kernelSize: 3, dilationRate: 2, padding: 'same' }),
    L.conv1d({ filters: 4, kernelSize: 2, strides: 2, useBias: false })]),
  // TF.js can describe but not run a causal Conv1D; its output comes from
  // an equivalent model (left zero padding of (k - 1) * d, then a valid
  // conv with the same weights).
  conv1d_causal: () => ({
    model: seq([L.conv1d({ inputShape: [10, 3], filters: 4, kernelSize: 3, padding: 'causal', dilationRate: 2 })]),
    predictor: seq([L.reshape({ inputShape: [10, 3], targetShape: [10, 1, 3] }),
      L.zeroPadding2d({ padding: [[4, 0], [0, 0]] }), L.reshape({ targetShape: [14, 3] }),
      L.conv1d({ filters: 4, kernelSize: 3, dilationRate: 2 })]),
  }),
  depthwise_variants: () => seq([L.depthwiseConv2d({ inputShape: [10, 10, 3], kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu' }),
    L.depthwiseConv2d({ kernelSize: [3, 1], strides: 2 }),
    L.depthwiseConv2d({ kernelSize: 2, useBias: false, padding: 'same', activation: 'relu6' })]),
  // TF.js's DepthwiseConv2D layer ignores dilation_rate (it serializes it,
  // but neither its output shape nor its call use it); the expected
  // outputs come from TF.js's depthwiseConv2d op, which honours it.
  depthwise_dilated_same: () => ({
    model: seq([L.depthwiseConv2d({ inputShape: [9, 8, 3], kernelSize: 3, dilationRate: 2, depthMultiplier: 2, padding: 'same' })]),
    predict: (m, xs) => {
      const [k, b] = m.layers[0].getWeights();
      return [tf.add(tf.depthwiseConv2d(xs[0], k, [1, 1], 'same', 'NHWC', [2, 2]), b)];
    },
  }),
  depthwise_dilated_valid: () => ({
    model: seq([L.depthwiseConv2d({ inputShape: [10, 9, 2], kernelSize: [3, 2], dilationRate: [2, 3], padding: 'valid', useBias: false })]),
    predict: (m, xs) => {
      const [k] = m.layers[0].getWeights();
      return [tf.depthwiseConv2d(xs[0], k, [1, 1], 'valid', 'NHWC', [2, 3])];
    },
  }),
  separable_variants: () => seq([L.separableConv2d({ inputShape: [10, 10, 3], filters: 6, kernelSize: 3, depthMultiplier: 2, activation: 'relu' }),
    L.separableConv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false })]),
  // Its output shape is computed at run time from the batch (SHAPE,
  // STRIDED_SLICE, PACK, as TF writes it); LiteRT.js's CompiledModel keeps
  // static output shapes, so this runs in the classic interpreter. (Not
  // relu after it: the optimizer's fuse-activation pass folds that into
  // TRANSPOSE_CONV's fused activation at version 1, which the 2023
  // interpreter ignores -- a pass issue, reported.)
  conv2d_transpose: () => ({ runtime: 'interp', model: seq([L.conv2dTranspose({ inputShape: [5, 6, 3], filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid' }),
    L.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid' })]) }),
  batchnorm_folds: () => seq([L.conv2d({ inputShape: [8, 8, 3], filters: 6, kernelSize: 3 }),
    L.batchNormalization({}), L.activation({ activation: 'relu' }),
    L.depthwiseConv2d({ kernelSize: 3, padding: 'same' }), L.batchNormalization({}),
    L.flatten({}), L.dense({ units: 8 }), L.batchNormalization({}), L.activation({ activation: 'relu' }),
    L.dense({ units: 3 })]),
  batchnorm_unfolded: () => seq([L.conv2d({ inputShape: [8, 8, 3], filters: 6, kernelSize: 3, activation: 'relu' }),
    L.batchNormalization({ epsilon: 0.01 }), L.globalAveragePooling2d({}), L.batchNormalization({ center: false }),
    L.dense({ units: 4 }), L.batchNormalization({ scale: false })]),
  layer_norm: () => seq([L.dense({ inputShape: [5, 6], units: 8 }), L.layerNormalization({}),
    L.layerNormalization({ epsilon: 0.1, center: false }), L.flatten({}), L.dense({ units: 3 }),
    L.layerNormalization({ scale: false })]),
  batchnorm_input: () => seq([L.batchNormalization({ inputShape: [6, 5] }), L.flatten({}), L.dense({ units: 3 })]),
  pooling_2d: () => seq([L.conv2d({ inputShape: [12, 11, 3], filters: 4, kernelSize: 3, padding: 'same' }),
    L.maxPooling2d({ poolSize: 2 }), L.averagePooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
    L.maxPooling2d({ poolSize: [2, 3], strides: [1, 2], padding: 'same' }), L.averagePooling2d({ poolSize: 2, padding: 'valid' })]),
  pooling_1d: () => seq([L.conv1d({ inputShape: [20, 3], filters: 4, kernelSize: 3 }),
    L.maxPooling1d({ poolSize: 2 }), L.averagePooling1d({ poolSize: 3, strides: 2, padding: 'same' })]),
  global_pooling: () => {
    const x = inp([6, 7, 3], 'img'), s = inp([9, 4], 'seq');
    const a = L.globalAveragePooling2d({}).apply(x), b = L.globalMaxPooling2d({}).apply(x);
    const c = L.globalAveragePooling1d({}).apply(s), d = L.globalMaxPooling1d({}).apply(s);
    return fn([x, s], [L.concatenate({}).apply([a, b, c, d])], 'global_pooling');
  },
  // TF.js writes a -1 in target_shape as null.
  reshapes: () => seq([L.reshape({ inputShape: [12], targetShape: [3, 4] }), L.permute({ dims: [2, 1] }),
    L.reshape({ targetShape: [2, 6] }), L.flatten({}), L.repeatVector({ n: 3 }), L.dense({ units: 4 }),
    L.reshape({ targetShape: [-1, 2] })]),
  merges: () => {
    const a = inp([6], 'a'), b = inp([6], 'b'), c = inp([6], 'c');
    const outs = [L.add({}).apply([a, b, c]), L.multiply({}).apply([b, c]),
      L.average({}).apply([a, b, c]), L.maximum({}).apply([a, c]), L.minimum({}).apply([a, b, c])];
    return fn([a, b, c], [L.concatenate({ axis: -1 }).apply(outs)], 'merges');
  },
  concat_axis1: () => {
    const a = inp([3, 4], 'a'), b = inp([5, 4], 'b');
    const x = L.concatenate({ axis: 1 }).apply([a, b]);
    return fn([a, b], [L.dense({ units: 2 }).apply(x)], 'concat_axis1');
  },
  padding_crop_upsample: () => seq([L.zeroPadding2d({ inputShape: [5, 6, 2], padding: [[1, 2], [0, 1]] }),
    L.cropping2D({ cropping: [[1, 0], [2, 1]] }), L.upSampling2d({ size: [2, 3] }),
    L.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }), L.zeroPadding2d({ padding: 1 }),
    L.cropping2D({ cropping: 2 })]),
  // Keras's bilinear UpSampling2D is TF 2's resize (half-pixel centers);
  // TF.js's layer resizes without them, so the expected output comes from
  // TF.js's resizeBilinear op with halfPixelCenters.
  upsample_bilinear: () => ({
    model: seq([L.upSampling2d({ inputShape: [4, 5, 2], size: [2, 3], interpolation: 'bilinear' })]),
    predict: (m, xs) => [tf.image.resizeBilinear(xs[0], [8, 15], false, true)],
  }),
  embedding_int: () => ({ model: seq([L.inputLayer({ inputShape: [5], dtype: 'int32' }), L.embedding({ inputDim: 20, outputDim: 4 }),
    L.flatten({}), L.dense({ units: 3 })]), inputs: [{ dtype: 'int32', range: [0, 20] }] }),
  embedding_float_input: () => ({ model: seq([L.embedding({ inputShape: [6], inputDim: 11, outputDim: 3 }),
    L.globalAveragePooling1d({})]), inputs: [{ dtype: 'float32', range: [0, 11], integers: true }] }),
  rescaling_dropout: () => seq([L.rescaling({ inputShape: [4, 4, 3], scale: 1 / 127.5, offset: -1 }),
    L.dropout({ rate: 0.5 }), L.gaussianNoise({ stddev: 0.3 }), L.conv2d({ filters: 2, kernelSize: 2 }),
    L.flatten({}), L.dense({ units: 3, activation: 'softmax' })]),
  // Recurrent layers: TFLite's sequence ops keep their state for a fixed
  // batch (1 for a None batch), so these run on one sample.
  lstm_sequences: () => ({ batch: 1, model: seq([
    L.lstm({ inputShape: [7, 5], units: 6, recurrentActivation: 'sigmoid', returnSequences: true }),
    L.lstm({ units: 4, recurrentActivation: 'sigmoid' }), L.dense({ units: 2 })]) }),
  lstm_options: () => ({ batch: 1, model: seq([
    L.lstm({ inputShape: [6, 3], units: 5, recurrentActivation: 'sigmoid', activation: 'relu',
      goBackwards: true, returnSequences: true }),
    L.lstm({ units: 3, recurrentActivation: 'sigmoid', useBias: false })]) }),
  simple_rnn: () => ({ batch: 1, model: seq([
    L.simpleRNN({ inputShape: [8, 4], units: 6, returnSequences: true }),
    L.simpleRNN({ units: 3, activation: 'relu', goBackwards: true })]) }),
  bidirectional_concat: () => ({ batch: 1, model: seq([
    L.bidirectional({ inputShape: [6, 4], layer: L.lstm({ units: 5, recurrentActivation: 'sigmoid', returnSequences: true }) }),
    L.bidirectional({ layer: L.lstm({ units: 3, recurrentActivation: 'sigmoid' }), mergeMode: 'sum' }),
    L.dense({ units: 2 })]) }),
  bidirectional_rnn_ave: () => ({ batch: 1, model: seq([
    L.bidirectional({ inputShape: [5, 3], layer: L.simpleRNN({ units: 4, returnSequences: true }), mergeMode: 'ave' }),
    L.bidirectional({ layer: L.simpleRNN({ units: 2 }), mergeMode: 'mul' })]) }),
  time_distributed: () => seq([
    L.timeDistributed({ inputShape: [4, 6, 6, 2], layer: L.conv2d({ filters: 3, kernelSize: 3, activation: 'relu' }) }),
    L.timeDistributed({ layer: L.flatten({}) }),
    L.timeDistributed({ layer: L.dense({ units: 5, activation: 'tanh' }) })]),
  shared_and_two_outputs: () => {
    const a = inp([5], 'left'), b = inp([5], 'right');
    const shared = L.dense({ units: 4, activation: 'relu', name: 'shared' });
    const x = shared.apply(a), y = shared.apply(b);
    const head1 = L.dense({ units: 2, name: 'z_head' }).apply(L.add({}).apply([x, y]));
    const head2 = L.dense({ units: 3, activation: 'softmax', name: 'a_head' }).apply(y);
    return fn([a, b], [head1, head2], 'shared_and_two_outputs');
  },
  nested_sequential: () => {
    const inner = seq([L.dense({ inputShape: [6], units: 5, activation: 'relu' }), L.batchNormalization({}),
      L.dense({ units: 4 })]);
    const x = inp([6], 'x');
    const h = inner.apply(x);
    const o = L.dense({ units: 2, activation: 'sigmoid' }).apply(L.concatenate({}).apply([h, x]));
    return fn([x], [o], 'nested_sequential');
  },
};

// ---- raw cases ----
// Keras layers TF.js's Layers API does not have (or not with these
// options): the config is written here as Keras writes it, the weights are
// seeded like the others, and the expected outputs come from TF.js ops
// computing the Keras definition of the layer.
const seqTopo = (name, layers) => ({ class_name: 'Sequential', config: { name, layers },
  keras_version: 'tfjs-raw', backend: 'tensor_flow.js' });
const RAW = {
  depthwise_conv1d: () => ({
    inputs: [[12, 3]],
    topology: seqTopo('depthwise_conv1d', [
      { class_name: 'DepthwiseConv1D', config: { name: 'dw1', kernel_size: [3], strides: [1], padding: 'same',
        depth_multiplier: 2, dilation_rate: [2], activation: 'relu', use_bias: true, batch_input_shape: [null, 12, 3] } },
      { class_name: 'DepthwiseConv1D', config: { name: 'dw2', kernel_size: [2], strides: [2], padding: 'valid',
        depth_multiplier: 1, dilation_rate: [1], activation: 'linear', use_bias: false } }]),
    weights: { dw1: [['depthwise_kernel', [3, 3, 2]], ['bias', [6]]], dw2: [['depthwise_kernel', [2, 6, 1]]] },
    predict: (xs, W) => {
      let y = tf.expandDims(xs[0], 1);
      y = tf.relu(tf.add(tf.depthwiseConv2d(y, tf.reshape(W.dw1[0], [1, 3, 3, 2]), 1, 'same', 'NHWC', [1, 2]), W.dw1[1]));
      y = tf.depthwiseConv2d(y, tf.reshape(W.dw2[0], [1, 2, 6, 1]), [1, 2], 'valid');
      return [tf.squeeze(y, [1])];
    },
  }),
  separable_conv1d: () => ({
    inputs: [[10, 4]],
    topology: seqTopo('separable_conv1d', [
      { class_name: 'SeparableConv1D', config: { name: 'sep', filters: 5, kernel_size: [3], strides: [1],
        padding: 'valid', depth_multiplier: 2, dilation_rate: [1], activation: 'relu', use_bias: true,
        batch_input_shape: [null, 10, 4] } }]),
    weights: { sep: [['depthwise_kernel', [3, 4, 2]], ['pointwise_kernel', [1, 8, 5]], ['bias', [5]]] },
    predict: (xs, W) => {
      const y = tf.separableConv2d(tf.expandDims(xs[0], 1), tf.reshape(W.sep[0], [1, 3, 4, 2]),
        tf.reshape(W.sep[1], [1, 1, 8, 5]), 1, 'valid');
      return [tf.relu(tf.add(tf.squeeze(y, [1]), W.sep[2]))];
    },
  }),
  pad_crop_upsample_1d: () => ({
    inputs: [[6, 3]],
    topology: seqTopo('pad_crop_upsample_1d', [
      { class_name: 'ZeroPadding1D', config: { name: 'zp', padding: [2, 1], batch_input_shape: [null, 6, 3] } },
      { class_name: 'Cropping1D', config: { name: 'cr', cropping: [1, 3] } },
      { class_name: 'UpSampling1D', config: { name: 'up', size: 3 } }]),
    weights: {},
    predict: (xs) => {
      let y = tf.pad(xs[0], [[0, 0], [2, 1], [0, 0]]);
      y = tf.slice(y, [0, 1, 0], [-1, y.shape[1] - 4, -1]);
      // repeat each step 3 times
      const [n, t, ch] = y.shape;
      y = tf.reshape(tf.tile(tf.expandDims(y, 2), [1, 1, 3, 1]), [n, t * 3, ch]);
      return [y];
    },
  }),
  subtract_and_relus: () => ({
    inputs: [[7], [7]],
    topology: { class_name: 'Functional', keras_version: 'tfjs-raw', backend: 'tensor_flow.js', config: {
      name: 'subtract_and_relus', input_layers: [['a', 0, 0], ['b', 0, 0]], output_layers: [['c', 0, 0]],
      layers: [
        { name: 'a', class_name: 'InputLayer', config: { name: 'a', batch_input_shape: [null, 7], dtype: 'float32' }, inbound_nodes: [] },
        { name: 'b', class_name: 'InputLayer', config: { name: 'b', batch_input_shape: [null, 7], dtype: 'float32' }, inbound_nodes: [] },
        { name: 's', class_name: 'Subtract', config: { name: 's' }, inbound_nodes: [[['a', 0, 0, {}], ['b', 0, 0, {}]]] },
        { name: 'e', class_name: 'ELU', config: { name: 'e', alpha: 0.5 }, inbound_nodes: [[['s', 0, 0, {}]]] },
        { name: 'l', class_name: 'ReLU', config: { name: 'l', negative_slope: 0.2, max_value: null, threshold: 0 }, inbound_nodes: [[['b', 0, 0, {}]]] },
        { name: 'c', class_name: 'Concatenate', config: { name: 'c', axis: -1 }, inbound_nodes: [[['e', 0, 0, {}], ['l', 0, 0, {}]]] }] } },
    weights: {},
    predict: (xs) => {
      const d = tf.sub(xs[0], xs[1]);
      const e = tf.where(tf.greater(d, 0), d, tf.mul(0.5, tf.sub(tf.exp(d), 1)));
      return [tf.concat([e, tf.leakyRelu(xs[1], 0.2)], -1)];
    },
  }),
  keras3_activation_names: () => ({
    inputs: [[9]],
    topology: seqTopo('keras3_activation_names', [
      { class_name: 'Activation', config: { name: 'a1', activation: 'hard_swish', batch_input_shape: [null, 9] } },
      { class_name: 'Activation', config: { name: 'a2', activation: 'leaky_relu' } },
      { class_name: 'Activation', config: { name: 'a3', activation: 'silu' } },
      { class_name: 'Activation', config: { name: 'a4', activation: 'exponential' } },
      { class_name: 'Activation', config: { name: 'a5', activation: 'log_softmax' } }]),
    weights: {},
    predict: (xs) => {
      let y = tf.mul(xs[0], tf.div(tf.relu6(tf.add(xs[0], 3)), 6));
      y = tf.leakyRelu(y, 0.2);
      y = tf.mul(y, tf.sigmoid(y));
      y = tf.exp(y);
      return [tf.logSoftmax(y)];
    },
  }),
  conv2d_groups: () => ({
    inputs: [[6, 6, 4]],
    topology: seqTopo('conv2d_groups', [
      { class_name: 'Conv2D', config: { name: 'gc', filters: 6, kernel_size: [3, 3], strides: [1, 1], padding: 'same',
        dilation_rate: [1, 1], groups: 2, activation: 'linear', use_bias: true, batch_input_shape: [null, 6, 6, 4] } }]),
    weights: { gc: [['kernel', [3, 3, 2, 6]], ['bias', [6]]] },
    predict: (xs, W) => {
      const [x0, x1] = tf.split(xs[0], 2, 3);
      const [k0, k1] = tf.split(W.gc[0], 2, 3);
      return [tf.add(tf.concat([tf.conv2d(x0, k0, 1, 'same'), tf.conv2d(x1, k1, 1, 'same')], 3), W.gc[1])];
    },
  }),
};

function makeRaw(name, c, dir, seed) {
  const r = rng(seed * 7919);
  const W = {};
  const entries = [];
  const layers = c.topology.config.layers.map((l) => {
    const ws = c.weights[l.config.name] || [];
    W[l.config.name] = ws.map(([wn, shape], i) => {
      const t = tf.tensor(weightValues(`${l.config.name}/${wn}`, shape, r), shape);
      entries.push([`${l.config.name}/${i}`, toNpy(t)]);
      return t;
    });
    return { name: l.config.name, class_name: l.class_name, weights: ws.map(([wn, shape]) => ({ name: wn, shape })) };
  });
  const xs = c.inputs.map((shape) => {
    const full = [2, ...shape];
    const n = full.reduce((a, b) => a * b, 1);
    return tf.tensor(Float32Array.from({ length: n }, () => uni(r, -2, 2)), full);
  });
  const ys = c.predict(xs, W);
  const cfg = c.topology.config;
  const inNames = cfg.input_layers ? cfg.input_layers.map((x) => x[0]) : [`${cfg.layers[0].config.name}_input`];
  const outNames = cfg.output_layers ? cfg.output_layers.map((x) => x[0]) : [cfg.layers[cfg.layers.length - 1].config.name];
  const meta = {
    topology: c.topology, layers,
    inputs: xs.map((x, i) => ({ name: inNames[i], shape: [null, ...c.inputs[i]], dtype: 'float32' })),
    outputs: outNames,
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(meta));
  writeNpz(path.join(dir, 'weights.npz'), entries);
  writeNpz(path.join(dir, 'inputs.npz'), xs.map((x, i) => [String(i), toNpy(x)]));
  writeNpz(path.join(dir, 'expected.npz'), ys.map((y, i) => [String(i), toNpy(y)]));
}

// TF.js's toJSON leaves out a SeparableConv2D's depth_multiplier; Keras
// writes it, and the weights' shapes depend on it.
function fixSerialization(model, topo) {
  const byName = new Map();
  const walk = (layers) => layers.forEach((l) => { byName.set(l.name, l); if (l.layers) walk(l.layers); });
  walk(model.layers);
  const fix = (cfg) => {
    for (const e of cfg.layers || []) {
      const l = byName.get(e.config.name || e.name);
      if (e.class_name === 'SeparableConv2D' && l) e.config.depth_multiplier = l.depthMultiplier;
      if (e.config && e.config.layers) fix(e.config);
    }
  };
  fix(topo.config);
}

// ---- driver ----
function makeInputs(model, spec, r, batch) {
  return model.inputs.map((t, i) => {
    const s = (spec && spec[i]) || {};
    const shape = [batch || 2, ...t.shape.slice(1)];
    const n = shape.reduce((a, b) => a * b, 1);
    const [lo, hi] = s.range || [-2, 2];
    if (s.dtype === 'int32') {
      const v = Int32Array.from({ length: n }, () => Math.floor(uni(r, lo, hi)));
      return tf.tensor(v, shape, 'int32');
    }
    const v = Float32Array.from({ length: n }, () => (s.integers ? Math.floor(uni(r, lo, hi)) : uni(r, lo, hi)));
    return tf.tensor(v, shape, 'float32');
  });
}

async function main() {
  const args = process.argv.slice(2);
  const oi = args.indexOf('--out');
  if (oi < 0 || !args[oi + 1]) throw new Error('usage: keras_gen.mjs --out DIR [--only a,b]');
  const out = args[oi + 1];
  const only = args.indexOf('--only') >= 0 ? args[args.indexOf('--only') + 1].split(',') : null;
  await tf.setBackend('cpu');
  let seed = 1;
  for (const [name, make] of Object.entries(RAW)) {
    seed++;
    if (only && !only.includes(name)) continue;
    makeRaw(name, make(), path.join(out, name), seed);
  }
  for (const [name, make] of Object.entries(CASES)) {
    seed++;
    if (only && !only.includes(name)) continue;
    const made = make();
    const c = made.model ? made : { model: made };
    const model = c.model;
    const r = rng(seed * 7919);
    seedWeights(model.layers, r);
    const xs = makeInputs(model, c.inputs, r, c.batch);
    let predictor = model;
    if (c.predictor) {
      // Same weights, layer by layer in order, on the layers that have any.
      const src = model.layers.filter((l) => l.weights.length);
      const dst = c.predictor.layers.filter((l) => l.weights.length);
      dst.forEach((l, i) => l.setWeights(src[i].getWeights()));
      predictor = c.predictor;
    }
    let ys = c.predict ? c.predict(predictor, xs) : predictor.predict(xs.length === 1 ? xs[0] : xs);
    if (!Array.isArray(ys)) ys = [ys];
    const dir = path.join(out, name);
    fs.mkdirSync(dir, { recursive: true });
    const entries = [];
    const layers = layerInfo(model.layers, '', out, entries);
    const topology = model.toJSON(null, false);
    fixSerialization(model, topology);
    const meta = {
      topology,
      layers,
      inputs: model.inputs.map((t, i) => ({ name: model.inputNames[i], shape: t.shape, dtype: xs[i].dtype })),
      outputs: model.outputNames,
      rtol: c.rtol, atol: c.atol, runtime: c.runtime,
    };
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(meta));
    writeNpz(path.join(dir, 'weights.npz'), entries);
    writeNpz(path.join(dir, 'inputs.npz'), xs.map((x, i) => [String(i), toNpy(x)]));
    writeNpz(path.join(dir, 'expected.npz'), ys.map((y, i) => [String(i), toNpy(y)]));
    if (c.predictK3)
      writeNpz(path.join(dir, 'expected_k3.npz'), c.predictK3(xs).map((y, i) => [String(i), toNpy(y)]));
  }
}

main().catch((e) => {
  process.stderr.write(`keras_gen.mjs: error: ${e && e.stack ? e.stack : e}\n`);
  process.exit(2);
});
