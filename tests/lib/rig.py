"""Python front of tflc's test rig (tests/rig/run.mjs): runs .tflite models in
Google's TFLite runtimes (LiteRT.js, or the classic tflite::Interpreter from
tfjs-tflite), compiled to WebAssembly and driven by Node.

Use with Debian's /usr/bin/python3 and NumPy:

    import sys, os
    sys.path.insert(0, os.path.join(os.environ["TFLC_SOURCE_DIR"], "tests"))
    from lib import rig
    if not rig.have_rig():
        print("skip: " + rig.why_no_rig()); sys.exit(77)
    out = rig.run_model("m.tflite", {"x": np.ones((1, 4), np.float32)})
    res = rig.compare_models("ours.tflite", "tf.tflite")   # res["ok"]

Every call starts one `node` process; arrays travel through temporary .npz
files. Failures of the runtime (including any runtime log line starting with
ERROR) raise RigError carrying node's stderr.
"""

import json
import os
import shutil
import subprocess
import tempfile

import numpy as np

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(_TESTS)
RIG_DIR = os.path.join(_TESTS, "rig")
RUN_MJS = os.path.join(RIG_DIR, "run.mjs")
_PACKAGES = ("@litertjs/core", "@tensorflow/tfjs-tflite", "@tensorflow/tfjs-core")

# One node call should never take this long; a hung runtime fails the test.
TIMEOUT = float(os.environ.get("TFLC_RIG_TIMEOUT", "300"))


class RigError(RuntimeError):
    """The rig or the runtime failed; str() includes the runtime's stderr."""

    def __init__(self, message, stderr="", returncode=None):
        super().__init__(message + ("\n" + stderr.strip() if stderr.strip() else ""))
        self.stderr = stderr
        self.returncode = returncode


def node_exe():
    return os.environ.get("TFLC_NODE") or shutil.which("node")


def why_no_rig():
    """Why the rig cannot run here, or None when it can."""
    if not node_exe():
        return "node is not installed (run: bash setup.sh)"
    for p in _PACKAGES:
        if not os.path.isfile(os.path.join(RIG_DIR, "node_modules", p, "package.json")):
            return "npm package %s is not installed in tests/rig (run: bash setup.sh)" % p
    return None


def have_rig():
    """True when node and the rig's node_modules are installed."""
    return why_no_rig() is None


def fixtures_dir():
    """The shared fixtures folder: $TFLC_FIXTURES, else ../shared/fixtures
    next to the checkout; None when it does not exist."""
    cands = [os.environ.get("TFLC_FIXTURES"), os.path.join(os.path.dirname(REPO), "shared", "fixtures")]
    for c in cands:
        if c and os.path.isdir(c):
            return os.path.abspath(c)
    return None


def _node(args, what):
    if not have_rig():
        raise RigError("test rig unavailable: " + why_no_rig())
    cmd = [node_exe(), RUN_MJS] + [str(a) for a in args]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired as e:
        raise RigError("%s: node timed out after %gs: %s" % (what, TIMEOUT, " ".join(cmd)),
                       (e.stderr or b"").decode() if isinstance(e.stderr, bytes) else (e.stderr or ""))
    return p


def _save_inputs(path, inputs):
    arrays = {}
    for k, v in inputs.items():
        a = np.asarray(v)
        if a.dtype.byteorder == ">":
            a = a.astype(a.dtype.newbyteorder("<"))
        # (np.ascontiguousarray would turn a 0-d array into shape (1,).)
        arrays[str(k)] = a if a.flags.c_contiguous else a.copy(order="C")
    # np.savez keeps the keys as member names ('x.npy'); any string is fine.
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _load_npz(path):
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k].copy() for k in z.files}


