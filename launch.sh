#!/usr/bin/env bash
# abstract_cls launcher.
#
#   ./launch.sh                      create .venv from requirements.txt if missing, then train
#                                    configs/resnet.py into runs/resnet (WORKDIR=... to change)
#   ./launch.sh train [FLAGS...]     same, with extra flags, e.g. --config=configs/vgg.py
#                                    --config.optimizer.lr=0.05
#   ./launch.sh eval [FLAGS...]      --mode=eval on WORKDIR (official report, report.json)
#   ./launch.sh predict --input=DIR  --mode=predict on WORKDIR (CSV of top-k classes)
#   ./launch.sh demo [FLAGS...]      browser demo for WORKDIR's best checkpoint: draw or upload,
#                                    see the top-5 classes and Grad-CAM (--port=7860, --host)
#   ./launch.sh test [PYTEST ARGS]   run the test suite
#   ./launch.sh local-multi N [FLAGS...]
#                                    N processes on this machine, one per GPU, joined with
#                                    jax.distributed on localhost (one process that sees every
#                                    GPU also works: plain ./launch.sh train uses all of them)
#
# Environment: WORKDIR (runs/resnet), CONFIG (configs/resnet.py), VENV (.venv),
# JAX_EXTRA (e.g. cuda12: installs jax[cuda12] of the pinned version for NVIDIA GPUs).
#
# Multi-host recipes (every process runs the same command; the trainer calls
# jax.distributed.initialize() when the environment names several processes, builds one
# mesh over all global devices and shards the global batch over it):
#
#   SLURM, one process per GPU (JAX reads SLURM_* itself):
#     #SBATCH --nodes=2 --ntasks-per-node=8 --gpus-per-task=1
#     srun ./launch.sh train --config.train.batch_size=1024
#   SLURM, one process per host seeing all its GPUs:
#     #SBATCH --nodes=2 --ntasks-per-node=1 --gpus-per-node=8
#     srun ./launch.sh train
#   Any cluster, by hand: on each of N processes set
#     JAX_COORDINATOR_ADDRESS=host0:12345 JAX_NUM_PROCESSES=N JAX_PROCESS_ID=i ./launch.sh train
#   Cloud TPU pod slice (JAX discovers the hosts; ABSTRACT_CLS_DISTRIBUTED=1 asks for it):
#     gcloud compute tpus tpu-vm ssh NAME --zone=ZONE --worker=all --command="cd abstract_cls \
#       && JAX_EXTRA=tpu ABSTRACT_CLS_DISTRIBUTED=1 WORKDIR=gs://BUCKET/run ./launch.sh train"
# The workdir must be shared by all processes (NFS, GCS); re-running the same command
# resumes from the newest checkpoint there.
set -euo pipefail
cd "$(dirname "$0")"

VENV="${VENV:-.venv}"
WORKDIR="${WORKDIR:-runs/resnet}"
CONFIG="${CONFIG:-configs/resnet.py}"

ensure_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    echo "Creating $VENV from requirements.txt" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -r requirements.txt
    if [[ -n "${JAX_EXTRA:-}" ]]; then
      jax_version="$(grep '^jax==' requirements.txt | cut -d= -f3)"
      "$VENV/bin/pip" install --quiet "jax[${JAX_EXTRA}]==${jax_version}"
    fi
  fi
}

run_main() {
  local mode="$1"; shift
  exec "$VENV/bin/python" -m abstract_cls.main --config="$CONFIG" --workdir="$WORKDIR" \
    --mode="$mode" "$@"
}

command="${1:-train}"
[[ $# -gt 0 ]] && shift
ensure_venv
case "$command" in
  train|eval|predict) run_main "$command" "$@" ;;
  demo) exec "$VENV/bin/python" -m abstract_cls.demo --workdir="$WORKDIR" "$@" ;;
  test) exec "$VENV/bin/python" -m pytest -q tests "$@" ;;
  local-multi)
    n="${1:?usage: ./launch.sh local-multi N [FLAGS...]}"; shift
    port="$("$VENV/bin/python" -c 'import portpicker; print(portpicker.pick_unused_port())')"
    pids=()
    for ((i = 0; i < n; i++)); do
      CUDA_VISIBLE_DEVICES="$i" JAX_COORDINATOR_ADDRESS="localhost:$port" \
        JAX_NUM_PROCESSES="$n" JAX_PROCESS_ID="$i" \
        "$VENV/bin/python" -m abstract_cls.main --config="$CONFIG" --workdir="$WORKDIR" "$@" &
      pids+=("$!")
    done
    status=0
    for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
    exit "$status" ;;
  *) echo "unknown command '$command' (train | eval | predict | demo | test | local-multi N)" >&2; exit 2 ;;
esac
