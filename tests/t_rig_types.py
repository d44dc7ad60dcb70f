#!/usr/bin/python3
"""t_rig_types.py -- checks that the test rig passes every tensor type it
claims to support, in both directions, through both runtimes: LiteRT.js's
high-level API only takes float32/int32/uint8, so the rig drives its
TensorBuffer API directly, and this test shows that this works.

The models are single-op TFLite files built here by a minimal FlatBuffer
writer (below; it knows only the few schema fields it writes):
  RESHAPE to the same shape, for every type T: the bytes must come back
  CAST T -> float32 and float32 -> T   where the runtime's CAST kernel has T
  SUB(zeta, alpha) with a signature listing alpha first, and its subgraph
  listing zeta first: inputs must be bound by name, not by position; and a
  second signature on a second subgraph (LiteRT.js runs it, the
  interpreter, which runs subgraph 0 only, must refuse it).
Expected values come from NumPy's casts on values where TFLite's CAST and
NumPy agree by definition (small integers, 0/1 for bool).

A type a runtime refuses must be refused with a message (never garbage);
the table at the end shows what each runtime supports. Types the rig
documents as supported must work. Exit 77 without the rig's node_modules.
"""

import os
import struct
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import rig  # noqa: E402

# TFLite TensorType values (schema.fbs).
TFL = {"float32": 0, "float16": 1, "int32": 2, "uint8": 3, "int64": 4, "bool": 6,
       "int16": 7, "complex64": 8, "int8": 9, "float64": 10, "uint64": 12, "uint32": 15,
       "uint16": 16}
RESHAPE, SUB, CAST = 22, 41, 53        # BuiltinOperator
RESHAPE_OPTIONS, SUB_OPTIONS = 17, 28  # BuiltinOptions union tags

# What the rig promises to pass (docs/testing.md): interp (tfjs-tflite's
# runner) only exposes these element types; litert passes all of TFL.
PROMISED = {
    "litert": set(TFL),
    "interp": {"float32", "int32", "uint8", "bool", "int16", "int8", "float64", "uint32"},
}
# Types TFLite's CAST kernel converts (both builds), checked against NumPy;
# the 2023 interpreter's CAST has no FLOAT64.
CAST_TYPES = {
    "litert": ["bool", "int8", "uint8", "int16", "int32", "int64", "uint32", "float16", "float64"],
    "interp": ["bool", "int8", "uint8", "int16", "int32", "uint32"],
}


# ---- a minimal FlatBuffer writer -----------------------------------------------
# Objects are written parent first: every uoffset points forward to a child
# written later, and every vtable sits just before its table.
class Table:
    def __init__(self, *fields):
        # (slot, kind, value): kind "b"/"B"/"i"/"I" for a scalar, "off" for
        # a child object (Table, Vec or Str).
        self.fields = sorted(fields, key=lambda f: f[0])


class Vec:
    def __init__(self, kind, items):
        self.kind, self.items = kind, items  # kind: struct char, or "off"


class Str:
    def __init__(self, s):
        self.s = s.encode()


SIZES = {"b": 1, "B": 1, "h": 2, "i": 4, "I": 4, "q": 8, "f": 4}


class Writer:
    def __init__(self):
        self.buf = bytearray(b"\0\0\0\0TFL3")  # root offset, file identifier

    def pad(self, align, extra=0):
        """Pads so that the position after `extra` more bytes is aligned."""
        while (len(self.buf) + extra) % align:
            self.buf.append(0)

    def link(self, at, target):
        struct.pack_into("<I", self.buf, at, target - at)

    def put(self, obj):
        """Writes obj and its children; returns obj's position."""
        if isinstance(obj, Str):
            self.pad(4)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(obj.s)) + obj.s + b"\0"
            return pos
        if isinstance(obj, Vec):
            esize = 4 if obj.kind == "off" else SIZES[obj.kind]
            self.pad(max(4, esize), 4)
            pos = len(self.buf)
            self.buf += struct.pack("<I", len(obj.items))
            if obj.kind != "off":
                self.buf += struct.pack("<%d%s" % (len(obj.items), obj.kind), *obj.items)
                return pos
            slots = [pos + 4 + 4 * k for k in range(len(obj.items))]
            self.buf += b"\0" * (4 * len(obj.items))
            for at, child in zip(slots, obj.items):
                self.link(at, self.put(child))
            return pos
        # Table: every field gets 4 bytes (enough for the kinds used here).
        nslots = obj.fields[-1][0] + 1 if obj.fields else 0
        self.pad(4, 4 + 2 * nslots)
        vt = len(self.buf)
        vtable = [0] * nslots
        for k, (slot, _, _) in enumerate(obj.fields):
            vtable[slot] = 4 + 4 * k
        tsize = 4 + 4 * len(obj.fields)
        self.buf += struct.pack("<HH%dH" % nslots, 4 + 2 * nslots, tsize, *vtable)
        pos = len(self.buf)
        self.buf += struct.pack("<i", pos - vt) + b"\0" * (tsize - 4)
        children = []
        for k, (slot, kind, value) in enumerate(obj.fields):
            if kind == "off":
                children.append((pos + 4 + 4 * k, value))
            else:
                struct.pack_into("<" + kind, self.buf, pos + 4 + 4 * k, value)
        for at, child in children:
            self.link(at, self.put(child))
        return pos


