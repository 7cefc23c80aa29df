"""`make bench`: the course's speed, measured side by side in one run, printed and written to benchmarks/RESULTS.md.

Figures (each a ratio of two things measured in this run, on this machine):
  1. every solution notebook's full execution time (goal: each <= 3 min, all <= 20 min)
  2. multi-task model (N=4 tasks, one encoder pass) vs N single-task models on the same batches (goal >= 0.9 N)
  3. the course's training loop vs transformers' Trainer, same model/data/batch/steps: samples/s (goal >= 1.0);
     MiniLM and a tiny BERT on identical batch shapes, and MiniLM on real sentences with each side's batching
  4. dynamic padding + length bucketing vs padding to max length: real tokens/s
  5. MLM logits at masked positions only vs the full vocabulary projection at every position
  6. autograding one submission of each notebook with nbgrader (goal <= 30 s each)
  7. test-suite times after set-up: unit tests alone (goal <= 3 min), the whole suite (goal <= 30 min)
  8. GPU only: a MiniLM training step under autocast (bf16, or fp16 + GradScaler) vs fp32
  9. autograding in the sandbox vs without it; 10. 40 submissions with JOBS=1 vs JOBS=2 (benchmarks/grading.py)
 11. the shipped MLM/NSP heads: held-out top-1/top-5, probes, paris, NSP accuracy, loading time (benchmarks/heads.py)

Figures 2-5 and 8 run on --device (default: the GPU when there is one); the notebooks of figure 1 pick theirs.
A complete run (figures 1-7, default --out) also copies the table into README.md between its bench markers.

    python benchmarks/run_all.py                 # everything (about 40 minutes on a 2-core CPU)
    python benchmarks/run_all.py --only 2,3,4,5  # the model-level figures only (a few minutes)
    python benchmarks/run_all.py --only 2,3,4,5,8 --device cuda   # on a GPU machine
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import torch  # noqa: E402

BIN = Path(sys.executable).parent
KEEP_EXECUTED: Path | None = None      # --keep-executed DIR: figure 1 writes the executed notebooks there
DEVICE = torch.device("cpu")           # --device (default: pick_device(), i.e. the GPU when there is one)
DEFAULT_OUT = ROOT / "benchmarks" / "RESULTS.md"


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none"
    import transformers
    return (f"{cpu}; {os.cpu_count()} cores; torch {torch.__version__} ({torch.get_num_threads()} threads); "
            f"transformers {transformers.__version__}; Python {platform.python_version()}; GPU: {gpu}")


def env_path() -> dict:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


# ------------------------------------------------------------------------------------------------ figures
def fig_notebooks(rows: list):
    import nbformat
    from nbclient import NotebookClient
    total = 0.0
    for nb_path in sorted((ROOT / "solutions").glob("[0-9]*/*.ipynb")):
        nb = nbformat.read(nb_path, as_version=4)
        start = time.perf_counter()
        NotebookClient(nb, timeout=1200, kernel_name="python3",
                       resources={"metadata": {"path": str(nb_path.parent)}}).execute()
        secs = time.perf_counter() - start
        total += secs
        if KEEP_EXECUTED:
            KEEP_EXECUTED.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, KEEP_EXECUTED / nb_path.name)
        rows.append(("1", f"notebook {nb_path.parent.name}: full execution", f"{secs:.0f} s",
                     "<= 180 s", "met" if secs <= 180 else "NOT met"))
    rows.append(("1", "all notebooks: full execution", f"{total / 60:.1f} min", "<= 20 min",
                 "met" if total <= 1200 else "NOT met"))


def _corpus_sentences() -> list[str]:
    """Every sentence of the course's news corpus (mtbert_ref/data/text_corpus), in corpus order."""
    from mtbert_ref.data import data_path, read_jsonl
    return [s for d in read_jsonl(data_path("text_corpus", "documents.jsonl")) for s in d["sentences"]]


def _batches(tokenizer, n=256, seed=0, max_length=64):
    sents = [s for s in _corpus_sentences() if len(s.split()) >= 3]
    random.Random(seed).shuffle(sents)
    return [tokenizer(s, truncation=True, max_length=max_length) for s in sents[:n]]


