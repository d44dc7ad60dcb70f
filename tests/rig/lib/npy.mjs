// npy.mjs -- reads and writes NumPy .npy arrays and .npz archives, and maps
// NumPy dtypes to TFLite tensor types.
//
// Contract: an array is {dtype, shape, data} where dtype is a NumPy name
// ('float32', 'int8', 'bool', ...), shape an array of non-negative integers
// and data a Uint8Array holding the elements in C order, little-endian.
// Readers accept .npy format versions 1, 2 and 3 and .npz archives whose
// members are stored or deflated (what np.savez / np.savez_compressed write,
// with or without zip64 extras). Anything else throws an Error that names the
// file and what is wrong with it. Writers produce .npy v1.0 and stored .npz.
import fs from 'node:fs';
import zlib from 'node:zlib';

// NumPy dtype name -> [descr as written in .npy headers, item size].
export const DTYPES = {
  bool: ['|b1', 1], int8: ['|i1', 1], uint8: ['|u1', 1],
  int16: ['<i2', 2], uint16: ['<u2', 2], int32: ['<i4', 4], uint32: ['<u4', 4],
  int64: ['<i8', 8], uint64: ['<u8', 8],
  float16: ['<f2', 2], float32: ['<f4', 4], float64: ['<f8', 8],
  complex64: ['<c8', 8], complex128: ['<c16', 16],
};

// TFLite TensorType enum value -> NumPy dtype name (null: no NumPy
// equivalent the rig can feed, e.g. STRING, RESOURCE, INT4, BFLOAT16).
const TFL_TO_NP = {
  0: 'float32', 1: 'float16', 2: 'int32', 3: 'uint8', 4: 'int64', 6: 'bool',
  7: 'int16', 8: 'complex64', 9: 'int8', 10: 'float64', 11: 'complex128',
  12: 'uint64', 15: 'uint32', 16: 'uint16',
};
export const TFL_TYPE_NAMES = [
  'FLOAT32', 'FLOAT16', 'INT32', 'UINT8', 'INT64', 'STRING', 'BOOL', 'INT16',
  'COMPLEX64', 'INT8', 'FLOAT64', 'COMPLEX128', 'UINT64', 'RESOURCE', 'VARIANT',
  'UINT32', 'UINT16', 'INT4', 'BFLOAT16', 'INT2', 'UINT4', 'FLOAT8_E4M3FN',
  'FLOAT8_E5M2',
];

export function tflTypeName(t) {
  return TFL_TYPE_NAMES[t] ?? `TYPE_${t}`;
}

export function tflToNumpy(t) {
  return TFL_TO_NP[t] ?? null;
}

export function numpyToTfl(dtype) {
  for (const [k, v] of Object.entries(TFL_TO_NP)) if (v === dtype) return Number(k);
  return null;
}

export function itemSize(dtype) {
  const d = DTYPES[dtype];
  if (!d) throw new Error(`unsupported dtype '${dtype}'`);
  return d[1];
}

export function numElements(shape) {
  return shape.reduce((a, b) => a * b, 1);
}

const DESCR_TO_DTYPE = {};
for (const [name, [descr]] of Object.entries(DTYPES)) {
  DESCR_TO_DTYPE[descr] = name;
  // '|' and '<' are interchangeable for 1-byte types; '=' means native (LE here).
  DESCR_TO_DTYPE[descr.replace('|', '<')] = name;
  DESCR_TO_DTYPE[descr.replace('|', '=').replace('<', '=')] = name;
}
DESCR_TO_DTYPE['|?'] = 'bool';
DESCR_TO_DTYPE['?'] = 'bool';

// Parses the dict literal of a .npy header: {'descr': '<f4', 'fortran_order':
// False, 'shape': (2, 3), }. Only this fixed vocabulary is accepted.
function parseHeader(text, where) {
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(text);
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(text);
  const shape = /'shape'\s*:\s*\(([^)]*)\)/.exec(text);
  if (!descr || !fortran || !shape) throw new Error(`${where}: malformed .npy header: ${text.trim()}`);
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s.length);
  const dimsNum = dims.map((s) => {
    if (!/^\d+$/.test(s)) throw new Error(`${where}: bad dimension '${s}' in .npy header`);
    return Number(s);
  });
  return { descr: descr[1], fortran: fortran[1] === 'True', shape: dimsNum };
}

