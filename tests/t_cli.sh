#!/bin/bash
# t_cli.sh -- the tflc command line: usage errors, exit codes, messages, and
# that a failed conversion never leaves an output file (chibicc-style: each
# line runs tflc and states what must come out).
#
# Environment (set by ctest): TFLC (the CLI), TFLC_SOURCE_DIR, TFLC_FIXTURES.
# The parts that need the fixtures are skipped, with a message, when absent.

TFLC=${TFLC:?TFLC must name the tflc binary}
SRC=${TFLC_SOURCE_DIR:-$(dirname "$0")/..}
FIX=${TFLC_FIXTURES:-$SRC/../shared/fixtures}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP" || exit 1

fails=0
n=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# expect CODE 'REGEX' -- ARGS...: runs tflc ARGS, checks the exit code and
# that stderr (or stdout when REGEX starts with 'stdout:') matches REGEX.
expect() {
    local code=$1 re=$2
    shift 3
    n=$((n + 1))
    "$TFLC" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    local stream="$TMP/err"
    case $re in stdout:*) re=${re#stdout:}; stream="$TMP/out" ;; esac
    if [ "$rc" != "$code" ]; then
        fail "tflc $* exited $rc, want $code; stderr: $(head -c 400 "$TMP/err")"
    elif [ -n "$re" ] && ! grep -Eq -- "$re" "$stream"; then
        fail "tflc $*: output does not match /$re/: $(head -c 400 "$stream")"
    fi
}

# no_file PATH: a failed run must not leave PATH (nor a temp file beside it).
no_file() {
    if [ -e "$1" ]; then fail "$1 was left behind after a failed conversion"; fi
    local left
    left=$(ls -A "$(dirname "$1")" | grep -F "$(basename "$1")" | grep -v "^$(basename "$1")$")
    if [ -n "$left" ]; then fail "temp files left beside $1: $left"; fi
}

# ---- usage errors: exit 2 with a message naming the problem ---------------
expect 2 'usage: tflc convert' --
expect 0 'stdout:usage: tflc convert' -- help
expect 0 'stdout:tflc inspect PATH' -- --help
expect 0 'stdout:--saved_model_dir' -- convert --help
version=$(sed -n 's/^#define TFLC_VERSION_STRING "\(.*\)"/\1/p' "$SRC/include/tflc.h")
expect 0 "stdout:^tflc $version\$" -- version
expect 2 "tflc: error: unknown command 'frobnicate'" -- frobnicate
expect 2 "tflc: error: unknown flag '--frobnicate'" -- --frobnicate
expect 2 "tflc: error: unknown flag '--frobnicate'" -- convert in.tflite -o x.tflite --frobnicate
expect 2 "tflc: error: unknown flag '--frobnicate'" -- convert in.tflite -o x.tflite --frobnicate=3
expect 2 "tflc: error: unknown flag '--json' for convert" -- convert in.tflite -o x.tflite --json
expect 2 "tflc: error: unknown flag '--output_file' for inspect" -- inspect in.tflite --output_file x
expect 2 'no output file' -- convert in.tflite
expect 2 'no output file' -- --saved_model_dir /nonexistent
expect 2 'no input model' -- convert -o x.tflite
expect 2 'no input model' -- --output_file=x.tflite
expect 2 '--output_file needs a value' -- --saved_model_dir d --output_file
expect 2 '-o needs a value' -- convert in.tflite -o
expect 2 'more than one input' -- --saved_model_dir a --keras_model_file b -o x
expect 2 "unexpected argument 'b.tflite'" -- convert a.tflite b.tflite -o x
expect 2 'allow_custom_ops=maybe takes true or false' -- convert a -o x --allow_custom_ops=maybe
expect 2 'inspect needs a PATH' -- inspect
expect 2 'empty path' -- convert -o '' a.tflite
no_file "$TMP/x.tflite"

# ---- inputs that are missing or not models: exit 1, no output -------------
expect 1 'tflc: error: .*nothere\.tflite: cannot open' -- convert nothere.tflite -o out.tflite
no_file "$TMP/out.tflite"
expect 1 'tflc: error: .*nothere: cannot open' -- --saved_model_dir=nothere --output_file=out.tflite
no_file "$TMP/out.tflite"
expect 1 'tflc: error: .*nothere\.tflite: cannot open' -- inspect nothere.tflite
# Every tflite_convert flag is accepted in both forms: the run gets as far as
# opening the input (exit 1), not a usage error (exit 2).
expect 1 'tflc: error: .*nothere: cannot open' -- --saved_model_dir=nothere --output_file=o.tflite \
    --signature_keys=serving_default --saved_model_tag_set=serve --allow_custom_ops=true \
    --exclude_conversion_metadata
expect 1 'tflc: error: .*nothere\.pb: cannot open' -- --graph_def_file nothere.pb --output_file o.tflite \
    --input_arrays a,b --output_arrays c --input_shapes 1,2:3 --allow_custom_ops
expect 1 'tflc: error: .*nothere\.h5: cannot open' -- --keras_model_file nothere.h5 -o o.tflite
no_file "$TMP/o.tflite"
mkdir -p emptydir
expect 1 'tflc: error: .*emptydir: .*saved_model\.pb' -- convert emptydir -o out.tflite
no_file "$TMP/out.tflite"
head -c 3000 /dev/urandom >garbage.bin
expect 1 'tflc: error: .*garbage\.bin' -- convert garbage.bin -o out.tflite
no_file "$TMP/out.tflite"
# Random bytes behind a "TFL3" identifier: the reader must refuse them.
{ printf '\x10\x00\x00\x00TFL3'; head -c 3000 /dev/urandom; } >garbage.tflite
expect 1 'tflc: error: .*garbage\.tflite' -- convert garbage.tflite -o out.tflite
no_file "$TMP/out.tflite"
expect 1 'tflc: error: .*garbage\.tflite' -- inspect garbage.tflite
: >empty.tflite
expect 1 'tflc: error: .*empty\.tflite' -- convert empty.tflite -o out.tflite
no_file "$TMP/out.tflite"
# A failed conversion leaves an existing output untouched.
echo keep >kept.tflite
expect 1 'tflc: error:' -- convert garbage.tflite -o kept.tflite
[ "$(cat kept.tflite)" = keep ] || fail "a failed conversion changed an existing output file"

