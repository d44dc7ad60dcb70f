#!/usr/bin/python3
"""t_rig_basics.py -- checks the test rig's own plumbing against NumPy and
against models with a known answer, so that a test built on the rig can
trust it:

  - .npy/.npz reading and writing (all dtypes, 0-d and empty arrays,
    compressed archives, odd key names) round-trips through NumPy;
  - inputs are bound by name, by position ("0" / "arr_0"), cast when safe,
    refused when not; outputs come back keyed the same way;
  - known answers: TF Serving's half_plus_two gives 0.5 x + 2, tfjs' add4
    gives x + y, in both runtimes;
  - inputs with -1 in shape_signature run at any size (the patched-copy
    path): a batch of 3 equals 3 batches of 1; inputs of unknown rank too;
  - failures fail: a runtime log line starting with ERROR, a truncated
    model, a wrong signature, a mismatch in `compare` -- each with exit
    status 2 (1 for a mismatch), a message naming the file, and no output.

Exit 77 (skipped) without the rig's node_modules; the model checks also need
the shared fixtures.
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import rig  # noqa: E402

FAILS = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        FAILS.append(what)


def node(*args):
    p = subprocess.run([rig.node_exe(), rig.RUN_MJS] + [str(a) for a in args],
                       capture_output=True, text=True, timeout=rig.TIMEOUT)
    return p.returncode, p.stdout, p.stderr


def test_npz_roundtrip(d):
    rng = np.random.default_rng(7)
    arrays = {
        "f32": rng.standard_normal((2, 3)).astype(np.float32),
        "f64": rng.standard_normal(5),
        "f16": rng.standard_normal((4,)).astype(np.float16),
        "i8": rng.integers(-128, 128, (3, 1, 2)).astype(np.int8),
        "u8": rng.integers(0, 256, (7,)).astype(np.uint8),
        "i16": rng.integers(-30000, 30000, (2, 2)).astype(np.int16),
        "u16": rng.integers(0, 65535, (3,)).astype(np.uint16),
        "i32": rng.integers(-2**31, 2**31 - 1, (2, 2)).astype(np.int32),
        "u32": rng.integers(0, 2**32 - 1, (2,), dtype=np.uint64).astype(np.uint32),
        "i64": np.array([-2**63, 2**63 - 1, 0], np.int64),
        "u64": np.array([2**64 - 1, 1], np.uint64),
        "b": rng.integers(0, 2, (3, 2)).astype(np.bool_),
        "c64": (rng.standard_normal(3) + 1j * rng.standard_normal(3)).astype(np.complex64),
        "scalar": np.array(3.5, np.float32),
        "empty": np.zeros((0, 3), np.int32),
        "nan": np.array([np.nan, -np.inf, np.inf, -0.0], np.float32),
        "serving_default_x:0": np.arange(4, dtype=np.float32),
        "a/b": np.arange(3, dtype=np.int16),
    }
    for compressed in (False, True):
        src = os.path.join(d, "src.npz")
        dst = os.path.join(d, "dst.npz")
        (np.savez_compressed if compressed else np.savez)(src, **arrays)
        rc, _, err = node("npz-copy", "--inputs", src, "--out", dst)
        check(rc == 0, "npz-copy of %s archive (%s)" % ("a compressed" if compressed else "an", err.strip()[:200]))
        if rc:
            continue
        with np.load(dst) as z:
            check(sorted(z.files) == sorted(arrays), "npz-copy keeps the keys")
            for k, v in arrays.items():
                w = z[k]
                same = w.dtype == v.dtype and w.shape == v.shape and w.tobytes() == v.tobytes()
                check(same, "npz-copy round-trips %s %s%s" % (k, v.dtype, list(v.shape)))
    # A Fortran-ordered or big-endian array is refused with a message.
    bad = os.path.join(d, "bad.npz")
    np.savez(bad, x=np.asfortranarray(np.ones((2, 3), np.float32)))
    rc, _, err = node("npz-copy", "--inputs", bad, "--out", os.path.join(d, "x.npz"))
    check(rc == 2 and "Fortran" in err, "npz-copy refuses Fortran order: %s" % err.strip()[:120])
    np.savez(bad, x=np.ones(3, ">f4"))
    rc, _, err = node("npz-copy", "--inputs", bad, "--out", os.path.join(d, "x.npz"))
    check(rc == 2 and ">f4" in err, "npz-copy refuses big-endian: %s" % err.strip()[:120])
    with open(bad, "wb") as f:
        f.write(b"PK\x03\x04 not really a zip")
    rc, _, err = node("npz-copy", "--inputs", bad, "--out", os.path.join(d, "x.npz"))
    check(rc == 2 and bad in err, "npz-copy refuses a broken zip, naming it: %s" % err.strip()[:120])


def test_known_answers(fx):
    hp2 = os.path.join(fx, "sm1_serving_half_plus_two", "tflite_ref", "model.tflite")
    add4 = os.path.join(fx, "tflite_standalone_tflm", "tfjs", "add4.tflite")
    x = np.array([[3.0]], np.float32)
    a = np.arange(8, dtype=np.float32).reshape(2, 4) / 3
    b = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    for rt in ("litert", "interp"):
        y = rig.run_model(hp2, {"x": x}, runtime=rt)
        check(list(y) == ["y"] and y["y"].tolist() == [[3.5]], "%s: half_plus_two(3) = 3.5, got %s" % (rt, y))
        y = rig.run_model(hp2, {"0": x}, runtime=rt)
        check(list(y) == ["0"], "%s: positional input '0' gives output key '0'" % rt)
        y = rig.run_model(hp2, {"arr_0": x.astype(np.float64)}, runtime=rt)
        check(list(y) == ["arr_0"] and y["arr_0"].dtype == np.float32 and y["arr_0"][0, 0] == 3.5,
              "%s: float64 input cast to float32, key 'arr_0' kept" % rt)
        out = rig.run_model(add4, {"input_1": a, "input_2": b}, runtime=rt)
        check(np.array_equal(out["add_1"], a + b), "%s: add4 at batch 2 = x + y bit-exactly" % rt)
        out = rig.run_model(add4, {"input_1": a[:1], "input_2": b[:1]}, runtime=rt, signature="serving_default")
        check(np.array_equal(out["add_1"], a[:1] + b[:1]), "%s: --signature serving_default" % rt)
    try:
        rig.run_model(hp2, {"x": np.array([[3]], np.int32)})
        check(False, "an int32 array for a float32 input is refused")
    except rig.RigError as e:
        check("int32" in str(e) and "float32" in str(e), "an int32 array for a float32 input is refused")
    try:
        rig.run_model(hp2, {"x": x, "z": x})
        check(False, "an extra input array is refused")
    except rig.RigError as e:
        check("'z'" in str(e) or "[z]" in str(e), "an extra input array is refused")
    try:
        rig.run_model(add4, {"input_1": a}, signature="nope")
        check(False, "a wrong signature key is refused")
    except rig.RigError as e:
        check("serving_default" in str(e), "a wrong signature key is refused, listing the keys")


def test_dynamic_shapes(fx):
    mlp = os.path.join(fx, "sm2_mnist_mlp_aakanshi", "tflite_ref", "tflite_model.tflite")
    x = np.random.default_rng(3).uniform(-1, 1, (3, 784)).astype(np.float32)
    for rt in ("litert", "interp"):
        whole = rig.run_model(mlp, {"dense_input": x}, runtime=rt)["dense_1"]
        parts = np.concatenate([rig.run_model(mlp, {"dense_input": x[i:i + 1]}, runtime=rt)["dense_1"] for i in range(3)])
        check(whole.shape == (3, 10) and np.allclose(whole, parts, rtol=1e-6, atol=1e-7),
              "%s: batch of 3 through [-1,784] = 3 batches of 1 (max diff %.2g)" % (rt, np.abs(whole - parts).max()))
    try:
        rig.run_model(mlp, {"dense_input": x[:, :700]})
        check(False, "a wrong static dimension is refused")
    except rig.RigError as e:
        check("784" in str(e), "a wrong static dimension is refused")
    # tf2onnx's regression model: input and output of unknown rank (shape []).
    reg = os.path.join(fx, "sm1_tf2onnx_regression", "tflite_ref", "model.tflite")
    v = np.array([1.0, 2.0, 3.0], np.float32)
    scal = [rig.run_model(reg, {"X": np.array(t, np.float32)}, runtime="interp")["pred"] for t in v]
    vec = rig.run_model(reg, {"X": v}, runtime="interp")["pred"]
    check(vec.shape == (3,) and np.array_equal(vec, np.array(scal, np.float32)),
          "interp: unknown-rank input resized to [3] = 3 scalar runs")
    s = rig.run_model(reg, {"X": np.array(2.0, np.float32)}, runtime="litert")["pred"]
    check(s.shape == () and s == scal[1], "litert: unknown-rank input as a scalar")
    try:
        rig.run_model(reg, {"X": v}, runtime="litert")
        check(False, "litert refuses resizing an unknown-rank input with unknown-rank outputs")
    except rig.RigError as e:
        check("interp" in str(e), "litert refuses resizing an unknown-rank input with unknown-rank outputs")


def test_failures(fx, d):
    out = os.path.join(d, "out.npz")
    inp = os.path.join(d, "in.npz")
    # LiteRT.js compiles a model with an unknown custom op, runs it, and only
    # logs "ERROR: ... Failed to allocate tensors": that must fail the run.
    tpu = os.path.join(fx, "h5_mnist_cnn_tpu_markus", "tflite_ref_edgetpu", "mnist_edgetpu.tflite")
    np.savez(inp, conv2d_input=np.zeros((1, 28, 28, 1), np.uint8))
    rc, _, err = node("run", "--model", tpu, "--inputs", inp, "--out", out, "--no-precheck")
    check(rc == 2 and "ERROR" in err and not os.path.exists(out), "litert: a run that logs ERROR fails, no output")
    rc, _, err = node("run", "--model", tpu, "--inputs", inp, "--out", out)
    check(rc == 2 and "edgetpu-custom-op" in err, "the precheck names the custom op")
    # A truncated model gives a message naming it and the byte offset.
    hp2 = os.path.join(fx, "sm1_serving_half_plus_two", "tflite_ref", "model.tflite")
    with open(hp2, "rb") as f:
        data = f.read()
    cut = os.path.join(d, "cut.tflite")
    np.savez(inp, x=np.ones((1, 1), np.float32))
    for n in (6, 200, len(data) // 2):
        with open(cut, "wb") as f:
            f.write(data[:n])
        rc, _, err = node("run", "--model", cut, "--inputs", inp, "--out", out)
        check(rc == 2 and cut in err and not os.path.exists(out), "truncated model (%d bytes) refused: %s" % (n, err.strip()[:150]))
    # LSTM state: LiteRT.js refuses variable tensors, the interpreter runs them.
    lstm = os.path.join(fx, "tflite_standalone_tflm", "tflm", "trained_lstm.tflite")
    x = np.random.default_rng(1).uniform(0, 1, (1, 28, 28)).astype(np.float32)
    try:
        rig.run_model(lstm, {"fixed_input": x})
        check(False, "litert refuses variable tensors")
    except rig.RigError as e:
        check("variable tensor" in str(e) and "interp" in str(e), "litert refuses variable tensors, pointing at interp")
    y1 = rig.run_model(lstm, {"fixed_input": x}, runtime="interp")["sequential"]
    y2 = rig.run_model(lstm, {"fixed_input": x}, runtime="auto")["sequential"]
    check(y1.shape == (1, 10) and np.array_equal(y1, y2) and abs(float(y1.sum()) - 1) < 1e-5,
          "interp/auto run the LSTM (softmax sums to 1)")


def test_compare(fx, d):
    f = os.path.join(fx, "tflite_standalone_tflm", "tflm", "hello_world_float.tflite")
    g = os.path.join(fx, "sm2_sine_hello_world_kumekay", "tflite_ref", "model_no_quant.tflite")
    q = os.path.join(fx, "tflite_standalone_tflm", "tflm", "hello_world_int8.tflite")
    r = rig.compare_models(f, f, exact=True, seed=5)
    check(r["ok"] and r["outputs"][0]["max_abs_diff"] == 0 and r["matched_outputs_by"] == "name", "compare: a model equals itself")
    r2 = rig.compare_models(f, f, exact=True, seed=5)
    check(r2 == r, "compare: same seed, same result")
    # Two different sine models: names differ (dense_input/dense_2_input), so
    # I/O is paired by position, and their outputs differ.
    r = rig.compare_models(f, g, seed=1)
    check(not r["ok"] and r["matched_inputs_by"] == "position" and r["outputs"][0]["mismatches"] > 0,
          "compare: different models differ (max abs diff %s)" % r["outputs"][0]["max_abs_diff"])
    r = rig.compare_models(f, g, atol=10.0, rtol=0.0, value_range=(0.0, 0.5))
    check(r["ok"], "compare: a loose atol accepts them")
    rc, out, _ = node("compare", "--a", f, "--b", g)
    check(rc == 1 and json.loads(out)["ok"] is False, "compare CLI: exit 1 and ok false on a mismatch")
    # Given inputs instead of random ones; results saved for inspection.
    x = np.array([[0.5]], np.float32)
    prefix = os.path.join(d, "cmp")
    rc, out, err = node("compare", "--a", f, "--b", f, "--exact", "--inputs", _npz(d, dense_input=x), "--save-outputs", prefix)
    a = rig.run_model(f, {"dense_input": x})["dense_2"]
    with np.load(prefix + ".a.npz") as z:
        check(rc == 0 and np.array_equal(z["dense_2"], a), "compare --inputs/--save-outputs use the given inputs")
    # A float model against an int8 one: inputs of different dtypes -> error.
    try:
        rig.compare_models(f, q)
        check(False, "compare refuses inputs of different dtypes")
    except rig.RigError as e:
        check("int8" in str(e).lower(), "compare refuses inputs of different dtypes")


def _npz(d, **arrays):
    p = os.path.join(d, "given.npz")
    np.savez(p, **arrays)
    return p


def main():
    if not rig.have_rig():
        print("skip: " + rig.why_no_rig())
        return 77
    with tempfile.TemporaryDirectory(prefix="t_rig_basics-") as d:
        test_npz_roundtrip(d)
        fx = rig.fixtures_dir()
        if fx is None:
            print("note: fixtures not found; model checks skipped")
        else:
            test_known_answers(fx)
            test_dynamic_shapes(fx)
            test_failures(fx, d)
            test_compare(fx, d)
    print("\n%d failed" % len(FAILS))
    for f in FAILS:
        print("  " + f)
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
