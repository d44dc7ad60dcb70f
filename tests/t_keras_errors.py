#!/usr/bin/python3
"""t_keras_errors.py -- bad Keras files through `tflc convert`:

1. A model with many problems (a Lambda layer, a custom class, an unknown
   activation, a missing weight, a misshaped weight, a batch norm missing
   a statistic), as .h5 and as .keras: exit status 1, no output file, and
   exactly ONE error line per problem, each naming the layer, its class and
   what is wrong -- all of them, not just the first.
2. Broken containers: truncated and corrupted .h5 and .keras files, a
   weights-only .h5, malformed JSON, a zip without weights, a text file:
   exit status 1 (never a crash or signal), an error naming the file, no
   output file. Random byte flips may leave a file convertible; then the
   output must still be a valid .tflite (exit 0) -- anything but a crash.
3. Fuzzed configs: valid JSON with hostile values (0, -1, huge numbers,
   null, wrong types) in random places: anything but a crash.

Run it with an ASan+UBSan build of tflc ($TFLC) to check memory safety.
Exit 77 (skip) without the tflc binary.
"""
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import t_keras_fixtures as kf  # noqa: E402

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def dense(name, units, act="linear", bias=True, batch=None):
    c = {"name": name, "units": units, "activation": act, "use_bias": bias, "dtype": "float32"}
    if batch:
        c["batch_input_shape"] = batch
    return {"class_name": "Dense", "config": c}


def bad_model_layers():
    """A Sequential model with six problems, and its weights."""
    layers = [
        dense("dense_ok", 4, "relu", batch=[None, 3]),
        {"class_name": "Lambda", "config": {"name": "lambda_1", "function": ["4wEAAAAAAAAA", None, None],
                                            "function_type": "lambda", "dtype": "float32"}},
        {"class_name": "MyCustomLayer", "config": {"name": "my_layer", "dtype": "float32", "factor": 2}},
        dense("dense_act", 3, "weird_act"),
        dense("dense_nobias", 3),
        dense("dense_shape", 5),
        {"class_name": "BatchNormalization", "config": {"name": "bn", "axis": -1, "epsilon": 0.001,
                                                        "center": True, "scale": True}},
        dense("dense_last", 2),
    ]
    r = np.random.default_rng(0)
    w = {
        "dense_ok": [("kernel", r.standard_normal((3, 4))), ("bias", r.standard_normal(4))],
        "dense_act": [("kernel", r.standard_normal((4, 3))), ("bias", r.standard_normal(3))],
        "dense_nobias": [("kernel", r.standard_normal((3, 3)))],                  # bias missing
        "dense_shape": [("kernel", r.standard_normal((3, 4))), ("bias", r.standard_normal(5))],  # [3,5]
        "bn": [("gamma", np.ones(5)), ("beta", np.zeros(5)), ("moving_mean", np.zeros(5))],  # no variance
        "dense_last": [("kernel", r.standard_normal((5, 2))), ("bias", r.standard_normal(2))],
    }
    # (layer, class, what the message says for the .h5, for the .keras):
    # a .keras numbers its variables, so a missing one shows as a count.
    expected = [
        ("lambda_1", "Lambda", "Python code", "Python code"),
        ("my_layer", "MyCustomLayer", "custom class", "registered as 'Custom>MyCustomLayer'"),
        ("dense_act", "Dense", "unknown activation 'weird_act'", "unknown activation 'weird_act'"),
        ("dense_nobias", "Dense", "weight 'bias' is missing", "expected 2 weights (kernel, bias), the file has 1"),
        ("dense_shape", "Dense", "'kernel' has shape [3,4], expected [?,5]",
         "'kernel' has shape [3,4], expected [?,5]"),
        ("bn", "BatchNormalization", "weight 'moving_variance' is missing",
         "expected 4 weights (gamma, beta, moving_mean, moving_variance), the file has 3"),
    ]
    return layers, w, expected