// Decodes one .npy image held in `buf`; `where` names it in errors.
export function parseNpy(buf, where) {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (buf.length < 10 || !magic.every((b, i) => buf[i] === b)) throw new Error(`${where}: not a .npy file (bad magic)`);
  const major = buf[6];
  let hlen, hstart;
  if (major === 1) { hlen = buf[8] | (buf[9] << 8); hstart = 10; }
  else if (major === 2 || major === 3) {
    if (buf.length < 12) throw new Error(`${where}: truncated .npy header`);
    hlen = new DataView(buf.buffer, buf.byteOffset, buf.length).getUint32(8, true); hstart = 12;
  } else throw new Error(`${where}: unsupported .npy version ${major}`);
  if (hstart + hlen > buf.length) throw new Error(`${where}: truncated .npy header (needs ${hstart + hlen} bytes, file has ${buf.length})`);
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(buf.subarray(hstart, hstart + hlen));
  const h = parseHeader(text, where);
  const dtype = DESCR_TO_DTYPE[h.descr];
  if (!dtype) throw new Error(`${where}: dtype '${h.descr}' is not supported (big-endian, string and object arrays are not)`);
  if (h.fortran && h.shape.length > 1) throw new Error(`${where}: Fortran-ordered arrays are not supported (use np.ascontiguousarray)`);
  const nbytes = numElements(h.shape) * itemSize(dtype);
  const start = hstart + hlen;
  if (start + nbytes > buf.length) throw new Error(`${where}: truncated data (needs ${nbytes} bytes at offset ${start}, file has ${buf.length - start})`);
  return { dtype, shape: h.shape, data: buf.slice(start, start + nbytes) };
}

