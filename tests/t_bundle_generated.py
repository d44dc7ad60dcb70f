#!/usr/bin/python3
"""t_bundle_generated.py -- the benchmark's SavedModel generator and the
TensorBundle reader against each other, where each side has an outside
anchor:

 - bench/gen_savedmodel.py writes the checkpoint's crc32c values with
   Debian's python3-crcmod, so the reader accepting every tensor means its
   crc32c agrees with an implementation nobody on tflc wrote, and its table
   reader agrees with a second, independent writer (multi-block index, one
   and several shards);
 - the values the reader gives equal the numpy arrays the generator drew;
 - saved_model.pb is read back by the fixtures' own protobuf inspector
   (_tools/inspect_pb.py, not tflc's), which must see the signature;
 - `tflc convert` of the generated model, run in Google's TFLite runtime
   (the rig), gives what numpy computes from the generated weights
   (x @ W + b, ReLU between layers), for VariableV2 and VarHandleOp
   variables, one and several shards. This part is skipped (with a
   message) when the CLI or the rig is absent.

Environment (set by ctest): TFLC_BUILD_DIR, TFLC_SOURCE_DIR, TFLC_FIXTURES.
Exit 77 when python3-crcmod is missing.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

try:
    import crcmod  # noqa: F401  (the generator needs it)
except ImportError:
    print("SKIP: needs python3-crcmod")
    sys.exit(77)

SRC = os.environ.get("TFLC_SOURCE_DIR") or os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))
BUILD = os.environ.get("TFLC_BUILD_DIR", "")
FIX = os.environ.get("TFLC_FIXTURES", "")
DUMPER = os.path.join(BUILD, "tests", "test_bundle_fixtures")
TFLC = os.environ.get("TFLC", "")
GEN = os.path.join(SRC, "bench", "gen_savedmodel.py")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def run(args):
    p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=600)
    return p.returncode, p.stdout.decode(errors="replace"), \
        p.stderr.decode(errors="replace")


def expected(values, x, layers):
    """What the generated graph computes, in float64 then rounded."""
    h = x.astype(np.float64)
    for i in range(layers):
        h = h @ values["dense_%d/kernel" % i] + values["dense_%d/bias" % i]
        if i + 1 < layers:
            h = np.maximum(h, 0)
    return h


def check_convert(tmp, name, sm, values, width, layers):
    if not (TFLC and os.access(TFLC, os.X_OK)):
        print("%s: convert check skipped: no tflc CLI" % name)
        return
    sys.path.insert(0, os.path.join(SRC, "tests"))
    from lib import rig
    why = rig.why_no_rig()
    if why:
        print("%s: convert check skipped: %s" % (name, why))
        return
    out = os.path.join(tmp, name + ".tflite")
    rc, _, err = run([TFLC, "convert", sm, "-o", out])
    if rc != 0:
        fail("%s: tflc convert failed: %s" % (name, err))
        return
    x = np.random.default_rng(3).standard_normal((1, width)).astype(np.float32)
    got = rig.run_model(out, {"x": x})
    y = got.get("y")
    want = expected(values, x, layers)
    if y is None or y.shape != want.shape or \
            not np.allclose(y, want, rtol=1e-5, atol=1e-5):
        fail("%s: the converted model gives %s, numpy %s" % (name, y, want))
        return
    print("%s: converted model matches numpy (max err %.2g)"
          % (name, float(np.abs(y - want).max())))


def case(tmp, name, extra):
    sm = os.path.join(tmp, name)
    npz = os.path.join(tmp, name + ".npz")
    rc, out, err = run(["/usr/bin/python3", GEN, sm, "--save-values", npz] + extra)
    if rc != 0:
        fail("%s: generator failed: %s" % (name, err))
        return
    dump = os.path.join(tmp, name + "_dump")
    os.makedirs(dump)
    rc, out, err = run([DUMPER, "dump", os.path.join(sm, "variables", "variables"),
                        dump])
    if rc != 0:
        fail("%s: the reader refused the checkpoint: %s" % (name, err))
        return
    want = dict(np.load(npz))
    got = {}
    with open(os.path.join(dump, "keys.tsv")) as f:
        for line in f:
            idx, key, _, _ = line.rstrip("\n").split("\t")
            got[key] = np.load(os.path.join(dump, idx + ".npy"))
    if sorted(got) != sorted(want):
        fail("%s: keys %s, generator wrote %s" % (name, sorted(got), sorted(want)))
    for k in want:
        if k in got and (got[k].shape != want[k].shape or
                         not np.array_equal(got[k], want[k])):
            fail("%s: %s differs from what the generator wrote" % (name, k))
    tool = os.path.join(FIX, "_tools", "inspect_pb.py")
    if os.path.exists(tool):
        rc, out, err = run(["/usr/bin/python3", tool,
                            os.path.join(sm, "saved_model.pb")])
        if rc != 0 or "sig serving_default: in(x:float32[-1x" not in out:
            fail("%s: inspect_pb.py does not see the signature: %s %s"
                 % (name, out, err))
    print("%s: %d variables read back equal" % (name, len(want)))
    width = int(extra[extra.index("--width") + 1])
    layers = int(extra[extra.index("--layers") + 1])
    if layers <= 8:
        check_convert(tmp, name, sm, want, width, layers)


def main():
    if not os.access(DUMPER, os.X_OK):
        print("FAIL: %s not built" % DUMPER)
        return 1
    tmp = tempfile.mkdtemp(prefix="tflc_gen_")
    try:
        case(tmp, "v2", ["--width", "48", "--layers", "3"])
        case(tmp, "res2", ["--width", "32", "--layers", "4", "--resource",
                           "--shards", "2", "--seed", "3"])
        # Enough variables for a multi-block index, over three shards.
        case(tmp, "res_sharded", ["--width", "8", "--layers", "120",
                                  "--shards", "3", "--resource", "--seed", "7"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
