#!/usr/bin/env bash
# One training stage on a GPU machine within a fixed time: render the training data, then train
# the supervised pair and a twin side by side (same init, data, settings and steps; the twin
# differs by TWIN_OPTIONS only: by default it adds --cps-weight on unlabeled pictures), as many
# steps as the time allows.
#
#   ANIMEPARSE_LIVE2D_CACHE=CACHE train/gpu_stage.sh OUT SECONDS [INIT [TWIN_INIT]]
#   TWIN=lr5e-5 TWIN_OPTIONS="--cps-weight 0 --lr 5e-5" ... (another question than CPS)
#
# CACHE holds the Live2D packages and the photographs of both collections (`python -m
# animeparse.live2d.characters install` and `animeparse.live2d.backgrounds.fetch` there
# beforehand: such a machine may have no network). OUT receives the four weight files (sup_a,
# sup_b, TWIN_a, TWIN_b .safetensors, fp32), runs.tgz (the rest of each run: metrics.json, model
# folders without weights, TensorBoard logs) and log.txt. INIT defaults to the committed pair;
# TWIN_INIT (default INIT) lets a second sitting continue each run from its own export.
# NUM_SYNTH_UNLABELED renderer pictures join the unlabeled split (default 0: Live2D renders only).
# A CPU works too (tried with tiny counts: NUM_TRAIN, NUM_UNLABELED, NUM_SYNTH, NUM_VALIDATION,
# EVAL_SIZE, CROP_SIZE, PROBE, MIN_STEPS). Back home, the runs as train/cotrain.py leaves them
# (without checkpoints):
#   tar xzf OUT/runs.tgz -C RUNS; for r in sup TWIN; do for b in a b; do
#     cp OUT/${r}_$b.safetensors RUNS/$r/model_$b/model.safetensors; done; done
set -euo pipefail
OUT=$(realpath "$1"); BUDGET=$2; INIT=${3:-models/animeparse-b0}; TWIN_INIT=${4:-$INIT}
: "${ANIMEPARSE_LIVE2D_CACHE:?set it to the folder of installed Live2D packages and photographs}"
NUM_TRAIN=${NUM_TRAIN:-3000} NUM_UNLABELED=${NUM_UNLABELED:-3000} NUM_SYNTH=${NUM_SYNTH:-3000}
NUM_SYNTH_UNLABELED=${NUM_SYNTH_UNLABELED:-0}
NUM_VALIDATION=${NUM_VALIDATION:-100} EVAL_SIZE=${EVAL_SIZE:-384} CROP_SIZE=${CROP_SIZE:-384}
WORK=${WORK:-/tmp/animeparse-stage}
TWIN=${TWIN:-cps}; read -r -a TWIN_OPTIONS <<< "${TWIN_OPTIONS:---cps-weight 1.5}"
CORES=$(nproc)
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/log.txt") 2>&1
say() { echo "[$(date +%T) +${SECONDS}s] $*"; }

# The data of the committed stages: live2d_parts (README, "How it was made") was built with the
# ukui and mate wallpapers only, so the same seeds give the same pictures with those two.
PHOTOS="$WORK/photos-build"
mkdir -p "$PHOTOS"
cp -r "$ANIMEPARSE_LIVE2D_CACHE/photos/ukui-wallpapers" "$ANIMEPARSE_LIVE2D_CACHE/photos/mate-backgrounds" "$PHOTOS/"
DATA="$WORK/live2d_parts"
# The runs write (and --overwrite clears) $WORK/NAME: copies of the inits keep an earlier call's
# exports there usable as the next call's starts on a still-warm machine.
copy_init() {  # PAIR -> a copy of its model_a and model_b
  local copy; copy=$(mktemp -d "$WORK/init.XXXX")
  cp -r "$1/model_a" "$1/model_b" "$copy/"
  echo "$copy"
}
INIT=$(copy_init "$INIT"); TWIN_INIT=$(copy_init "$TWIN_INIT")
# A second call on the still-warm machine reuses the data, if rendered with the same counts.
RENDERED="train $NUM_TRAIN unlabeled $NUM_UNLABELED validation $NUM_VALIDATION synth $NUM_SYNTH $NUM_SYNTH_UNLABELED"
if [ "$(cat "$WORK/data-ready" 2>/dev/null)" != "$RENDERED" ]; then
  say "rendering on $CORES cores"
  rm -rf "$DATA"
  python hf_dataset/build.py live2d --out "$DATA" --num-train "$NUM_TRAIN" --num-unlabeled "$NUM_UNLABELED" \
    --num-validation "$NUM_VALIDATION" --seed 0 --size 512 --photos "$PHOTOS" --workers "$CORES"
  python hf_dataset/build.py synth --out "$DATA" --add --append --num-train "$NUM_SYNTH" --seed 0 --workers "$CORES"
  if [ "$NUM_SYNTH_UNLABELED" -gt 0 ]; then  # another seed: pictures the labeled split does not hold
    python hf_dataset/build.py synth --out "$DATA" --add --append --num-unlabeled "$NUM_SYNTH_UNLABELED" --seed 2 \
      --workers "$CORES"
  fi
  echo "$RENDERED" > "$WORK/data-ready"
