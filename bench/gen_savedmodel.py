#!/usr/bin/python3
"""gen_savedmodel.py -- writes a large TF1-style SavedModel without TensorFlow.

    /usr/bin/python3 bench/gen_savedmodel.py OUT_DIR [--width 4096]
        [--layers 4] [--resource] [--shards 1] [--seed 0]

OUT_DIR/saved_model.pb        one MetaGraphDef, tag "serve", signature
                              "serving_default": x float32[-1,W] -> y
OUT_DIR/variables/variables.index, .data-0000K-of-0000N
                              a TensorBundle checkpoint of the weights

The graph is what tf.compat.v1 writes for a stack of Dense layers:
  x (Placeholder) -> dense_i/MatMul -> dense_i/BiasAdd -> dense_i/Relu ...
  -> y (Identity), each kernel [W,W] and bias [W] a VariableV2 read through
an Identity ("dense_i/kernel/read"), or with --resource a VarHandleOp read
through ReadVariableOp; plus the Saver's nodes (save/RestoreV2, ...). The
checkpoint keys are the variable names, as TF1's Saver writes them.

Everything is encoded here by hand from the file formats' facts: protobuf
wire format with TensorFlow's field numbers, the LevelDB table format for
the index, the bundle layout for the data. Checksums are crc32c from
Debian's python3-crcmod (a C implementation nobody on tflc wrote), so a
reader that accepts this checkpoint agrees with an independent crc32c.

Default size: 4 layers of 4096x4096 float32 = 256 MiB of kernels.
"""
import argparse
import os
import struct
import sys

import numpy as np

try:
    import crcmod.predefined
except ImportError:
    sys.exit("gen_savedmodel.py: needs python3-crcmod (apt install python3-crcmod)")

_crc = crcmod.predefined.mkCrcFun("crc-32c")
MASK_DELTA = 0xA282EAD8


def crc32c(data, crc=0):
    return _crc(data, crc)


def mask(c):
    return (((c >> 15) | (c << 17)) + MASK_DELTA) & 0xFFFFFFFF


# ---- protobuf wire format ---------------------------------------------------

def varint(v):
    v &= (1 << 64) - 1  # negative int64: ten bytes, two's complement
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def tag(field, wire):
    return varint(field << 3 | wire)


def f_int(field, v):
    return tag(field, 0) + varint(v) if v else b""


def f_bytes(field, b):
    return tag(field, 2) + varint(len(b)) + b


def f_str(field, s):
    return f_bytes(field, s.encode())


def f_fixed32(field, v):
    return tag(field, 5) + struct.pack("<I", v)


def f_map(field, d):
    """map<string, Message>: one entry message {1: key, 2: value} each."""
    return b"".join(f_bytes(field, f_str(1, k) + f_bytes(2, v))
                    for k, v in sorted(d.items()))


DT_FLOAT, DT_STRING, DT_RESOURCE = 1, 7, 20


def shape_proto(dims):  # TensorShapeProto: dim = 2 {size = 1}
    return b"".join(f_bytes(2, f_int(1, d)) for d in dims)


# AttrValue: list 1, s 2, i 3, f 4, b 5, type 6, shape 7, tensor 8
def a_type(t):
    return f_int(6, t) or tag(6, 0) + b"\x00"


def a_shape(dims):
    return f_bytes(7, shape_proto(dims))


def a_str(s):
    return f_bytes(2, s.encode())


def a_bool(b):
    return tag(5, 0) + varint(1 if b else 0)


def a_int(i):
    return tag(3, 0) + varint(i)


def a_list_type(ts):  # ListValue.type = 6, packed
    return f_bytes(1, f_bytes(6, b"".join(varint(t) for t in ts)))


def a_tensor_strings(strs):  # TensorProto: dtype 1, shape 2, string_val 8
    t = f_int(1, DT_STRING) + f_bytes(2, shape_proto([len(strs)]))
    t += b"".join(f_bytes(8, s.encode()) for s in strs)
    return f_bytes(8, t)


def a_tensor_scalar_string(s):
    return f_bytes(8, f_int(1, DT_STRING) + f_bytes(2, b"") + f_bytes(8, s.encode()))