def _alternate(fns: dict, rounds: int) -> dict[str, list[float]]:
    """Run each callable of ``fns`` once untimed (warm-up), then ``rounds`` times in alternation; return each one's
    seconds per round (take the median of each list for the figure, ratios of same-round entries for the spread).

    Alternating (A B A B ...) instead of A A A B B B spreads slow phases of the machine (another process, thermal or
    allocator effects) over both sides, so that their ratio is fair even when absolute times drift.
    """
    for fn in fns.values():
        fn()
    times: dict = {k: [] for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn()
            if DEVICE.type == "cuda":
                torch.cuda.synchronize(DEVICE)
            times[k].append(time.perf_counter() - start)
    return times


def fig_multitask(rows: list, steps: int = 8, batch_size: int = 32, rounds: int = 5):
    from mtbert_ref.modeling.multitask import MtBertForMultiTask
    from mtbert_ref.lessons.speed import pad_batch
    tasks = {"A": list("abcd"), "B": list("efgh"), "C": list("ijkl"), "D": list("mnop")}
    multi = MtBertForMultiTask.from_encoder(None, tasks, with_tokenizer=False, device=DEVICE).eval()
    singles = [MtBertForMultiTask.from_encoder(None, {k: v}, with_tokenizer=False, device=DEVICE).eval()
               for k, v in tasks.items()]
    from mtbert_ref import load_tokenizer
    enc = _batches(load_tokenizer(), n=steps * batch_size)
    batches = [{k: v.to(DEVICE) for k, v in pad_batch([{"input_ids": e["input_ids"]}
                                                       for e in enc[i:i + batch_size]]).items()}
               for i in range(0, len(enc), batch_size)]

    def run_multi():
        with torch.no_grad():
            for b in batches:
                multi(**b)

    def run_singles():
        with torch.no_grad():
            for b in batches:
                for m in singles:
                    m(**b)

    t = {k: float(np.median(v)) for k, v in _alternate({"multi": run_multi, "singles": run_singles}, rounds).items()}
    n = len(tasks)
    ratio = t["singles"] / t["multi"]
    rows.append(("2", f"multi-task (N={n}, one pass) vs {n} single-task models: throughput ratio",
                 f"x{ratio:.2f} ({t['multi']:.2f} s vs {t['singles']:.2f} s for {steps} batches of {batch_size}; "
                 f"median of {rounds} alternating runs)", f">= {0.9 * n:.1f}",
                 "met" if ratio >= 0.9 * n else "NOT met"))


def _fixed_length_examples(tokenizer, n: int, length: int) -> list[dict]:
    """``n`` windows of exactly ``length`` tokens ([CLS] ... [SEP]) cut from the course's news corpus, so that every
    batch has the same shape whatever order a sampler draws them in (padding cannot differ between two loops)."""
    ids = [t for row in tokenizer(_corpus_sentences(), add_special_tokens=False)["input_ids"] for t in row]
    body = length - 2
    if len(ids) < n * body:
        raise ValueError(f"the corpus has {len(ids)} tokens, fewer than {n} x {body}")
    return [{"input_ids": [tokenizer.cls_token_id] + ids[i * body:(i + 1) * body] + [tokenizer.sep_token_id],
             "labels": i % 3} for i in range(n)]


def fig_trainer(rows: list, steps: int = 20, batch_size: int = 16, length: int = 64, rounds: int = 5):
    """The course's train() vs transformers' Trainer.train(): the same model and initial weights, the same examples,
    batch size, steps, learning-rate schedule, weight decay, gradient clipping and fused AdamW, the same padding
    collator. Timed: the whole call, each side's set-up included. Three cases:

    * MiniLM on windows of exactly ``length`` tokens: every batch has the same shape in both loops, so only the
      loops differ (compute-bound: each loop's own cost hides behind the model's);
    * a tiny 2-layer BERT on the same shapes: the loop's own per-step cost dominates;
    * MiniLM on real sentences of varying length, each side batching the way it does by default (the course:
      ``LengthBucketSampler``; Trainer: random batches), and Trainer again with its own length grouping
      (``train_sampling_strategy="group_by_length"``), so that the pipeline's share of the gain is visible.
    """
    from torch.utils.data import DataLoader
    from transformers import BertForSequenceClassification, Trainer, TrainingArguments
    from mtbert_ref import load_tokenizer, tiny_bert_config
    from mtbert_ref.backbone import default_model_path
    from mtbert_ref.data import EncodedDataset, LengthBucketSampler, PaddingCollator
    from mtbert_ref.device import seed_everything
    from mtbert_ref.trainer import train
    tok = load_tokenizer()
    n = steps * batch_size
    g = torch.Generator().manual_seed(0)
    fixed = EncodedDataset(_fixed_length_examples(tok, n, length))
    tiny = EncodedDataset([{"input_ids": torch.randint(5, 99, (length,), generator=g).tolist(), "labels": i % 3}
                           for i in range(n)])
    varied = EncodedDataset([{"input_ids": e["input_ids"], "labels": i % 3}
                             for i, e in enumerate(_batches(tok, n=n, max_length=length))])
    collate = PaddingCollator(tok.pad_token_id)

    def minilm():
        return BertForSequenceClassification.from_pretrained(str(default_model_path()), num_labels=3)

    def tiny_bert():
        return BertForSequenceClassification(tiny_bert_config(num_labels=3, max_position_embeddings=length))

    def ours(make, ds, bucketed):
        def run():
            seed_everything(0)
            m = make()
            if bucketed:
                loader = DataLoader(ds, batch_sampler=LengthBucketSampler(ds.lengths(), batch_size, seed=0),
                                    collate_fn=collate)
            else:
                loader = DataLoader(ds, batch_size=batch_size, shuffle=True, collate_fn=collate,
                                    generator=torch.Generator().manual_seed(0))
            train(m, loader, device=DEVICE, max_steps=steps, lr=5e-5, warmup_ratio=0.1, weight_decay=0.01,
                  clip_grad_norm=1.0, progress=False)
        return run

    def hf(make, ds, strategy="random"):
        def run():
            seed_everything(0)
            m = make()
            with tempfile.TemporaryDirectory() as tmp:
                args = TrainingArguments(output_dir=tmp, per_device_train_batch_size=batch_size, max_steps=steps,
                                         learning_rate=5e-5, warmup_steps=max(1, steps // 10), weight_decay=0.01,
                                         max_grad_norm=1.0, report_to=[], save_strategy="no", logging_strategy="no",
                                         disable_tqdm=True, dataloader_num_workers=0, seed=0,
                                         train_sampling_strategy=strategy, use_cpu=DEVICE.type == "cpu")
                Trainer(model=m, args=args, train_dataset=ds, data_collator=collate).train()
        return run

    def row(what, times, a, b):
        per_round = [tb / ta for ta, tb in zip(times[a], times[b])]
        t_a, t_b = float(np.median(times[a])), float(np.median(times[b]))
        ratio = t_b / t_a                               # samples/s ratio = inverse time ratio for the same samples
        rows.append(("3", f"course loop vs transformers Trainer, {what}: samples/s ratio",
                     f"x{ratio:.2f} ({n / t_a:.1f} vs {n / t_b:.1f} samples/s; median of {rounds} alternating "
                     f"runs after a warm-up run of each; per-run ratios {min(per_round):.2f}-{max(per_round):.2f})",
                     ">= 1.0", "met" if ratio >= 1.0 else "NOT met"))

    shape = f"{steps} steps of {batch_size}x{length}"
    t = _alternate({"ours": ours(minilm, fixed, False), "hf": hf(minilm, fixed)}, rounds)
    row(f"MiniLM, {shape}, identical batch shapes", t, "ours", "hf")
    t = _alternate({"ours": ours(tiny_bert, tiny, False), "hf": hf(tiny_bert, tiny)}, rounds)
    row(f"tiny 2-layer BERT, {shape}, identical batch shapes", t, "ours", "hf")
    t = _alternate({"ours": ours(minilm, varied, True), "hf": hf(minilm, varied),
                    "hf_grouped": hf(minilm, varied, "group_by_length")}, rounds)
    row(f"MiniLM, {steps} steps of {batch_size} real sentences (<= {length} tokens), course: length-bucketed, "
        "Trainer: random batches (its default)", t, "ours", "hf")
    row("MiniLM, the same sentences, Trainer with train_sampling_strategy='group_by_length'", t, "ours",
        "hf_grouped")


def fig_padding(rows: list, n: int = 512, max_length: int = 128):
    """Dynamic padding + bucketing vs padding to max_length. A small GPU batch is bound by kernel launches, not
    arithmetic (removing padding then saves nothing), so on a GPU a large batch is measured too."""
    for batch_size in ((32, 256) if DEVICE.type == "cuda" else (32,)):
        _fig_padding(rows, n=max(n, 4 * batch_size), batch_size=batch_size, max_length=max_length)


def _fig_padding(rows: list, n: int, batch_size: int, max_length: int):
    from mtbert_ref import load_encoder, load_tokenizer
    from mtbert_ref.lessons.speed import bucket_batches, pad_batch, padding_fraction, time_it
    tok = load_tokenizer()
    encoder = load_encoder(device=DEVICE).eval()
    enc = _batches(tok, n=n, max_length=max_length)
    ex = [{"input_ids": e["input_ids"]} for e in enc]
    lengths = [len(e["input_ids"]) for e in ex]
    plain = [list(range(i, min(i + batch_size, n))) for i in range(0, n, batch_size)]
    bucketed = bucket_batches(lengths, batch_size, bucket_factor=8, seed=0)

    def fixed(b):
        out = pad_batch([ex[i] for i in b], tok.pad_token_id)
        extra = max_length - out["input_ids"].shape[1]
        return {k: torch.nn.functional.pad(v, (0, extra)) for k, v in out.items()}

    def run(batches, make):
        with torch.no_grad():
            for b in batches:
                encoder(**{k: v.to(DEVICE) for k, v in make(b).items()})

    t_fixed = time_it(lambda: run(plain, fixed), repeat=2, device=DEVICE)
    t_dyn = time_it(lambda: run(bucketed, lambda b: pad_batch([ex[i] for i in b], tok.pad_token_id)), repeat=2,
                    device=DEVICE)
    rows.append(("4", f"dynamic padding + bucketing vs pad to max_length={max_length}, batch {batch_size}: "
                      "real tokens/s ratio",
                 f"x{t_fixed / t_dyn:.2f} (padding {100 * padding_fraction(lengths, plain, pad_to=max_length):.0f}% "
                 f"→ {100 * padding_fraction(lengths, bucketed):.0f}%)", "> 1", "met" if t_fixed > t_dyn else "NOT met"))


def fig_mlm(rows: list, batch_size: int = 32, seq: int = 64):
    from mtbert_ref import load_encoder
    from mtbert_ref.modeling.mlm import MLMHead
    from mtbert_ref.lessons.speed import time_it
    encoder = load_encoder(device=DEVICE).eval()
    head = MLMHead(encoder.config, encoder.embeddings.word_embeddings).to(DEVICE).eval()
    g = torch.Generator().manual_seed(0)
    hidden = torch.randn(batch_size, seq, encoder.config.hidden_size, generator=g).to(DEVICE)
    masked = (torch.rand(batch_size, seq, generator=g) < 0.15).to(DEVICE)
    with torch.no_grad():
        t_full = time_it(lambda: head(hidden), repeat=5, device=DEVICE)
        t_masked = time_it(lambda: head(hidden, masked_positions=masked), repeat=5, device=DEVICE)
    rows.append(("5", f"MLM logits at masked positions only vs every position ({batch_size}x{seq}, 15% masked)",
                 f"x{t_full / t_masked:.1f} ({1000 * t_full:.2f} ms vs {1000 * t_masked:.2f} ms)", "> 1",
                 "met" if t_full > t_masked else "NOT met"))


def fig_autocast(rows: list, steps: int = 10, rounds: int = 3):
    """GPU only: the course's training loop on MiniLM in fp32 vs with use_autocast=True (bf16 where supported, else
    fp16 with a GradScaler), at a small batch (launch-bound on a large GPU) and a large one (compute-bound)."""
    from mtbert_ref import load_encoder
    from mtbert_ref.device import autocast_dtype
    from mtbert_ref.trainer import train
    if DEVICE.type != "cuda":
        rows.append(("8", "autocast vs fp32 training step (GPU only)", "skipped: no CUDA GPU", "> 1", "—"))
        return
    encoder = load_encoder(device=DEVICE)
    dtype = str(autocast_dtype(DEVICE)).replace("torch.", "")

    def loss_fn(model, batch):
        return model(**batch).last_hidden_state.float().pow(2).mean()

    for batch_size, seq in ((32, 128), (256, 256)):
        g = torch.Generator().manual_seed(0)
        batches = [{"input_ids": torch.randint(1000, 20000, (batch_size, seq), generator=g)} for _ in range(steps)]

        def run(enabled, batches=batches):
            return lambda: train(encoder, batches, device=DEVICE, max_steps=steps, lr=1e-5, use_autocast=enabled,
                                 loss_fn=loss_fn, progress=False)

        times = _alternate({"fp32": run(False), "autocast": run(True)}, rounds)
        t32, tac = float(np.median(times["fp32"])), float(np.median(times["autocast"]))
        rows.append(("8", f"course loop with autocast ({dtype}) vs fp32, MiniLM {batch_size}x{seq} "
                          f"({torch.cuda.get_device_name(DEVICE)})",
                     f"x{t32 / tac:.2f} (fp32 {1000 * t32 / steps:.1f} ms vs autocast {1000 * tac / steps:.1f} ms per "
                     f"step; median of {rounds} alternating runs after a warm-up)", "> 1",
                     "met" if t32 > tac else "NOT met"))


def fig_autograde(rows: list):
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        shutil.copytree(ROOT / "solutions", course / "solutions")
        for nb in sorted((course / "solutions").glob("[0-9]*/*.ipynb")):
            a = nb.parent.name
            subprocess.run([str(BIN / "nbgrader"), "generate_assignment", a, "--force"], cwd=course, env=env_path(),
                           check=True, capture_output=True)
            dest = course / "submitted" / "bench_student" / a
            dest.mkdir(parents=True)
            shutil.copy(nb, dest / nb.name)
            start = time.perf_counter()
            subprocess.run([str(BIN / "nbgrader"), "autograde", a, "--force"], cwd=course, env=env_path(),
                           check=True, capture_output=True)
            secs = time.perf_counter() - start
            rows.append(("6", f"autograde one submission of {a}", f"{secs:.0f} s", "<= 30 s",
                         "met" if secs <= 30 else "NOT met"))


def fig_tests(rows: list):
    env = env_path()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "not slow", "-p", "no:cacheprovider"], cwd=ROOT,
                   env=env, check=True, capture_output=True)
    unit = time.perf_counter() - start
    rows.append(("7", "unit tests alone (pytest -m 'not slow')", f"{unit / 60:.1f} min", "<= 3 min",
                 "met" if unit <= 180 else "NOT met"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    whole = time.perf_counter() - start
    rows.append(("7", "whole suite (every notebook executed, every round trip)", f"{whole / 60:.1f} min",
                 "<= 30 min", "met" if whole <= 1800 else "NOT met"))


sys.path.insert(0, str(ROOT / "benchmarks"))
from grading import fig_jobs, fig_sandbox  # noqa: E402
from heads import fig_heads  # noqa: E402

FIGURES = {"1": fig_notebooks, "2": fig_multitask, "3": fig_trainer, "4": fig_padding, "5": fig_mlm,
           "6": fig_autograde, "7": fig_tests, "8": fig_autocast, "9": fig_sandbox, "10": fig_jobs,
           "11": lambda rows: fig_heads(rows, device=DEVICE)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(FIGURES), help="comma-separated figure numbers (default: all)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--device", default=None, help="device of figures 2-5 (default: the GPU if any, else the CPU); "
                    "the notebooks of figure 1 pick theirs with pick_device()")
    ap.add_argument("--keep-executed", default=None, metavar="DIR",
                    help="figure 1: write each executed notebook (with its outputs and results) into DIR")
    args = ap.parse_args()
    global KEEP_EXECUTED, DEVICE
    KEEP_EXECUTED = Path(args.keep_executed) if args.keep_executed else None
    from mtbert_ref.device import pick_device
    DEVICE = torch.device(args.device) if args.device else pick_device()
    rows: list = []
    started = time.perf_counter()
    only = [k.strip() for k in args.only.split(",") if k.strip()]
    unknown = [k for k in only if k not in FIGURES]
    if unknown:
        ap.error(f"unknown figure(s) {unknown}; the figures are {', '.join(FIGURES)}")
    for key in only:
        t0 = time.perf_counter()
        print(f"[bench] figure {key} …", flush=True)
        FIGURES[key](rows)
        print(f"[bench] figure {key} done in {time.perf_counter() - t0:.0f} s", flush=True)
    header = ("| # | what | measured | goal | |\n|---|---|---|---|---|\n")
    table = header + "\n".join(f"| {a} | {b} | {c} | {d} | {e} |" for a, b, c, d, e in rows)
    text = (f"# Benchmark results\n\nMeasured {dt.date.today().isoformat()} with `make bench` "
            f"(`python benchmarks/run_all.py --only {args.only}`) in {(time.perf_counter() - started) / 60:.1f} min.\n\n"
            f"Machine: {machine()}\n\n{table}\n")
    print("\n" + text)
    Path(args.out).write_text(text)
    print(f"written to {args.out}")
    if {str(k) for k in range(1, 8)} <= set(only) and Path(args.out) == DEFAULT_OUT:
        update_readme(text)


def update_readme(results: str, readme: Path = ROOT / "README.md") -> None:
    """A complete run also replaces the table between README's bench markers, so the two never disagree."""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    text = readme.read_text()
    if begin not in text or end not in text:
        print(f"README.md has no {begin} ... {end} markers: its table was not updated")
        return
    body = results.split("\n", 2)[2].strip()          # without the "# Benchmark results" title
    head, rest = text.split(begin, 1)
    readme.write_text(f"{head}{begin}\n{body}\n{end}{rest.split(end, 1)[1]}")
    print("README.md's performance table updated")


if __name__ == "__main__":
    main()
