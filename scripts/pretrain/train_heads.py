"""Train the MLM head and the NSP head shipped with the course, on top of the embedded all-MiniLM-L6-v2, on one CPU.

What is trained (everything else of MiniLM stays frozen, the word embeddings included):

* the top ``--adapt`` encoder layers (default 2 of 6), re-adapted because MiniLM's sentence-embedding training has
  shaped its last layers for mean pooling, not for predicting words;
* the MLM head (transformers' ``cls.predictions``): transform dense → GELU → LayerNorm and the output bias, with the
  decoder *tied* to MiniLM's word embeddings (so it is not stored);
* the pooler and the NSP classifier (``cls.seq_relationship``).

Both heads are trained together, as in BERT's pretraining (:class:`mtbert_ref.modeling.pretraining.MtBertForPreTraining`):
the inputs are next-sentence pairs (``make_nsp_pairs``: 50 % the true next sentence, 50 % a sentence of another
document of the same source) with 15 % of their tokens chosen for MLM, 80/10/10 (``mask_tokens``).

How it fits a 1-thread CPU:

1. the frozen lower layers run ONCE over every training pair (``--dupe`` different pairings and maskings of the
   text) and their output — the input of the first adapted layer — is cached in fp16;
2. training then runs only the adapted layers on the cache, and the last layer only at the positions that are read:
   the masked tokens and [CLS] (keys and values still come from every position), so the vocabulary projection is
   computed only at masked positions;
3. the held-out sets are cached the same way, so the curve (held-out top-1/top-5 and NSP accuracy every
   ``--eval-every`` steps) costs seconds.

At the start the partial forward is checked against transformers' own full forward (same logits).
Output: ``<out>/heads.safetensors`` (fp16, transformers ``BertForPreTraining`` names) and ``<out>/training_log.json``
(arguments, data sizes, the curve, times). Text: ``scripts/pretrain/build_text.py`` must have been run first::

    python scripts/pretrain/build_text.py
    python scripts/pretrain/train_heads.py --steps 1200            # the shipped run (see pretrained_heads/SOURCE.md)
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from torch import nn

ROOT = Path(__file__).resolve().parents[1].parent
sys.path.insert(0, str(ROOT))
from mtbert_ref.backbone import load_encoder, load_tokenizer  # noqa: E402
from mtbert_ref.data import PaddingCollator, read_jsonl  # noqa: E402
from mtbert_ref.modeling.losses import IGNORE_INDEX  # noqa: E402
from mtbert_ref.modeling.mlm import mask_tokens  # noqa: E402
from mtbert_ref.modeling.pretraining import MtBertForPreTraining  # noqa: E402
from mtbert_ref.shipped_heads import heldout_mlm_batches, heldout_nsp_pairs, nsp_pairs_by_source  # noqa: E402

SHIP = ROOT / "mtbert_ref" / "data" / "pretrained_heads"
TEXT_CACHE = Path("/tmp/mtbert_pretrain")


# ============================================================================================== data
def by_source(docs: list[dict]) -> dict[str, list[dict]]:
    return {"wiki": [d for d in docs if d["id"].startswith("enwiki-")],
            "news": [d for d in docs if not d["id"].startswith("enwiki-")]}


def batches_by_length(examples: list[dict], batch_tokens: int, rng: random.Random) -> list[list[dict]]:
    """Examples of similar length together, each batch at most ``batch_tokens`` padded tokens, in seeded order."""
    order = sorted(range(len(examples)), key=lambda i: (len(examples[i]["input_ids"]), rng.random()))
    batches, current, longest = [], [], 0
    for i in order:
        n = len(examples[i]["input_ids"])
        if current and max(longest, n) * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current, longest = [], 0
        current.append(examples[i])
        longest = max(longest, n)
    if current:
        batches.append(current)
    rng.shuffle(batches)
    return batches


def to(batch: dict[str, torch.Tensor], device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}


def pad(batch: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Dynamic padding of NSP pairs (the course's collator); their label is the model's ``next_sentence_label``."""
    out = PaddingCollator(pad_id)(batch)
    if "labels" in out:
        out["next_sentence_label"] = out.pop("labels")
    return out


