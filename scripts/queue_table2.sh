#!/usr/bin/env bash
# Queue the seven Table-2 variants of the paper as DVC experiments and start running them.
#
#   scripts/queue_table2.sh [--no-start] [--wait] [--jobs N] [extra `dvc exp run` arguments...]
#
# Each variant is one `dvc exp run --queue -n <name> -S ...` on top of the committed params.yaml
# (commit first: queued experiments run in a copy of the repo that holds only git-tracked files):
#
#   table2-baseline-fix2d     Baseline (fix 2D)    -S adversarial.enabled=false -S model.fix_2d=true
#   table2-baseline           Baseline             -S adversarial.enabled=false
#   table2-map                Map                  -S discriminator.sources=map
#   table2-geo                Geo                  -S discriminator.sources=geo
#   table2-full-fix2d         Full (fix 2D)        -S model.fix_2d=true
#   table2-full-wo-pretrain   Full (w/o pretrain)  -S adversarial.init=pretrain_2d
#   table2-full               Full                 (the defaults: discriminator.sources=full)
#
# Extra arguments go to every `dvc exp run`, e.g. `-S adversarial.iterations=2000` for all seven,
# or `-f` to overwrite experiments of the same names from an earlier round.
# Then `dvc queue start -j N` runs them (N = --jobs, default 1: one at a time, as the runs share
# the CPU/GPU). With --wait the script waits for the queue to finish and builds the ablation
# table (python -m stages.tables ablation -> ablation/table2.md and .csv); without it, follow
# with `dvc queue status` / `dvc queue logs <name>` and build the table when they are done.
# --no-start only queues. Set DVC=... to use another dvc executable.
set -euo pipefail

start=1
wait=0
jobs=1
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-start) start=0; shift ;;
    --wait) wait=1; shift ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done

python_bin="${PYTHON:-python}"
read -r -a dvc <<< "${DVC:-dvc}"
root="$(git rev-parse --show-toplevel)"
cd "$root"

if ! git rev-parse --verify -q HEAD >/dev/null; then
  echo "error: the repository has no commit yet; commit the project first (queued experiments run the committed code)" >&2
  exit 1
fi
if ! git diff --quiet HEAD -- params.yaml dvc.yaml; then
  echo "error: params.yaml or dvc.yaml differ from the last commit; commit or restore them first, so that" >&2
  echo "       every variant starts from the same committed defaults (git diff HEAD -- params.yaml dvc.yaml)" >&2
  exit 1
fi

queue() {
  local name="$1"; shift
  echo "queue $name: $*"
  "${dvc[@]}" exp run --queue -n "$name" "$@" ${extra[@]+"${extra[@]}"}
}

queue table2-baseline-fix2d   -S adversarial.enabled=false -S model.fix_2d=true
queue table2-baseline         -S adversarial.enabled=false
queue table2-map              -S discriminator.sources=map
queue table2-geo              -S discriminator.sources=geo
queue table2-full-fix2d       -S model.fix_2d=true
queue table2-full-wo-pretrain -S adversarial.init=pretrain_2d
queue table2-full

if [[ $start -eq 0 ]]; then
  echo "queued 7 experiments; run them with: ${dvc[*]} queue start -j $jobs"
  exit 0
fi
"${dvc[@]}" queue start -j "$jobs"
if [[ $wait -eq 0 ]]; then
  echo "running; follow with '${dvc[*]} queue status', then: $python_bin -m stages.tables ablation"
  exit 0
fi

# Wait until no task is queued or running, then build the table.
while "${dvc[@]}" queue status | grep -Eq '\b(Queued|Running)\b'; do
  sleep 30
done
"${dvc[@]}" queue status
if "${dvc[@]}" queue status | grep -q 'Failed'; then
  echo "warning: some experiments failed; see '${dvc[*]} queue logs <name>'" >&2
fi
"$python_bin" -m stages.tables ablation