export function encodeNpy(arr) {
  const [descr, size] = DTYPES[arr.dtype] ?? [];
  if (!descr) throw new Error(`cannot write dtype '${arr.dtype}' to .npy`);
  if (arr.data.length !== numElements(arr.shape) * size) throw new Error(`array of shape [${arr.shape}] ${arr.dtype} has ${arr.data.length} bytes`);
  const shapeText = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  // Pad with spaces and end with '\n' so that the data starts 64-aligned.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  if (header.length > 65535) throw new Error('npy header too long');
  const out = new Uint8Array(total + arr.data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 255, header.length >> 8]);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  out.set(arr.data, total);
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// Reads the members of a zip archive through its central directory, which
// holds the true sizes even when local headers carry zip64 placeholders.
function readZip(buf, where) {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 65535); i--) {
    if (dv.getUint32(i, true) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${where}: not a zip/.npz file (no end-of-central-directory record)`);
  let count = dv.getUint16(eocd + 10, true);
  let cdOff = dv.getUint32(eocd + 16, true);
  if (cdOff === 0xffffffff || count === 0xffff) {
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) throw new Error(`${where}: zip64 archive without zip64 locator`);
    const z64 = Number(dv.getBigUint64(loc + 8, true));
    if (z64 + 56 > buf.length || dv.getUint32(z64, true) !== 0x06064b50) throw new Error(`${where}: bad zip64 end record`);
    count = Number(dv.getBigUint64(z64 + 32, true));
    cdOff = Number(dv.getBigUint64(z64 + 48, true));
  }
  const members = [];
  let p = cdOff;
  for (let k = 0; k < count; k++) {
    if (p + 46 > buf.length || dv.getUint32(p, true) !== 0x02014b50) throw new Error(`${where}: bad central directory entry ${k} at byte ${p}`);
    const method = dv.getUint16(p + 10, true);
    const crc = dv.getUint32(p + 16, true);
    let csize = dv.getUint32(p + 20, true), usize = dv.getUint32(p + 24, true);
    const nlen = dv.getUint16(p + 28, true), xlen = dv.getUint16(p + 30, true), clen = dv.getUint16(p + 32, true);
    let lho = dv.getUint32(p + 42, true);
    if (p + 46 + nlen + xlen + clen > buf.length) throw new Error(`${where}: central directory entry ${k} at byte ${p} runs past the end of the file`);
    const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nlen));
    // zip64 extra field (id 1): present values replace the 0xffffffff ones, in order.
    let x = p + 46 + nlen;
    const xend = x + xlen;
    while (x + 4 <= xend) {
      const id = dv.getUint16(x, true), len = dv.getUint16(x + 2, true);
      if (id === 1) {
        let q = x + 4;
        if (usize === 0xffffffff) { usize = Number(dv.getBigUint64(q, true)); q += 8; }
        if (csize === 0xffffffff) { csize = Number(dv.getBigUint64(q, true)); q += 8; }
        if (lho === 0xffffffff) { lho = Number(dv.getBigUint64(q, true)); q += 8; }
      }
      x += 4 + len;
    }
    p = xend + clen;
    if (lho + 30 > buf.length || dv.getUint32(lho, true) !== 0x04034b50) throw new Error(`${where}: member '${name}': bad local header at byte ${lho}`);
    const start = lho + 30 + dv.getUint16(lho + 26, true) + dv.getUint16(lho + 28, true);
    if (start + csize > buf.length) throw new Error(`${where}: member '${name}' is truncated`);
    const raw = buf.subarray(start, start + csize);
    let data;
    if (method === 0) data = raw;
    else if (method === 8) {
      try { data = new Uint8Array(zlib.inflateRawSync(raw)); }
      catch (e) { throw new Error(`${where}: member '${name}': bad deflate data (${e.message})`); }
    } else throw new Error(`${where}: member '${name}' uses zip method ${method} (only stored and deflated are supported)`);
    if (data.length !== usize) throw new Error(`${where}: member '${name}' has ${data.length} bytes, directory says ${usize}`);
    if (crc32(data) !== crc) throw new Error(`${where}: member '${name}' fails its CRC check`);
    members.push({ name, data });
  }
  return members;
}

// Returns {names: [...] in archive order, arrays: Map name -> array}; the
// '.npy' suffix of member names is dropped, as np.load does.
export function readNpz(path) {
  let buf;
  try { buf = new Uint8Array(fs.readFileSync(path)); }
  catch (e) { throw new Error(`${path}: cannot read (${e.code ?? e.message})`); }
  const names = [];
  const arrays = new Map();
  let members;
  try {
    members = readZip(buf, path);
  } catch (e) {
    // Any read past the end that the checks above missed is still this file's fault.
    if (e instanceof RangeError) throw new Error(`${path}: truncated or corrupt zip (${e.message})`);
    throw e;
  }
  for (const m of members) {
    const key = m.name.endsWith('.npy') ? m.name.slice(0, -4) : m.name;
    if (arrays.has(key)) throw new Error(`${path}: duplicate member '${key}'`);
    names.push(key);
    arrays.set(key, parseNpy(m.data, `${path}[${key}]`));
  }
  return { names, arrays };
}

// Writes `entries` ([[key, array], ...]) as an uncompressed .npz, atomically
// (a temporary file renamed into place, so no partial output is left).
export function writeNpz(path, entries) {
  const chunks = [];
  const central = [];
  let off = 0;
  const enc = new TextEncoder();
  for (const [key, arr] of entries) {
    const name = enc.encode(`${key}.npy`);
    const data = encodeNpy(arr);
    const crc = crc32(data);
    const lh = new Uint8Array(30 + name.length);
    const lv = new DataView(lh.buffer);
    lv.setUint32(0, 0x04034b50, true); lv.setUint16(4, 20, true); lv.setUint16(6, 0x0800, true);
    lv.setUint32(14, crc, true); lv.setUint32(18, data.length, true); lv.setUint32(22, data.length, true);
    lv.setUint16(26, name.length, true);
    lh.set(name, 30);
    const ch = new Uint8Array(46 + name.length);
    const cv = new DataView(ch.buffer);
    cv.setUint32(0, 0x02014b50, true); cv.setUint16(4, 20, true); cv.setUint16(6, 20, true); cv.setUint16(8, 0x0800, true);
    cv.setUint32(16, crc, true); cv.setUint32(20, data.length, true); cv.setUint32(24, data.length, true);
    cv.setUint16(28, name.length, true); cv.setUint32(42, off, true);
    ch.set(name, 46);
    if (off + lh.length + data.length > 0xfffffff0) throw new Error(`${path}: outputs too large for a non-zip64 .npz`);
    chunks.push(lh, data);
    central.push(ch);
    off += lh.length + data.length;
  }
  const cdSize = central.reduce((a, c) => a + c.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true); ev.setUint16(8, entries.length, true); ev.setUint16(10, entries.length, true);
  ev.setUint32(12, cdSize, true); ev.setUint32(16, off, true);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, Buffer.concat([...chunks, ...central, eocd]));
    fs.renameSync(tmp, path);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch { /* nothing to clean */ }
    throw new Error(`${path}: cannot write (${e.code ?? e.message})`);
  }
}

// ---- element access --------------------------------------------------------

// Half-precision bits -> number.
export function halfToFloat(h) {
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 31, f = h & 1023;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

// number -> half-precision bits, round to nearest even.
export function floatToHalf(x) {
  const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 255;
  let mant = b & 0x7fffff;
  if (exp === 255) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++;
  return sign | h;
}

// Typed view of an array's elements: numbers for all types but int64/uint64
// (BigInt) and complex (interleaved re, im); float16 is decoded to numbers.
export function elements(arr) {
  const d = arr.data;
  const buf = d.byteOffset % 8 === 0 ? d : d.slice();
  const b = buf.buffer, o = buf.byteOffset, n = numElements(arr.shape);
  switch (arr.dtype) {
    case 'bool': case 'uint8': return new Uint8Array(b, o, n);
    case 'int8': return new Int8Array(b, o, n);
    case 'int16': return new Int16Array(b, o, n);
    case 'uint16': return new Uint16Array(b, o, n);
    case 'int32': return new Int32Array(b, o, n);
    case 'uint32': return new Uint32Array(b, o, n);
    case 'int64': return new BigInt64Array(b, o, n);
    case 'uint64': return new BigUint64Array(b, o, n);
    case 'float32': return new Float32Array(b, o, n);
    case 'float64': return new Float64Array(b, o, n);
    case 'complex64': return new Float32Array(b, o, 2 * n);
    case 'complex128': return new Float64Array(b, o, 2 * n);
    case 'float16': return Float64Array.from(new Uint16Array(b, o, n), halfToFloat);
    default: throw new Error(`unsupported dtype '${arr.dtype}'`);
  }
}

export function isFloat(dtype) {
  return dtype.startsWith('float') || dtype.startsWith('complex');
}

export function isInt(dtype) {
  return /^u?int\d+$/.test(dtype);
}

const INT_RANGE = {
  int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
  int32: [-2147483648, 2147483647], uint32: [0, 4294967295],
  int64: [-(2n ** 63n), 2n ** 63n - 1n], uint64: [0n, 2n ** 64n - 1n],
};
export function intRange(dtype) {
  return INT_RANGE[dtype];
}

// Builds an array of `dtype` from plain numbers (BigInt for 64-bit ints).
export function fromValues(dtype, shape, values) {
  const n = numElements(shape);
  const arr = { dtype, shape, data: new Uint8Array(n * itemSize(dtype)) };
  if (dtype === 'float16') {
    const u = new Uint16Array(arr.data.buffer);
    for (let i = 0; i < n; i++) u[i] = floatToHalf(Number(values[i]));
  } else {
    const v = elements(arr);
    for (let i = 0; i < v.length; i++) v[i] = values[i];
  }
  return arr;
}

// Converts between numeric dtypes where no value is silently changed in kind:
// float <-> float (rounding), int <-> int (range-checked), bool <-> bool.
export function castArray(arr, dtype, where) {
  if (arr.dtype === dtype) return arr;
  const okFloat = isFloat(arr.dtype) && isFloat(dtype) && !arr.dtype.startsWith('complex') && !dtype.startsWith('complex');
  const okInt = isInt(arr.dtype) && isInt(dtype);
  if (!okFloat && !okInt) throw new Error(`${where}: has dtype ${arr.dtype}, the model expects ${dtype}`);
  const src = elements(arr);
  const out = new Array(src.length);
  if (okInt) {
    const [lo, hi] = intRange(dtype);
    const big = typeof lo === 'bigint';
    for (let i = 0; i < src.length; i++) {
      const v = BigInt(src[i]);
      if (v < BigInt(lo) || v > BigInt(hi)) throw new Error(`${where}: value ${v} at index ${i} does not fit ${dtype}`);
      out[i] = big ? v : Number(v);
    }
  } else {
    for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
  }
  return fromValues(dtype, arr.shape, out);
}