def write_h5(path, cfg, weights, keras_version="2.4.0"):
    import h5py
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = keras_version
        f.attrs["backend"] = "tensorflow"
        if cfg is not None:
            f.attrs["model_config"] = json.dumps(cfg) if not isinstance(cfg, str) else cfg
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([n.encode() for n in weights])
        for ln, ws in weights.items():
            g = mw.create_group(ln)
            names = []
            for role, arr in ws:
                n = "%s/%s:0" % (ln, role)
                g.create_dataset(n, data=np.asarray(arr, np.float32))
                names.append(n.encode())
            g.attrs["weight_names"] = np.array(names)


def write_keras(path, cfg, weights_by_path, members=None):
    import h5py
    buf = io.BytesIO()
    with h5py.File(buf, "w") as h5:
        for p, arrs in weights_by_path.items():
            g = h5.create_group(p + "/vars")
            for i, a in enumerate(arrs):
                g.create_dataset(str(i), data=np.asarray(a, np.float32))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.4.1"}))
        if cfg is not None:
            z.writestr("config.json", json.dumps(cfg) if not isinstance(cfg, str) else cfg)
        z.writestr("model.weights.h5", buf.getvalue())
        for name, data in (members or {}).items():
            z.writestr(name, data)


# Debian's libhdf5 1.10.8 keeps a few bytes when it gives up on some
# corrupted files (and prints "infinite loop closing library" at exit):
# LeakSanitizer is told to ignore leaks allocated inside libhdf5 itself.
_LSAN = os.path.join(tempfile.mkdtemp(prefix="tflc-lsan-"), "hdf5.supp")
with open(_LSAN, "w") as _f:
    _f.write("leak:libhdf5\n")


def run(tflc, model, out):
    env = dict(os.environ)
    env["LSAN_OPTIONS"] = "suppressions=%s:print_suppressions=0" % _LSAN + \
        (":" + env["LSAN_OPTIONS"] if env.get("LSAN_OPTIONS") else "")
    p = subprocess.run([tflc, "convert", "--keras_model_file", model, "-o", out],
                       capture_output=True, timeout=300, env=env)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def check_many_problems(tflc, work):
    layers, w, expected = bad_model_layers()
    cfg = {"class_name": "Sequential", "config": {"name": "bad", "layers": layers}}
    h5 = os.path.join(work, "bad.h5")
    write_h5(h5, cfg, w)
    # The same model in the Keras 3 dialect.
    k3_layers = [{"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
                  "config": {"batch_shape": [None, 3], "dtype": "float32", "name": "input_layer"}}]
    for l in layers:
        c = dict(l["config"])
        c.pop("batch_input_shape", None)
        c["dtype"] = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                      "registered_name": None}
        e = {"module": "keras.layers", "class_name": l["class_name"], "config": c, "registered_name": None}
        if l["class_name"] == "MyCustomLayer":
            e["module"], e["registered_name"] = "my_package", "Custom>MyCustomLayer"
        k3_layers.append(e)
    k3 = {"module": "keras", "class_name": "Sequential", "registered_name": None,
          "config": {"name": "bad", "layers": k3_layers}}
    counts, paths = {}, {}
    for l in layers:
        sn = kf._snake(l["class_name"])
        k = counts.get(sn, -1) + 1
        counts[sn] = k
        name = l["config"]["name"]
        if name in w:
            paths["layers/%s%s" % (sn, "_%d" % k if k else "")] = [a for _, a in w[name]]
    ks = os.path.join(work, "bad.keras")
    write_keras(ks, k3, paths)
    for model in (h5, ks):
        out = os.path.join(work, "bad.tflite")
        rc, err = run(tflc, model, out)
        lines = [l for l in err.splitlines() if l.strip()]
        if rc != 1:
            fail("%s: exit status %d, expected 1" % (model, rc))
        if os.path.exists(out):
            fail("%s: an output file was left behind" % model)
        for layer, cls, what_h5, what_k3 in expected:
            what = what_k3 if model.endswith(".keras") else what_h5
            hits = [l for l in lines if "layer '%s' (%s)" % (layer, cls) in l]
            if len(hits) != 1:
                fail("%s: %d error lines for layer %s (%s), expected 1: %s" % (model, len(hits), layer, cls, hits))
            elif what not in hits[0]:
                fail("%s: the error for %s does not say %r: %s" % (model, layer, what, hits[0]))
            elif model not in hits[0]:
                fail("%s: the error for %s does not name the file: %s" % (model, layer, hits[0]))
        extra = [l for l in lines if not any("layer '%s'" % e[0] in l for e in expected)]
        if extra:
            fail("%s: unexpected error lines: %s" % (model, extra))
        print("%s: %d errors, as expected" % (os.path.basename(model), len(lines)))


