// tflite_fb.mjs -- a small, bounds-checked reader for the TFLite FlatBuffer
// (schema version 3): the parts the rig needs to describe a model's inputs and
// outputs, find what a runtime will refuse, and patch input shapes.
//
// Contract: readModel(bytes, where) returns a plain description of the model
// (subgraphs, tensors with the byte positions of their shape vectors,
// operator codes, signature defs) or throws an Error naming `where` and the
// byte offset of the first thing that does not fit in the file. The bytes are
// never modified; patchInputShapes() returns a patched copy.
//
// Field ids are those of TFLite's schema.fbs (vtable slot order).
import { tflTypeName, tflToNumpy } from './npy.mjs';

class Reader {
  constructor(bytes, where) {
    this.b = bytes;
    this.where = where;
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  fail(off, what) {
    throw new Error(`${this.where}: corrupt TFLite FlatBuffer: ${what} at byte ${off}`);
  }
  need(off, n, what) {
    if (off < 0 || off + n > this.b.length) this.fail(off, `${what} runs past the end of the file (${this.b.length} bytes)`);
  }
  u8(o) { this.need(o, 1, 'byte'); return this.dv.getUint8(o); }
  i8(o) { this.need(o, 1, 'byte'); return this.dv.getInt8(o); }
  u16(o) { this.need(o, 2, 'u16'); return this.dv.getUint16(o, true); }
  u32(o) { this.need(o, 4, 'u32'); return this.dv.getUint32(o, true); }
  i32(o) { this.need(o, 4, 'i32'); return this.dv.getInt32(o, true); }
  i64(o) { this.need(o, 8, 'i64'); return this.dv.getBigInt64(o, true); }
  f32(o) { this.need(o, 4, 'f32'); return this.dv.getFloat32(o, true); }

  // Table at `t`: returns the absolute position of field `id`, or 0 if absent.
  field(t, id) {
    const vt = t - this.i32(t);
    const vlen = this.u16(vt);
    if (vlen < 4 || vlen % 2) this.fail(vt, `bad vtable length ${vlen}`);
    const tlen = this.u16(vt + 2);
    if (4 + 2 * id + 2 > vlen) return 0;
    const fo = this.u16(vt + 4 + 2 * id);
    if (!fo) return 0;
    if (fo >= tlen) this.fail(t, `field ${id} offset ${fo} outside its table (size ${tlen})`);
    return t + fo;
  }
  // Follows the uoffset stored at `p`.
  deref(p) {
    const o = this.u32(p);
    const t = p + o;
    if (o === 0 || t >= this.b.length) this.fail(p, `offset ${o} points outside the file`);
    return t;
  }
  table(t, id) { const p = this.field(t, id); return p ? this.deref(p) : 0; }
  scalar(t, id, kind, dflt) {
    const p = this.field(t, id);
    return p ? this[kind](p) : dflt;
  }
  // Vector field: {pos of length word, len, start} or null.
  vector(t, id, elemSize) {
    const p = this.field(t, id);
    if (!p) return null;
    const v = this.deref(p);
    const len = this.u32(v);
    this.need(v + 4, len * elemSize, 'vector');
    return { pos: v, len, start: v + 4 };
  }
  ints(t, id) {
    const v = this.vector(t, id, 4);
    if (!v) return null;
    const a = [];
    for (let i = 0; i < v.len; i++) a.push(this.i32(v.start + 4 * i));
    return a;
  }
  tables(t, id) {
    const v = this.vector(t, id, 4);
    if (!v) return [];
    const a = [];
    for (let i = 0; i < v.len; i++) a.push(this.deref(v.start + 4 * i));
    return a;
  }
  string(t, id) {
    const v = this.vector(t, id, 1);
    if (!v) return null;
    return new TextDecoder().decode(this.b.subarray(v.start, v.start + v.len));
  }
}

function readQuant(r, q) {
  if (!q) return null;
  const sv = r.vector(q, 2, 4), zv = r.vector(q, 3, 8);
  const scale = [], zero = [];
  if (sv) for (let i = 0; i < sv.len; i++) scale.push(r.f32(sv.start + 4 * i));
  if (zv) for (let i = 0; i < zv.len; i++) zero.push(Number(r.i64(zv.start + 8 * i)));
  if (!scale.length && !zero.length) return null;
  return { scale, zero_point: zero, quantized_dimension: r.scalar(q, 6, 'i32', 0) };
}

function readTensor(r, t, index) {
  const shapeV = r.vector(t, 0, 4);
  const sigV = r.vector(t, 7, 4);
  const type = r.scalar(t, 1, 'i8', 0);
  const shape = r.ints(t, 0) ?? [];
  const shapeSignature = r.ints(t, 7);
  const hasRank = r.scalar(t, 8, 'u8', 0) !== 0;
  return {
    index,
    name: r.string(t, 3) ?? '',
    type,
    type_name: tflTypeName(type),
    shape,
    shape_signature: shapeSignature,
    // shape [] without has_rank or a signature: rank unknown (schema.fbs).
    unranked: shape.length === 0 && !hasRank && shapeSignature === null,
    buffer: r.scalar(t, 2, 'u32', 0),
    is_variable: r.scalar(t, 5, 'u8', 0) !== 0,
    quantization: readQuant(r, r.table(t, 4)),
    // Where the shape vectors live, for patchInputShapes().
    shape_pos: shapeV ? shapeV.pos : 0,
    shape_signature_pos: sigV ? sigV.pos : 0,
    shape_field_pos: r.field(t, 0),
  };
}

function readSubgraph(r, g, gi) {
  const tensors = r.tables(g, 0).map((t, i) => readTensor(r, t, i));
  // -1 marks an omitted optional operator input; elsewhere it is an error.
  const checkIdx = (list, what, optional = true) => {
    for (const i of list) if (i < (optional ? -1 : 0) || i >= tensors.length) r.fail(g, `subgraph ${gi} ${what} refers to tensor ${i} of ${tensors.length}`);
    return list;
  };
  const operators = r.tables(g, 3).map((o, oi) => ({
    opcode_index: r.scalar(o, 0, 'u32', 0),
    inputs: checkIdx(r.ints(o, 1) ?? [], `operator ${oi} inputs`),
    outputs: checkIdx(r.ints(o, 2) ?? [], `operator ${oi} outputs`),
  }));
  return {
    name: r.string(g, 4) ?? '',
    tensors,
    inputs: checkIdx(r.ints(g, 1) ?? [], 'inputs', false),
    outputs: checkIdx(r.ints(g, 2) ?? [], 'outputs', false),
    operators,
  };
}

export function readModel(bytes, where) {
  const r = new Reader(bytes, where);
  if (bytes.length < 8) throw new Error(`${where}: not a TFLite model (${bytes.length} bytes)`);
  const ident = new TextDecoder().decode(bytes.subarray(4, 8));
  if (ident !== 'TFL3') throw new Error(`${where}: not a TFLite model (file identifier '${ident.replace(/[^\x20-\x7e]/g, '?')}', expected 'TFL3')`);
  const root = r.deref(0);
  const opcodes = r.tables(root, 1).map((c) => {
    const dep = r.scalar(c, 0, 'i8', 0);
    const code = r.scalar(c, 3, 'i32', 0);
    return { builtin_code: Math.max(dep, code), custom_code: r.string(c, 1), version: r.scalar(c, 2, 'i32', 1) };
  });
  // Buffer sizes only (data stays in the file): inline data, or the
  // offset/size pair of models larger than 2 GB.
  let externalBuffers = 0;
  const bufferSizes = r.tables(root, 4).map((b) => {
    const v = r.vector(b, 0, 1);
    if (v) return v.len;
    // offset > 1: the data lies after the FlatBuffer (models over 2 GB).
    if (Number(r.scalar(b, 1, 'i64', 0n)) > 1) externalBuffers++;
    return Number(r.scalar(b, 2, 'i64', 0n));
  });
  const subgraphs = r.tables(root, 2).map((g, i) => readSubgraph(r, g, i));
  for (const g of subgraphs) {
    for (const t of g.tensors) t.constant = t.buffer > 0 && (bufferSizes[t.buffer] ?? 0) > 0;
  }
  if (!subgraphs.length) throw new Error(`${where}: model has no subgraphs`);
  const signatures = r.tables(root, 7).map((s) => {
    const tmap = (t) => ({ name: r.string(t, 0) ?? '', tensor_index: r.scalar(t, 1, 'u32', 0) });
    return {
      key: r.string(s, 2) ?? '',
      subgraph_index: r.scalar(s, 4, 'u32', 0),
      inputs: r.tables(s, 0).map(tmap),
      outputs: r.tables(s, 1).map(tmap),
    };
  });
  for (const s of signatures) {
    const g = subgraphs[s.subgraph_index];
    if (!g) throw new Error(`${where}: signature '${s.key}' refers to subgraph ${s.subgraph_index} of ${subgraphs.length}`);
    for (const m of [...s.inputs, ...s.outputs]) {
      if (m.tensor_index >= g.tensors.length) throw new Error(`${where}: signature '${s.key}' entry '${m.name}' refers to tensor ${m.tensor_index} of ${g.tensors.length}`);
    }
  }
  for (const [gi, g] of subgraphs.entries()) {
    for (const [oi, op] of g.operators.entries()) {
      if (op.opcode_index >= opcodes.length) throw new Error(`${where}: subgraph ${gi} operator ${oi} uses opcode ${op.opcode_index} of ${opcodes.length}`);
    }
  }
  return { version: r.scalar(root, 0, 'u32', 0), description: r.string(root, 3), opcodes, subgraphs, signatures, buffer_count: bufferSizes.length, external_buffers: externalBuffers };
}

// The I/O a run uses: the named signature, else the first signature, else
// subgraph 0's inputs and outputs named by their tensor names.
// Returns {key, subgraph_index, inputs: [{name, tensor}], outputs: [...]}.
export function selectIO(model, key) {
  if (key !== undefined && key !== null) {
    const s = model.signatures.find((x) => x.key === key);
    if (!s) {
      const keys = model.signatures.map((x) => `'${x.key}'`).join(', ') || 'none';
      throw new Error(`no signature '${key}' in the model (signatures: ${keys})`);
    }
    return sigIO(model, s);
  }
  if (model.signatures.length) return sigIO(model, model.signatures[0]);
  const g = model.subgraphs[0];
  const io = (list) => list.map((i) => ({ name: g.tensors[i].name, tensor: g.tensors[i] }));
  return { key: null, subgraph_index: 0, inputs: io(g.inputs), outputs: io(g.outputs) };
}

function sigIO(model, s) {
  const g = model.subgraphs[s.subgraph_index];
  const io = (list) => list.map((m) => ({ name: m.name, tensor: g.tensors[m.tensor_index] }));
  return { key: s.key, subgraph_index: s.subgraph_index, inputs: io(s.inputs), outputs: io(s.outputs) };
}

const FLEX_PREFIX = 'Flex';
const DEQUANTIZE = 6;
const FLOATS = ['FLOAT32', 'FLOAT16', 'FLOAT64'];
const QINTS = ['INT8', 'UINT8', 'INT16', 'INT4'];

// How the model computes: 'hybrid' when some op takes a float activation
// and integer constant weights (dynamic-range quantization: each runtime
// quantizes activations its own way, so results differ by about the
// quantization step), 'quantized' when some activation tensor is a
// quantized integer (full-integer kernels: runtimes agree bit-exactly),
// else 'float'. DEQUANTIZE of constants (weight-only storage) is float.
export function numerics(model) {
  let hybrid = false, quant = false;
  for (const g of model.subgraphs) {
    for (const op of g.operators) {
      const code = model.opcodes[op.opcode_index].builtin_code;
      const ins = op.inputs.filter((i) => i >= 0).map((i) => g.tensors[i]);
      const outs = op.outputs.filter((i) => i >= 0).map((i) => g.tensors[i]);
      if (code !== DEQUANTIZE && ins.some((t) => !t.constant && FLOATS.includes(t.type_name))
          && ins.some((t) => t.constant && QINTS.includes(t.type_name))) hybrid = true;
      if ([...ins, ...outs].some((t) => !t.constant && QINTS.includes(t.type_name) && t.quantization)) quant = true;
    }
  }
  return hybrid ? 'hybrid' : quant ? 'quantized' : 'float';
}

// Things that stop a model from running in the rig's runtimes, found
// statically. Returns {variable_tensors, custom_ops, flex_ops, string_io,
// int64_io, io_types, unsupported_io_types}: the runtimes' own errors say
// the same but later and less clearly.
export function runtimeObstacles(model, io) {
  const custom = new Set(), flex = new Set();
  const used = new Set();
  for (const g of model.subgraphs) for (const op of g.operators) used.add(op.opcode_index);
  for (const i of used) {
    const c = model.opcodes[i];
    if (c.builtin_code !== 32) continue; // 32 = CUSTOM
    const name = c.custom_code ?? '';
    (name.startsWith(FLEX_PREFIX) ? flex : custom).add(name);
  }
  let nvar = 0;
  for (const g of model.subgraphs) for (const t of g.tensors) if (t.is_variable) nvar++;
  const ioTensors = [...io.inputs, ...io.outputs].map((x) => x.tensor);
  const ioTypes = ioTensors.map((t) => t.type_name);
  return {
    variable_tensors: nvar,
    external_buffers: model.external_buffers,
    custom_ops: [...custom].sort(),
    flex_ops: [...flex].sort(),
    string_io: ioTypes.includes('STRING'),
    int64_io: ioTypes.includes('INT64'),
    io_types: [...new Set(ioTypes)].sort(),
    // I/O types with no NumPy dtype the rig can pass (STRING, RESOURCE, INT4...).
    unsupported_io_types: [...new Set(ioTensors.filter((t) => tflToNumpy(t.type) === null).map((t) => t.type_name))].sort(),
  };
}

// Returns a copy of `bytes` where each named input tensor's `shape` and
// `shape_signature` hold the concrete shape given, written over the existing
// vectors so that every other byte (and the file size) stays the same. The
// runtimes then derive all other shapes, as after ResizeInputTensor.
// An input of unknown rank (shape []) has no room for its new dims: its
// shape field is pointed at a new vector appended to the end of the file
// instead (FlatBuffer offsets point forward, so nothing else moves).
// `patches` is [{tensor, shape}] with tensor from readModel().
export function patchInputShapes(bytes, model, subgraphIndex, patches, where) {
  // A writer may share one shape vector between tensors; overwriting it would
  // change a tensor we were not asked to change.
  const mine = new Set(patches.map((p) => p.tensor.index));
  const owners = new Map();
  for (const [gi, g] of model.subgraphs.entries()) {
    for (const t of g.tensors) {
      for (const pos of [t.shape_pos, t.shape_signature_pos]) {
        if (!pos) continue;
        if (!owners.has(pos)) owners.set(pos, []);
        owners.get(pos).push({ gi, ti: t.index, name: t.name });
      }
    }
  }
  const appended = [];
  let end = Math.ceil(bytes.length / 4) * 4;
  const inPlace = [];
  for (const { tensor, shape } of patches) {
    if (tensor.unranked && shape.length > 0) {
      if (!tensor.shape_field_pos) throw new Error(`${where}: input '${tensor.name}' of unknown rank has no shape field to point at a new shape`);
      appended.push({ field: tensor.shape_field_pos, vec: end, shape });
      end += 4 + 4 * shape.length;
      continue;
    }
    for (const pos of [tensor.shape_pos, tensor.shape_signature_pos]) {
      if (!pos) continue;
      const other = owners.get(pos).find((o) => o.gi !== subgraphIndex || !mine.has(o.ti));
      if (other) {
        throw new Error(`${where}: cannot set the shape of input '${tensor.name}': its shape vector at byte ${pos} is shared with tensor ${other.ti} '${other.name}' of subgraph ${other.gi}`);
      }
      inPlace.push({ pos, tensor, shape });
    }
  }
  const out = new Uint8Array(end);
  out.set(bytes);
  const dv = new DataView(out.buffer);
  for (const { pos, tensor, shape } of inPlace) {
    const len = dv.getUint32(pos, true);
    if (len !== shape.length) {
      throw new Error(`${where}: input '${tensor.name}' has rank ${len}, the given array has rank ${shape.length} (shape [${shape}])`);
    }
    for (let i = 0; i < shape.length; i++) dv.setInt32(pos + 4 + 4 * i, shape[i], true);
  }
  for (const { field, vec, shape } of appended) {
    dv.setUint32(vec, shape.length, true);
    for (let i = 0; i < shape.length; i++) dv.setInt32(vec + 4 + 4 * i, shape[i], true);
    dv.setUint32(field, vec - field, true);
  }
  return out;
}
