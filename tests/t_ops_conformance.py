#!/usr/bin/python3
"""Per-op conformance of tflc's TF legalization.

For each case in CASES below (one TF op, or a few, with one variant of its
attributes) this test
  1. builds the graph in Python (tests/lib/graphdef.py) with every attribute
     TF would default spelled out;
  2. runs it in TensorFlow.js (tests/tfjs/ops_run.mjs, TF.js's own
     implementation of TF's ops) on seeded random inputs: the EXPECTED
     outputs;
  3. writes it as a binary GraphDef, converts it with
     `tflc convert --graph_def_file`, and runs the .tflite in Google's TFLite
     runtime (tests/rig, LiteRT.js): the ACTUAL outputs;
  4. compares with the case's tolerance: |actual - expected| <= atol +
     rtol * |expected| elementwise (integers and booleans exactly).
It prints one line per case and a summary per TF op. A case TF.js cannot
run is reported as "no-oracle" (not a pass); every other mismatch or
conversion failure fails the test.

Environment: TFLC (the CLI), TFLC_SOURCE_DIR. Skips (77) when node, the
rig or TF.js are not installed. TFLC_OPS_FILTER=regex runs only matching
case ids; TFLC_OPS_KEEP=dir keeps the generated files there.
"""

import base64
import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

