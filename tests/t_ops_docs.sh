#!/usr/bin/env bash
# t_ops_docs.sh -- docs/ops.md is what tools/gen_ops_md.py makes from
# src/passes/tf_ops.def (the op table and its documentation cannot drift).
set -eu
src=${TFLC_SOURCE_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
/usr/bin/python3 "$src/tools/gen_ops_md.py" --check
echo "docs/ops.md matches tf_ops.def"
