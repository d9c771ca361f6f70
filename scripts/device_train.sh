#!/usr/bin/env bash
# Train zoo models on a lent GPU machine in ONE command of fixed length, then bring back their
# weights: made for a short lease (minutes) where the datasets do not travel and nothing can be
# installed. Run from the repository root:
#
#   scripts/device_train.sh SECONDS MODEL [MODEL ...]
#
# MODEL is a model of the zoo, fine-tuned from the weights shipped in weights/ (`--init`):
#   blind  red30-denoise-blind (σ 0–75)     s10 s30 s50 s70  per-level, from red30-denoise-blind
#   multi  red30-sr-multi (×2, ×3, ×4)      x2 x3 x4         per-scale, from red30-sr-multi
# All MODELs train at once on the one GPU for SECONDS; SIGTERM then saves each run's checkpoint
# and exports its weights (`redcli train` does this itself). Each MODEL's best.safetensors and
# metrics.jsonl, and this script's log, are copied to $OUT (the device tool brings back at most
# 8 files: up to 3 MODELs). Register them here with scripts/register_weights.py after `redcli bench`.
#
# Before the lease, on the development machine (the datasets stay there), pack the folders the
# MODELs train on as 8-bit grey planes, and name .device_data in the device run's `carry`:
#   denoising: python scripts/pack_training_data.py ../shared/datasets/train400 ../shared/datasets/bsd200_train --out .device_data
#   SR:        python scripts/pack_training_data.py ../shared/datasets/t91 ../shared/datasets/bsd200_train --out .device_data
# One family per lease: denoising packs to 25 MiB, SR to 20 MiB, and with the repository's 36 MiB
# (weights/) both at once are just over the 64 MiB the device tool carries.
#
# Environment: DATA (packed folders, default .device_data), DEVICE (cuda), BATCH (64), LR (1e-4),
# EXTRA (more `redcli train` options), RUNS (run folders, default runs/device), OUT (default $RUNS/out).
# A 20-step smoke run comes first: if the default precision (bf16 on CUDA) fails there, the runs use fp32.
set -uo pipefail

seconds=${1:?usage: scripts/device_train.sh SECONDS MODEL [MODEL ...]}
shift
[ $# -ge 1 ] || { echo "usage: scripts/device_train.sh SECONDS MODEL [MODEL ...]" >&2; exit 2; }
data=${DATA:-.device_data}
device=${DEVICE:-cuda}
runs=${RUNS:-runs/device}
out=${OUT:-$runs/out}
mkdir -p "$runs" "$out"
log="$out/device_train.log"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export REDCLI_CACHE_DIR="${REDCLI_CACHE_DIR:-$runs/cache}" REDCLI_OFFLINE=1

model_args() {  # the `redcli train` options of one MODEL
  local denoise="--task denoise --data $data/train400 $data/bsd200_train"
  local sr="--task sr --data $data/t91 $data/bsd200_train"
  case "$1" in
    blind) echo "$denoise --sigma-range 0,75 --init weights/red30-denoise-blind.safetensors" ;;
    s10|s30|s50|s70) echo "$denoise --sigma ${1#s} --init weights/red30-denoise-blind.safetensors" ;;
    multi) echo "$sr --scales 2,3,4 --init weights/red30-sr-multi.safetensors" ;;
    x2|x3|x4) echo "$sr --scales ${1#x} --init weights/red30-sr-multi.safetensors" ;;
    *) return 1 ;;
  esac
}

for name in "$@"; do
  args=$(model_args "$name") || { echo "unknown MODEL $name (blind s10 s30 s50 s70 multi x2 x3 x4)" >&2; exit 2; }
  for folder in $(echo "$args" | grep -o "$data/[^ ]*"); do
    [ -d "$folder" ] || { echo "$name trains on $folder, which is not here: pack it and carry $data" >&2; exit 2; }
  done
done
common="--depth 30 --width 64 --batch ${BATCH:-64} --lr ${LR:-1e-4} --ema 0.999 --val-count 20 --seed 0
        --device $device --json ${EXTRA:-}"

{
  date -u +"start %FT%TZ"
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
              torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
} 2>&1 | tee -a "$log"

precision=auto
# shellcheck disable=SC2046
if ! timeout 300 python3 -m redcli train $(model_args "$1") $common --steps 20 --val-every 10 --ckpt-every 20 \
       --out "$runs/smoke" >>"$log" 2>&1; then
  echo "smoke run failed with the default precision: the runs use fp32" | tee -a "$log"
  precision=fp32
fi
rm -rf "$runs/smoke"

started=$(date +%s)
pids=()
for name in "$@"; do
  # shellcheck disable=SC2046
  timeout -s TERM "$seconds" python3 -m redcli train $(model_args "$name") $common --precision "$precision" \
    --steps 10000000 --val-every 1000 --ckpt-every 1000 --out "$runs/$name" >"$runs/$name.json" 2>"$runs/$name.err" &
  pids+=($!)
done
names=("$@")
for i in "${!pids[@]}"; do
  wait "${pids[$i]}"
  status=$?  # 124: stopped by the timeout, as planned
  echo "${names[$i]}: exit $status after $(( $(date +%s) - started )) s" | tee -a "$log"
done

for name in "$@"; do
  tail -n 3 "$runs/$name.err" >>"$log"
  cp "$runs/$name/best.safetensors" "$out/$name.safetensors" 2>>"$log"
  cp "$runs/$name/metrics.jsonl" "$out/$name.metrics.jsonl" 2>>"$log"
  grep '"event": "val"' "$runs/$name/metrics.jsonl" | tail -n 2 >>"$log"
done
ls -l "$out" | tee -a "$log"