fi
say "data ready"

# The committed default's recipe (README: c384-bg7), continued from INIT (the twin from TWIN_INIT);
# CPS as in cps-mix.
RECIPE=(--dataset "$DATA" --lr 1e-4 --warmup-steps 20
  --batch-size 8 --unlabeled-batch-size 8 --eval-size "$EVAL_SIZE" --crop-size "$CROP_SIZE" --scale-range 0.5 1.5
  --ema-decay 0.99 --background-swap 0.7 --background-photos debian games --class-weight-power 0.25
  --background-hue 0.5 --eval-batch-size 16
  --test-split '' --cps-rampup-steps 200 --cps-threshold 0.7)
# data loader processes per loader, 3/8 of the cores: the supervised run has one loader, the CPS run two
WORKERS=$(( CORES * 3 / 8 > 0 ? CORES * 3 / 8 : 1 ))
export OMP_NUM_THREADS=2
train() {  # NAME INIT [options]
  local name=$1 init=$2; shift 2
  python train/cotrain.py "${RECIPE[@]}" --init "$init/model_a" --init-b "$init/model_b" \
    --cps-warmup-steps 100 --num-workers "$WORKERS" \
    --output-dir "$WORK/$name" --overwrite "$@" > "$WORK/$name.log" 2>&1
}
elapsed() {  # seconds of training steps in a run's progress bar (tqdm: "cotrain: ... N/N [MM:SS<")
  python -c "import re,sys; m=re.findall(r'cotrain: [^\r\n]*?(\d+)/\d+ \[(\d+):(\d+)<', open(sys.argv[1]).read()); n,a,b=m[-1]; print(int(a)*60+int(b), n)" "$1"
}

# Step time of both runs side by side (the twin is the slower one; CPS on from its first step),
# with startup and one evaluation. The probe's steps include the loaders' warm-up (on one H200 they
# took 0.23 s a CPS step, the run itself 0.14 s): STEPS=N skips it where a session knows better.
rm -f "$WORK"/probe-*.log  # (an earlier call's)
if [ -z "${STEPS:-}" ]; then
  PROBE=${PROBE:-40}
  say "probe: $PROBE steps of each side by side"
  start=$SECONDS
  train probe-sup "$INIT" --cps-weight 0 --max-steps $PROBE --eval-every 0 --save-every 0 --report-to none & p1=$!
  train probe-twin "$TWIN_INIT" "${TWIN_OPTIONS[@]}" --cps-warmup-steps 0 --max-steps $PROBE --eval-every 0 --save-every 0 --report-to none & p2=$!
  wait $p1 && wait $p2 || { tail -n 30 "$WORK"/probe-*.log; exit 1; }  # (a bare wait would wait for tee too)
  probe_wall=$(( SECONDS - start ))
  read -r twin_steps_s _ < <(elapsed "$WORK/probe-twin.log")
  overhead=$(( probe_wall - twin_steps_s ))
  # startup and evaluations (5 in the run, EMA and trained weights, and the export's): about three
  # times the probe's startup and one evaluation; then 30 s to pack.
  left=$(( BUDGET - SECONDS - 30 - overhead * 3 ))
  STEPS=$(python -c "print(max(${MIN_STEPS:-100}, min(8000, int($left * $PROBE / max($twin_steps_s, 1)) // 100 * 100)))")
  say "probe: $PROBE $TWIN steps in ${twin_steps_s}s beside the supervised run, ${overhead}s startup and evaluation"
  rm -rf "$WORK/probe-sup" "$WORK/probe-twin"
fi
EVERY=$(( STEPS / 5 ))
say "training sup and $TWIN ($(printf '%s ' "${TWIN_OPTIONS[@]}")) $STEPS steps each, evaluating every $EVERY"

train sup "$INIT" --cps-weight 0 --max-steps "$STEPS" --eval-every "$EVERY" --save-every 0 & p1=$!
train "$TWIN" "$TWIN_INIT" "${TWIN_OPTIONS[@]}" --max-steps "$STEPS" --eval-every "$EVERY" --save-every 0 & p2=$!
wait $p1 || say "sup failed"; wait $p2 || say "$TWIN failed"
for name in sup "$TWIN"; do
  grep -ho "step [0-9]*: validation mean IoU [^\r]*" "$WORK/$name.log" | sed "s/^/$name /" || true
  tail -c 2000 "$WORK/$name.log" | tr '\r' '\n' | tail -3
done
say "packing"
for name in sup "$TWIN"; do
  for b in a b; do
    if [ -f "$WORK/$name/model_$b/model.safetensors" ]; then cp "$WORK/$name/model_$b/model.safetensors" "$OUT/${name}_$b.safetensors"; fi
  done
done
PROBE_LOGS=(); [ -f "$WORK/probe-twin.log" ] && PROBE_LOGS=(probe-sup.log probe-twin.log)
(cd "$WORK" && tar czf "$OUT/runs.tgz" --exclude='*.safetensors' --exclude=checkpoints sup "$TWIN" sup.log "$TWIN.log" "${PROBE_LOGS[@]}")
say "done"