def good_h5(path):
    """A small valid model: Conv2D -> Flatten -> Dense."""
    r = np.random.default_rng(1)
    cfg = {"class_name": "Sequential", "config": {"name": "good", "layers": [
        {"class_name": "Conv2D", "config": {"name": "conv", "filters": 4, "kernel_size": [3, 3],
                                            "strides": [1, 1], "padding": "same", "activation": "relu",
                                            "use_bias": True, "batch_input_shape": [None, 6, 6, 2]}},
        {"class_name": "Flatten", "config": {"name": "flatten"}},
        dense("dense", 3, "softmax")]}}
    write_h5(path, cfg, {"conv": [("kernel", r.standard_normal((3, 3, 2, 4))), ("bias", r.standard_normal(4))],
                         "flatten": [],
                         "dense": [("kernel", r.standard_normal((144, 3))), ("bias", r.standard_normal(3))]})
    return cfg


def expect_error(tflc, model, work, what):
    out = os.path.join(work, "broken.tflite")
    if os.path.exists(out):
        os.unlink(out)
    rc, err = run(tflc, model, out)
    if rc != 1:
        fail("%s (%s): exit status %d, expected 1; stderr: %s" % (what, model, rc, err[-500:]))
    elif model not in err:
        fail("%s: the error does not name the file: %s" % (what, err.strip()))
    if os.path.exists(out):
        fail("%s: an output file was left behind" % what)


def expect_no_crash(tflc, model, work, what):
    out = os.path.join(work, "maybe.tflite")
    if os.path.exists(out):
        os.unlink(out)
    rc, err = run(tflc, model, out)
    if rc not in (0, 1) or "Sanitizer" in err or "runtime error" in err:
        fail("%s: exit status %d: %s" % (what, rc, err[-800:]))
    elif rc == 1 and model not in err:
        fail("%s: the error does not name the file: %s" % (what, err.strip()[:300]))
    elif rc == 0 and not os.path.exists(out):
        fail("%s: success without an output file" % what)
    return rc


