#!/usr/bin/env bash
# The GPU benchmark in one call on a lent H100/H200 (its image has jax[cuda], flax, optax,
# orbax, torch and torchvision, but not the data stack, and nothing can be fetched there).
#
#   bash benchmarks/gpu_run.sh prepare   # here, with network: wheels into .whl/ (git-ignored)
#   bash benchmarks/gpu_run.sh device    # there: install them, run the suite, JSON to $OUT
#
# Device call (the one command; carry the wheels, ~10 minutes):
#   run(command="bash benchmarks/gpu_run.sh device", carry=[".whl"], timeout_s=600)
set -euo pipefail
cd "$(dirname "$0")/.."

# Packages the GPU image lacks (KINDS.md lists what it has), pinned as in requirements.txt.
WHEELS=(tensorflow-datasets==4.9.10 array-record==0.8.6 grain==0.2.18 ml-collections==1.1.0
        dm-tree==0.1.10 simple-parsing==0.1.9 docstring-parser==0.18.0
        tensorflow-metadata==1.21.0 googleapis-common-protos==1.76.0 immutabledict==4.3.1
        termcolor==3.3.0 toml==0.10.2 portpicker==1.6.0)

case "${1:-}" in
  prepare)
    mkdir -p .whl
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
      --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
      --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
      --platform manylinux_2_24_x86_64 --platform manylinux_2_31_x86_64 -d .whl "${WHEELS[@]}"
    # promise (a tensorflow-datasets requirement) is published as source only.
    python3 -m pip wheel --no-deps -w .whl promise==2.3
    du -sh .whl
    ;;
  device)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
      --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
    OUT="${OUT:-/tmp/out}"
    mkdir -p "$OUT"
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm --format=csv | tee "$OUT/gpu.txt"
    python3 -c "import jax, flax, optax, torch; print('jax', jax.__version__, 'flax', flax.__version__, 'optax', optax.__version__, 'torch', torch.__version__, jax.devices())" | tee -a "$OUT/gpu.txt"
    # Prepare the TFDS data once, outside the timed processes.
    python3 -c "import abstract_cls.data.builders as b; b.prepare('abstract_icons', None)" 2>&1 | tail -2
    set -o pipefail
    python3 benchmarks/train_step.py --suite=gpu --steps=20 --windows=3 --warmup=3 \
      --repeats="${REPEATS:-1}" --cache_dir=/tmp/jax_cache --out="$OUT/train_step_gpu.json" \
      2>&1 | tee "$OUT/train_step_gpu.log"
    ;;
  *)
    echo "usage: bash benchmarks/gpu_run.sh prepare|device" >&2
    exit 2
    ;;
esac