def subgraph(tensors, inputs, outputs, ops):
    """tensors: [(name, dtype, shape)]; ops: [(opcode_index, ins, outs,
    options)] with options None or (union tag, Table)."""
    tens = [Table((0, "off", Vec("i", list(shape))), (1, "b", TFL[t]), (2, "I", 0), (3, "off", Str(name)))
            for name, t, shape in tensors]
    opers = []
    for oi, ins, outs, opt in ops:
        f = [(0, "I", oi), (1, "off", Vec("i", ins)), (2, "off", Vec("i", outs))]
        if opt is not None:
            f += [(3, "B", opt[0]), (4, "off", opt[1])]
        opers.append(Table(*f))
    return Table((0, "off", Vec("off", tens)), (1, "off", Vec("i", inputs)), (2, "off", Vec("i", outputs)),
                 (3, "off", Vec("off", opers)), (4, "off", Str("main")))


def model_bytes(subgraphs, opcodes, signatures=()):
    """signatures: [(key, subgraph index, [(input name, tensor)], [(output name, tensor)])]."""
    codes = [Table((0, "b", min(c, 127)), (2, "i", 1), (3, "i", c)) for c in opcodes]
    fields = [(0, "I", 3), (1, "off", Vec("off", codes)), (2, "off", Vec("off", list(subgraphs))),
              (3, "off", Str("t_rig_types")), (4, "off", Vec("off", [Table()]))]

    def tmap(pairs):
        return Vec("off", [Table((0, "off", Str(n)), (1, "I", i)) for n, i in pairs])
    sigs = [Table((0, "off", tmap(sin)), (1, "off", tmap(sout)), (2, "off", Str(key)), (4, "I", g))
            for key, g, sin, sout in signatures]
    if sigs:
        fields.append((7, "off", Vec("off", sigs)))
    w = Writer()
    w.link(0, w.put(Table(*fields)))
    return bytes(w.buf)


def sub_subgraph():
    """out = zeta - alpha, inputs listed zeta first."""
    return subgraph([("zeta", "float32", (1, 3)), ("alpha", "float32", (1, 3)), ("out", "float32", (1, 3))],
                    [0, 1], [2], [(0, [0, 1], [2], (SUB_OPTIONS, Table((0, "b", 0))))])


def cast_model(src, dst, shape=(2, 3)):
    return model_bytes([subgraph([("x", src, shape), ("y", dst, shape)], [0], [1], [(0, [0], [1], None)])], [CAST])


def reshape_model(t, shape=(2, 3)):
    """y = reshape(x) to the same shape: TFLite's RESHAPE copies the bytes
    whatever the type, so y must equal x bit for bit."""
    opts = (RESHAPE_OPTIONS, Table((0, "off", Vec("i", list(shape)))))
    return model_bytes([subgraph([("x", t, shape), ("y", t, shape)], [0], [1], [(0, [0], [1], opts)])], [RESHAPE])


def random_values(t, shape, rng):
    """Arbitrary bit patterns of type t (NaN, inf, subnormals included)."""
    n = int(np.prod(shape)) * np.dtype(t).itemsize
    raw = rng.integers(0, 256, n, dtype=np.uint8)
    if t == "bool":
        raw = raw & 1
    return raw.view(t).reshape(shape)


def test_values(dtype, shape):
    """Small non-negative integers: values every CAST converts exactly."""
    v = np.array([0, 1, 2, 3, 5, 7, 0, 1, 100, 1, 0, 6][:int(np.prod(shape))], np.float64).reshape(shape)
    if dtype == "bool":
        return (v % 2).astype(np.bool_)
    return v.astype(dtype)


