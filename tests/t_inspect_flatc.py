#!/usr/bin/python3
"""t_inspect_flatc.py -- every fact `tflc inspect --json --tensors` shows of a
TF-made .tflite, checked against Google's flatc reading the same file with
the TFLite schema.

Where t_inspect.py checks the summary in INFO.txt, this goes field by field:
tensors (name, dtype, shape, buffer, bytes, quantization), operators (name,
version, inputs, outputs, intermediates, every non-default option by field
name, custom options size), subgraph inputs/outputs, signature defs and
metadata. Option defaults and enum values come from the schema text itself,
parsed here, not from tflc's op table.

Needs: flatc (Debian's flatbuffers-compiler) and the TFLite schema.fbs, from
TFLC_SCHEMA_FBS or the tflite-micro mirror. Skips (exit 77) with a message
when either or the fixtures are missing.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TFLC = os.environ.get("TFLC", "")
FIX = os.environ.get("TFLC_FIXTURES", "")
MIRROR = "/work/.mirror/tensorflow+tflite-micro/repo"
SCHEMA_IN_MIRROR = "tensorflow/compiler/mlir/lite/schema/schema.fbs"

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def schema_text():
    p = os.environ.get("TFLC_SCHEMA_FBS")
    if p and os.path.isfile(p):
        return open(p, encoding="utf-8").read()
    if os.path.isdir(MIRROR):
        r = subprocess.run(["git", "-C", MIRROR, "show", "HEAD:" + SCHEMA_IN_MIRROR],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return r.stdout.decode("utf-8")
    return None


# ---- The schema: enums and table fields with their defaults ----------------

def parse_schema(text):
    text = re.sub(r"//[^\n]*", "", text)
    enums, tables = {}, {}
    for m in re.finditer(r"\benum\s+(\w+)\s*:\s*\w+\s*(?:\([^)]*\))?\s*\{([^}]*)\}", text):
        vals, nxt = {}, 0
        for item in m.group(2).split(","):
            item = re.sub(r"\([^)]*\)", "", item).strip()
            if not item:
                continue
            name, _, v = item.partition("=")
            nxt = int(v.strip(), 0) if v.strip() else nxt
            vals[name.strip()] = nxt
            nxt += 1
        enums[m.group(1)] = vals
    for m in re.finditer(r"\b(?:table|struct)\s+(\w+)\s*(?:\([^)]*\))?\s*\{([^}]*)\}", text):
        fields = {}
        for decl in m.group(2).split(";"):
            decl = re.sub(r"\([^)]*\)", "", decl).strip()
            fm = re.match(r"(\w+)\s*:\s*([\[\]\w.]+)\s*(?:=\s*([^\s]+))?", decl)
            if fm:
                fields[fm.group(1)] = (fm.group(2), fm.group(3))
        tables[m.group(1)] = fields
    return enums, tables


def field_default(enums, ftype, dflt):
    """The default of a scalar field as a number (enums by value)."""
    if ftype in enums:
        vals = enums[ftype]
        if dflt is None:
            return min(vals.values()) if 0 not in vals.values() else 0
        return vals[dflt] if dflt in vals else int(dflt)
    if dflt is None:
        return 0
    if dflt in ("true", "false"):
        return dflt == "true"
    return float(dflt)


def as_number(enums, ftype, v):
    """A scalar option value as a number: enum names by the schema's value,
    case-insensitively (tflc prints TensorType names in lower case)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, str) and ftype in enums:
        for name, num in enums[ftype].items():
            if name.lower() == v.lower():
                return num
        return ("unknown enum name", v)
    return v