# ---- real models (fixtures) -----------------------------------------------
if [ ! -d "$FIX" ]; then
    echo "skip: fixtures not found at $FIX; the conversion checks did not run"
    echo "$n checks, $fails failures"
    [ $fails = 0 ] && exit 77 || exit 1
fi
src="$FIX/sm2_mnist_mlp_aakanshi/tflite_ref/tflite_model.tflite"
small="$FIX/sm1_serving_half_plus_two/tflite_ref/model.tflite"

expect 0 '' -- convert "$src" -o rt1.tflite
[ "$(head -c 8 rt1.tflite 2>/dev/null | tail -c 4)" = TFL3 ] || fail "rt1.tflite has no TFL3 identifier"
# The same flags in every form give the same bytes (and the writer is deterministic).
expect 0 '' -- convert --output_file=rt2.tflite "$src"
expect 0 '' -- convert --output_file rt3.tflite -- "$src"
expect 0 '' -- -o rt4.tflite "$src"
expect 0 '' -- convert "$src" -output_file=rt5.tflite --allow_custom_ops --exclude_conversion_metadata=false
for f in rt2 rt3 rt4 rt5; do
    cmp -s rt1.tflite $f.tflite || fail "$f.tflite differs from rt1.tflite"
done
expect 0 'stdout:FULLY_CONNECTED' -- inspect rt1.tflite
expect 0 'stdout:"file_size"' -- inspect --json rt1.tflite
expect 0 'stdout:quant|name' -- inspect rt1.tflite --tensors
# Converting onto the input itself works (the input stays mapped until written).
cp "$small" self.tflite
expect 0 '' -- convert self.tflite -o self.tflite
expect 0 '' -- convert "$small" -o small_rt.tflite
cmp -s self.tflite small_rt.tflite || fail "converting a file onto itself gave other bytes"
# An output directory that does not exist: exit 1, nothing written.
expect 1 'tflc: error: .*nodir/out\.tflite' -- convert "$small" -o nodir/out.tflite
[ -e nodir ] && fail "nodir was created"
# A truncated real model: the reader must refuse it, and no output appears.
head -c 20000 "$src" >trunc.tflite
expect 1 'tflc: error: .*trunc\.tflite' -- convert trunc.tflite -o out.tflite
no_file "$TMP/out.tflite"

# Input detection: content and flags name the same kind as the path does, so
# every way of naming one input gives the same bytes.
h5="$FIX/h5_diabetes_mlp_keras/model/linear.h5"
sm="$FIX/sm2_imu_gesture_v2/saved_model"
pb="$FIX/sm1_tf2onnx_regression/frozen_graph/frozen.pb"
expect 0 '' -- convert "$h5" -o k1.tflite
cp "$h5" keras_without_extension.bin      # HDF5 signature, unknown extension
expect 0 '' -- convert keras_without_extension.bin -o k2.tflite
expect 0 '' -- --keras_model_file="$h5" --output_file=k3.tflite
cmp -s k1.tflite k2.tflite || fail "an .h5 renamed .bin converted differently"
cmp -s k1.tflite k3.tflite || fail "--keras_model_file converted differently"
expect 0 '' -- convert "$sm" -o s1.tflite
expect 0 '' -- --saved_model_dir "$sm" --output_file s2.tflite --saved_model_tag_set=serve
expect 0 '' -- convert "$sm/saved_model.pb" -o s3.tflite
cmp -s s1.tflite s2.tflite || fail "--saved_model_dir converted differently"
cmp -s s1.tflite s3.tflite || fail "a path to saved_model.pb converted differently from its directory"
expect 0 '' -- convert "$pb" -o g1.tflite --input_arrays X --output_arrays pred --input_shapes 1
cp "$pb" graph.dat
expect 0 '' -- --graph_def_file=graph.dat --output_file=g2.tflite --input_arrays=X \
    --output_arrays=pred --input_shapes=1
cmp -s g1.tflite g2.tflite || fail "--graph_def_file converted differently"
expect 1 'graph\.dat: cannot tell what kind of model' -- convert graph.dat -o g3.tflite
no_file "$TMP/g3.tflite"

# inspect hands each kind to its front-end (facts from the fixtures' INFO.txt).
expect 0 'stdout:dense_1_input' -- inspect "$h5"
expect 0 'stdout:dense_1_input' -- inspect keras_without_extension.bin
expect 0 'stdout:serving_default' -- inspect "$sm"
expect 0 'stdout:Placeholder' -- inspect "$pb"

# The round trip runs the same in Google's runtime (when the rig is installed).
if [ -f "$SRC/tests/rig/run.mjs" ] && command -v node >/dev/null; then
    n=$((n + 1))
    node "$SRC/tests/rig/run.mjs" compare --a "$src" --b rt1.tflite --exact >rig.out 2>&1 ||
        fail "rig compare of $src and its round trip: $(head -c 400 rig.out)"
else
    echo "note: tests/rig/run.mjs or node missing; skipped the runtime comparison"
fi

echo "$n checks, $fails failures"
[ $fails = 0 ]
