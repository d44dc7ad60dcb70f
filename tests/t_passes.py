#!/usr/bin/env python3
"""Fusion and dead-code passes: each model before and after pass_optimize runs
in Google's TFLite runtime on the same random inputs; outputs must agree to
float rounding (a fused bias is added inside the kernel, so the order of the
additions may differ: rtol 1e-5, atol 1e-5), and the optimised model must
have exactly the operators the fusion promises."""
import os, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.environ.get("TFLC_SOURCE_DIR", os.path.dirname(__file__) + "/.."), "tests"))
from lib import rig  # noqa: E402

# case -> (operators before, operators after): what each rewrite must leave.
EXPECT = {
    "fc_add_relu": (3, 1),          # FC + ADD + RELU -> FC(bias, RELU)
    "conv_bias_add_relu6": (3, 1),  # CONV + ADD + RELU6 -> CONV(bias, RELU6)
    "dw_sub_dead": (3, 1),          # dead MUL dropped; SUB folded into the bias
    "fc_shared": (4, 4),            # FC output read twice: nothing to fuse
}

def main():
    if not rig.have_rig():
        print("SKIP: the npm runtimes are not installed (run setup.sh)")
        return 77
    exe = os.path.join(os.environ["TFLC_BUILD_DIR"], "tests", "test_passes_models")
    failed = 0
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([exe, d], check=True, capture_output=True, text=True).stdout
        for line in out.split("\n"):
            if not line.strip():
                continue
            name, before, after = line.split()
            exp = EXPECT[name]
            if (int(before), int(after)) != exp:
                print(f"FAIL {name}: ops {before}->{after}, expected {exp[0]}->{exp[1]}")
                failed += 1
            r = rig.compare_models(f"{d}/{name}.orig.tflite", f"{d}/{name}.opt.tflite",
                                   rtol=1e-5, atol=1e-5, seed=3)
            ok = r.get("ok")
            diffs = [o.get("max_abs_diff") for o in r.get("outputs", [])]
            print(f"{'ok  ' if ok else 'FAIL'} {name}: ops {before}->{after}, max |diff| {diffs}")
            if not ok:
                print(r)
            failed += 0 if ok else 1
    print(f"{len(EXPECT) - failed} passed, {failed} failed")
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
