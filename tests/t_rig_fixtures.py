#!/usr/bin/python3
"""t_rig_fixtures.py -- checks the test rig itself on the TF-made .tflite files
under the shared fixtures: every model that the rig says a runtime can run
must run there, give the same answer twice, and give the same answer in both
of Google's runtimes (LiteRT.js and the classic tflite::Interpreter):

  quantized models (full-integer kernels)   bit-exact
  float models                              |a - b| <= 1e-5 |b| + 1e-6
  hybrid models (float activations, int8    |a - b| <= 5% of max |b|: each runtime
  constant weights: dynamic-range quant)    quantizes activations its own way

Models a runtime cannot run (Flex or custom ops, variable tensors in LiteRT.js,
int64 or string I/O, ops newer than the 2023 interpreter) are listed with the
reason. Exit 77 (skipped) when the fixtures or the rig's node_modules are
absent.
"""

import concurrent.futures
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib import rig  # noqa: E402

RUNTIMES = ("litert", "interp")
HYBRID_FRACTION = 0.05
# Runtime errors that mean "this runtime is too old for the model", not a rig
# fault: the 2023 interpreter lacks newer op versions.
KNOWN_LIMITS = {
    "interp": [("Didn't find op for builtin opcode", "an op version newer than the 2023 interpreter supports")],
}


def find_models(root):
    """*.tflite files, plus extension-less TFLite files in tflite* folders."""
    found = []
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            if f.endswith(".tflite"):
                found.append(p)
            elif "." not in f and os.path.basename(d).startswith("tflite"):
                with open(p, "rb") as fh:
                    if fh.read(8)[4:8] == b"TFL3":
                        found.append(p)
    return sorted(found)


def make_inputs(info, seed):
    rng = np.random.default_rng(seed)
    out = {}
    for t in info["inputs"]:
        sig = t["shape_signature"] if t["shape_signature"] is not None else t["shape"]
        shape = tuple(1 if d < 0 else d for d in sig)
        dt = np.dtype(t["dtype"])
        if dt == np.bool_:
            a = rng.integers(0, 2, size=shape).astype(np.bool_)
        elif dt.kind == "f":
            a = rng.uniform(-1.0, 1.0, size=shape).astype(dt)
        elif t.get("quantization") and dt in (np.int8, np.uint8, np.int16):
            ii = np.iinfo(dt)
            a = rng.integers(ii.min, ii.max, size=shape, endpoint=True).astype(dt)
        else:
            a = rng.integers(0, 8, size=shape).astype(dt)
        out[t["name"]] = a
    return out