def node(name, op, inputs=(), **attrs):
    """NodeDef: name 1, op 2, input 3, attr 5."""
    b = f_str(1, name) + f_str(2, op)
    b += b"".join(f_str(3, i) for i in inputs)
    b += f_map(5, attrs)
    return f_bytes(1, b)  # GraphDef.node = 1


# ---- LevelDB table format ---------------------------------------------------

MAGIC = 0xDB4775248B80FB57


def block(entries, restart_interval):
    out, restarts, prev = bytearray(), [], b""
    for i, (k, v) in enumerate(entries):
        shared = 0
        if i % restart_interval == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(prev), len(k)) and prev[shared] == k[shared]:
                shared += 1
        out += varint(shared) + varint(len(k) - shared) + varint(len(v))
        out += k[shared:] + v
        prev = k
    if not restarts:
        restarts = [0]
    for r in restarts:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts))
    return bytes(out)


def emit(f, contents):
    """Block + trailer (type 0: stored); returns its handle."""
    off = f.tell()
    f.write(contents)
    f.write(b"\x00" + struct.pack("<I", mask(crc32c(b"\x00", crc32c(contents)))))
    return varint(off) + varint(len(contents))


def write_table(path, entries, block_size=4096):
    entries = sorted(entries)
    with open(path, "wb") as f:
        index, cur, size = [], [], 0
        for k, v in entries:
            cur.append((k, v))
            size += len(k) + len(v) + 8
            if size >= block_size:
                index.append((cur[-1][0], emit(f, block(cur, 16))))
                cur, size = [], 0
        if cur or not index:
            index.append((cur[-1][0] if cur else b"", emit(f, block(cur, 16))))
        meta = emit(f, block([], 16))
        idx = emit(f, block(index, 1))
        footer = meta + idx
        f.write(footer + b"\x00" * (40 - len(footer)) + struct.pack("<Q", MAGIC))


