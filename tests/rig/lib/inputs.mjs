// inputs.mjs -- deterministic random inputs for a model's I/O, and the
// numeric comparison of two sets of outputs.
//
// Contract: randomInputs(specs, seed, opts) gives the same arrays for the same
// specs, seed and options on every machine (a 32-bit PRNG, no Math.random),
// one independent stream per input position. compareArrays() never throws on
// data: shape or dtype mismatches are reported in its result.
import { elements, fromValues, isFloat, intRange, numElements } from './npy.mjs';

// mulberry32: a small 32-bit generator with good statistical quality.
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Seed of input `i`: mixes the user seed and the position (splitmix-style).
function streamSeed(seed, i) {
  let z = (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca77)) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x7feb352d) >>> 0;
  z = Math.imul(z ^ (z >>> 15), 0x846ca68b) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

// The concrete shape random inputs get: shape_signature with each -1 set to
// 1 (the tensor's `shape` when there is no signature).
export function concreteShape(tensor) {
  const sig = tensor.shape_signature ?? tensor.shape;
  return sig.map((d) => (d < 0 ? 1 : d));
}

// specs: [{name, dtype, shape, quantized}]. Values:
//   floats      uniform in [opts.range[0], opts.range[1]) (default [-1, 1))
//   quantized integer inputs (int8/uint8/int16 with a scale): the whole type range
//   other ints  uniform in [opts.intRange[0], opts.intRange[1]] (default [0, 7]),
//               small and non-negative so they are valid indices and sizes
//   bool        0 or 1
export function randomInputs(specs, seed, opts = {}) {
  const [flo, fhi] = opts.range ?? [-1, 1];
  const [ilo, ihi] = opts.intRange ?? [0, 7];
  return specs.map((s, i) => {
    const next = prng(streamSeed(seed, i));
    const n = numElements(s.shape);
    const v = new Array(n);
    if (s.dtype === 'bool') {
      for (let k = 0; k < n; k++) v[k] = next() < 0.5 ? 0 : 1;
    } else if (isFloat(s.dtype)) {
      const m = s.dtype.startsWith('complex') ? 2 * n : n;
      for (let k = 0; k < m; k++) v[k] = flo + (fhi - flo) * next();
    } else {
      let [lo, hi] = s.quantized && ['int8', 'uint8', 'int16'].includes(s.dtype) ? intRange(s.dtype) : [ilo, ihi];
      const [tlo, thi] = intRange(s.dtype).map(Number);
      lo = Math.max(lo, tlo); hi = Math.min(hi, thi);
      const big = s.dtype.endsWith('64');
      for (let k = 0; k < n; k++) {
        const x = lo + Math.floor((hi - lo + 1) * next());
        v[k] = big ? BigInt(x) : x;
      }
    }
    return fromValues(s.dtype, s.shape, v);
  });
}

// Compares a (the model under test) against b (the reference), elementwise.
// exact: bit-identical, except that any NaN equals any NaN.
// else:  |a - b| <= atol + rtol * |b|; NaN only matches NaN, inf the same inf.
// Returns {ok, reason?, max_abs_diff, max_rel_diff, mismatches, first_mismatch}
// where max_rel_diff is taken over elements with b != 0 (the others are judged
// by atol alone) and diffs involving non-finite values are counted in
// mismatches but left out of the maxima.
export function compareArrays(a, b, { exact = false, rtol = 1e-5, atol = 1e-6 } = {}) {
  const res = { ok: false, max_abs_diff: 0, max_rel_diff: 0, mismatches: 0, first_mismatch: null };
  if (a.dtype !== b.dtype) return { ...res, reason: `dtype ${a.dtype} vs ${b.dtype}` };
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    return { ...res, reason: `shape [${a.shape}] vs [${b.shape}]` };
  }
  const va = elements(a), vb = elements(b);
  const float = isFloat(a.dtype);
  const size = a.data.length / Math.max(1, va.length);
  for (let i = 0; i < va.length; i++) {
    const x = va[i], y = vb[i];
    let same;
    if (exact) {
      if (float && Number.isNaN(x) && Number.isNaN(y)) same = true;
      else if (float) same = bytesEqual(a.data, b.data, i * size, size);
      else same = x === y;
    } else if (typeof x === 'bigint') {
      same = x === y || Math.abs(Number(x - y)) <= atol + rtol * Math.abs(Number(y));
    } else if (Number.isNaN(x) || Number.isNaN(y)) {
      same = Number.isNaN(x) && Number.isNaN(y);
    } else if (!Number.isFinite(x) || !Number.isFinite(y)) {
      same = x === y;
    } else {
      same = Math.abs(x - y) <= atol + rtol * Math.abs(y);
    }
    const dx = typeof x === 'bigint' ? Math.abs(Number(x - y)) : Math.abs(x - y);
    if (Number.isFinite(dx)) {
      if (dx > res.max_abs_diff) res.max_abs_diff = dx;
      const ay = Math.abs(Number(y));
      if (ay > 0 && dx / ay > res.max_rel_diff) res.max_rel_diff = dx / ay;
    }
    if (!same) {
      if (res.first_mismatch === null) res.first_mismatch = { index: i, a: String(x), b: String(y) };
      res.mismatches++;
    }
  }
  res.ok = res.mismatches === 0;
  return res;
}

function bytesEqual(p, q, off, n) {
  for (let k = 0; k < n; k++) if (p[off + k] !== q[off + k]) return false;
  return true;
}