SRC = os.environ.get("TFLC_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "tests"))
from lib import rig  # noqa: E402
from lib.graphdef import A, Graph, tfjs_json  # noqa: E402

TFLC = os.environ.get("TFLC") or os.path.join(SRC, "build", "tflc")
TFJS_DIR = os.path.join(SRC, "tests", "tfjs")
F32 = np.float32

# ---- Input generators -------------------------------------------------------


def normal(shape, rs):
    return rs.standard_normal(shape).astype(F32)


def uniform(lo, hi):
    return lambda shape, rs: rs.uniform(lo, hi, shape).astype(F32)


def ints(lo, hi, dtype=np.int32):
    return lambda shape, rs: rs.randint(lo, hi + 1, shape).astype(dtype)


def bools(shape, rs):
    return rs.randint(0, 2, shape).astype(bool)


def halves(shape, rs):
    """Values on a grid of halves, so rounding ties occur."""
    return (rs.randint(-8, 9, shape) / 2.0).astype(F32)


# ---- Case table ---------------------------------------------------------------

CASES = []


class Case:
    """ref: for ops TF.js does not implement, a NumPy transcription of TF's
    documented semantics (inputs dict -> list of outputs), used only when
    TF.js cannot run the case; such results are marked "pass-np"."""

    def __init__(self, cid, op, build, inputs, rtol=1e-5, atol=1e-6, note="", ref=None, runtime="litert",
                 np_only=False):
        self.id, self.op, self.build, self.inputs = cid, op, build, inputs
        self.rtol, self.atol, self.note, self.ref, self.runtime = rtol, atol, note, ref, runtime
        self.np_only = np_only  # TF.js runs the op but not as TF does: use ref


# Models whose shapes depend on values computed at run time (SHAPE feeding
# RESHAPE, WHERE) run in the classic tflite::Interpreter: LiteRT.js sizes
# its output buffers from the file and returns them unwritten.
DYNAMIC = "interp"


def case(cid, op, inputs, rtol=1e-5, atol=1e-6, note="", ref=None, runtime="litert", np_only=False):
    """Decorator: the function builds the graph (g, placeholder names) and
    returns the output tensor names. inputs: name -> (dtype, shape, gen)."""
    def deco(fn):
        CASES.append(Case(cid, op, fn, inputs, rtol, atol, note, ref, runtime, np_only))
        return fn
    return deco


def ph(g, name, spec):
    dtype, shape, _ = spec
    return g.placeholder(name, dtype, shape)


def op1(g, name, op, x, T=F32, **attrs):
    return g.add(name, op, [x], T=A.type(T), **attrs)


def op2(g, name, op, a, b, T=F32, **attrs):
    return g.add(name, op, [a, b], T=A.type(T), **attrs)


X4 = (F32, [2, 3, 4, 5], normal)
X2 = (F32, [3, 7], normal)

# -- unary element-wise --
UNARY = [
    ("Abs", X2, {}), ("Ceil", (F32, [3, 7], uniform(-3, 3)), {}), ("Cos", X2, {}),
    ("Elu", X2, {}), ("Exp", X2, {}), ("Floor", (F32, [3, 7], uniform(-3, 3)), {}),
    ("Log", (F32, [3, 7], uniform(0.1, 5)), {}), ("Neg", X2, {}),
    ("Relu", X4, {}), ("Relu6", (F32, [2, 3, 4, 5], uniform(-10, 10)), {}),
    ("Round", (F32, [4, 9], halves), {}), ("Rsqrt", (F32, [3, 7], uniform(0.1, 5)), {}),
    ("Sigmoid", X2, {}), ("Sign", (F32, [4, 9], halves), {}), ("Sin", X2, {}),
    ("Sqrt", (F32, [3, 7], uniform(0, 5)), {}), ("Square", X2, {}), ("Tanh", X2, {}),
    ("ZerosLike", X2, {}), ("OnesLike", X2, {}), ("Softsign", X2, {}), ("Selu", X2, {}),
    ("Softmax", X2, {}), ("LogSoftmax", X2, {}),
]
for _op, _spec, _attrs in UNARY:
    def _mk(op=_op, spec=_spec, attrs=_attrs):
        def build(g):
            return [op1(g, "y", op, ph(g, "x", spec), **attrs)]
        return build
    CASES.append(Case(_op, _op, _mk(), {"x": _spec}, 1e-5, 1e-6))


for _c in CASES:
    if _c.id == "Softsign":
        _c.ref = lambda v: [v["x"] / (1 + np.abs(v["x"]))]


@case("Softmax_rank4", "Softmax", {"x": X4})
def _(g):
    return [op1(g, "y", "Softmax", ph(g, "x", X4))]


@case("LeakyRelu", "LeakyRelu", {"x": X4})
def _(g):
    return [op1(g, "y", "LeakyRelu", ph(g, "x", X4), alpha=A.f(0.3))]


@case("LogicalNot", "LogicalNot", {"x": (bool, [3, 4], bools)})
def _(g):
    return [g.add("y", "LogicalNot", [ph(g, "x", (bool, [3, 4], bools))])]


@case("Cast_f2i", "Cast", {"x": (F32, [3, 7], uniform(-9, 9))})
def _(g):
    x = ph(g, "x", (F32, [3, 7], None))
    return [g.add("y", "Cast", [x], SrcT=A.type(F32), DstT=A.type(np.int32), Truncate=A.b(False))]


@case("Cast_i2f", "Cast", {"x": (np.int32, [3, 7], ints(-100, 100))})
def _(g):
    x = ph(g, "x", (np.int32, [3, 7], None))
    return [g.add("y", "Cast", [x], SrcT=A.type(np.int32), DstT=A.type(F32), Truncate=A.b(False))]


@case("Identity_chain", "Identity", {"x": X2})
def _(g):
    x = ph(g, "x", X2)
    a = op1(g, "a", "Identity", x)
    b = op1(g, "b", "StopGradient", a)
    return [op1(g, "y", "Relu", b)]


# -- binary element-wise --
def binary(cid, op, sa, sb, T=F32, const_b=False, rtol=1e-5, atol=1e-6):
    ins = {"x": sa} if const_b else {"x": sa, "z": sb}

    def build(g):
        x = ph(g, "x", sa)
        if const_b:
            dt, shape, gen = sb
            z = g.const("z", gen(shape, np.random.RandomState(7)).astype(dt))
        else:
            z = ph(g, "z", sb)
        return [op2(g, "y", op, x, z, T=T)]
    CASES.append(Case(cid, op, build, ins, rtol, atol))


binary("Add", "Add", X4, X4)
binary("AddV2_bcast", "AddV2", (F32, [2, 3, 4], normal), (F32, [4], normal))
binary("AddV2_const", "AddV2", X4, (F32, [5], normal), const_b=True)
binary("Sub_bcast", "Sub", (F32, [2, 1, 4], normal), (F32, [3, 1], normal))
binary("Mul_scalar", "Mul", X4, (F32, [], normal), const_b=True)
binary("Mul_int", "Mul", (np.int32, [3, 4], ints(-50, 50)), (np.int32, [3, 4], ints(-50, 50)), T=np.int32)
binary("RealDiv", "RealDiv", X2, (F32, [3, 7], uniform(0.5, 3)))
binary("Div_float", "Div", X2, (F32, [7], uniform(-3, -0.5)))
binary("Div_int_pos", "Div", (np.int32, [3, 7], ints(0, 100)), (np.int32, [3, 7], ints(1, 9)), T=np.int32)
binary("FloorDiv_float", "FloorDiv", X2, (F32, [3, 7], uniform(0.5, 3)))
binary("FloorDiv_int", "FloorDiv", (np.int32, [3, 7], ints(-100, 100)), (np.int32, [3, 7], ints(1, 9)), T=np.int32)
binary("FloorMod_int", "FloorMod", (np.int32, [3, 7], ints(-100, 100)), (np.int32, [3, 7], ints(1, 9)), T=np.int32)
binary("FloorMod_float", "FloorMod", (F32, [3, 7], uniform(-9, 9)), (F32, [3, 7], uniform(0.5, 3)), rtol=1e-5, atol=1e-5)
binary("Maximum", "Maximum", X4, (F32, [4, 1], normal))
binary("Minimum", "Minimum", X4, (F32, [5], normal))
binary("Pow", "Pow", (F32, [3, 7], uniform(0.1, 3)), (F32, [3, 7], uniform(-2, 2)), rtol=1e-5, atol=1e-5)
binary("SquaredDifference", "SquaredDifference", X4, (F32, [3, 1, 1], normal))
binary("Atan2", "Atan2", X2, X2, rtol=1e-5, atol=1e-5)
for _cmp in ("Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"):
    binary(_cmp, _cmp, (np.int32, [3, 7], ints(0, 3)), (np.int32, [7], ints(0, 3)), T=np.int32)
binary("Greater_float", "Greater", X2, X2)
for _lg in ("LogicalAnd", "LogicalOr"):
    def _mkl(op=_lg):
        def build(g):
            return [g.add("y", op, [ph(g, "x", (bool, [3, 4], None)), ph(g, "z", (bool, [4], None))])]
        return build
    CASES.append(Case(_lg, _lg, _mkl(), {"x": (bool, [3, 4], bools), "z": (bool, [4], bools)}))


@case("BiasAdd", "BiasAdd", {"x": X4})
def _(g):
    b = g.const("b", np.arange(5, dtype=F32) - 2)
    return [op2(g, "y", "BiasAdd", ph(g, "x", X4), b, data_format=A.s("NHWC"))]


@case("AddN", "AddN", {"x": X2, "z": X2})
def _(g):
    x, z = ph(g, "x", X2), ph(g, "z", X2)
    c = g.const("c", np.ones([3, 7], F32))
    return [g.add("y", "AddN", [x, z, c], T=A.type(F32), N=A.i(3))]


@case("Select", "Select", {"c": (bool, [3, 7], bools), "x": X2, "z": X2})
def _(g):
    c = ph(g, "c", (bool, [3, 7], None))
    return [g.add("y", "Select", [c, ph(g, "x", X2), ph(g, "z", X2)], T=A.type(F32))]


@case("Select_rank1cond", "Select", {"c": (bool, [3], bools), "x": X2, "z": X2},
      ref=lambda v: [np.where(v["c"][:, None], v["x"], v["z"])])
def _(g):
    c = ph(g, "c", (bool, [3], None))
    return [g.add("y", "Select", [c, ph(g, "x", X2), ph(g, "z", X2)], T=A.type(F32))]


@case("SelectV2_bcast", "SelectV2", {"c": (bool, [7], bools), "x": X2, "z": (F32, [3, 1], normal)})
def _(g):
    c = ph(g, "c", (bool, [7], None))
    return [g.add("y", "SelectV2", [c, ph(g, "x", X2), ph(g, "z", (F32, [3, 1], None))], T=A.type(F32))]


# -- matrix products --
def matmul(cid, ta, tb, const_b=True, M=4, K=6, N=5):
    sa = (F32, [K, M] if ta else [M, K], normal)
    sb = (F32, [N, K] if tb else [K, N], normal)
    ins = {"x": sa} if const_b else {"x": sa, "w": sb}

    def build(g):
        x = ph(g, "x", sa)
        w = g.const("w", normal(sb[1], np.random.RandomState(3))) if const_b else ph(g, "w", sb)
        return [g.add("y", "MatMul", [x, w], T=A.type(F32), transpose_a=A.b(ta), transpose_b=A.b(tb))]
    CASES.append(Case(cid, "MatMul", build, ins, 1e-4, 1e-5))


matmul("MatMul", False, False)
matmul("MatMul_tb", False, True)
matmul("MatMul_ta", True, False)
matmul("MatMul_nonconst", False, False, const_b=False)
matmul("MatMul_nonconst_ta_tb", True, True, const_b=False)


@case("Dense_relu_chain", "MatMul", {"x": (F32, [2, 6], normal)}, 1e-4, 1e-5,
      note="MatMul+BiasAdd+Relu: fused into one FULLY_CONNECTED")
def _(g):
    x = ph(g, "x", (F32, [2, 6], None))
    w = g.const("w", normal([6, 3], np.random.RandomState(4)))
    b = g.const("b", normal([3], np.random.RandomState(5)))
    m = g.add("mm", "MatMul", [x, w], T=A.type(F32), transpose_a=A.b(False), transpose_b=A.b(False))
    ba = op2(g, "ba", "BiasAdd", m, b, data_format=A.s("NHWC"))
    return [op1(g, "y", "Relu", ba)]


for _cid, _sa, _sb, _ax, _ay in [
    ("BatchMatMulV2", [2, 3, 4], [2, 4, 5], False, False),
    ("BatchMatMulV2_bcast", [2, 1, 3, 4], [3, 4, 5], False, False),
    ("BatchMatMulV2_adj", [2, 4, 3], [2, 5, 4], True, True),
]:
    def _mkb(sa=_sa, sb=_sb, ax=_ax, ay=_ay):
        def build(g):
            x, z = ph(g, "x", (F32, sa, None)), ph(g, "z", (F32, sb, None))
            return [g.add("y", "BatchMatMulV2", [x, z], T=A.type(F32), adj_x=A.b(ax), adj_y=A.b(ay))]
        return build
    CASES.append(Case(_cid, "BatchMatMulV2", _mkb(), {"x": (F32, _sa, normal), "z": (F32, _sb, normal)}, 1e-4, 1e-5,
                      ref=None if _ax or _ay else (lambda v: [np.matmul(v["x"], v["z"])])))


# -- convolutions and pooling --
def conv_attrs(strides, padding, dil=(1, 1, 1, 1), explicit=()):
    return dict(T=A.type(F32), strides=A.ints(strides), padding=A.s(padding), dilations=A.ints(dil),
                data_format=A.s("NHWC"), use_cudnn_on_gpu=A.b(True), explicit_paddings=A.ints(explicit))


def conv(cid, xs, fs, strides, padding, dil=(1, 1, 1, 1), explicit=(), const_f=True):
    sx = (F32, xs, normal)
    ins = {"x": sx} if const_f else {"x": sx, "f": (F32, fs, normal)}

    def build(g):
        x = ph(g, "x", sx)
        f = g.const("f", normal(fs, np.random.RandomState(11))) if const_f else ph(g, "f", (F32, fs, None))
        return [g.add("y", "Conv2D", [x, f], **conv_attrs(strides, padding, dil, explicit))]
    CASES.append(Case(cid, "Conv2D", build, ins, 1e-4, 1e-5))


conv("Conv2D_same_s1", [1, 6, 6, 3], [3, 3, 3, 4], [1, 1, 1, 1], "SAME")
conv("Conv2D_valid_s2", [2, 7, 8, 3], [3, 2, 3, 5], [1, 2, 2, 1], "VALID")
conv("Conv2D_same_s2_odd", [1, 7, 7, 2], [3, 3, 2, 4], [1, 2, 2, 1], "SAME")
conv("Conv2D_dilated", [1, 9, 9, 2], [3, 3, 2, 3], [1, 1, 1, 1], "SAME", dil=(1, 2, 2, 1))
conv("Conv2D_explicit", [1, 6, 6, 2], [3, 3, 2, 3], [1, 1, 1, 1], "EXPLICIT",
     explicit=(0, 0, 1, 2, 2, 0, 0, 0))
conv("Conv2D_nonconst_filter", [1, 5, 5, 2], [3, 3, 2, 3], [1, 1, 1, 1], "VALID", const_f=False)


def dwconv(cid, xs, fs, strides, padding, dil=(1, 1, 1, 1)):
    sx = (F32, xs, normal)

    def build(g):
        x = ph(g, "x", sx)
        f = g.const("f", normal(fs, np.random.RandomState(12)))
        a = conv_attrs(strides, padding, dil)
        del a["use_cudnn_on_gpu"]
        return [g.add("y", "DepthwiseConv2dNative", [x, f], **a)]
    CASES.append(Case(cid, "DepthwiseConv2dNative", build, {"x": sx}, 1e-4, 1e-5))


dwconv("Depthwise_same", [1, 6, 6, 3], [3, 3, 3, 1], [1, 1, 1, 1], "SAME")
dwconv("Depthwise_m2_s2", [2, 7, 7, 3], [3, 3, 3, 2], [1, 2, 2, 1], "VALID")
dwconv("Depthwise_dilated", [1, 9, 9, 2], [3, 3, 2, 1], [1, 1, 1, 1], "SAME", dil=(1, 2, 2, 1))


def deconv(cid, xs, fs, out, strides, padding):
    sx = (F32, xs, normal)

    def build(g):
        x = ph(g, "x", sx)
        f = g.const("f", normal(fs, np.random.RandomState(13)))
        s = g.const("s", np.array(out, np.int32))
        a = conv_attrs(strides, padding)
        return [g.add("y", "Conv2DBackpropInput", [s, f, x], **a)]
    CASES.append(Case(cid, "Conv2DBackpropInput", build, {"x": sx}, 1e-4, 1e-5))


deconv("Conv2DBackpropInput_same_s2", [1, 3, 3, 4], [3, 3, 2, 4], [1, 6, 6, 2], [1, 2, 2, 1], "SAME")
deconv("Conv2DBackpropInput_valid", [1, 4, 4, 3], [2, 2, 5, 3], [1, 5, 5, 5], [1, 1, 1, 1], "VALID")


@case("Conv3D", "Conv3D", {"x": (F32, [1, 4, 5, 5, 2], normal)}, 1e-4, 1e-5)
def _(g):
    x = ph(g, "x", (F32, [1, 4, 5, 5, 2], None))
    f = g.const("f", normal([2, 3, 3, 2, 3], np.random.RandomState(14)))
    return [g.add("y", "Conv3D", [x, f], T=A.type(F32), strides=A.ints([1, 1, 2, 1, 1]), padding=A.s("SAME"),
                  dilations=A.ints([1, 1, 1, 1, 1]), data_format=A.s("NDHWC"))]


def pool(cid, op, xs, k, s, padding):
    sx = (F32, xs, normal)

    def build(g):
        return [g.add("y", op, [ph(g, "x", sx)], T=A.type(F32), ksize=A.ints(k), strides=A.ints(s),
                      padding=A.s(padding), data_format=A.s("NHWC"), explicit_paddings=A.ints([]))]
    CASES.append(Case(cid, op, build, {"x": sx}, 1e-5, 1e-6))


pool("MaxPool_valid", "MaxPool", [2, 6, 6, 3], [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
pool("MaxPool_same_3s2", "MaxPool", [1, 7, 7, 2], [1, 3, 3, 1], [1, 2, 2, 1], "SAME")
pool("AvgPool_valid", "AvgPool", [1, 6, 6, 3], [1, 3, 2, 1], [1, 1, 2, 1], "VALID")
pool("AvgPool_same", "AvgPool", [1, 5, 5, 2], [1, 3, 3, 1], [1, 2, 2, 1], "SAME")


@case("FusedBatchNormV3", "FusedBatchNormV3", {"x": X4}, 1e-5, 1e-5)
def _(g):
    x = ph(g, "x", X4)
    rs = np.random.RandomState(15)
    ins = [x] + [g.const(n, v) for n, v in [("scale", rs.uniform(0.5, 2, 5)), ("offset", rs.randn(5)),
                                           ("mean", rs.randn(5)), ("var", rs.uniform(0.5, 2, 5))]]
    return [g.add("y", "FusedBatchNormV3", ins, T=A.type(F32), U=A.type(F32), epsilon=A.f(0.001),
                  exponential_avg_factor=A.f(1.0), data_format=A.s("NHWC"), is_training=A.b(False))]


@case("FusedBatchNorm_after_conv", "FusedBatchNorm", {"x": (F32, [1, 5, 5, 2], normal)}, 1e-4, 1e-5)
def _(g):
    x = ph(g, "x", (F32, [1, 5, 5, 2], None))
    f = g.const("f", normal([3, 3, 2, 4], np.random.RandomState(16)))
    c = g.add("c", "Conv2D", [x, f], **conv_attrs([1, 1, 1, 1], "SAME"))
    rs = np.random.RandomState(17)
    ins = [c] + [g.const(n, v) for n, v in [("scale", rs.uniform(0.5, 2, 4)), ("offset", rs.randn(4)),
                                           ("mean", rs.randn(4)), ("var", rs.uniform(0.5, 2, 4))]]
    bn = g.add("bn", "FusedBatchNorm", ins, T=A.type(F32), epsilon=A.f(0.001), data_format=A.s("NHWC"),
               is_training=A.b(False))
    return [op1(g, "y", "Relu6", bn)]


@case("LRN", "LRN", {"x": (F32, [1, 3, 3, 8], normal)}, 1e-5, 1e-5)
def _(g):
    return [op1(g, "y", "LRN", ph(g, "x", (F32, [1, 3, 3, 8], None)), depth_radius=A.i(2), bias=A.f(1.5),
                alpha=A.f(0.3), beta=A.f(0.75))]


# -- shapes --
def i32(g, name, v):
    return g.const(name, np.array(v, np.int32))


@case("Reshape", "Reshape", {"x": X4})
def _(g):
    return [g.add("y", "Reshape", [ph(g, "x", X4), i32(g, "s", [6, -1])], T=A.type(F32), Tshape=A.type(np.int32))]


@case("Reshape_int64_shape", "Reshape", {"x": X4})
def _(g):
    s = g.const("s", np.array([-1, 20], np.int64))
    return [g.add("y", "Reshape", [ph(g, "x", X4), s], T=A.type(F32), Tshape=A.type(np.int64))]


def flatten_graph(g, x):
    sh = g.add("sh", "Shape", [x], T=A.type(F32), out_type=A.type(np.int32))
    ss = g.add("ss", "StridedSlice", [sh, i32(g, "b", [0]), i32(g, "e", [1]), i32(g, "st", [1])],
               T=A.type(np.int32), Index=A.type(np.int32), begin_mask=A.i(0), end_mask=A.i(0),
               ellipsis_mask=A.i(0), new_axis_mask=A.i(0), shrink_axis_mask=A.i(1))
    pk = g.add("pk", "Pack", [ss, i32(g, "m1", -1)], T=A.type(np.int32), N=A.i(2), axis=A.i(0))
    return g.add("y", "Reshape", [x, pk], T=A.type(F32), Tshape=A.type(np.int32))


@case("Flatten_shape_arith", "Shape", {"x": X4}, note="Shape/StridedSlice/Pack fold to a constant")
def _(g):
    return [flatten_graph(g, ph(g, "x", X4))]


@case("Flatten_dynamic_batch", "Shape", {"x": (F32, [3, 4, 5], normal)},
      note="input [-1,4,5]: SHAPE, STRIDED_SLICE, PACK stay", runtime=DYNAMIC)
def _(g):
    return [flatten_graph(g, g.placeholder("x", F32, [-1, 4, 5]))]


@case("Squeeze_dims", "Squeeze", {"x": (F32, [1, 3, 1, 4], normal)})
def _(g):
    return [op1(g, "y", "Squeeze", ph(g, "x", (F32, [1, 3, 1, 4], None)), squeeze_dims=A.ints([2]))]


@case("Squeeze_all", "Squeeze", {"x": (F32, [1, 3, 1, 4], normal)})
def _(g):
    return [op1(g, "y", "Squeeze", ph(g, "x", (F32, [1, 3, 1, 4], None)), squeeze_dims=A.ints([]))]


@case("ExpandDims_neg", "ExpandDims", {"x": X2})
def _(g):
    return [g.add("y", "ExpandDims", [ph(g, "x", X2), i32(g, "a", -1)], T=A.type(F32), Tdim=A.type(np.int32))]


@case("ConcatV2", "ConcatV2", {"x": (F32, [2, 3, 1], normal), "z": (F32, [2, 3, 4], normal)})
def _(g):
    x, z = ph(g, "x", (F32, [2, 3, 1], None)), ph(g, "z", (F32, [2, 3, 4], None))
    c = g.const("c", np.ones([2, 3, 2], F32))
    return [g.add("y", "ConcatV2", [x, z, c, i32(g, "ax", -1)], T=A.type(F32), N=A.i(3), Tidx=A.type(np.int32))]


@case("ConcatV2_axis0", "ConcatV2", {"x": X2, "z": (F32, [2, 7], normal)})
def _(g):
    return [g.add("y", "ConcatV2", [ph(g, "x", X2), ph(g, "z", (F32, [2, 7], None)), i32(g, "ax", 0)],
                  T=A.type(F32), N=A.i(2), Tidx=A.type(np.int32))]


@case("Pack_axis1", "Pack", {"x": X2, "z": X2})
def _(g):
    return [g.add("y", "Pack", [ph(g, "x", X2), ph(g, "z", X2)], T=A.type(F32), N=A.i(2), axis=A.i(1))]


@case("Unpack_axis1", "Unpack", {"x": (F32, [2, 3, 4], normal)})
def _(g):
    g.add("y", "Unpack", [ph(g, "x", (F32, [2, 3, 4], None))], T=A.type(F32), num=A.i(3), axis=A.i(1))
    return ["y", "y:1", "y:2"]


@case("Shape_dynamic", "Shape", {"x": (F32, [3, 5], normal)}, runtime=DYNAMIC)
def _(g):
    x = g.placeholder("x", F32, [-1, 5])
    s = g.add("s", "Shape", [x], T=A.type(F32), out_type=A.type(np.int32))
    return [g.add("y", "Mul", [s, i32(g, "two", 2)], T=A.type(np.int32))]


@case("Size_Rank", "Size", {"x": (F32, [3, 5], normal)}, runtime=DYNAMIC)
def _(g):
    x = g.placeholder("x", F32, [-1, 5])
    s = g.add("s", "Size", [x], T=A.type(F32), out_type=A.type(np.int32))
    r = g.add("r", "Rank", [x], T=A.type(F32))
    return [g.add("y", "Add", [s, r], T=A.type(np.int32))]


def sslice(cid, shape, b, e, s, **masks):
    sx = (F32, shape, normal)

    def build(g):
        m = {k: A.i(masks.get(k, 0)) for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
                                              "shrink_axis_mask")}
        return [g.add("y", "StridedSlice", [ph(g, "x", sx), i32(g, "b", b), i32(g, "e", e), i32(g, "s", s)],
                      T=A.type(F32), Index=A.type(np.int32), **m)]
    CASES.append(Case(cid, "StridedSlice", build, {"x": sx}))


sslice("StridedSlice_basic", [4, 6, 5], [1, 0, 1], [3, 6, 5], [1, 2, 2])
sslice("StridedSlice_masks", [4, 6, 5], [1, 0, 3], [0, 4, 0], [1, 1, 1], begin_mask=2, end_mask=5)
sslice("StridedSlice_shrink", [4, 6, 5], [2, 0, 0], [3, 6, 5], [1, 1, 1], shrink_axis_mask=1)
sslice("StridedSlice_negstride", [4, 6, 5], [-1, 0, 4], [0, 6, 0], [-1, 2, -2], begin_mask=0, end_mask=1)
sslice("StridedSlice_ellipsis_newaxis", [4, 6, 5], [0, 1, 0], [0, 3, 0], [1, 1, 1], ellipsis_mask=1,
       new_axis_mask=4)


@case("Slice", "Slice", {"x": X4})
def _(g):
    return [g.add("y", "Slice", [ph(g, "x", X4), i32(g, "b", [0, 1, 1, 2]), i32(g, "s", [-1, 2, 3, -1])],
                  T=A.type(F32), Index=A.type(np.int32))]


@case("Transpose", "Transpose", {"x": X4})
def _(g):
    return [g.add("y", "Transpose", [ph(g, "x", X4), i32(g, "p", [0, 3, 1, 2])], T=A.type(F32),
                  Tperm=A.type(np.int32))]


@case("Pad", "Pad", {"x": X4})
def _(g):
    return [g.add("y", "Pad", [ph(g, "x", X4), i32(g, "p", [[0, 0], [1, 2], [0, 1], [0, 0]])], T=A.type(F32),
                  Tpaddings=A.type(np.int32))]


@case("PadV2", "PadV2", {"x": X2})
def _(g):
    return [g.add("y", "PadV2", [ph(g, "x", X2), i32(g, "p", [[1, 0], [2, 2]]), g.const("v", np.float32(-3))],
                  T=A.type(F32), Tpaddings=A.type(np.int32))]


for _mode in ("REFLECT", "SYMMETRIC"):
    def _mkm(mode=_mode):
        def build(g):
            return [g.add("y", "MirrorPad", [ph(g, "x", X4), i32(g, "p", [[0, 0], [1, 2], [2, 1], [0, 0]])],
                          T=A.type(F32), Tpaddings=A.type(np.int32), mode=A.s(mode))]
        return build
    CASES.append(Case("MirrorPad_" + _mode.lower(), "MirrorPad", _mkm(), {"x": X4}))


@case("Tile", "Tile", {"x": (F32, [2, 3], normal)})
def _(g):
    return [g.add("y", "Tile", [ph(g, "x", (F32, [2, 3], None)), i32(g, "m", [2, 3])], T=A.type(F32),
                  Tmultiples=A.type(np.int32))]


@case("GatherV2_axis1", "GatherV2", {"x": X4, "i": (np.int32, [2, 2], ints(0, 2))})
def _(g):
    return [g.add("y", "GatherV2", [ph(g, "x", X4), ph(g, "i", (np.int32, [2, 2], None)), i32(g, "ax", 1)],
                  Tparams=A.type(F32), Tindices=A.type(np.int32), Taxis=A.type(np.int32), batch_dims=A.i(0))]


@case("Gather", "Gather", {"x": X2, "i": (np.int32, [4], ints(0, 2))})
def _(g):
    return [g.add("y", "Gather", [ph(g, "x", X2), ph(g, "i", (np.int32, [4], None))], Tparams=A.type(F32),
                  Tindices=A.type(np.int32), validate_indices=A.b(True))]


@case("GatherNd", "GatherNd", {"x": X4})
def _(g):
    idx = i32(g, "i", [[0, 2], [1, 0], [1, 1]])
    return [g.add("y", "GatherNd", [ph(g, "x", X4), idx], Tparams=A.type(F32), Tindices=A.type(np.int32))]


@case("ScatterNd", "ScatterNd", {"u": (F32, [3, 4], normal)})
def _(g):
    return [g.add("y", "ScatterNd", [i32(g, "i", [[4], [0], [2]]), ph(g, "u", (F32, [3, 4], None)),
                                     i32(g, "s", [6, 4])], T=A.type(F32), Tindices=A.type(np.int32))]


@case("Fill", "Fill", {"v": (F32, [], normal)})
def _(g):
    return [g.add("y", "Fill", [i32(g, "d", [2, 3]), ph(g, "v", (F32, [], None))], T=A.type(F32),
                  index_type=A.type(np.int32))]


@case("Range_float", "Range", {"x": (F32, [], uniform(4, 9))})
def _(g):
    r = g.add("r", "Range", [g.const("a", np.float32(0.5)), g.const("l", np.float32(7.3)),
                             g.const("d", np.float32(1.5))], Tidx=A.type(F32))
    return [g.add("y", "Mul", [r, ph(g, "x", (F32, [], None))], T=A.type(F32))]


@case("Split", "Split", {"x": (F32, [2, 6, 3], normal)})
def _(g):
    g.add("y", "Split", [i32(g, "ax", 1), ph(g, "x", (F32, [2, 6, 3], None))], T=A.type(F32), num_split=A.i(3))
    return ["y", "y:1", "y:2"]


@case("SplitV", "SplitV", {"x": (F32, [2, 7, 3], normal)})
def _(g):
    g.add("y", "SplitV", [ph(g, "x", (F32, [2, 7, 3], None)), i32(g, "sz", [2, -1, 1]), i32(g, "ax", -2)],
          T=A.type(F32), Tlen=A.type(np.int32), num_split=A.i(3))
    return ["y", "y:1", "y:2"]


@case("BroadcastTo", "BroadcastTo", {"x": (F32, [3, 1], normal)})
def _(g):
    return [g.add("y", "BroadcastTo", [ph(g, "x", (F32, [3, 1], None)), i32(g, "s", [2, 3, 4])], T=A.type(F32),
                  Tidx=A.type(np.int32))]


@case("OneHot", "OneHot", {"i": (np.int32, [2, 3], ints(-1, 4))})
def _(g):
    i = ph(g, "i", (np.int32, [2, 3], None))
    return [g.add("y", "OneHot", [i, i32(g, "d", 4), g.const("on", np.float32(2)), g.const("off", np.float32(-1))],
                  T=A.type(F32), TI=A.type(np.int32), axis=A.i(-1))]


@case("ReverseV2", "ReverseV2", {"x": X4})
def _(g):
    return [g.add("y", "ReverseV2", [ph(g, "x", X4), i32(g, "a", [1, -1])], T=A.type(F32), Tidx=A.type(np.int32))]


def _s2d(x, b=2):
    n, h, w, c = x.shape
    return x.reshape(n, h // b, b, w // b, b, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, h // b, w // b, b * b * c)


@case("SpaceToDepth", "SpaceToDepth", {"x": (F32, [1, 4, 6, 2], normal)}, ref=lambda v: [_s2d(v["x"])])
def _(g):
    return [op1(g, "y", "SpaceToDepth", ph(g, "x", (F32, [1, 4, 6, 2], None)), block_size=A.i(2),
                data_format=A.s("NHWC"))]


@case("DepthToSpace", "DepthToSpace", {"x": (F32, [1, 2, 3, 8], normal)})
def _(g):
    return [op1(g, "y", "DepthToSpace", ph(g, "x", (F32, [1, 2, 3, 8], None)), block_size=A.i(2),
                data_format=A.s("NHWC"))]


@case("SpaceToBatchND", "SpaceToBatchND", {"x": (F32, [1, 4, 5, 2], normal)})
def _(g):
    return [g.add("y", "SpaceToBatchND", [ph(g, "x", (F32, [1, 4, 5, 2], None)), i32(g, "b", [2, 2]),
                                          i32(g, "p", [[0, 0], [0, 1]])],
                  T=A.type(F32), Tblock_shape=A.type(np.int32), Tpaddings=A.type(np.int32))]


@case("BatchToSpaceND", "BatchToSpaceND", {"x": (F32, [4, 2, 3, 2], normal)})
def _(g):
    return [g.add("y", "BatchToSpaceND", [ph(g, "x", (F32, [4, 2, 3, 2], None)), i32(g, "b", [2, 2]),
                                          i32(g, "c", [[0, 1], [1, 0]])],
                  T=A.type(F32), Tblock_shape=A.type(np.int32), Tcrops=A.type(np.int32))]


for _op in ("ResizeBilinear", "ResizeNearestNeighbor"):
    for _ac, _hp in ((False, False), (True, False), (False, True)):
        def _mkr(op=_op, ac=_ac, hp=_hp):
            def build(g):
                return [g.add("y", op, [ph(g, "x", (F32, [1, 3, 4, 2], None)), i32(g, "s", [5, 7])], T=A.type(F32),
                              align_corners=A.b(ac), half_pixel_centers=A.b(hp))]
            return build
        _sfx = "_ac" if _ac else "_hp" if _hp else ""
        CASES.append(Case(_op + _sfx, _op, _mkr(), {"x": (F32, [1, 3, 4, 2], normal)}, 1e-5, 1e-5))


for _ex, _rv in ((False, False), (True, True)):
    def _mkc(ex=_ex, rv=_rv):
        def build(g):
            return [g.add("y", "Cumsum", [ph(g, "x", X2), i32(g, "a", 1)], T=A.type(F32), Tidx=A.type(np.int32),
                          exclusive=A.b(ex), reverse=A.b(rv))]
        return build
    CASES.append(Case("Cumsum" + ("_excl_rev" if _ex else ""), "Cumsum", _mkc(), {"x": X2}, 1e-5, 1e-5))


@case("TopKV2", "TopKV2", {"x": (F32, [3, 8], normal)})
def _(g):
    g.add("y", "TopKV2", [ph(g, "x", (F32, [3, 8], None)), i32(g, "k", 3)], T=A.type(F32), sorted=A.b(True))
    return ["y", "y:1"]


def _uss(x, ids, n):
    out = np.zeros((n,) + x.shape[1:], x.dtype)
    np.add.at(out, ids, x)
    return out


@case("UnsortedSegmentSum", "UnsortedSegmentSum", {"x": (F32, [5, 3], normal)},
      ref=lambda v: [_uss(v["x"], [0, 2, 0, 3, 2], 4)])
def _(g):
    return [g.add("y", "UnsortedSegmentSum", [ph(g, "x", (F32, [5, 3], None)), i32(g, "i", [0, 2, 0, 3, 2]),
                                              i32(g, "n", 4)],
                  T=A.type(F32), Tindices=A.type(np.int32), Tnumsegments=A.type(np.int32))]


@case("Where", "Where", {"c": (bool, [3, 4], bools)}, runtime=DYNAMIC,
      note="int64 indices cast to int32 (tfjs-tflite passes no int64)")
def _(g):
    w = g.add("w", "Where", [ph(g, "c", (bool, [3, 4], None))], T=A.type(bool))
    return [g.add("y", "Cast", [w], SrcT=A.type(np.int64), DstT=A.type(np.int32), Truncate=A.b(False))]


# -- reductions --
def reduce(cid, op, axes, keep, spec=X4, T=F32):
    def build(g):
        return [g.add("y", op, [ph(g, "x", spec), i32(g, "ax", axes)], T=A.type(T), Tidx=A.type(np.int32),
                      keep_dims=A.b(keep))]
    CASES.append(Case(cid, op, build, {"x": spec}, 1e-5, 1e-5))


reduce("Mean_hw_keep", "Mean", [1, 2], True)
reduce("Mean_last", "Mean", [-1], False)
reduce("Sum", "Sum", [0, 3], False)
reduce("Prod", "Prod", [1], True, spec=(F32, [2, 3, 4], uniform(0.5, 1.5)))
reduce("Max", "Max", [2], False)
reduce("Min", "Min", [0, 1, 2, 3], False)
reduce("Any", "Any", [1], False, spec=(bool, [3, 4], bools), T=bool)
reduce("All", "All", [0], True, spec=(bool, [3, 4], bools), T=bool)

for _op, _ot in (("ArgMax", np.int32), ("ArgMin", np.int64)):
    def _mka(op=_op, ot=_ot):
        def build(g):
            return [g.add("y", op, [ph(g, "x", X4), i32(g, "ax", 2)], T=A.type(F32), Tidx=A.type(np.int32),
                          output_type=A.type(ot))]
        return build
    CASES.append(Case(_op, _op, _mka(), {"x": X4}))


@case("PlaceholderWithDefault", "PlaceholderWithDefault", {"x": X2})
def _(g):
    d = g.add("d", "PlaceholderWithDefault", [g.const("dv", np.full([3, 7], 2.0, F32))], dtype=A.type(F32),
              shape=A.shape([3, 7]))
    return [g.add("y", "Mul", [ph(g, "x", X2), d], T=A.type(F32))]



# -- more ops (decompositions and ops TF.js may lack: NumPy transcriptions
#    of TF's documented semantics serve as the oracle there) --
@case("Softplus", "Softplus", {"x": (F32, [4, 9], uniform(-30, 30))}, 1e-5, 1e-6)
def _(g):
    return [op1(g, "y", "Softplus", ph(g, "x", (F32, [4, 9], None)))]


@case("Softplus_small", "Softplus", {"x": X2}, 1e-5, 1e-6,
      ref=lambda v: [np.logaddexp(0, v["x"].astype(np.float64))])
def _(g):
    return [op1(g, "y", "Softplus", ph(g, "x", X2))]


@case("Log1p", "Log1p", {"x": (F32, [4, 9], uniform(-0.9, 3))}, 1e-5, 1e-7)
def _(g):
    return [op1(g, "y", "Log1p", ph(g, "x", (F32, [4, 9], None)))]


@case("Log1p_tiny", "Log1p", {"x": (F32, [4, 9], uniform(-1e-6, 1e-6))}, 1e-5, 2.5e-7,
      ref=lambda v: [np.log1p(v["x"].astype(np.float64))],
      note="LOG(1 + x): absolute error ~2e-7 near 0 (rounding of 1 + x, the runtime's LOG)")
def _(g):
    return [op1(g, "y", "Log1p", ph(g, "x", (F32, [4, 9], None)))]


@case("Erf", "Erf", {"x": (F32, [5, 9], uniform(-4, 4))}, 0, 3e-7, note="polynomial: absolute error < 2e-7")
def _(g):
    return [op1(g, "y", "Erf", ph(g, "x", (F32, [5, 9], None)))]


@case("Gelu_exact", "Erf", {"x": (F32, [5, 9], uniform(-4, 4))}, 1e-5, 1e-6,
      note="0.5 x (1 + erf(x / sqrt 2)), as tf.nn.gelu writes it")
def _(g):
    x = ph(g, "x", (F32, [5, 9], None))
    s = g.add("s", "Mul", [x, g.const("k", np.float32(0.7071067811865476))], T=A.type(F32))
    e = op1(g, "e", "Erf", s)
    a = g.add("a", "AddV2", [g.const("one", np.float32(1)), e], T=A.type(F32))
    h = g.add("h", "Mul", [g.const("half", np.float32(0.5)), x], T=A.type(F32))
    return [g.add("y", "Mul", [h, a], T=A.type(F32))]


@case("Reciprocal", "Reciprocal", {"x": (F32, [3, 7], uniform(0.5, 3))})
def _(g):
    return [op1(g, "y", "Reciprocal", ph(g, "x", (F32, [3, 7], None)))]


@case("Inv", "Inv", {"x": (F32, [3, 7], uniform(-3, -0.5))}, ref=lambda v: [1 / v["x"]])
def _(g):
    return [op1(g, "y", "Inv", ph(g, "x", (F32, [3, 7], None)))]


@case("ClipByValue", "ClipByValue", {"x": X2})
def _(g):
    return [g.add("y", "ClipByValue", [ph(g, "x", X2), g.const("lo", np.float32(-0.5)),
                                       g.const("hi", np.float32(0.7))], T=A.type(F32))]


@case("Rint", "Rint", {"x": (F32, [4, 9], halves)}, ref=lambda v: [np.rint(v["x"])])
def _(g):
    return [op1(g, "y", "Rint", ph(g, "x", (F32, [4, 9], None)))]


@case("BiasAddV1", "BiasAddV1", {"x": X4}, ref=lambda v: [v["x"] + (np.arange(5, dtype=F32) - 2)])
def _(g):
    b = g.const("b", np.arange(5, dtype=F32) - 2)
    return [op2(g, "y", "BiasAddV1", ph(g, "x", X4), b)]


def _revseq(x, lens, seq_dim, batch_dim):
    y = x.copy()
    for b, n in enumerate(lens):
        idx = [slice(None)] * x.ndim
        idx[batch_dim] = b
        idx[seq_dim] = slice(0, n)
        src = x[tuple(idx)]
        y[tuple(idx)] = np.flip(src, axis=seq_dim - (1 if batch_dim < seq_dim else 0))
    return y


@case("ReverseSequence", "ReverseSequence", {"x": (F32, [3, 5, 2], normal)},
      ref=lambda v: [_revseq(v["x"], [2, 5, 0], 1, 0)])
def _(g):
    return [g.add("y", "ReverseSequence", [ph(g, "x", (F32, [3, 5, 2], None)), i32(g, "l", [2, 5, 0])],
                  T=A.type(F32), Tlen=A.type(np.int32), seq_dim=A.i(1), batch_dim=A.i(0))]


def _nms_boxes(shape, rs):
    c = rs.uniform(0, 10, (shape[0], 2))
    wh = rs.uniform(1, 4, (shape[0], 2))
    return np.concatenate([c, c + wh], axis=1).astype(F32)


@case("NonMaxSuppressionV4", "NonMaxSuppressionV4",
      {"b": (F32, [12, 4], _nms_boxes), "s": (F32, [12], uniform(0, 1))})
def _(g):
    g.add("y", "NonMaxSuppressionV4", [ph(g, "b", (F32, [12, 4], None)), ph(g, "s", (F32, [12], None)),
                                       i32(g, "m", 6), g.const("iou", np.float32(0.3)),
                                       g.const("st", np.float32(0.2))],
          T=A.type(F32), T_threshold=A.type(F32), pad_to_max_output_size=A.b(True))
    return ["y", "y:1"]


def _iou(a, b):
    ya0, xa0, ya1, xa1 = min(a[0], a[2]), min(a[1], a[3]), max(a[0], a[2]), max(a[1], a[3])
    yb0, xb0, yb1, xb1 = min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])
    inter = max(0.0, min(ya1, yb1) - max(ya0, yb0)) * max(0.0, min(xa1, xb1) - max(xa0, xb0))
    union = (ya1 - ya0) * (xa1 - xa0) + (yb1 - yb0) * (xb1 - xb0) - inter
    return inter / union if union > 0 else 0.0


def _nms(boxes, scores, k, iou, st):
    """TF's hard NMS: by descending score, keep a box unless it overlaps a
    kept one by more than iou; scores <= st dropped; padded to k."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    for i in order:
        if scores[i] <= st or len(keep) == k:
            continue
        if all(_iou(boxes[i], boxes[j]) <= iou for j in keep):
            keep.append(i)
    idx = np.zeros(k, np.int32)
    sc = np.zeros(k, F32)
    idx[:len(keep)] = keep
    sc[:len(keep)] = scores[keep]
    return [idx, sc, np.int32(len(keep))]


@case("NonMaxSuppressionV5", "NonMaxSuppressionV5",
      {"b": (F32, [12, 4], _nms_boxes), "s": (F32, [12], uniform(0, 1))}, 1e-5, 1e-6,
      ref=lambda v: _nms(v["b"], v["s"], 6, 0.3, 0.2))
def _(g):
    g.add("y", "NonMaxSuppressionV5", [ph(g, "b", (F32, [12, 4], None)), ph(g, "s", (F32, [12], None)),
                                       i32(g, "m", 6), g.const("iou", np.float32(0.3)),
                                       g.const("st", np.float32(0.2)), g.const("sig", np.float32(0.0))],
          T=A.type(F32), pad_to_max_output_size=A.b(True))
    return ["y", "y:1", "y:2"]


def einsum(cid, eq, sa, sb=None, rtol=1e-4, atol=1e-5):
    ins = {"x": (F32, sa, normal)}
    if sb is not None:
        ins["z"] = (F32, sb, normal)

    def build(g):
        args = [ph(g, "x", ins["x"])] + ([ph(g, "z", ins["z"])] if sb is not None else [])
        return [g.add("y", "Einsum", args, T=A.type(F32), N=A.i(len(args)), equation=A.s(eq))]
    ref = (lambda v: [np.einsum(eq, v["x"], v["z"])]) if sb is not None else (lambda v: [np.einsum(eq, v["x"])])
    CASES.append(Case(cid, "Einsum", build, ins, rtol, atol, ref=ref))


einsum("Einsum_matmul", "ij,jk->ik", [3, 4], [4, 5])
einsum("Einsum_batch", "bij,bjk->bik", [2, 3, 4], [2, 4, 5])
einsum("Einsum_attention", "bqhd,bkhd->bhqk", [2, 3, 2, 4], [2, 5, 2, 4])
einsum("Einsum_outer_perm", "ab,cd->cadb", [2, 3], [4, 5])
einsum("Einsum_dense", "abc,cd->abd", [2, 3, 4], [4, 6])
einsum("Einsum_transpose_sum", "abc->ca", [2, 3, 4])


def _fq(x, mn, mx, bits=8, narrow=False):
    # TF's FakeQuant: nudge min/max so that zero is exact, then quantize.
    qmin, qmax = (1 if narrow else 0), 2 ** bits - 1
    scale = (mx - mn) / (qmax - qmin)
    zp = qmin - mn / scale
    nzp = np.float32(qmin if zp < qmin else qmax if zp > qmax else np.round(zp))
    nmin, nmax = (qmin - nzp) * scale, (qmax - nzp) * scale
    c = np.clip(x, nmin, nmax)
    return (np.floor((c - nmin) / scale + 0.5) * scale + nmin).astype(F32)


@case("FakeQuantWithMinMaxArgs", "FakeQuantWithMinMaxArgs", {"x": (F32, [4, 9], uniform(-3, 3))}, 1e-5, 1e-5,
      ref=lambda v: [_fq(v["x"], -2.0, 1.5)])
def _(g):
    return [g.add("y", "FakeQuantWithMinMaxArgs", [ph(g, "x", (F32, [4, 9], None))], T=A.type(F32),
                  min=A.f(-2.0), max=A.f(1.5), num_bits=A.i(8), narrow_range=A.b(False))]


@case("FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVars", {"x": (F32, [4, 9], uniform(-3, 3))}, 1e-5, 1e-5,
      ref=lambda v: [_fq(v["x"], -1.0, 2.0)], np_only=True, note="TF.js passes the input through")
def _(g):
    return [g.add("y", "FakeQuantWithMinMaxVars", [ph(g, "x", (F32, [4, 9], None)), g.const("mn", np.float32(-1)),
                                                   g.const("mx", np.float32(2))], num_bits=A.i(8),
                  narrow_range=A.b(False))]


@case("MatrixDiag", "MatrixDiag", {"x": (F32, [2, 4], normal)},
      ref=lambda v: [np.stack([np.diag(r) for r in v["x"]])])
def _(g):
    return [op1(g, "y", "MatrixDiag", ph(g, "x", (F32, [2, 4], None)))]


def _setdiag(x, d):
    y = x.copy()
    for b in range(x.shape[0]):
        np.fill_diagonal(y[b], d[b])
    return y


@case("MatrixSetDiag", "MatrixSetDiag", {"x": (F32, [2, 4, 4], normal), "d": (F32, [2, 4], normal)},
      ref=lambda v: [_setdiag(v["x"], v["d"])])
def _(g):
    return [op2(g, "y", "MatrixSetDiag", ph(g, "x", (F32, [2, 4, 4], None)), ph(g, "d", (F32, [2, 4], None)))]


def _segsum(x, ids, n, fn, init):
    out = np.full((n,) + x.shape[1:], init, x.dtype)
    for i, s in enumerate(ids):
        out[s] = fn(out[s], x[i])
    return out


@case("SegmentSum", "SegmentSum", {"x": (F32, [5, 3], normal)},
      ref=lambda v: [_segsum(v["x"], [0, 0, 1, 2, 2], 3, np.add, 0)],
      note="TFLite's kernel needs ids without gaps", runtime=DYNAMIC)
def _(g):
    return [g.add("y", "SegmentSum", [ph(g, "x", (F32, [5, 3], None)), i32(g, "i", [0, 0, 1, 2, 2])],
                  T=A.type(F32), Tindices=A.type(np.int32))]


for _op, _fn, _init in (("UnsortedSegmentMax", np.maximum, np.finfo(F32).min),
                        ("UnsortedSegmentMin", np.minimum, np.finfo(F32).max),
                        ("UnsortedSegmentProd", np.multiply, 1)):
    def _mku(op=_op):
        def build(g):
            return [g.add("y", op, [ph(g, "x", (F32, [5, 3], None)), i32(g, "i", [1, 0, 1, 2, 0]), i32(g, "n", 3)],
                          T=A.type(F32), Tindices=A.type(np.int32), Tnumsegments=A.type(np.int32))]
        return build
    CASES.append(Case(_op, _op, _mku(), {"x": (F32, [5, 3], normal)},
                      ref=lambda v, fn=_fn, init=_init: [_segsum(v["x"], [1, 0, 1, 2, 0], 3, fn, init)]))


def _deq(q, mn, mx):
    return (mn + q.astype(np.float64) * (mx - mn) / 255.0).astype(F32)


@case("Dequantize_const", "Dequantize", {"x": (F32, [2, 3], normal)}, 1e-6, 1e-6,
      ref=lambda v: [v["x"] * _deq(np.arange(6, dtype=np.uint8).reshape(2, 3) * 40, -1.5, 2.5)],
      note="quint8 constant times x, MIN_FIRST")
def _(g):
    q = g.add("q", "Const", [], dtype=A.type(12), value=A.tensor(np.arange(6, dtype=np.uint8).reshape(2, 3) * 40, 12))
    d = g.add("d", "Dequantize", [q, g.const("mn", np.float32(-1.5)), g.const("mx", np.float32(2.5))],
              T=A.type(12), mode=A.s("MIN_FIRST"), narrow_range=A.b(False), axis=A.i(-1), dtype=A.type(F32))
    return [g.add("y", "Mul", [ph(g, "x", (F32, [2, 3], None)), d], T=A.type(F32))]



@case("Identity_family", "IdentityN", {"x": X2, "z": X2},
      ref=lambda v: [np.maximum(v["x"], 0) * v["z"]],
      note="IdentityN, Snapshot, PreventGradient, CheckNumerics, EnsureShape pass values through")
def _(g):
    x, z = ph(g, "x", X2), ph(g, "z", X2)
    g.add("idn", "IdentityN", [x, z], T=A.types([F32, F32]))
    a = op1(g, "snap", "Snapshot", "idn")
    b = op1(g, "pg", "PreventGradient", "idn:1", message=A.s(""))
    c = op1(g, "cn", "CheckNumerics", a, message=A.s("bad"))
    d = g.add("es", "EnsureShape", [b], T=A.type(F32), shape=A.shape([3, 7]))
    return [g.add("y", "Mul", [op1(g, "r", "Relu", c), d], T=A.type(F32))]


@case("BatchMatMul_v1", "BatchMatMul", {"x": (F32, [2, 3, 4], normal), "z": (F32, [2, 5, 4], normal)}, 1e-4, 1e-5,
      ref=lambda v: [np.matmul(v["x"], np.swapaxes(v["z"], 1, 2))])
def _(g):
    return [g.add("y", "BatchMatMul", [ph(g, "x", (F32, [2, 3, 4], None)), ph(g, "z", (F32, [2, 5, 4], None))],
                  T=A.type(F32), adj_x=A.b(False), adj_y=A.b(True))]


@case("BatchMatMulV3", "BatchMatMulV3", {"x": (F32, [2, 3, 4], normal), "z": (F32, [4, 5], normal)}, 1e-4, 1e-5,
      ref=lambda v: [np.matmul(v["x"], v["z"])])
def _(g):
    return [g.add("y", "BatchMatMulV3", [ph(g, "x", (F32, [2, 3, 4], None)), ph(g, "z", (F32, [4, 5], None))],
                  Ta=A.type(F32), Tb=A.type(F32), Tout=A.type(F32), adj_x=A.b(False), adj_y=A.b(False))]


@case("Concat_v1", "Concat", {"x": X2, "z": (F32, [3, 2], normal)},
      ref=lambda v: [np.concatenate([v["x"], v["z"]], axis=1)])
def _(g):
    return [g.add("y", "Concat", [i32(g, "ax", 1), ph(g, "x", X2), ph(g, "z", (F32, [3, 2], None))],
                  T=A.type(F32), N=A.i(2))]


@case("FusedBatchNormV2", "FusedBatchNormV2", {"x": X4}, 1e-5, 1e-5)
def _(g):
    x = ph(g, "x", X4)
    rs = np.random.RandomState(18)
    ins = [x] + [g.const(n, v) for n, v in [("scale", rs.uniform(0.5, 2, 5)), ("offset", rs.randn(5)),
                                           ("mean", rs.randn(5)), ("var", rs.uniform(0.5, 2, 5))]]
    return [g.add("y", "FusedBatchNormV2", ins, T=A.type(F32), U=A.type(F32), epsilon=A.f(0.01),
                  data_format=A.s("NHWC"), is_training=A.b(False))]


# ---- Running ------------------------------------------------------------------------

def b64(a):
    return base64.b64encode(np.asarray(a).tobytes()).decode()


def tfjs_input(a):
    a = np.asarray(a)
    if a.dtype == np.bool_:
        return {"dtype": "bool", "shape": list(a.shape), "data": b64(a.astype(np.uint8))}
    if a.dtype.kind in "iu":
        return {"dtype": "int32", "shape": list(a.shape), "data": b64(a.astype("<i4"))}
    return {"dtype": "float32", "shape": list(a.shape), "data": b64(a.astype("<f4"))}


def from_tfjs(o):
    if not isinstance(o, dict):
        return np.asarray(o)
    dt = {"float32": "<f4", "int32": "<i4", "bool": "u1"}[o["dtype"]]
    a = np.frombuffer(base64.b64decode(o["data"]), dtype=dt)
    if a.size != int(np.prod(o["shape"])):
        raise ValueError("TF.js returned %d values for shape %s" % (a.size, o["shape"]))
    a = a.reshape(o["shape"])
    return a.astype(bool) if o["dtype"] == "bool" else a


def prepare(c, rs):
    g = Graph()
    outs = c.build(g)
    inputs = {}
    for name, (dtype, shape, gen) in c.inputs.items():
        inputs[name] = np.asarray(gen(shape, rs)).astype(dtype)
    return g, outs, inputs


def run_tfjs(cases, work):
    batch = {"cases": []}
    for c in cases:
        batch["cases"].append({"id": c.id, "model": json.loads(tfjs_json(c.graph)),
                               "inputs": {k: tfjs_input(v) for k, v in c.values.items()},
                               "outputs": c.outputs})
    bp, rp = os.path.join(work, "tfjs_batch.json"), os.path.join(work, "tfjs_result.json")
    with open(bp, "w") as f:
        json.dump(batch, f)
    p = subprocess.run(["node", os.path.join(TFJS_DIR, "ops_run.mjs"), bp, rp], capture_output=True,
                       text=True, timeout=1200)
    if p.returncode != 0:
        raise RuntimeError("TF.js runner failed:\n" + p.stderr)
    with open(rp) as f:
        return json.load(f)["results"]


def convert_and_run(c, work):
    """Returns (outputs dict by name, None) or (None, error text)."""
    pb, tfl = os.path.join(work, c.id + ".pb"), os.path.join(work, c.id + ".tflite")
    with open(pb, "wb") as f:
        f.write(c.graph.to_pb())
    cmd = [TFLC, "convert", "--graph_def_file", pb, "--input_arrays", ",".join(c.values),
           "--output_arrays", ",".join(c.outputs), "-o", tfl]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return None, "convert failed: " + p.stderr.strip()
    try:
        out = rig.run_model(tfl, c.values, runtime=c.runtime)
    except rig.RigError as e:
        return None, "runtime failed: " + str(e).strip()[:600]
    return out, None


def compare(c, expected, actual):
    """(ok, max abs diff, message)."""
    worst = 0.0
    vals = list(actual.values())
    for i, name in enumerate(c.outputs):
        e = from_tfjs(expected[name])
        a = actual.get(name, vals[i] if i < len(vals) else None)
        if a is None:
            return False, worst, "output %s missing" % name
        a = np.asarray(a)
        if a.shape != e.shape:
            return False, worst, "output %s: shape %s, expected %s" % (name, a.shape, e.shape)
        if e.dtype == np.bool_ or e.dtype.kind in "iu":
            bad = np.asarray(a).astype(np.int64) != e.astype(np.int64)
            if bad.any():
                return False, worst, "output %s: %d of %d values differ" % (name, bad.sum(), bad.size)
            continue
        a = a.astype(np.float64)
        e = e.astype(np.float64)
        d = np.abs(a - e)
        worst = max(worst, float(d.max()) if d.size else 0.0)
        bad = d > c.atol + c.rtol * np.abs(e)
        if bad.any():
            k = int(np.argmax(bad.reshape(-1)))
            return False, worst, "output %s: %d of %d beyond tolerance (first at %d: %r vs %r)" % (
                name, bad.sum(), bad.size, k, a.reshape(-1)[k], e.reshape(-1)[k])
    return True, worst, ""


def main():
    why = rig.why_no_rig()
    if why:
        print("skip: " + why)
        return 77
    if not os.path.isfile(os.path.join(TFJS_DIR, "node_modules", "@tensorflow", "tfjs", "package.json")):
        print("skip: TensorFlow.js is not installed in tests/tfjs (run: bash setup.sh)")
        return 77
    if not os.access(TFLC, os.X_OK):
        print("skip: no tflc binary at %s (set TFLC)" % TFLC)
        return 77
    flt = os.environ.get("TFLC_OPS_FILTER")
    cases = [c for c in CASES if not flt or re.search(flt, c.id)]
    keep = os.environ.get("TFLC_OPS_KEEP")
    tmp = None if keep else tempfile.TemporaryDirectory(prefix="tflc-ops-")
    work = keep or tmp.name
    os.makedirs(work, exist_ok=True)
    for i, c in enumerate(cases):
        c.graph, c.outputs, c.values = prepare(c, np.random.RandomState(1000 + i))
    expected = run_tfjs(cases, work)
    with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as ex:
        results = list(ex.map(lambda c: convert_and_run(c, work), cases))

    rows, per_op = [], {}
    n_fail = n_pass = n_noor = 0
    for c, (actual, err) in zip(cases, results):
        exp = expected.get(c.id, {"error": "missing"})
        oracle = "pass"
        if "error" not in exp:
            try:
                for o in exp["outputs"].values():
                    from_tfjs(o)
            except ValueError as e:
                exp = {"error": str(e)}
        if c.np_only:
            exp = {"error": "TF.js does not compute this op as TF does"}
        if "error" in exp and c.ref is not None:
            exp = {"outputs": dict(zip(c.outputs, c.ref(c.values)))}
            oracle = "pass-np"
        if "error" in exp:
            status, diff, msg = "no-oracle", 0.0, "TF.js: " + exp["error"][:200]
            if err:
                status, msg = "FAIL", err + " (and TF.js: %s)" % exp["error"][:100]
        elif err:
            status, diff, msg = "FAIL", 0.0, err
        else:
            ok, diff, msg = compare(c, exp["outputs"], actual)
            status = oracle if ok else "FAIL"
        n_pass += status.startswith("pass")
        n_fail += status == "FAIL"
        n_noor += status == "no-oracle"
        per_op.setdefault(c.op, []).append(status)
        rows.append((c.id, c.op, status, diff, "%g/%g" % (c.rtol, c.atol), msg or c.note))

    print("%-34s %-22s %-9s %-10s %-11s %s" % ("case", "TF op", "result", "max|diff|", "rtol/atol", "note"))
    for r in rows:
        print("%-34s %-22s %-9s %-10.3g %-11s %s" % r)
    print()
    print("per TF op: %d ops" % len(per_op))
    for op in sorted(per_op):
        st = per_op[op]
        print("  %-24s %s" % (op, ", ".join("%d %s" % (st.count(k), k)
                                            for k in ("pass", "pass-np", "FAIL", "no-oracle") if st.count(k))))
    print()
    print("%d cases: %d pass (%d against NumPy), %d FAIL, %d without an oracle" % (
        len(rows), n_pass, sum(r[2] == "pass-np" for r in rows), n_fail, n_noor))
    if tmp:
        tmp.cleanup()
    return 1 if n_fail else 0


if __name__ == "__main__":
    sys.exit(main())
