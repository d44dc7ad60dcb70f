#!/usr/bin/python3
"""t_inspect.py -- `tflc inspect` against facts nobody on tflc wrote.

For every TF-made .tflite under the fixtures:
 1. `tflc inspect --json` must agree with the fixture folder's INFO.txt,
    which was written from Google's flatc output (schema version, subgraph
    count, operator count and kinds, metadata names, subgraph 0's inputs and
    outputs with names, dtypes and shapes).
 2. `tflc inspect` (text, JSON, with and without --tensors) of the original
    must equal inspect of `tflc convert`'s round-trip copy, apart from the
    file-size line / key: inspect shows logical content only.

Environment (set by ctest): TFLC (the CLI), TFLC_FIXTURES. Exit 77 (skip)
when the fixtures are absent.
"""
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ.get("TFLC_SOURCE_DIR") or
                                os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from lib import rig  # noqa: E402

TFLC = os.environ.get("TFLC", "")
FIX = os.environ.get("TFLC_FIXTURES", "")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def run(args):
    p = subprocess.run([TFLC] + args, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=600)
    return p.returncode, p.stdout.decode("utf-8", "replace"), \
        p.stderr.decode("utf-8", "replace")


# ---- INFO.txt -------------------------------------------------------------
# A tflite section reads:
#   ## tflite_ref/model.tflite
#   tflite v3 subgraphs=1 nops=2 ops=ADD,MUL meta=min_runtime_version
#    in: x:FLOAT32[1x1]  out: y:FLOAT32[1x1]
# (shape_signature, else shape; names may hold ':'; ops are CUSTOM:<code>
# for custom ops; ops= is the sorted set of operator codes.)

HEAD = re.compile(r"tflite v(\d+) subgraphs=(\d+) nops=(\d+) ops=(\S*) meta=(\S*)")
IO = re.compile(r"^(.*):([A-Z0-9_]+)\[([-0-9x]*)\]$")


def parse_io(tokens):
    out = []
    for tok in tokens:
        m = IO.match(tok)
        if not m:
            raise ValueError("bad io token %r" % tok)
        dims = [int(d) for d in m.group(3).split("x")] if m.group(3) else []
        out.append((m.group(1), m.group(2).lower(), dims))
    return out


def parse_info(path):
    """{relative path: facts} for the tflite sections of one INFO.txt."""
    facts = {}
    lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    for i, line in enumerate(lines):
        if not line.startswith("## ") or i + 2 >= len(lines):
            continue
        m = HEAD.match(lines[i + 1])
        io = lines[i + 2]
        if not m or not io.startswith(" in:"):
            continue
        ins, _, outs = io[len(" in:"):].partition(" out:")
        facts[line[3:].strip()] = {
            "version": int(m.group(1)),
            "subgraphs": int(m.group(2)),
            "nops": int(m.group(3)),
            "ops": sorted(m.group(4).split(",")) if m.group(4) else [],
            "meta": m.group(5).split(",") if m.group(5) else [],
            "in": parse_io(ins.split()),
            "out": parse_io(outs.split()),
        }
    return facts