def run_model(path, inputs, runtime="litert", signature=None):
    """Runs the model at `path` once on `inputs` and returns its outputs.

    inputs: dict keyed by signature input name (models with signature_defs:
    the first signature unless `signature` names another), else by input
    tensor name; or by position "0", "1", ... Arrays are cast to the model's
    dtypes when no value changes kind (float->float, int->int in range).
    Inputs whose shape_signature has -1 may take any size there.
    runtime: "litert" (LiteRT.js), "interp" (tflite::Interpreter, needed for
    variable tensors) or "auto" (litert unless the model has variable tensors).
    Returns a dict keyed like the inputs were (names or positions)."""
    with tempfile.TemporaryDirectory(prefix="tflc-rig-") as d:
        inp, out = os.path.join(d, "in.npz"), os.path.join(d, "out.npz")
        _save_inputs(inp, inputs)
        args = ["run", "--model", path, "--inputs", inp, "--out", out, "--runtime", runtime]
        if signature is not None:
            args += ["--signature", signature]
        p = _node(args, "run_model(%s)" % path)
        if p.returncode != 0:
            raise RigError("run_model(%s, runtime=%s) failed (exit %d)" % (path, runtime, p.returncode),
                           p.stderr, p.returncode)
        return _load_npz(out)


def compare_models(a, b, runtime="litert", seed=0, exact=False, rtol=1e-5, atol=1e-6,
                   runtime_b=None, signature=None, inputs=None, value_range=None,
                   int_range=None):
    """Runs models a and b on the same inputs and compares their outputs.

    Inputs are random (deterministic in `seed`; dynamic dims set to 1; floats
    in value_range, default [-1, 1); plain ints in int_range, default [0, 7];
    quantized int inputs over their whole range) unless `inputs` (a dict as
    for run_model, keyed for model a) is given. Inputs and outputs are paired
    by name when both models use the same names, else by position. With
    exact=True outputs must be bit-identical (NaN == NaN), else
    |a - b| <= atol + rtol * |b| elementwise (b is the reference).
    runtime_b: run b in another runtime (default: the same as a).

    Returns the rig's JSON result as a dict: "ok", and per output "name",
    "max_abs_diff", "max_rel_diff", "mismatches", "first_mismatch", "ok".
    A mismatch is a result (ok False); a failure to run raises RigError."""
    with tempfile.TemporaryDirectory(prefix="tflc-rig-") as d:
        args = ["compare", "--a", a, "--b", b, "--runtime", runtime, "--seed", int(seed)]
        if runtime_b is not None:
            args += ["--runtime-b", runtime_b]
        if signature is not None:
            args += ["--signature", signature]
        if exact:
            args += ["--exact"]
        else:
            args += ["--rtol", repr(float(rtol)), "--atol", repr(float(atol))]
        if value_range is not None:
            args += ["--range", "%r,%r" % (float(value_range[0]), float(value_range[1]))]
        if int_range is not None:
            args += ["--int-range", "%d,%d" % (int(int_range[0]), int(int_range[1]))]
        if inputs is not None:
            inp = os.path.join(d, "in.npz")
            _save_inputs(inp, inputs)
            args += ["--inputs", inp]
        p = _node(args, "compare_models(%s, %s)" % (a, b))
        if p.returncode not in (0, 1):
            raise RigError("compare_models(%s, %s, runtime=%s) failed (exit %d)" % (a, b, runtime, p.returncode),
                           p.stderr, p.returncode)
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise RigError("compare_models(%s, %s): no JSON result on stdout: %r" % (a, b, p.stdout[-500:]),
                           p.stderr, p.returncode)
        if bool(res.get("ok")) != (p.returncode == 0):
            raise RigError("compare_models: exit status %d disagrees with ok=%r" % (p.returncode, res.get("ok")),
                           p.stderr, p.returncode)
        return res


def model_info(path, signature=None):
    """The rig's description of a model (`run.mjs info`): inputs/outputs with
    names, dtypes, shapes and quantization; operator counts; "numerics"
    ('float', 'quantized' or 'hybrid'); and per runtime {"ok", "reason"} for
    what stops it from running the model, judged from the file alone."""
    args = ["info", "--model", path]
    if signature is not None:
        args += ["--signature", signature]
    p = _node(args, "model_info(%s)" % path)
    if p.returncode != 0:
        raise RigError("model_info(%s) failed (exit %d)" % (path, p.returncode), p.stderr, p.returncode)
    return json.loads(p.stdout)