def masked_pairs(batch: list[dict], tokenizer, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Pad a batch of pairs and choose 15 % of the non-special tokens for MLM (80 % [MASK], 10 % random, 10 % kept)."""
    out = pad(batch, tokenizer.pad_token_id)
    ids = out["input_ids"]
    special = (ids == tokenizer.cls_token_id) | (ids == tokenizer.sep_token_id) | (out["attention_mask"] == 0)
    out["input_ids"], out["labels"] = mask_tokens(ids, special, tokenizer.mask_token_id, len(tokenizer),
                                                  generator=generator)
    return out


# ============================================================================================== the split model
@contextmanager
def lower_layers_only(bert, n_lower: int):
    """Within the block, ``bert(...)`` runs the embeddings and the first ``n_lower`` layers only."""
    layers = bert.encoder.layer
    bert.encoder.layer = nn.ModuleList(list(layers)[:n_lower])
    try:
        yield bert
    finally:
        bert.encoder.layer = layers


@torch.no_grad()
def lower_states(bert, n_lower: int, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    with lower_layers_only(bert, n_lower):
        return bert(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    token_type_ids=batch["token_type_ids"]).last_hidden_state


def layer_forward(layer, h_query: torch.Tensor, h_all: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
    """A transformers ``BertLayer`` evaluated only at the rows of ``h_query`` (queries), attending to all of ``h_all``
    (keys/values): the same arithmetic as the layer itself, restricted to the positions whose output is needed."""
    sa = layer.attention.self
    b, s, d = h_query.shape
    heads, size = sa.num_attention_heads, sa.attention_head_size

    def split(x):
        return x.view(b, -1, heads, size).transpose(1, 2)
    ctx = F.scaled_dot_product_attention(split(sa.query(h_query)), split(sa.key(h_all)), split(sa.value(h_all)),
                                         attn_mask=key_bias, dropout_p=sa.dropout.p if layer.training else 0.0)
    attended = layer.attention.output(ctx.transpose(1, 2).reshape(b, s, d), h_query)
    return layer.output(layer.intermediate(attended), attended)


def top_forward(model: MtBertForPreTraining, n_lower: int, h: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Adapted layers + heads on cached lower states ``h``: (MLM logits at labelled positions, row-major; NSP logits)."""
    h = h.float()
    key_bias = ((1.0 - attention_mask.float()) * torch.finfo(torch.float32).min)[:, None, None, :]
    layers = list(model.bert.encoder.layer)[n_lower:]
    for layer in layers[:-1]:
        h = layer_forward(layer, h, h, key_bias)
    wanted = labels != IGNORE_INDEX
    wanted[:, 0] = True                                           # [CLS], for the pooler
    counts = wanted.sum(1)
    order = torch.argsort((~wanted).to(torch.int8), dim=1, stable=True)[:, : int(counts.max())]
    valid = torch.arange(order.shape[1], device=order.device)[None, :] < counts[:, None]
    h_query = h.gather(1, order[..., None].expand(-1, -1, h.shape[-1]))
    out = layer_forward(layers[-1], h_query, h, key_bias)
    pooled = model.bert.pooler.activation(model.bert.pooler.dense(out[:, 0]))
    mlm_logits = model.head(out[valid & (order != 0)])            # masked positions in row-major order
    return mlm_logits, model.nsp(pooled)


def check_split_forward(model, n_lower, batch) -> float:
    """Largest |difference| between the split forward and the model's own full forward (eval mode)."""
    model.eval()
    with torch.no_grad():
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                     token_type_ids=batch["token_type_ids"])
        where = batch["labels"] != IGNORE_INDEX
        mlm, nsp = top_forward(model, n_lower, lower_states(model.bert, n_lower, batch), batch["attention_mask"],
                               batch["labels"])
    return max(float((full.prediction_logits[where] - mlm).abs().max()),
               float((full.seq_relationship_logits - nsp).abs().max()))


# ============================================================================================== training
def cache(model, n_lower, batches: list[dict]) -> list[dict]:
    out = []
    for b in batches:
        keep = {k: v for k, v in b.items() if k != "input_ids" and k != "token_type_ids"}
        out.append({**keep, "h": lower_states(model.bert, n_lower, b).half()})
    return out


