#!/usr/bin/env bash
# The GPU checks of the project in one run, for a session lent a GPU machine:
# the test suite with CUDA visible (its CUDA-only tests, among them issue 3's
# "fitted on CUDA, pickled, loaded and predicted by a process without CUDA"),
# then the GPU benchmarks (skmath and skorch on the GPU, scikit-learn on the
# CPU beside them, in the same process). Logs go under $OUT, which the device
# tool brings back; copy the numbers into benchmarks/README.md.
#
# The device image has no network but holds torch, scikit-learn, SciPy,
# pytest, pytest-xdist and tqdm; skorch travels as a wheel. Here, once:
#
#     echo /.whl/ >> .git/info/exclude
#     python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#         --implementation cp --platform manylinux2014_x86_64 -d .whl skorch==1.4.0
#
# then one device run: command "bash benchmarks/gpu_check.sh", carry [".whl"],
# timeout_s 560 (about 7 minutes of work; the machine's start comes on top).
# DEVICE=cpu runs the same steps on a machine without a GPU (to try the script).
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" > /dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi

python3 - <<'PY' 2>&1 | tee "$OUT/versions.txt"
import numpy, scipy, sklearn, torch
print("torch", torch.__version__, "| scikit-learn", sklearn.__version__,
      "| numpy", numpy.__version__, "| scipy", scipy.__version__)
print("cuda:", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
PY

# 1. The CUDA tests first, under their own limit, then the rest of the suite
#    (on 8 workers if xdist is there), so a slow suite cannot cut the GPU ones.
workers=""
python3 -c "import xdist" 2> /dev/null && workers="-n 8"
timeout 120 python3 -m pytest -q -p no:cacheprovider -rs tests -k "cuda or gpu" \
    > "$OUT/tests_cuda.log" 2>&1
echo "cuda tests: exit $?"
grep -E "^(FAILED|ERROR) " "$OUT/tests_cuda.log" | head -n 20
tail -n 1 "$OUT/tests_cuda.log"
# shellcheck disable=SC2086  # $workers is empty or two words
timeout 200 python3 -m pytest -q -p no:cacheprovider $workers -rs tests -k "not cuda and not gpu" \
    > "$OUT/tests.log" 2>&1
echo "tests: exit $?"
grep -E "^(FAILED|ERROR) " "$OUT/tests.log" | head -n 20
tail -n 1 "$OUT/tests.log"

# 2. Benchmarks, each under its own time limit so one slow step leaves the rest.
timeout 150 python3 benchmarks/bench_mlp.py --device "$DEVICE" --repeat 3 \
    > "$OUT/bench_mlp.log" 2>&1
echo "bench_mlp: exit $?"
timeout 60 python3 benchmarks/bench_linear_model.py --device "$DEVICE" --repeat 3 \
    > "$OUT/bench_linear_model.log" 2>&1
echo "bench_linear_model: exit $?"
timeout 120 python3 benchmarks/bench_kmeans.py --device "$DEVICE" --repeat 1 \
    > "$OUT/bench_kmeans.log" 2>&1
echo "bench_kmeans: exit $?"
tail -n 12 "$OUT/bench_mlp.log"