def main():
    if not rig.have_rig():
        print("skip: " + rig.why_no_rig())
        return 77
    fails, table = [], {}
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory(prefix="t_rig_types-") as d:
        for rt in ("litert", "interp"):
            for t in TFL:
                # Pass-through: every byte of an input of type t must come back.
                path = os.path.join(d, "reshape_%s.tflite" % t)
                with open(path, "wb") as f:
                    f.write(reshape_model(t))
                x = random_values(t, (2, 3), rng)
                try:
                    y = rig.run_model(path, {"x": x}, runtime=rt)["y"]
                    same = y.dtype == x.dtype and y.shape == x.shape and y.tobytes() == x.tobytes()
                    table[(rt, t)] = "ok" if same else "WRONG"
                    if not same:
                        fails.append("%s: RESHAPE %s changed the data: %r -> %r" % (rt, t, x, y))
                except rig.RigError as e:
                    table[(rt, t)] = "refused"
                    if t in PROMISED[rt]:
                        fails.append("%s: RESHAPE %s failed: %s" % (rt, t, " | ".join(str(e).strip().splitlines()[-3:])))
                # Conversions: the values must be NumPy's.
                got = []
                for direction in ("in", "out"):
                    if t not in CAST_TYPES[rt]:
                        continue
                    src, dst = (t, "float32") if direction == "in" else ("float32", t)
                    path = os.path.join(d, "cast_%s_%s.tflite" % (src, dst))
                    with open(path, "wb") as f:
                        f.write(cast_model(src, dst))
                    x = test_values(src, (2, 3))
                    want = x.astype(dst)
                    try:
                        y = rig.run_model(path, {"x": x}, runtime=rt)["y"]
                    except rig.RigError as e:
                        got.append("refused")
                        fails.append("%s: CAST %s->%s failed: %s" % (rt, src, dst, " | ".join(str(e).strip().splitlines()[-3:])))
                        continue
                    if y.dtype == want.dtype and y.shape == want.shape and np.array_equal(y, want):
                        got.append("ok")
                    else:
                        got.append("WRONG")
                        fails.append("%s: CAST %s->%s gave %r, expected %r" % (rt, src, dst, y, want))
                table[(rt, "cast", t)] = "/".join(got) or "-"
            # Binding by name: signature order (alpha, zeta) differs from the
            # subgraph's input order (zeta, alpha); SUB is not commutative.
            # A second signature runs a RESHAPE in subgraph 1.
            path = os.path.join(d, "sub.tflite")
            reshape = subgraph([("x", "int16", (2, 2)), ("y", "int16", (2, 2))], [0], [1],
                               [(1, [0], [1], (RESHAPE_OPTIONS, Table((0, "off", Vec("i", [2, 2])))))])
            with open(path, "wb") as f:
                f.write(model_bytes([sub_subgraph(), reshape], [SUB, RESHAPE],
                                    [("serving_default", 0, [("alpha", 1), ("zeta", 0)], [("diff", 2)]),
                                     ("copy", 1, [("x_in", 0)], [("y_out", 1)])]))
            zeta = np.array([[10, 20, 30]], np.float32)
            alpha = np.array([[1, 2, 3]], np.float32)
            try:
                y = rig.run_model(path, {"alpha": alpha, "zeta": zeta}, runtime=rt)
                ok = list(y) == ["diff"] and np.array_equal(y["diff"], zeta - alpha)
                y0 = rig.run_model(path, {"0": alpha, "1": zeta}, runtime=rt)
                ok = ok and list(y0) == ["0"] and np.array_equal(y0["0"], zeta - alpha)
                if not ok:
                    fails.append("%s: signature inputs bound wrongly: %r %r (expected zeta - alpha)" % (rt, y, y0))
            except rig.RigError as e:
                ok = False
                fails.append("%s: SUB model failed: %s" % (rt, str(e).splitlines()[-1]))
            table[(rt, "by-name")] = "ok" if ok else "WRONG"
            x = np.array([[1, -2], [300, -4000]], np.int16)
            try:
                y = rig.run_model(path, {"x_in": x}, runtime=rt, signature="copy")
                ok = list(y) == ["y_out"] and y["y_out"].tobytes() == x.tobytes()
                table[(rt, "sig 2")] = "ok" if ok else "WRONG"
                if not ok or rt == "interp":
                    fails.append("%s: signature 'copy' on subgraph 1 gave %r" % (rt, y))
            except rig.RigError as e:
                table[(rt, "sig 2")] = "refused"
                if rt == "litert" or "subgraph 0 only" not in str(e):
                    fails.append("%s: signature 'copy' on subgraph 1: %s" % (rt, str(e).splitlines()[-1]))
    print("%-10s %-8s %-8s   %-8s %-8s" % ("type", "litert", "interp", "litert", "interp"))
    print("%-10s %-17s   %s" % ("", "RESHAPE (bytes)", "CAST T->f32 / f32->T"))
    for t in TFL:
        print("%-10s %-8s %-8s   %-8s %-8s" % (t, table[("litert", t)], table[("interp", t)],
                                               table[("litert", "cast", t)], table[("interp", "cast", t)]))
    print("%-10s %-8s %-8s" % ("by-name", table[("litert", "by-name")], table[("interp", "by-name")]))
    print("%-10s %-8s %-8s   (signature on subgraph 1)" % ("sig 2", table[("litert", "sig 2")], table[("interp", "sig 2")]))
    print()
    for f in fails:
        print("FAIL " + f)
    print("%d failed" % len(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