@torch.no_grad()
def evaluate(model, n_lower, mlm_sets: dict[str, list[dict]], nsp_set: list[dict]) -> dict[str, float]:
    model.eval()
    res = {}
    hits1 = hits5 = total = 0
    for name, batches in mlm_sets.items():
        h1 = h5 = n = 0
        for b in batches:
            logits, _ = top_forward(model, n_lower, b["h"], b["attention_mask"], b["labels"])
            target = b["labels"][b["labels"] != IGNORE_INDEX]
            top = logits.topk(5, dim=-1).indices
            h1 += int((top[:, 0] == target).sum())
            h5 += int((top == target[:, None]).any(-1).sum())
            n += len(target)
        res[f"{name}_top1"], res[f"{name}_top5"] = h1 / n, h5 / n
        hits1, hits5, total = hits1 + h1, hits5 + h5, total + n
    res["top1"], res["top5"], res["n_masked"] = hits1 / total, hits5 / total, total
    right = n = 0
    for b in nsp_set:
        _, nsp = top_forward(model, n_lower, b["h"], b["attention_mask"], b["labels"])
        right += int((nsp.argmax(-1) == b["next_sentence_label"]).sum())
        n += len(b["next_sentence_label"])
    res["nsp_acc"], res["n_pairs"] = right / n, n
    return res


