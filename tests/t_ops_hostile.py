#!/usr/bin/python3
"""Hostile GraphDefs through `tflc convert`: the graphs of the op
conformance suite (tests/t_ops_conformance.py), mutated at random (seeded):
inputs dropped or duplicated, attributes removed, retyped or set to extreme
values, constants and placeholder shapes changed, ops renamed to others.

Every conversion must either succeed, writing a .tflite that tflc reads
back and verifies (`tflc inspect`), or fail with exit status 1 and messages
"tflc: error: <file>: ..." naming the input file, leaving no output file.
A crash, a sanitizer report (run it with the ASan build: TFLC=build-asan/
tflc), a hang or another exit status fails the test.

Environment: TFLC, TFLC_SOURCE_DIR; TFLC_HOSTILE_N (default 400) mutants.
"""

import os
import random
import subprocess
import sys
import tempfile

import numpy as np

SRC = os.environ.get("TFLC_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(SRC, "tests"))
import t_ops_conformance as conf  # noqa: E402
from lib.graphdef import A, Graph, Node  # noqa: E402

TFLC = os.environ.get("TFLC") or os.path.join(SRC, "build", "tflc")
EXTREME = [0, -1, -2, 1, 2, 7, 2 ** 31 - 1, -2 ** 31, 2 ** 40, -2 ** 40]
OPS = ["Add", "Conv2D", "Reshape", "StridedSlice", "Transpose", "Pack", "ConcatV2", "MatMul",
       "Mean", "Pad", "Tile", "GatherV2", "Split", "Einsum", "FusedBatchNorm", "DepthwiseConv2dNative",
       "Squeeze", "ExpandDims", "Slice", "Fill", "Range", "OneHot", "TopKV2", "Unpack", "Cast"]


def clone(g):
    h = Graph()
    for n in g.nodes:
        h.names.add(n.name)
        h.nodes.append(Node(n.name, n.op, list(n.inputs), dict(n.attrs)))
    return h


def mutate_attr(rng, a):
    k = a.kind
    if k == "i":
        return A.i(rng.choice(EXTREME))
    if k == "list_i":
        v = list(a.v) or [1]
        choice = rng.randrange(4)
        if choice == 0:
            v = v[:-1]
        elif choice == 1:
            v = v + [rng.choice(EXTREME)]
        else:
            v[rng.randrange(len(v))] = rng.choice(EXTREME)
        return A.ints([max(-2 ** 63, min(2 ** 63 - 1, x)) for x in v])
    if k == "s":
        return A.s(rng.choice(["SAME", "VALID", "EXPLICIT", "NCHW", "", "bogus", "NHWC"]))
    if k == "b":
        return A.b(not a.v)
    if k == "f":
        return A.f(rng.choice([0.0, -1.0, 1e30, float("nan"), float("inf")]))
    if k == "type":
        return A.type(rng.choice([1, 2, 3, 9, 10, 7, 20, 99]))
    if k == "shape":
        return A.shape(None if rng.random() < 0.3 else [rng.choice([-1, 0, 1, 3, 2 ** 31 - 1])
                                                       for _ in range(rng.randrange(6))])
    if k == "tensor":
        arr = a.v
        choice = rng.randrange(4)
        if choice == 0 and arr.size:
            flat = arr.reshape(-1).copy()
            if flat.dtype.kind in "iu":
                flat[rng.randrange(flat.size)] = rng.choice([-1, 0, 2 ** 30, -2 ** 30])
            elif flat.dtype.kind == "f":
                flat[rng.randrange(flat.size)] = rng.choice([np.nan, np.inf, -1e30])
            return A.tensor(flat.reshape(arr.shape))
        if choice == 1:
            return A.tensor(arr.reshape(-1))
        if choice == 2:
            return A.tensor(np.zeros([0] + list(arr.shape[1:]), arr.dtype))
        return A.tensor(np.asarray(arr.reshape(-1)[:1]).reshape([]) if arr.size else arr)
    return a


def mutate(rng, g):
    g = clone(g)
    for _ in range(rng.randrange(1, 4)):
        n = rng.choice(g.nodes)
        r = rng.randrange(6)
        if r == 0 and n.inputs:
            del n.inputs[rng.randrange(len(n.inputs))]
        elif r == 1 and n.inputs:
            n.inputs.append(rng.choice(n.inputs))
        elif r == 2 and n.attrs:
            del n.attrs[rng.choice(sorted(n.attrs))]
        elif r == 3 and n.attrs:
            k = rng.choice(sorted(n.attrs))
            n.attrs[k] = mutate_attr(rng, n.attrs[k])
        elif r == 4 and n.op not in ("Placeholder", "Const"):
            n.op = rng.choice(OPS)
        elif r == 5 and n.inputs:
            n.inputs[rng.randrange(len(n.inputs))] = rng.choice([m.name for m in g.nodes]) + rng.choice(["", ":1"])
    return g


def main():
    if not os.access(TFLC, os.X_OK):
        print("skip: no tflc binary at %s (set TFLC)" % TFLC)
        return 77
    count = int(os.environ.get("TFLC_HOSTILE_N", "400"))
    rng = random.Random(1234)
    bases = []
    for i, c in enumerate(conf.CASES):
        g, outs, vals = conf.prepare(c, np.random.RandomState(i))
        bases.append((c.id, g, outs, list(vals)))
    bad = 0
    ok = failed = 0
    with tempfile.TemporaryDirectory(prefix="tflc-hostile-") as work:
        for k in range(count):
            cid, g, outs, ins = rng.choice(bases)
            m = mutate(rng, g)
            pb = os.path.join(work, "m%d.pb" % k)
            out = os.path.join(work, "m%d.tflite" % k)
            with open(pb, "wb") as f:
                f.write(m.to_pb())
            cmd = [TFLC, "convert", "--graph_def_file", pb, "--input_arrays", ",".join(ins),
                   "--output_arrays", ",".join(outs), "-o", out]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
            except subprocess.TimeoutExpired:
                print("HANG: mutant %d of %s" % (k, cid))
                bad += 1
                continue
            why = None
            if p.returncode == 0:
                q = subprocess.run([TFLC, "inspect", out], capture_output=True, text=True, timeout=60)
                if q.returncode != 0:
                    why = "converted, but the output does not read back: " + q.stderr.strip()[:300]
                ok += 1
            elif p.returncode == 1:
                lines = [x for x in p.stderr.splitlines() if x.strip()]
                if not lines or not all(x.startswith("tflc: error: ") for x in lines):
                    why = "exit 1 without proper messages: " + p.stderr[:300]
                elif pb not in lines[0] and "allocation" not in lines[0]:
                    why = "first message does not name the file: " + lines[0][:300]
                elif os.path.exists(out):
                    why = "failed but left an output file"
                failed += 1
            else:
                why = "exit status %d: %s" % (p.returncode, p.stderr[-1500:])
            if why:
                bad += 1
                keep = os.path.join(tempfile.gettempdir(), "tflc-hostile-%s-%d.pb" % (cid, k))
                with open(keep, "wb") as f:
                    f.write(m.to_pb())
                print("BAD mutant %d of %s (kept as %s): %s" % (k, cid, keep, why))
    print("%d mutants: %d converted, %d refused with an error, %d bad" % (count, ok, failed, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
