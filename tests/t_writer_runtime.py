"""t_writer_runtime.py -- models written by tflc's writer run in Google's TFLite
runtime (LiteRT.js through tests/rig), and their outputs match NumPy.

test_writer_models (a C program) builds small models by hand through the ir_*
helpers and writes them with the writer; this test runs each one in the
runtime and computes the expected outputs here with NumPy from the same
formulas for the constants (see tests/unit/test_writer_models.h). It also
reads the external-buffer models' Buffer tables with plain offset arithmetic,
to be sure the weights really sit after the FlatBuffer (data absent,
offset/size set, 16-byte aligned) when the runtime gets them right.

Skips (77) when the rig or the test program is missing.
"""

import math
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np

SRC = os.environ.get("TFLC_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests"))
from lib import rig  # noqa: E402


def skip(why):
    print("skip: " + why)
    sys.exit(77)


def find_program():
    build = os.environ.get("TFLC_BUILD_DIR")
    for cand in ([os.path.join(build, "tests", "test_writer_models")] if build else []):
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


failures = []


def check(name, got, want, rtol=1e-5, atol=1e-6, exact=False):
    got = np.asarray(got)
    want = np.asarray(want)
    ok = got.shape == want.shape and (
        np.array_equal(got, want) if exact else np.allclose(got, want, rtol=rtol, atol=atol))
    if not ok:
        failures.append("%s: got %s %r, want %s %r" % (name, got.shape, got, want.shape, want))
    else:
        print("ok   %s" % name)


# ---- Reference computations (NumPy only) ----

F = np.float32   # the C side computes the constants in float arithmetic


def fc_constants():
    w = np.array([[F(0.25) * F((o * 3 + i) % 7) - F(0.75) for i in range(3)] for o in range(4)],
                 np.float32)
    b = np.array([F(0.5) * F(o) - F(0.6) for o in range(4)], np.float32)
    return w, b


def fc_relu_ref(x):
    w, b = fc_constants()
    return np.maximum(x.astype(np.float64) @ w.T.astype(np.float64) + b, 0.0)


