"""Figure 11 of `make bench` (issue #15): how good the course's shipped MLM and NSP heads are, on text they never saw.

  11. held-out masked-token top-1 / top-5 (goals >= 40 % / >= 60 %), probes right in the top 5 (goal >= 14 of 20),
      "The capital of France is [MASK]." → paris in the top 3, NSP accuracy on held-out pairs (goal >= 90 %),
      loading time of each head (goal <= 2 s)

Everything runs through the shipped loaders (transformers' BertForMaskedLM / BertForNextSentencePrediction, the
full forward — not the training script's shortcut), on the held-out Wikipedia articles and news articles of
mtbert_ref/data/pretrained_heads. Each probe's top 5 is printed.

    python benchmarks/heads.py              # about a minute on a 2-core CPU
    python benchmarks/run_all.py --only 11
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import torch  # noqa: E402


def _timed(fn, device):
    start = time.perf_counter()
    model = fn(device=device)
    return model, time.perf_counter() - start


@torch.no_grad()
def mlm_accuracy(model, batches, device) -> tuple[float, float, int]:
    """Top-1 / top-5 at the masked positions of ``batches``, from the model's full forward."""
    hit1 = hit5 = n = 0
    for b in batches:
        where = b["labels"] != -100
        logits = model(input_ids=b["input_ids"].to(device), attention_mask=b["attention_mask"].to(device),
                       token_type_ids=b["token_type_ids"].to(device)).logits[where.to(device)]
        top = logits.topk(5, dim=-1).indices.cpu()
        target = b["labels"][where]
        hit1 += int((top[:, 0] == target).sum())
        hit5 += int((top == target[:, None]).any(-1).sum())
        n += len(target)
    return hit1 / n, hit5 / n, n


def fig_heads(rows: list, device: str | torch.device = "cpu") -> dict:
    from transformers import pipeline
    from mtbert_ref.backbone import load_tokenizer
    from mtbert_ref.data import PaddingCollator
    from mtbert_ref.lessons.nsp import nsp_accuracy
    from mtbert_ref.shipped_heads import (heldout_mlm_batches, heldout_nsp_pairs, load_pretrained_mlm,
                                          load_pretrained_nsp, load_probes)
    tokenizer = load_tokenizer()
    load_pretrained_mlm(device=device)                    # the first call pays for reading the files from disk
    mlm, t_mlm = _timed(load_pretrained_mlm, device)
    nsp, t_nsp = _timed(load_pretrained_nsp, device)

    res = {"load_mlm_s": t_mlm, "load_nsp_s": t_nsp}
    total1 = total5 = total = 0
    for name, batches in heldout_mlm_batches(tokenizer).items():
        top1, top5, n = mlm_accuracy(mlm, batches, device)
        res[f"{name}_top1"], res[f"{name}_top5"] = top1, top5
        total1, total5, total = total1 + top1 * n, total5 + top5 * n, total + n
        print(f"held-out {name}: top-1 {top1:.1%}  top-5 {top5:.1%}  ({n} masked tokens)")
    res["top1"], res["top5"] = total1 / total, total5 / total

    fill = pipeline("fill-mask", model=mlm, tokenizer=tokenizer, device=torch.device(device))
    right, paris_rank = 0, None
    probes = load_probes()
    for probe in probes:
        words = [p["token_str"] for p in fill(probe["text"], top_k=5)]
        ok = any(w in probe["answers"] for w in words)
        right += ok
        if probe["text"] == "The capital of France is [MASK].":
            paris_rank = words.index("paris") + 1 if "paris" in words else None
        print(f"{'ok ' if ok else '-- '} {probe['text']:58s} → {', '.join(words)}")
    res["probes_right"], res["probes"], res["paris_rank"] = right, len(probes), paris_rank

    pairs = heldout_nsp_pairs(tokenizer)
    loader = torch.utils.data.DataLoader(pairs, batch_size=32, collate_fn=PaddingCollator(tokenizer.pad_token_id))
    res["nsp_acc"] = nsp_accuracy(nsp, loader, device=device)
    res["nsp_pairs"] = len(pairs)

    def met(ok: bool) -> str:
        return "met" if ok else "NOT met"
    rows.append(("11", f"shipped MLM head: held-out masked-token top-1 (wiki {res['wiki_top1']:.1%}, news "
                       f"{res['news_top1']:.1%})", f"{res['top1']:.1%}", ">= 40 %", met(res["top1"] >= 0.40)))
    rows.append(("11", "shipped MLM head: held-out masked-token top-5", f"{res['top5']:.1%}", ">= 60 %",
                 met(res["top5"] >= 0.60)))
    rows.append(("11", "shipped MLM head: probes right in the top 5", f"{right} of {len(probes)}",
                 ">= 70 % (14 of 20)", met(right >= 0.7 * len(probes))))
    rows.append(("11", '"The capital of France is [MASK]." → paris', f"rank {paris_rank}" if paris_rank else
                 "not in the top 5", "top 3", met(paris_rank is not None and paris_rank <= 3)))
    rows.append(("11", f"shipped NSP head: held-out accuracy ({len(pairs)} pairs, negatives from other documents)",
                 f"{res['nsp_acc']:.1%}", ">= 90 %", met(res["nsp_acc"] >= 0.90)))
    rows.append(("11", "loading the shipped heads (MLM / NSP)", f"{t_mlm:.2f} s / {t_nsp:.2f} s", "<= 2 s",
                 met(max(t_mlm, t_nsp) <= 2.0)))
    return res


if __name__ == "__main__":
    table: list = []
    fig_heads(table)
    print("\n| # | what | measured | goal | |\n|---|---|---|---|---|")
    for row in table:
        print("| " + " | ".join(row) + " |")