def is_tflite(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return len(head) == 8 and head[4:8] == b"TFL3"


def collect():
    """[(path, facts or None)] for every .tflite (by name or by content)."""
    found = []
    for root, dirs, files in os.walk(FIX):
        dirs.sort()
        if root == FIX:
            dirs[:] = [d for d in dirs if not d.startswith("_")]
        for name in sorted(files):
            p = os.path.join(root, name)
            if name.endswith(".tflite") or (name != "INFO.txt" and "." not in name
                                            and is_tflite(p)):
                found.append(p)
    infos = {}
    for root, _, files in os.walk(FIX):
        if "INFO.txt" in files:
            for rel, f in parse_info(os.path.join(root, "INFO.txt")).items():
                infos[os.path.normpath(os.path.join(root, rel))] = f
    return [(p, infos.get(os.path.normpath(p))) for p in found]


# ---- Checks ---------------------------------------------------------------

def check_info(path, facts, j):
    where = os.path.relpath(path, FIX)
    got_ops = sorted({op["op"] for sg in j["subgraphs"] for op in sg["operators"]})
    sg0 = j["subgraphs"][0] if j["subgraphs"] else {"operators": [], "inputs": [], "outputs": []}
    checks = [
        ("schema version", j["version"], facts["version"]),
        ("subgraph count", j["counts"]["subgraphs"], facts["subgraphs"]),
        ("subgraph 0 operator count", len(sg0["operators"]), facts["nops"]),
        ("metadata names", [m["name"] for m in j["metadata"]], facts["meta"]),
    ]
    for side in ("in", "out"):
        got = [(t["name"], t["dtype"], t["shape"])
               for t in sg0["inputs" if side == "in" else "outputs"]]
        checks.append(("subgraph 0 %sputs" % side, got, facts[side]))
    # INFO's ops= lists the model's operator codes, which may include codes
    # no operator uses (pretrainedResnet_quant has unused QUANTIZE and
    # DEQUANTIZE codes): every kind tflc shows must be among them.
    if not set(got_ops) <= set(facts["ops"]):
        fail("%s: operator kinds: tflc says %r, flatc (INFO.txt) has only %r"
             % (where, got_ops, facts["ops"]))
    for what, got, want in checks:
        if got != want:
            fail("%s: %s: tflc says %r, flatc (INFO.txt) says %r" % (where, what, got, want))


def live_view(j):
    """The model's live content from inspect --json --tensors, with tensors
    renumbered in order of first use (subgraph inputs, operators, outputs,
    signatures) and dead tensors, buffer indices, counts and serialised sizes
    left out: what `tflc convert` must keep even when its dead-code pass
    drops unused tensors and buffers."""
    j = json.loads(json.dumps(j))
    j.pop("file_size", None)
    j.pop("counts", None)
    # Weights held only by dead tensors go with them; each live tensor's
    # bytes are still compared below.
    for k in ("graph", "total", "unused", "weights", "weight_buffers"):
        j["sizes"].pop(k, None)
    maps = []
    for sg in j["subgraphs"]:
        seen = {}

        def ref(i):
            if i >= 0 and i not in seen:
                seen[i] = len(seen)
            return seen.get(i, i)
        for t in sg["inputs"]:
            t["tensor"] = ref(t["tensor"])
        for op in sg["operators"]:
            for key in ("inputs", "outputs", "intermediates"):
                if key in op:
                    op[key] = [ref(i) for i in op[key]]
        for t in sg["outputs"]:
            t["tensor"] = ref(t["tensor"])
        maps.append(seen)
        tensors = sg.pop("tensors")
        sg.pop("n_tensors")
        live = sorted(seen.items(), key=lambda kv: kv[1])
        sg["tensors"] = []
        for old, _ in live:
            t = dict(tensors[old])
            for k in ("index", "buffer"):
                t.pop(k, None)
            sg["tensors"].append(t)
    for sig in j["signatures"]:
        seen = maps[sig["subgraph"]] if sig["subgraph"] < len(maps) else {}
        for t in sig["inputs"] + sig["outputs"]:
            t["tensor"] = seen.get(t["tensor"], ("dead", t["tensor"]))
    return j


def strip_file_size(text):
    return "\n".join(l for l in text.splitlines() if not l.startswith("file size:"))


def check_round_trip(path, tmp):
    """inspect must show the same for the original and tflc convert's copy.
    convert runs the optimiser, whose dead-code pass may drop tensors and
    buffers nothing uses: then only the live content must agree, and the
    counts must drop by exactly the dead ones."""
    where = os.path.relpath(path, FIX)
    out = os.path.join(tmp, "rt.tflite")
    if os.path.exists(out):
        os.unlink(out)
    rc, _, err = run(["convert", path, "-o", out])
    if rc != 0:
        fail("%s: tflc convert failed (exit %d): %s" % (where, rc, err.strip()))
        return
    rc1, a, e1 = run(["inspect", "--json", "--tensors", path])
    rc2, b, e2 = run(["inspect", "--json", "--tensors", out])
    if rc1 or rc2:
        fail("%s: inspect failed: %s %s" % (where, e1.strip(), e2.strip()))
        return
    ja, jb = json.loads(a), json.loads(b)
    if live_view(ja) != live_view(jb):
        # The optimiser rewrote the graph (e.g. a RESHAPE that FULLY_CONNECTED
        # makes redundant). Allowed only when it has no more operators and the
        # runtime computes the very same outputs; the file as read, with no
        # passes, is compared under inspect by t_writer_fixtures.
        na, nb = ja["counts"]["operators"], jb["counts"]["operators"]
        if nb > na:
            fail("%s: convert grew the model from %d to %d operators" % (where, na, nb))
            return
        if not rig.have_rig():
            fail("%s: the graph changed and the rig is not there to compare outputs" % where)
            return
        try:
            r = rig.compare_models(path, out, exact=True)
        except rig.RigError as e:
            if "cannot run" in str(e):
                print("note: %s: optimised (%d -> %d operators); the runtime cannot run it" % (where, na, nb))
                return
            fail("%s: optimised copy does not run: %s" % (where, e))
            return
        if not r.get("ok"):
            fail("%s: optimised copy (%d -> %d operators) computes other outputs: %s" % (where, na, nb, r))
        else:
            print("note: %s: optimised, %d -> %d operators, outputs bit-identical" % (where, na, nb))
        return
    live = sum(len(sg["tensors"]) for sg in live_view(ja)["subgraphs"])
    if (ja["counts"]["tensors"], ja["counts"]["buffers"]) != \
            (jb["counts"]["tensors"], jb["counts"]["buffers"]):
        # Dead data was dropped: the copy keeps exactly the live tensors.
        if jb["counts"]["tensors"] != live or jb["sizes"]["unused"] != 0:
            fail("%s: convert kept %d tensors (%d live) and %d unused bytes"
                 % (where, jb["counts"]["tensors"], live, jb["sizes"]["unused"]))
        print("note: %s: convert dropped %d dead tensors, %d unused buffers; "
              "compared the live content" % (where, ja["counts"]["tensors"] - live,
                                             ja["counts"]["buffers"] - jb["counts"]["buffers"]))
        return
    # Nothing dead: every form of the output must be the same.
    for flags in ([], ["--tensors"], ["--json"], ["--json", "--tensors"]):
        _, a, _ = run(["inspect", path] + flags)
        _, b, _ = run(["inspect", out] + flags)
        if "--json" in flags:
            ja, jb = json.loads(a), json.loads(b)
            ja.pop("file_size", None)
            jb.pop("file_size", None)
            same = ja == jb
        else:
            same = strip_file_size(a) == strip_file_size(b)
        if not same:
            fail("%s: inspect %s differs after the round trip" % (where, " ".join(flags)))
            for l in list(difflib.unified_diff(a.splitlines(), b.splitlines(),
                                               "original", "round-trip", lineterm=""))[:40]:
                print("   ", l)


def main():
    if not FIX or not os.path.isdir(FIX):
        print("skip: fixtures not found (TFLC_FIXTURES=%r)" % FIX)
        return 77
    if not TFLC or not os.access(TFLC, os.X_OK):
        print("error: TFLC does not name the tflc binary (%r)" % TFLC)
        return 1
    models = collect()
    if not models:
        print("skip: no .tflite files under", FIX)
        return 77
    n_info = 0
    with tempfile.TemporaryDirectory() as tmp:
        for path, facts in models:
            rc, out, err = run(["inspect", "--json", path])
            if rc != 0:
                fail("%s: tflc inspect --json failed (exit %d): %s"
                     % (os.path.relpath(path, FIX), rc, err.strip()))
                continue
            j = json.loads(out)
            if not isinstance(j.get("file_size"), int) or j["file_size"] != os.path.getsize(path):
                fail("%s: file_size %r is not the file's size %d"
                     % (path, j.get("file_size"), os.path.getsize(path)))
            if facts:
                n_info += 1
                check_info(path, facts, j)
            check_round_trip(path, tmp)
    print("%d .tflite files, %d checked against INFO.txt, %d failures"
          % (len(models), n_info, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