def conv_same_ref(x):
    f = np.zeros((3, 3, 3, 2), np.float32)
    for o in range(3):
        for y in range(3):
            for xx in range(3):
                for c in range(2):
                    f[o, y, xx, c] = F(0.1) * F((o + 2 * y + 3 * xx + 5 * c) % 5) - F(0.2)
    bias = np.array([F(0.1) * F(o) for o in range(3)], np.float32)
    stride, k, n = 2, 3, 5
    out = -(-n // stride)                       # SAME: ceil(in / stride)
    pad_total = max((out - 1) * stride + k - n, 0)
    pad = pad_total // 2                        # the smaller half goes first
    xp = np.zeros((1, n + pad_total, n + pad_total, 2), np.float64)
    xp[:, pad:pad + n, pad:pad + n, :] = x
    y = np.zeros((1, out, out, 3), np.float64)
    for i in range(out):
        for j in range(out):
            patch = xp[0, i * stride:i * stride + k, j * stride:j * stride + k, :]
            for o in range(3):
                y[0, i, j, o] = np.sum(patch * f[o]) + bias[o]
    return y


def quantize_ref(x, scale, zero):
    # TFLite rounds half away from zero; the inputs below avoid ties.
    v = x.astype(np.float32) / np.float32(scale)
    r = np.where(v >= 0, np.floor(v + 0.5), np.ceil(v - 0.5))
    return np.clip(r + zero, -128, 127).astype(np.int8)


def gelu_ref(x):
    return np.array([0.5 * v * (1.0 + math.erf(v / math.sqrt(2.0))) for v in x.ravel()]).reshape(x.shape)


# ---- Reading Buffer tables (FlatBuffer offset arithmetic) ----

def u32(b, at):
    return struct.unpack_from("<I", b, at)[0]


def field(b, table, slot):
    vt = table - struct.unpack_from("<i", b, table)[0]
    vsize = struct.unpack_from("<H", b, vt)[0]
    if 4 + 2 * slot + 2 > vsize:
        return None
    fo = struct.unpack_from("<H", b, vt + 4 + 2 * slot)[0]
    return table + fo if fo else None


def buffers_of(b):
    """[(has_data, offset, size)] for each Buffer of a .tflite."""
    root = u32(b, 0)
    f = field(b, root, 4)                       # Model.buffers
    vec = f + u32(b, f)
    out = []
    for i in range(u32(b, vec)):
        e = vec + 4 + 4 * i
        t = e + u32(b, e)
        fd, fo, fs = field(b, t, 0), field(b, t, 1), field(b, t, 2)
        out.append((fd is not None,
                    struct.unpack_from("<Q", b, fo)[0] if fo else 0,
                    struct.unpack_from("<Q", b, fs)[0] if fs else 0))
    return out


def check_external_layout(path):
    with open(path, "rb") as fh:
        b = fh.read()
    bufs = buffers_of(b)
    w, bias = fc_constants()
    want = {w.nbytes: w.tobytes(), bias.nbytes: bias.tobytes()}
    ext = [x for x in bufs[1:] if x[1] > 1]
    ok = len(ext) == 2 and bufs[0] == (False, 0, 0)
    for has_data, off, size in ext:
        ok = ok and not has_data and off % 16 == 0 and off + size <= len(b)
        ok = ok and b[off:off + size] == want.get(size)
    ok = ok and len(b) % 16 == 0
    if ok:
        print("ok   %s: weights after the FlatBuffer at %s" % (os.path.basename(path),
                                                            [x[1] for x in ext]))
    else:
        failures.append("%s: unexpected buffer layout %r (file %d bytes)" % (path, bufs, len(b)))


# ---- The models ----

def run_all(d, runtime):
    rng = np.random.default_rng(7)
    a = rng.standard_normal((1, 4)).astype(np.float32)
    b = rng.standard_normal((1, 4)).astype(np.float32)
    out = rig.run_model(os.path.join(d, "add.tflite"), {"a": a, "b": b}, runtime=runtime)
    check("add [%s]" % runtime, out["out"], a + b, exact=True)

    a6 = rng.standard_normal(6).astype(np.float32)
    b6 = rng.standard_normal(6).astype(np.float32)
    out = rig.run_model(os.path.join(d, "add_mul_add.tflite"), {"a": a6, "b": b6}, runtime=runtime)
    check("add_mul_add [%s]" % runtime, out["out"], (a6 + b6) * a6 + b6)

    x = rng.uniform(-2, 2, (2, 3)).astype(np.float32)
    fc_models = ["fc_relu", "fc_metadata"] + (["fc_external", "fc_external_auto"]
                                              if runtime == "litert" else [])
    for name in fc_models:
        out = rig.run_model(os.path.join(d, name + ".tflite"), {"x": x}, runtime=runtime)
        check("%s [%s]" % (name, runtime), out["y"], fc_relu_ref(x))

    xc = rng.uniform(-1, 1, (1, 5, 5, 2)).astype(np.float32)
    out = rig.run_model(os.path.join(d, "conv_same.tflite"), {"x": xc}, runtime=runtime)
    check("conv_same [%s]" % runtime, out["y"], conv_same_ref(xc))

    xq = np.array([[-6.5, -1.0, -0.26, -0.01, 0.0, 0.12, 1.0, 7.0]], np.float32)
    out = rig.run_model(os.path.join(d, "sig_int8.tflite"), {"input": xq}, runtime=runtime)
    q = quantize_ref(xq, 0.05, -3)
    check("sig_int8 quantized [%s]" % runtime, out["quantized"], q, exact=True)
    check("sig_int8 restored [%s]" % runtime, out["restored"],
          (q.astype(np.float32) + 3) * np.float32(0.05))

    xg = np.linspace(-3, 3, 6, dtype=np.float32).reshape(1, 6)
    out = rig.run_model(os.path.join(d, "gelu_reshape.tflite"), {"x": xg}, runtime=runtime)
    check("gelu_reshape [%s]" % runtime, out["y"], gelu_ref(xg).reshape(2, 3), atol=1e-5)


def main():
    if not rig.have_rig():
        skip(rig.why_no_rig())
    prog = find_program()
    if not prog:
        skip("test_writer_models not built (TFLC_BUILD_DIR unset or wrong)")
    with tempfile.TemporaryDirectory(prefix="tflc-writer-") as d:
        p = subprocess.run([prog, d], capture_output=True, text=True)
        if p.returncode != 0:
            print(p.stdout + p.stderr)
            print("FAIL: test_writer_models exited %d" % p.returncode)
            return 1
        check_external_layout(os.path.join(d, "fc_external.tflite"))
        check_external_layout(os.path.join(d, "fc_external_auto.tflite"))
        # LiteRT.js, then the classic interpreter as a second opinion. The
        # interpreter (2023) predates Buffer.offset: the external models
        # run on LiteRT.js only.
        for runtime in ("litert", "interp"):
            try:
                run_all(d, runtime)
            except rig.RigError as e:
                failures.append("%s: %s" % (runtime, e))
    for f in failures:
        print("FAIL " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