def unigram_log_prior(batches: list[dict], vocab: int) -> torch.Tensor:
    """log frequency of each word at the masked positions (smoothed): the bias a trained head converges towards."""
    counts = torch.ones(vocab, device=batches[0]["labels"].device)
    for b in batches:
        counts += torch.bincount(b["labels"][b["labels"] != IGNORE_INDEX], minlength=vocab)[:vocab]
    return (counts / counts.sum()).log()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapt", type=int, default=2, help="top encoder layers re-adapted (the rest stays frozen)")
    ap.add_argument("--dupe", type=int, default=3, help="pairings/maskings of the training text cached")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--batch-tokens", type=int, default=4096, help="padded tokens per batch")
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--lr", type=float, default=3e-4, help="adapted layers and pooler")
    ap.add_argument("--head-lr", type=float, default=1e-3, help="MLM transform/bias and NSP classifier")
    ap.add_argument("--warmup", type=float, default=0.05)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--limit-pairs", type=int, default=0, help="pilot: use only this many training pairs per dupe")
    ap.add_argument("--max-train-minutes", type=float, default=0,
                    help="stop training after this many minutes even before --steps (0: no limit); the log says where")
    ap.add_argument("--stop-at", default="", help="stop training at this UTC wall-clock time, HH:MM (shared machines)")
    ap.add_argument("--device", default="cpu", help="cpu (the course's budget) or cuda")
    ap.add_argument("--text", type=Path, default=TEXT_CACHE / "train_documents.jsonl",
                    help="the training text written by scripts/pretrain/build_text.py")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=SHIP)
    args = ap.parse_args()
    t0 = time.time()
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    tok = load_tokenizer()
    device = torch.device(args.device)
    model = MtBertForPreTraining(encoder=load_encoder()).to(device)
    n_lower = model.config.num_hidden_layers - args.adapt

    train_docs = by_source(read_jsonl(args.text))
    gen = torch.Generator().manual_seed(args.seed)
    raw = []
    for d in range(args.dupe):
        pairs = nsp_pairs_by_source(train_docs, tok, args.max_length, seed=args.seed * 100 + d)
        if args.limit_pairs:
            pairs = random.Random(d).sample(pairs, min(args.limit_pairs, len(pairs)))
        raw += [to(masked_pairs(b, tok, gen), device) for b in batches_by_length(pairs, args.batch_tokens, rng)]
    err = check_split_forward(model, n_lower, raw[0])
    print(f"split forward vs full forward: max |diff| = {err:.2e}", flush=True)
    if err > 1e-3:
        raise RuntimeError(f"the split forward differs from transformers' forward by {err:.2e} (expected < 1e-3)")

    eval_mlm_raw = {name: [to(b, device) for b in batches]
                    for name, batches in heldout_mlm_batches(tok, max_length=args.max_length).items()}
    nsp_pairs = heldout_nsp_pairs(tok, max_length=args.max_length)
    eval_nsp_raw = []
    for b in batches_by_length(nsp_pairs, args.batch_tokens, random.Random(1)):
        p = pad(b, tok.pad_token_id)
        p["labels"] = torch.full_like(p["input_ids"], IGNORE_INDEX)
        eval_nsp_raw.append(to(p, device))

    model.eval()
    t_cache = time.time()
    train = cache(model, n_lower, raw)
    eval_mlm = {k: cache(model, n_lower, v) for k, v in eval_mlm_raw.items()}
    eval_nsp = cache(model, n_lower, eval_nsp_raw)
    n_tokens = sum(int(b["attention_mask"].sum()) for b in train)
    t_cache = time.time() - t_cache
    print(f"cached {len(train)} batches, {n_tokens} tokens of training pairs, {sum(len(b['next_sentence_label']) for b in train)} "
          f"pairs in {t_cache:.0f} s", flush=True)

    with torch.no_grad():
        model.head.bias.copy_(unigram_log_prior(train, model.config.vocab_size))
    for p in model.parameters():
        p.requires_grad_(False)
    layer_params = [p for layer in list(model.bert.encoder.layer)[n_lower:] for p in layer.parameters()]
    layer_params += list(model.bert.pooler.parameters())
    head_params = list(model.head.transform.parameters()) + [model.head.bias] + list(model.nsp.parameters())
    for p in layer_params + head_params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW([{"params": layer_params, "lr": args.lr}, {"params": head_params, "lr": args.head_lr}],
                            weight_decay=0.01)
    warm = max(1, int(args.warmup * args.steps))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (args.steps - s) / max(1, args.steps - warm))))

    curve = [{"step": 0, **evaluate(model, n_lower, eval_mlm, eval_nsp)}]
    print(json.dumps(curve[-1]), flush=True)
    t_train = time.time()
    order: list[int] = []
    run_mlm = run_nsp = 0.0
    for step in range(1, args.steps + 1):
        if not order:
            order = list(range(len(train)))
            rng.shuffle(order)
        b = train[order.pop()]
        model.train()
        mlm_logits, nsp_logits = top_forward(model, n_lower, b["h"], b["attention_mask"], b["labels"])
        mlm = F.cross_entropy(mlm_logits, b["labels"][b["labels"] != IGNORE_INDEX])
        nsp = F.cross_entropy(nsp_logits, b["next_sentence_label"])
        opt.zero_grad(set_to_none=True)
        (mlm + nsp).backward()
        torch.nn.utils.clip_grad_norm_(layer_params + head_params, 1.0)
        opt.step()
        sched.step()
        run_mlm, run_nsp = run_mlm + float(mlm.detach()), run_nsp + float(nsp.detach())
        out_of_time = bool(args.max_train_minutes and time.time() - t_train > 60 * args.max_train_minutes)
        out_of_time = out_of_time or bool(args.stop_at and time.strftime("%H:%M", time.gmtime()) >= args.stop_at)
        if step % args.eval_every == 0 or step == args.steps or out_of_time:
            n = step - curve[-1]["step"]
            row = {"step": step, "train_mlm_loss": run_mlm / n, "train_nsp_loss": run_nsp / n,
                   **evaluate(model, n_lower, eval_mlm, eval_nsp), "train_s": round(time.time() - t_train)}
            run_mlm = run_nsp = 0.0
            curve.append(row)
            print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
        if out_of_time:
            print(f"stopped by --max-train-minutes at step {step} of {args.steps}", flush=True)
            break
    t_train = time.time() - t_train

    hf = model.to_hf()
    trained_prefixes = tuple(f"bert.encoder.layer.{i}." for i in range(n_lower, model.config.num_hidden_layers))
    trained_prefixes += ("bert.pooler.", "cls.predictions.transform.", "cls.predictions.bias", "cls.seq_relationship.")
    state = {k: v.detach().cpu().to(torch.float16).contiguous() for k, v in hf.state_dict().items()
             if k.startswith(trained_prefixes)}
    args.out.mkdir(parents=True, exist_ok=True)
    save_file(state, str(args.out / "heads.safetensors"), metadata={"format": "pt", "adapted_layers": str(args.adapt)})
    log = {"command": "python " + " ".join(sys.argv), "args": {k: str(v) for k, v in vars(args).items()},
           "torch": torch.__version__, "threads": torch.get_num_threads(), "device": str(device),
           "gpu": torch.cuda.get_device_name(0) if device.type == "cuda" else None, "train_batches": len(train),
           "train_tokens": n_tokens, "steps_done": step, "cache_s": round(t_cache), "train_s": round(t_train),
           "total_s": round(time.time() - t0), "curve": curve}
    (args.out / "training_log.json").write_text(json.dumps(log, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out / 'heads.safetensors'}: {len(state)} tensors, "
          f"{(args.out / 'heads.safetensors').stat().st_size / 2**20:.1f} MiB; total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
