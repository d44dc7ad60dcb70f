"""t_writer_fixtures.py -- TF-made .tflite files (fixtures/*/tflite_ref), read by
tflc and written again by its writer, give the same outputs as the originals in
the TFLite runtime, bit for bit: once with the data inline, once with every
buffer over 1 KiB placed after the FlatBuffer (Buffer.offset/size); and
`tflc inspect --tensors` prints the same model for the original and the copy.

No passes run in between (test_writer_models --external reads and writes), so a
difference is the reader's or the writer's. Models the runtime cannot run at all
(Flex or custom ops; the rig says "cannot run") are counted as skipped.

Skips (77) when the fixtures, the rig or the test program are missing.
"""

import glob
import os
import subprocess
import sys
import tempfile

SRC = os.environ.get("TFLC_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(SRC, "tests"))
from lib import rig  # noqa: E402

MIN_COMPARED = 10  # the fixtures hold ~26 runnable models; fewer means a broken setup


def skip(why):
    print("skip: " + why)
    sys.exit(77)


def is_tflite(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return len(head) == 8 and head[4:8] == b"TFL3"


def inspect_text(path):
    """`tflc inspect --tensors` of path, without the file size line."""
    tflc = os.environ.get("TFLC") or os.path.join(os.environ.get("TFLC_BUILD_DIR", ""), "tflc")
    p = subprocess.run([tflc, "inspect", "--tensors", path], capture_output=True, text=True)
    if p.returncode != 0:
        return "inspect failed: " + p.stderr
    return "\n".join(l for l in p.stdout.splitlines() if not l.startswith("file size:"))


def main():
    fx = rig.fixtures_dir()
    if not fx:
        skip("no fixtures directory")
    if not rig.have_rig():
        skip(rig.why_no_rig())
    build = os.environ.get("TFLC_BUILD_DIR")
    prog = os.path.join(build, "tests", "test_writer_models") if build else None
    if not prog or not os.access(prog, os.X_OK):
        skip("test_writer_models not built (TFLC_BUILD_DIR unset or wrong)")
    models = sorted(p for p in glob.glob(os.path.join(fx, "*", "tflite_ref", "*"))
                    if os.path.isfile(p) and is_tflite(p))
    failures, compared, skipped, inspected = [], 0, 0, 0
    with tempfile.TemporaryDirectory(prefix="tflc-wfx-") as d:
        for i, src in enumerate(models):
            name = os.path.relpath(src, fx)
            for label, threshold in (("inline", "0"), ("external", "1024")):
                out = os.path.join(d, "%d_%s.tflite" % (i, label))
                p = subprocess.run([prog, "--external", src, out, threshold],
                                   capture_output=True, text=True)
                if p.returncode != 0:
                    failures.append("%s (%s): read/write failed: %s" % (name, label, p.stderr.strip()))
                    continue
                # The same model, as `tflc inspect` prints it (all but the
                # line with the size of the file on disk).
                if label == "inline":
                    a, b = inspect_text(src), inspect_text(out)
                    if a != b:
                        failures.append("%s: tflc inspect differs after the round trip" % name)
                    else:
                        inspected += 1
                try:
                    r = rig.compare_models(out, src, runtime="litert", exact=True)
                except rig.RigError as e:
                    if "cannot run" in str(e):
                        skipped += 1
                        print("skip %-60s %s: %s" % (name, label, str(e).splitlines()[-1][:120]))
                        break
                    failures.append("%s (%s): %s" % (name, label, e))
                    continue
                if r.get("ok"):
                    compared += 1
                    print("ok   %-60s %s" % (name, label))
                else:
                    failures.append("%s (%s): outputs differ: %s" % (name, label, r))
    for f in failures:
        print("FAIL " + f)
    print("%d comparisons, %d models skipped, %d same under inspect, %d failures"
          % (compared, skipped, inspected, len(failures)))
    if inspected != len(models):
        print("FAIL inspect compared %d of %d models" % (inspected, len(models)))
        return 1
    if not failures and compared < 2 * MIN_COMPARED:
        print("FAIL only %d comparisons ran" % compared)
        return 1
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