def same_bits(x, y):
    """Bit-identical arrays, except that any NaN equals any NaN."""
    if x.dtype != y.dtype or x.shape != y.shape:
        return False
    if x.dtype.kind not in "fc":
        return bool(np.array_equal(x, y))
    xs, ys = x.reshape(-1), y.reshape(-1)
    if x.dtype.kind == "c":  # compare real and imaginary parts separately
        part = np.dtype("f%d" % (x.dtype.itemsize // 2))
        xs, ys = xs.view(part), ys.view(part)
    bits = np.dtype("u%d" % xs.dtype.itemsize)
    return bool(np.all((xs.view(bits) == ys.view(bits)) | (np.isnan(xs) & np.isnan(ys))))


def agree(numerics, a, b):
    """(ok, max_abs_diff, note) for outputs a (litert) vs b (interp)."""
    worst = 0.0
    for k in b:
        x, y = a.get(k), b[k]
        if x is None or x.shape != y.shape or x.dtype != y.dtype:
            return False, None, "output %s: %s vs %s" % (k, None if x is None else (x.dtype, x.shape), (y.dtype, y.shape))
        if x.dtype.kind in "fc":
            d = np.abs(x.astype(np.float64) - y.astype(np.float64))
            worst = max(worst, float(np.nanmax(d)) if d.size else 0.0)
        elif x.size:
            worst = max(worst, float(np.max(np.abs(x.astype(np.float64) - y.astype(np.float64)))))
        if numerics == "quantized" or x.dtype.kind not in "fc":
            ok = same_bits(x, y)
        elif numerics == "hybrid":
            ok = bool(np.all(np.abs(x - y) <= HYBRID_FRACTION * np.max(np.abs(y)) + 1e-6))
        else:
            ok = bool(np.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True))
        if not ok:
            return False, worst, "output %s differs (max abs diff %.3g)" % (k, worst)
    return True, worst, ""


def check_model(path, seed):
    """Returns a row dict; row['fail'] lists what went wrong."""
    row = {"path": path, "fail": [], "res": {}}
    try:
        info = rig.model_info(path)
    except rig.RigError as e:
        row["fail"].append("info: %s" % e)
        return row
    row["numerics"] = info["numerics"]
    inputs = make_inputs(info, seed) if all(t["dtype"] for t in info["inputs"]) else None
    outs = {}
    for rt in RUNTIMES:
        st = info["runtimes"][rt]
        if not st["ok"]:
            row["res"][rt] = "cannot: " + st["reason"]
            continue
        if inputs is None:
            row["fail"].append("%s: the rig says it can run the model but an input has no NumPy dtype" % rt)
            continue
        try:
            first = rig.run_model(path, inputs, runtime=rt)
            second = rig.run_model(path, inputs, runtime=rt)
        except rig.RigError as e:
            limit = [why for pat, why in KNOWN_LIMITS.get(rt, []) if pat in str(e)]
            if limit:
                row["res"][rt] = "cannot: " + limit[0]
            else:
                row["res"][rt] = "FAILED"
                row["fail"].append("%s: %s" % (rt, str(e).strip().splitlines()[0][:300]))
            continue
        if set(first) != set(o["name"] for o in info["outputs"]):
            row["fail"].append("%s: output keys %s, model outputs %s" % (rt, sorted(first), [o["name"] for o in info["outputs"]]))
        if not all(same_bits(first[k], second[k]) for k in first):
            row["fail"].append("%s: two runs on the same inputs differ" % rt)
        bad = [k for k, v in first.items() if v.dtype.kind == "f" and not np.all(np.isfinite(v))]
        if bad:
            row["fail"].append("%s: non-finite values in %s" % (rt, bad))
        row["res"][rt] = "ok"
        outs[rt] = first
    if len(outs) == 2:
        ok, worst, note = agree(row["numerics"], outs["litert"], outs["interp"])
        row["diff"] = worst
        if not ok:
            row["fail"].append("litert vs interp: " + note)
        # The same check through the rig's own comparator (its random inputs).
        try:
            if row["numerics"] == "quantized":
                res = rig.compare_models(path, path, runtime="litert", runtime_b="interp", seed=seed, exact=True)
            elif row["numerics"] == "float":
                res = rig.compare_models(path, path, runtime="litert", runtime_b="interp", seed=seed)
            else:
                res = None
            if res is not None and not res["ok"]:
                row["fail"].append("compare_models litert vs interp: %s" % [
                    (o["name"], o["max_abs_diff"], o.get("reason")) for o in res["outputs"] if not o["ok"]])
        except rig.RigError as e:
            row["fail"].append("compare_models: %s" % str(e).splitlines()[0])
    return row


def main():
    fx = rig.fixtures_dir()
    if fx is None:
        print("skip: fixtures not found (set TFLC_FIXTURES or provide ../shared/fixtures)")
        return 77
    if not rig.have_rig():
        print("skip: " + rig.why_no_rig())
        return 77
    models = find_models(fx)
    if not models:
        print("skip: no .tflite files under %s" % fx)
        return 77
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as ex:
        rows = list(ex.map(lambda p: check_model(p, 1234), models))

    w = max(len(os.path.relpath(r["path"], fx)) for r in rows)
    print("%-*s  %-9s  %-8s  %-8s  %s" % (w, "model", "numerics", "litert", "interp", "litert-vs-interp / reasons"))
    ran = {rt: 0 for rt in RUNTIMES}
    for r in rows:
        res = r["res"]
        short = {rt: (res.get(rt, "-") if not res.get(rt, "").startswith("cannot") else "cannot") for rt in RUNTIMES}
        for rt in RUNTIMES:
            ran[rt] += res.get(rt) == "ok"
        notes = []
        if "diff" in r:
            notes.append("max|diff| %.3g" % r["diff"])
        notes += ["%s %s" % (rt, res[rt][len("cannot: "):]) for rt in RUNTIMES if res.get(rt, "").startswith("cannot")]
        notes += ["FAIL " + f for f in r["fail"]]
        print("%-*s  %-9s  %-8s  %-8s  %s" % (w, os.path.relpath(r["path"], fx), r.get("numerics", "?"),
                                             short["litert"], short["interp"], "; ".join(notes)))
    failed = [r for r in rows if r["fail"]]
    print("\n%d models; ran in litert: %d, in interp: %d; %d failed; %.0fs" % (
        len(rows), ran["litert"], ran["interp"], len(failed), time.time() - t0))
    if ran["litert"] == 0:
        print("FAIL: no model ran in LiteRT.js")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