def close(a, b):
    """Float equality to flatc's printing, which keeps 6 decimals."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 5.1e-7 + 1e-6 * abs(b)
    return a == b


def same_list(a, b, cmp=close):
    return len(a) == len(b) and all(cmp(x, y) for x, y in zip(a, b))


# ---- The comparison ---------------------------------------------------------

class Check:
    def __init__(self, where, enums, tables, fb, ti):
        self.where, self.enums, self.tables, self.fb, self.ti = where, enums, tables, fb, ti

    def eq(self, what, got, want, cmp=None):
        ok = cmp(got, want) if cmp else got == want
        if not ok:
            fail("%s: %s: tflc says %s, flatc says %s"
                 % (self.where, what, json.dumps(got)[:300], json.dumps(want)[:300]))

    def buffer_bytes(self, b):
        bufs = self.fb.get("buffers", [])
        if b >= len(bufs):
            return None
        buf = bufs[b]
        if "data" in buf:
            return len(buf["data"])
        return buf.get("size", 0) if buf.get("offset", 0) > 1 else 0

    def op_label(self, code):
        if code.get("custom_code") is not None:
            return "CUSTOM:" + code["custom_code"]
        ops = self.enums["BuiltinOperator"]
        bc = code.get("builtin_code", 0)
        bc = ops[bc] if isinstance(bc, str) else bc
        n = max(bc, code.get("deprecated_builtin_code", 0))
        names = [k for k, v in ops.items() if v == n]
        return names[0] if names else "BUILTIN_%d" % n

    def quant(self, q):
        """flatc's quantization in tflc's JSON shape; None when empty."""
        if not q or not any(q.get(k) for k in ("scale", "zero_point", "min", "max")):
            return None
        return q

    def tensor(self, where, t, ft):
        self.eq(where + " name", t["name"], ft.get("name", ""))
        self.eq(where + " dtype", t["dtype"], ft.get("type", "FLOAT32").lower())
        shape = ft.get("shape_signature", ft.get("shape", []))
        self.eq(where + " shape", t["shape"], shape)
        self.eq(where + " buffer", t["buffer"], ft.get("buffer", 0))
        want = self.buffer_bytes(ft.get("buffer", 0)) if ft.get("buffer", 0) else 0
        self.eq(where + " bytes", t["bytes"], want)
        self.eq(where + " variable", t.get("variable", False), ft.get("is_variable", False))
        q, fq = t["quantization"], self.quant(ft.get("quantization"))
        if q and not any(q.get(k) for k in ("scale", "zero_point", "min", "max")):
            q = None
        if (q is None) != (fq is None):
            self.eq(where + " quantization", q, fq)
            return
        if q:
            for k in ("scale", "zero_point", "min", "max"):
                self.eq("%s quantization %s" % (where, k), q.get(k, []), fq.get(k, []), same_list)
            self.eq(where + " quantized_dimension", q["quantized_dimension"],
                    fq.get("quantized_dimension", 0))

    def options(self, where, op, fop):
        want = {}
        for which in ("builtin_options", "builtin_options_2"):
            tname = fop.get(which + "_type")
            if not tname or tname == "NONE":
                continue
            fields = self.tables.get(tname, {})
            for name, v in fop.get(which, {}).items():
                ftype, dflt = fields.get(name, (None, None))
                if ftype is None:
                    fail("%s: flatc shows field %s the schema parse missed" % (where, name))
                    continue
                if isinstance(v, list) or isinstance(v, str) and ftype == "string":
                    if v:
                        want[name] = (ftype, v)
                    continue
                if isinstance(v, dict):
                    continue
                if as_number(self.enums, ftype, v) != field_default(self.enums, ftype, dflt):
                    want[name] = (ftype, v)
        got = dict(op["options"])
        cust = got.pop("custom_options_bytes", 0)
        self.eq(where + " custom_options bytes", cust, len(fop.get("custom_options", [])))
        self.eq(where + " non-default option names", sorted(got), sorted(want))
        for name in set(got) & set(want):
            ftype, v = want[name]
            g = got[name]
            if ftype == "[ubyte]":
                self.eq("%s option %s bytes" % (where, name), g, len(v))
            elif isinstance(v, list):
                self.eq("%s option %s" % (where, name), g, v, same_list)
            else:
                self.eq("%s option %s" % (where, name), as_number(self.enums, ftype, g),
                        as_number(self.enums, ftype, v), close)

    def run(self):
        fb, ti = self.fb, self.ti
        self.eq("version", ti["version"], fb.get("version", 0))
        self.eq("description", ti["description"], fb.get("description"))
        self.eq("buffer count", ti["counts"]["buffers"], len(fb.get("buffers", [])))
        fsgs = fb.get("subgraphs", [])
        self.eq("subgraph count", len(ti["subgraphs"]), len(fsgs))
        codes = fb.get("operator_codes", [])
        weights = {}
        for s, (sg, fsg) in enumerate(zip(ti["subgraphs"], fsgs)):
            w = "subgraph %d" % s
            self.eq(w + " name", sg["name"], fsg.get("name", ""))
            for side in ("inputs", "outputs"):
                self.eq("%s %s" % (w, side), [t["tensor"] for t in sg[side]], fsg.get(side, []))
            fts = fsg.get("tensors", [])
            self.eq(w + " tensor count", len(sg["tensors"]), len(fts))
            for t, ft in zip(sg["tensors"], fts):
                self.tensor("%s tensor %d" % (w, t["index"]), t, ft)
                if ft.get("buffer", 0):
                    weights[ft["buffer"]] = self.buffer_bytes(ft["buffer"]) or 0
            fops = fsg.get("operators", [])
            self.eq(w + " operator count", len(sg["operators"]), len(fops))
            for op, fop in zip(sg["operators"], fops):
                ow = "%s op %d" % (w, op["index"])
                code = codes[fop.get("opcode_index", 0)]
                self.eq(ow + " name", op["op"], self.op_label(code))
                self.eq(ow + " version", op["version"], code.get("version", 1))
                for k in ("inputs", "outputs", "intermediates"):
                    self.eq("%s %s" % (ow, k), op.get(k, []), fop.get(k, []))
                self.options(ow, op, fop)
        fsigs = fb.get("signature_defs", [])
        self.eq("signature count", len(ti["signatures"]), len(fsigs))
        for sig, fsig in zip(ti["signatures"], fsigs):
            w = "signature %s" % fsig.get("signature_key")
            self.eq(w + " key", sig["key"], fsig.get("signature_key", ""))
            self.eq(w + " subgraph", sig["subgraph"], fsig.get("subgraph_index", 0))
            for side in ("inputs", "outputs"):
                self.eq("%s %s" % (w, side), [(t["key"], t["tensor"]) for t in sig[side]],
                        [(x.get("name", ""), x.get("tensor_index", 0)) for x in fsig.get(side, [])])
        fmd = fb.get("metadata", [])
        self.eq("metadata", [(m["name"], m["size"]) for m in ti["metadata"]],
                [(m.get("name", ""), self.buffer_bytes(m.get("buffer", 0))) for m in fmd])
        for m, fm in zip(ti["metadata"], fmd):
            if m["name"] == "min_runtime_version":
                data = bytes(fb["buffers"][fm.get("buffer", 0)].get("data", []))
                self.eq("min_runtime_version", m["value"], data.split(b"\0")[0].decode())
        self.eq("weights", ti["sizes"]["weights"], sum(weights.values()))


def main():
    if not FIX or not os.path.isdir(FIX):
        print("skip: fixtures not found (TFLC_FIXTURES=%r)" % FIX)
        return 77
    if not shutil.which("flatc"):
        print("skip: flatc not installed (apt-get install flatbuffers-compiler)")
        return 77
    text = schema_text()
    if text is None:
        print("skip: no TFLite schema.fbs (set TFLC_SCHEMA_FBS, or provide the "
              "tflite-micro mirror at %s)" % MIRROR)
        return 77
    # flatc 2.0.8 rejects the (deprecated) attribute on enum values and tables.
    text = text.replace(" (deprecated)", "")
    enums, tables = parse_schema(text)
    models = []
    for root, dirs, files in os.walk(FIX):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(root, name)
            with open(p, "rb") as f:
                if f.read(8)[4:8] == b"TFL3":
                    models.append(p)
    if not models:
        print("skip: no .tflite files under", FIX)
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        schema = os.path.join(tmp, "schema.fbs")
        open(schema, "w", encoding="utf-8").write(text)
        for path in models:
            where = os.path.relpath(path, FIX)
            out = os.path.join(tmp, "fb")
            shutil.rmtree(out, ignore_errors=True)
            os.mkdir(out)
            r = subprocess.run(["flatc", "--json", "--strict-json", "--raw-binary",
                                "-o", out, schema, "--", path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            js = os.listdir(out)
            if r.returncode != 0 or not js:
                print("note: %s: flatc cannot read it; skipped" % where)
                continue
            fb = json.load(open(os.path.join(out, js[0]), encoding="utf-8"))
            r = subprocess.run([TFLC, "inspect", "--json", "--tensors", path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            if r.returncode != 0:
                fail("%s: tflc inspect failed: %s" % (where, r.stderr.decode()[:300]))
                continue
            Check(where, enums, tables, fb, json.loads(r.stdout)).run()
    print("%d .tflite files checked against flatc, %d failures" % (len(models), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
