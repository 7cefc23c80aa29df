"""Build the course's small intent-classification set from the English part of chatterbot-corpus.

chatterbot-corpus (PyPI, BSD licence) ships YAML files of dialogues, one file per category ("greetings", "sports",
"money", ...). The first turn of each dialogue is what a user says to the bot; its file's category is its intent.
This script collects those opening turns, removes duplicates, drops texts that occur in two categories (they
cannot be classified) and categories with too few distinct texts, and splits every category into train and test.

Run it once (a developer step; chatterbot-corpus is not a runtime dependency of the course):

    pip install chatterbot-corpus==1.3.3      # or: pip download chatterbot-corpus==1.3.3 --no-deps; unzip the wheel
    python scripts/data/build_intents.py [--corpus PATH_TO/chatterbot_corpus/data/english]

Output: mtbert_ref/data/intents/intents.jsonl ({"text", "label", "split"} per line) and SOURCE.md.
"""
from __future__ import annotations

import argparse
import json
import random
import re
from collections import Counter, defaultdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "mtbert_ref" / "data" / "intents"
MIN_PER_LABEL = 8          # fewer distinct texts than this: the category is dropped
TEST_FRACTION = 0.3
SEED = 0
VERSION = "1.3.3"


def default_corpus_dir() -> Path:
    try:
        import chatterbot_corpus  # type: ignore
    except ImportError as exc:
        raise SystemExit("chatterbot-corpus is not installed: `pip install chatterbot-corpus==1.3.3` or pass --corpus "
                         "pointing at an unpacked chatterbot_corpus/data/english folder") from exc
    return Path(chatterbot_corpus.__file__).parent / "data" / "english"


def normalise(text: str) -> str:
    """Whitespace collapsed; case kept (the uncased tokenizer lower-cases anyway)."""
    return re.sub(r"\s+", " ", str(text)).strip()


def collect(corpus_dir: Path) -> tuple[dict[str, list[str]], dict]:
    by_label: dict[str, dict[str, str]] = defaultdict(dict)   # label -> {lower-cased key: text}
    stats = {"files": 0, "dialogues": 0}
    for f in sorted(corpus_dir.glob("*.yml")):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        stats["files"] += 1
        label = str(data["categories"][0]).strip().lower()
        for conv in data.get("conversations") or []:
            stats["dialogues"] += 1
            if not conv or not isinstance(conv[0], (str, int, float)):
                continue
            text = normalise(conv[0])
            if len(text) < 2:
                continue
            by_label[label].setdefault(text.lower(), text)
    owners: dict[str, set[str]] = defaultdict(set)
    for label, texts in by_label.items():
        for key in texts:
            owners[key].add(label)
    ambiguous = {k for k, labs in owners.items() if len(labs) > 1}
    stats["ambiguous_texts_dropped"] = len(ambiguous)
    clean = {lab: sorted(t for k, t in texts.items() if k not in ambiguous) for lab, texts in by_label.items()}
    stats["dropped_labels"] = {lab: len(t) for lab, t in clean.items() if len(t) < MIN_PER_LABEL}
    clean = {lab: t for lab, t in clean.items() if len(t) >= MIN_PER_LABEL}
    return clean, stats


def split(clean: dict[str, list[str]]) -> list[dict]:
    rng = random.Random(SEED)
    rows = []
    for label in sorted(clean):
        texts = list(clean[label])
        rng.shuffle(texts)
        n_test = max(3, round(TEST_FRACTION * len(texts)))
        for i, t in enumerate(texts):
            rows.append({"text": t, "label": label, "split": "test" if i < n_test else "train"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=None, help="chatterbot_corpus/data/english folder")
    args = ap.parse_args()
    corpus_dir = args.corpus or default_corpus_dir()
    clean, stats = collect(corpus_dir)
    rows = split(clean)
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "intents.jsonl", "w", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps(r, ensure_ascii=False) + "\n")
    counts = Counter((r["label"], r["split"]) for r in rows)
    table = "\n".join(f"| {lab} | {counts[(lab, 'train')]} | {counts[(lab, 'test')]} |" for lab in sorted(clean))
    dropped = ", ".join(f"{k} ({v})" for k, v in sorted(stats["dropped_labels"].items())) or "none"
    n_train = sum(v for (_, s), v in counts.items() if s == "train")
    n_test = sum(v for (_, s), v in counts.items() if s == "test")
    (OUT / "SOURCE.md").write_text(f"""# intents — user utterances labelled with one of {len(clean)} intents

**Origin.** The English dialogues of [chatterbot-corpus](https://github.com/gunthercox/chatterbot-corpus)
{VERSION} (PyPI package `chatterbot-corpus`, author Gunther Cox), licence **BSD** (3-clause, as declared by the
package). Each YAML file holds the dialogues of one category; the category is used as the intent label.

**How it was built** (`scripts/data/build_intents.py`, seed {SEED}):
1. From each of the {stats['files']} English files ({stats['dialogues']} dialogues) take the *first* turn of every
   dialogue (what a user says to the bot); the file's first category, lower-cased, is the label.
2. Collapse whitespace; drop duplicates within a category (case-insensitive).
3. Drop the {stats['ambiguous_texts_dropped']} texts that occur in more than one category.
4. Drop categories with fewer than {MIN_PER_LABEL} distinct texts: {dropped}.
5. Split each category at random: {int(TEST_FRACTION * 100)}% (at least 3) to `test`, the rest to `train`.

Texts are kept as written in the corpus (some are all upper case, some are fragments such as "stock market"):
this is real, noisy chatbot data, not a curated benchmark. Categories are very unequal (trivia is the largest).

**File.** `intents.jsonl`: one JSON object per line, `{{"text": str, "label": str, "split": "train"|"test"}}`.
{len(rows)} texts: {n_train} train, {n_test} test.

| label | train | test |
|---|---|---|
{table}
""", encoding="utf-8")
    print(f"wrote {len(rows)} texts in {len(clean)} labels to {OUT}")


if __name__ == "__main__":
    main()
