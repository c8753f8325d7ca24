#!/usr/bin/env bash
# GPU check, one H100, under 8 minutes: a ~1.2B Llama-config reward model (random weights) in bf16 on HelpSteer2-like
# pairs. Ours (padding-free + FlashAttention-2 when flash-attn imports, else SDPA) against TRL's RewardTrainer at its
# best settings on the same data: tokens/s, mfu_percent (target >= 40 %), peak memory against the memory planner's
# estimate (when the engine has one), and one LoRA run (when the engine has LoRA settings).
#
#     bash benchmarks/gpu_check.sh [work-dir]
#
# Prints `name: value unit` lines; every step has its own time limit, so a step that hangs or is missing from this
# build prints why and the script goes on. Exit status: 0 when every run finished, 1 otherwise.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
WORK=${1:-$(mktemp -d /tmp/prefstack-gpu-check.XXXXXX)}
STATUS=0
export TOKENIZERS_PARALLELISM=false PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

step() {  # step <seconds> <label> <command…>
  local limit=$1 label=$2; shift 2
  local started=$SECONDS
  if timeout --signal=TERM --kill-after=10 "$limit" "$@"; then
    echo "${label}_step_s: $((SECONDS - started)) s"
  else
    local rc=$?
    echo "${label}: FAILED (exit $rc after $((SECONDS - started)) s; 124 = over its ${limit} s limit)"
    STATUS=1
  fi
}

echo "gpu_check_started: $(date -u +%FT%TZ)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /' \
  || echo "gpu: nvidia-smi not found"
$PY -c "import torch, transformers; print('torch:', torch.__version__, torch.version.cuda); print('transformers:', transformers.__version__)"
if $PY -c "import flash_attn" 2>/dev/null; then
  echo "flash_attn: $($PY -c 'import flash_attn; print(flash_attn.__version__)')"
else
  # Installable only where a wheel matches this torch/CUDA and the index is reachable; SDPA otherwise.
  timeout 90 $PY -m pip install --no-build-isolation --quiet "flash-attn==2.8.3.post2" >/dev/null 2>&1 \
    && echo "flash_attn: installed 2.8.3.post2" || echo "flash_attn: not installable here; attention = SDPA"
fi

step 150 build $PY benchmarks/gpu_check.py build --dir "$WORK"          # ~1.2B params on CPU, saved in bf16
step 100 ours $PY benchmarks/gpu_check.py ours --dir "$WORK"
step 100 trl $PY benchmarks/gpu_check.py trl --dir "$WORK"
step 80 ours_lora $PY benchmarks/gpu_check.py ours --dir "$WORK" --lora
echo "gpu_check_finished: $(date -u +%FT%TZ) (work dir $WORK)"
exit $STATUS
