#!/usr/bin/env bash
# Queue the paper's Table-2 variants, each with several training seeds, as DVC experiments and run them.
#
#   scripts/queue_table2.sh [--seeds "0 1 2"] [--variants "baseline full ..."] [--no-start] [--wait]
#                           [--jobs N] [extra `dvc exp run` arguments...]
#
# Each (variant, seed) is one `dvc exp run --queue -n table2-<variant>-s<seed> -S seed=<seed> ...` on
# top of the committed params.yaml (commit first: queued experiments run in a copy of the repo that
# holds only git-tracked files). The data seed (data.synthetic.seed) stays fixed. Variants:
#
#   baseline-fix2d     Baseline (fix 2D)    -S adversarial.enabled=false -S model.fix_2d=true
#   baseline           Baseline             -S adversarial.enabled=false
#   map                Map                  -S discriminator.sources=map
#   geo                Geo                  -S discriminator.sources=geo
#   full-fix2d         Full (fix 2D)        -S model.fix_2d=true
#   full-wo-pretrain   Full (w/o pretrain)  -S adversarial.init=pretrain_2d
#   full               Full                 (the defaults: discriminator.sources=full)
#
# --seeds (default "0 1 2") and --variants (default: all seven) choose the subset. Variants with the
# same seed share their pretraining stages through DVC's run cache (the fix-2D variants retrain
# pretrain_depth, whose params include model.fix_2d). Extra arguments go to every
# `dvc exp run`, e.g. `-S adversarial.iterations=2000`, or `-f` to overwrite experiments of the same
# names from an earlier round. Then `dvc queue start -j N` runs them (N = --jobs, default 1: one at a
# time, as the runs share the CPU/GPU). With --wait the script waits for the queue to finish and
# builds the ablation table (python -m stages.tables ablation -> ablation/table2.md and .csv: one row
# per variant, mean and standard deviation over the seeds); without it, follow with
# `dvc queue status` / `dvc queue logs <name>` and build the table when they are done.
# --no-start only queues. Set DVC=... to use another dvc executable.
set -euo pipefail

start=1
wait=0
seeds="0 1 2"
variants="baseline-fix2d baseline map geo full-fix2d full-wo-pretrain full"
jobs=1
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-start) start=0; shift ;;
    --wait) wait=1; shift ;;
    --jobs) jobs="${2:?--jobs needs a number}"; shift 2 ;;
    --seeds) seeds="${2:?--seeds needs a list such as \"0 1 2\"}"; shift 2 ;;
    --variants) variants="${2:?--variants needs a list such as \"baseline full\"}"; shift 2 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
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

overrides() {
  case "$1" in
    baseline-fix2d)   echo "-S adversarial.enabled=false -S model.fix_2d=true" ;;
    baseline)         echo "-S adversarial.enabled=false" ;;
    map)              echo "-S discriminator.sources=map" ;;
    geo)              echo "-S discriminator.sources=geo" ;;
    full-fix2d)       echo "-S model.fix_2d=true" ;;
    full-wo-pretrain) echo "-S adversarial.init=pretrain_2d" ;;
    full)             echo "" ;;
    *) echo "error: unknown variant '$1' (expected baseline-fix2d, baseline, map, geo, full-fix2d, full-wo-pretrain or full)" >&2
       return 1 ;;
  esac
}
for variant in $variants; do overrides "$variant" >/dev/null || exit 1; done

count=0
for seed in $seeds; do
  for variant in $variants; do
    read -r -a args <<< "$(overrides "$variant")"
    queue "table2-$variant-s$seed" -S "seed=$seed" ${args[@]+"${args[@]}"}
    count=$((count + 1))
  done
done

if [[ $start -eq 0 ]]; then
  echo "queued $count experiments; run them with: ${dvc[*]} queue start -j $jobs"
  exit 0
fi
"${dvc[@]}" queue start -j "$jobs"
if [[ $wait -eq 0 ]]; then
  echo "running; follow with '${dvc[*]} queue status', then: $python_bin -m stages.tables ablation"
  exit 0
fi

# Wait until no task is queued or running, then build the table. (The status goes through a
# variable: under pipefail, `dvc queue status | grep -q` fails when grep stops reading early.)
while status="$("${dvc[@]}" queue status)" && grep -Eq '\b(Queued|Running)\b' <<< "$status"; do
  sleep 30
done
echo "$status"
if grep -q 'Failed' <<< "$status"; then
  echo "warning: some experiments failed; see '${dvc[*]} queue logs <name>'" >&2
fi
"$python_bin" -m stages.tables ablation