# ---- the model --------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=4096)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--resource", action="store_true",
                    help="VarHandleOp/ReadVariableOp instead of VariableV2")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--save-values", metavar="NPZ",
                    help="also write every variable to NPZ (small models: tests)")
    a = ap.parse_args()
    W, L = a.width, a.layers
    os.makedirs(os.path.join(a.out, "variables"), exist_ok=True)
    prefix = os.path.join(a.out, "variables", "variables")
    rng = np.random.default_rng(a.seed)

    # Variables: (name, shape); values are drawn as they are written.
    variables = []
    for i in range(L):
        variables.append(("dense_%d/kernel" % i, [W, W]))
        variables.append(("dense_%d/bias" % i, [W]))

    # Data shards: variables round-robin over the shards.
    shards = [open("%s.data-%05d-of-%05d" % (prefix, k, a.shards), "wb")
              for k in range(a.shards)]
    entries, saved = [], {}
    for n, (name, shape) in enumerate(variables):
        k = n % a.shards
        scale = np.float32(1.0 / np.sqrt(W))
        v = (rng.standard_normal(shape, dtype=np.float32) * scale).astype("<f4")
        mv = memoryview(v).cast("B")
        off = shards[k].tell()
        shards[k].write(mv)
        # BundleEntryProto: dtype 1, shape 2, shard_id 3, offset 4, size 5,
        # crc32c 6 (fixed32, masked)
        e = f_int(1, DT_FLOAT) + f_bytes(2, shape_proto(shape)) + f_int(3, k)
        e += f_int(4, off) + f_int(5, v.nbytes) + f_fixed32(6, mask(crc32c(mv)))
        entries.append((name.encode(), e))
        if a.save_values:
            saved[name] = v.copy()
        del v, mv
    for f in shards:
        f.close()
    # BundleHeaderProto: num_shards 1, endianness 2, version 3 {producer 1}
    header = f_int(1, a.shards) + f_bytes(3, f_int(1, 1))
    entries.append((b"", header))
    write_table(prefix + ".index", entries)

    # The graph.
    g = node("x", "Placeholder", dtype=a_type(DT_FLOAT), shape=a_shape([-1, W]))
    prev = "x"
    for i in range(L):
        reads = {}
        for part, shape in (("kernel", [W, W]), ("bias", [W])):
            var = "dense_%d/%s" % (i, part)
            if a.resource:
                g += node(var, "VarHandleOp", dtype=a_type(DT_FLOAT),
                          shape=a_shape(shape), container=a_str(""),
                          shared_name=a_str(var))
                rd = "dense_%d/%s/Read/ReadVariableOp" % (i, part)
                g += node(rd, "ReadVariableOp", [var], dtype=a_type(DT_FLOAT))
            else:
                g += node(var, "VariableV2", dtype=a_type(DT_FLOAT),
                          shape=a_shape(shape), container=a_str(""),
                          shared_name=a_str(""))
                rd = var + "/read"
                g += node(rd, "Identity", [var], T=a_type(DT_FLOAT))
            reads[part] = rd
        mm = "dense_%d/MatMul" % i
        g += node(mm, "MatMul", [prev, reads["kernel"]], T=a_type(DT_FLOAT),
                  transpose_a=a_bool(False), transpose_b=a_bool(False))
        ba = "dense_%d/BiasAdd" % i
        g += node(ba, "BiasAdd", [mm, reads["bias"]], T=a_type(DT_FLOAT),
                  data_format=a_str("NHWC"))
        prev = ba
        if i + 1 < L:
            prev = "dense_%d/Relu" % i
            g += node(prev, "Relu", [ba], T=a_type(DT_FLOAT))
    g += node("y", "Identity", [prev], T=a_type(DT_FLOAT))

    # The Saver's restore path (TF1 SavedModels carry it; converters skip it).
    names = [n for n, _ in variables]
    g += node("save/filename", "Const", dtype=a_type(DT_STRING),
              value=a_tensor_scalar_string("model"))
    g += node("save/RestoreV2/tensor_names", "Const", dtype=a_type(DT_STRING),
              value=a_tensor_strings(names))
    g += node("save/RestoreV2/shape_and_slices", "Const", dtype=a_type(DT_STRING),
              value=a_tensor_strings([""] * len(names)))
    g += node("save/RestoreV2", "RestoreV2",
              ["save/filename", "save/RestoreV2/tensor_names",
               "save/RestoreV2/shape_and_slices"],
              dtypes=a_list_type([DT_FLOAT] * len(names)))
    assigns = []
    for k, n in enumerate(names):
        an = "save/Assign_%d" % k
        if a.resource:
            g += node(an, "AssignVariableOp", [n, "save/RestoreV2:%d" % k],
                      dtype=a_type(DT_FLOAT))
        else:
            g += node(an, "Assign", [n, "save/RestoreV2:%d" % k],
                      T=a_type(DT_FLOAT), use_locking=a_bool(True),
                      validate_shape=a_bool(True))
        assigns.append("^" + an)
    g += node("save/restore_all", "NoOp", assigns)
    g += f_bytes(4, f_int(1, 27))  # versions {producer: 27}

    # MetaGraphDef: meta_info_def 1 {tags 4, tensorflow_version 5},
    # graph_def 2, saver_def 3, signature_def 5.
    meta_info = f_str(4, "serve") + f_str(5, "gen_savedmodel.py")
    saver = (f_str(1, "save/filename:0") + f_str(3, "save/restore_all") +
             f_int(7, 2))  # version V2
    tinfo = lambda name, dims: (f_str(1, name) + f_int(2, DT_FLOAT) +
                                f_bytes(3, shape_proto(dims)))
    sig = (f_map(1, {"x": tinfo("x:0", [-1, W])}) +
           f_map(2, {"y": tinfo("y:0", [-1, W])}) +
           f_str(3, "tensorflow/serving/predict"))
    mg = (f_bytes(1, meta_info) + f_bytes(2, g) + f_bytes(3, saver) +
          f_map(5, {"serving_default": sig}))
    sm = f_int(1, 1) + f_bytes(2, mg)  # SavedModel: schema version, meta_graphs
    with open(os.path.join(a.out, "saved_model.pb"), "wb") as f:
        f.write(sm)
    if a.save_values:
        np.savez(a.save_values, **saved)
    total = sum(int(np.prod(s)) * 4 for _, s in variables)
    print("%s: %d variables, %d bytes of weights, %d shard(s)"
          % (a.out, len(variables), total, a.shards))


if __name__ == "__main__":
    main()