def check_broken(tflc, work):
    good = os.path.join(work, "good.h5")
    cfg = good_h5(good)
    rc, err = run(tflc, good, os.path.join(work, "good.tflite"))
    if rc != 0:
        fail("the valid model does not convert: " + err)
        return
    data = open(good, "rb").read()
    p = os.path.join(work, "cut.h5")
    for frac in (0.05, 0.3, 0.6, 0.9):
        open(p, "wb").write(data[:int(len(data) * frac)])
        expect_error(tflc, p, work, "h5 truncated to %d%%" % (frac * 100))
    open(p, "wb").write(data[:-1])
    expect_error(tflc, p, work, "h5 missing its last byte")
    rnd = random.Random(7)
    accepted = 0
    for i in range(40):
        b = bytearray(data)
        for _ in range(8):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        open(p, "wb").write(bytes(b))
        accepted += expect_no_crash(tflc, p, work, "h5 with flipped bytes (seed %d)" % i) == 0
    print("corrupted .h5: %d of 40 still converted, the others failed cleanly" % accepted)

    # .keras files.
    k3 = {"module": "keras", "class_name": "Sequential", "registered_name": None, "config": {
        "name": "k", "layers": [
            {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
             "config": {"batch_shape": [None, 4], "dtype": "float32", "name": "input_layer"}},
            {"module": "keras.layers", "class_name": "Dense", "registered_name": None,
             "config": {"name": "dense", "units": 2, "activation": "relu", "use_bias": True}}]}}
    r = np.random.default_rng(2)
    ks = os.path.join(work, "good.keras")
    write_keras(ks, k3, {"layers/dense": [r.standard_normal((4, 2)), r.standard_normal(2)]})
    rc, err = run(tflc, ks, os.path.join(work, "good2.tflite"))
    if rc != 0:
        fail("the valid .keras does not convert: " + err)
    kd = open(ks, "rb").read()
    kp = os.path.join(work, "cut.keras")
    for frac in (0.1, 0.5, 0.8, 0.99):
        open(kp, "wb").write(kd[:int(len(kd) * frac)])
        expect_error(tflc, kp, work, ".keras truncated to %d%%" % (frac * 100))
    for i in range(30):
        b = bytearray(kd)
        for _ in range(6):
            b[rnd.randrange(len(b))] = rnd.randrange(256)
        open(kp, "wb").write(bytes(b))
        expect_no_crash(tflc, kp, work, ".keras with flipped bytes (seed %d)" % i)
    cases = []
    write_keras(kp, "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [", {})
    cases.append((kp, "malformed config.json"))
    nw = os.path.join(work, "noweights.keras")
    with zipfile.ZipFile(nw, "w") as z:
        z.writestr("config.json", json.dumps(k3))
    cases.append((nw, "no model.weights.h5"))
    gw = os.path.join(work, "garbage_weights.keras")
    with zipfile.ZipFile(gw, "w") as z:
        z.writestr("config.json", json.dumps(k3))
        z.writestr("model.weights.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    cases.append((gw, "garbage model.weights.h5"))
    nc = os.path.join(work, "noconfig.keras")
    with zipfile.ZipFile(nc, "w") as z:
        z.writestr("metadata.json", "{}")
    cases.append((nc, "no config.json"))
    wo = os.path.join(work, "weights_only.h5")
    write_h5(wo, None, {"dense": [("kernel", np.ones((2, 2)))]})
    cases.append((wo, "weights-only .h5"))
    bj = os.path.join(work, "badjson.h5")
    write_h5(bj, json.dumps(cfg)[:-20], {"dense": []})
    cases.append((bj, "truncated model_config JSON"))
    txt = os.path.join(work, "text.h5")
    open(txt, "w").write("this is not a model\n")
    cases.append((txt, "a text file"))
    empty = os.path.join(work, "empty.keras")
    open(empty, "wb").close()
    cases.append((empty, "an empty file"))
    ref = os.path.join(work, "badref.h5")
    write_h5(ref, {"class_name": "Functional", "config": {
        "name": "f", "layers": [
            {"class_name": "InputLayer", "name": "in", "inbound_nodes": [],
             "config": {"name": "in", "batch_input_shape": [None, 3], "dtype": "float32"}},
            {"class_name": "Dense", "name": "d", "inbound_nodes": [[["nowhere", 0, 0, {}]]],
             "config": {"name": "d", "units": 2}}],
        "input_layers": [["in", 0, 0]], "output_layers": [["d", 0, 0]]}},
        {"d": [("kernel", np.ones((3, 2))), ("bias", np.ones(2))]})
    cases.append((ref, "a call reading a layer that does not exist"))
    sub = os.path.join(work, "subclassed.h5")
    write_h5(sub, {"class_name": "MyModel", "config": {"name": "m"}}, {})
    cases.append((sub, "a subclassed model"))
    for path, what in cases:
        expect_error(tflc, path, work, what)
    print("broken containers: %d cases checked" % (len(cases) + 9))


def fuzz_configs(tflc, work, rounds=150):
    """Valid JSON with hostile values: every numeric, string or list value
    of a model config in turn replaced by 0, -1, a huge number, null, a
    string, a list or an object. Any outcome but a crash is fine; an error
    must name the file."""
    r = np.random.default_rng(3)
    cfg = {"class_name": "Functional", "config": {
        "name": "fz", "input_layers": [["in", 0, 0]], "output_layers": [["out", 0, 0]], "layers": [
            {"class_name": "InputLayer", "name": "in", "inbound_nodes": [],
             "config": {"name": "in", "batch_input_shape": [None, 8, 8, 2], "dtype": "float32"}},
            {"class_name": "Conv2D", "name": "conv", "inbound_nodes": [[["in", 0, 0, {}]]],
             "config": {"name": "conv", "filters": 3, "kernel_size": [3, 3], "strides": [1, 1], "padding": "same",
                        "dilation_rate": [1, 1], "activation": "relu", "use_bias": True}},
            {"class_name": "DepthwiseConv2D", "name": "dw", "inbound_nodes": [[["conv", 0, 0, {}]]],
             "config": {"name": "dw", "kernel_size": [3, 3], "strides": [2, 2], "padding": "valid",
                        "depth_multiplier": 1, "use_bias": True}},
            {"class_name": "MaxPooling2D", "name": "pool", "inbound_nodes": [[["conv", 0, 0, {}]]],
             "config": {"name": "pool", "pool_size": [2, 2], "strides": [2, 2], "padding": "valid"}},
            {"class_name": "ZeroPadding2D", "name": "pad", "inbound_nodes": [[["dw", 0, 0, {}]]],
             "config": {"name": "pad", "padding": [[0, 1], [0, 1]]}},
            {"class_name": "Concatenate", "name": "cat", "inbound_nodes": [[["pool", 0, 0, {}], ["pad", 0, 0, {}]]],
             "config": {"name": "cat", "axis": -1}},
            {"class_name": "BatchNormalization", "name": "bn", "inbound_nodes": [[["cat", 0, 0, {}]]],
             "config": {"name": "bn", "axis": 3, "epsilon": 0.001, "center": True, "scale": True}},
            {"class_name": "Reshape", "name": "rs", "inbound_nodes": [[["bn", 0, 0, {}]]],
             "config": {"name": "rs", "target_shape": [16, -1]}},
            {"class_name": "Flatten", "name": "fl", "inbound_nodes": [[["rs", 0, 0, {}]]], "config": {"name": "fl"}},
            {"class_name": "Dense", "name": "out", "inbound_nodes": [[["fl", 0, 0, {}]]],
             "config": {"name": "out", "units": 4, "activation": "softmax", "use_bias": True}}]}}
    w = {"conv": [("kernel", r.standard_normal((3, 3, 2, 3))), ("bias", r.standard_normal(3))],
         "dw": [("depthwise_kernel", r.standard_normal((3, 3, 3, 1))), ("bias", r.standard_normal(3))],
         "bn": [("gamma", np.ones(6)), ("beta", np.zeros(6)), ("moving_mean", np.zeros(6)),
                ("moving_variance", np.ones(6))],
         "out": [("kernel", r.standard_normal((96, 4))), ("bias", r.standard_normal(4))]}
    base = os.path.join(work, "fuzz_base.h5")
    write_h5(base, cfg, w)
    rc, err = run(tflc, base, os.path.join(work, "fuzz_base.tflite"))
    if rc != 0:
        fail("the fuzzing base model does not convert: " + err)
        return

    slots = []

    def walk(x, path):
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, path + [k])
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, path + [i])
        if path:
            slots.append(path)
    walk(cfg, [])
    values = [0, -1, 2 ** 31, 1e18, None, "x", [], {}, [0], True, -2 ** 31, 0.5]
    rnd = random.Random(11)
    p = os.path.join(work, "fuzz.h5")
    for i in range(rounds):
        c = json.loads(json.dumps(cfg))
        for _ in range(rnd.choice((1, 1, 2, 3))):
            path = rnd.choice(slots)
            x = c
            try:
                for k in path[:-1]:
                    x = x[k]
                x[path[-1]] = rnd.choice(values)
            except (KeyError, IndexError, TypeError):
                pass
        write_h5(p, c, w)
        expect_no_crash(tflc, p, work, "fuzzed config %d" % i)
    print("fuzzed configs: %d" % rounds)


def main():
    tflc = kf.tflc_binary()
    if not tflc:
        kf.skip("no tflc binary ($TFLC unset and none built)")
    try:
        import h5py  # noqa: F401
    except ImportError:
        kf.skip("h5py is missing (apt-get install python3-h5py)")
    work = tempfile.mkdtemp(prefix="tflc-keras-err-")
    check_many_problems(tflc, work)
    check_broken(tflc, work)
    fuzz_configs(tflc, work)
    if FAILURES:
        print("\n%d FAILURES" % len(FAILURES))
        return 1
    print("all error cases behaved")
    return 0


if __name__ == "__main__":
    sys.exit(main())
