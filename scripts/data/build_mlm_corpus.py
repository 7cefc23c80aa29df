"""Build mtbert_ref/data/text_corpus/: real English news text, as documents split into sentences.

Source: the Lee corpus of Australian Broadcasting Corporation (ABC) news articles that ships as test data inside the
PyPI package ``gensim`` (``gensim/test/test_data/lee_background.cor``: 300 articles, and ``lee.cor``: the 50 articles
of the Lee, Pincombe & Welsh (2005) document-similarity study). One article per line in the source files.

The script never needs gensim installed: it reads the two files straight out of the gensim wheel (a zip), which it
downloads with pip into a temporary folder unless you pass one with ``--wheel``::

    python scripts/data/build_mlm_corpus.py                      # pip download gensim --no-deps, then build
    python scripts/data/build_mlm_corpus.py --wheel /tmp/gensim-4.4.0-...whl

Output (documents.jsonl, one document per line, document and sentence order kept):
    {"id": "lee_background-000", "source": "gensim/test/test_data/lee_background.cor", "split": "train",
     "sentences": ["Hundreds of people have been forced ...", "A new blaze near Goulburn ...", ...]}

The held-out split ("test") is a seeded random 15% of the documents, chosen at document level so that no sentence
of a test article is ever seen in training (notebook 01 measures masked-token accuracy on it; notebook 02 builds
next-sentence pairs within documents).
"""
from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "mtbert_ref" / "data" / "text_corpus"
SOURCES = [  # (member of the wheel, id prefix, encoding of the file)
    ("gensim/test/test_data/lee_background.cor", "lee_background", "utf-8"),
    ("gensim/test/test_data/lee.cor", "lee", "latin-1"),   # one '£' is stored as a Latin-1 byte
]
TEST_FRACTION = 0.15
SEED = 0

# Words that end in a full stop without ending a sentence (titles, ranks, months, company suffixes).
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "sen", "rep", "gov", "lt", "col", "capt", "sgt", "insp",
    "staff-insp", "det", "supt", "cmdr", "adm", "maj", "rev", "hon", "no", "nos", "mt", "ft", "vs", "etc", "inc", "co",
    "corp", "ltd", "pty", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "approx",
}
# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) when whitespace and then an upper-case
# letter, a digit or an opening quote follow.
_BOUNDARY = re.compile(r"""(?<=[.!?])(["')\]]*)\s+(?=["'(\[]?[A-Z0-9])""")


def split_sentences(text: str) -> list[str]:
    """Split one article into sentences with a rule-based splitter tuned on this corpus.

    A candidate boundary is rejected when the word before it is a known abbreviation ("Mr.", "Staff-Insp."), a
    single initial ("John F. Kennedy") or a dotted acronym ("U.S.", "U.N.").
    """
    text = re.sub(r"\s+", " ", text).strip()
    sentences, start = [], 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + len(m.group(1))
        before = text[start:end].rstrip("\"')]")
        last_word = before.split(" ")[-1] if before else ""
        stem = last_word.rstrip(".!?").lower()
        if before.endswith("."):
            if stem in ABBREVIATIONS or re.fullmatch(r"[a-z]", stem) or re.fullmatch(r"(?:[a-z]\.)+[a-z]", stem):
                continue
        sentence = text[start:end].strip()
        if sentence:
            sentences.append(sentence)
        start = m.end()
    tail = text[start:].strip()
    if tail:
        sentences.append(tail)
    return sentences


def find_wheel(wheel: str | None) -> Path:
    if wheel:
        return Path(wheel)
    tmp = Path(tempfile.mkdtemp(prefix="gensim_wheel_"))
    subprocess.run([sys.executable, "-m", "pip", "download", "gensim==4.4.0", "--no-deps", "-q", "-d", str(tmp)],
                   check=True)
    return next(tmp.glob("gensim-*.whl"))


def build(wheel_path: Path) -> dict:
    docs = []
    with zipfile.ZipFile(wheel_path) as zf:
        for member, prefix, encoding in SOURCES:
            lines = zf.read(member).decode(encoding).splitlines()
            for i, line in enumerate(l for l in lines if l.strip()):
                docs.append({"id": f"{prefix}-{i:03d}", "source": member, "sentences": split_sentences(line)})
    rng = random.Random(SEED)
    test_ids = set(rng.sample([d["id"] for d in docs], round(TEST_FRACTION * len(docs))))
    OUT.mkdir(parents=True, exist_ok=True)
    with open(OUT / "documents.jsonl", "w", encoding="utf-8") as fh:
        for d in docs:
            row = {"id": d["id"], "source": d["source"], "split": "test" if d["id"] in test_ids else "train",
                   "sentences": d["sentences"]}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    stats = {}
    for split in ("train", "test"):
        part = [d for d in docs if (d["id"] in test_ids) == (split == "test")]
        stats[split] = dict(documents=len(part), sentences=sum(len(d["sentences"]) for d in part),
                            words=sum(len(s.split()) for d in part for s in d["sentences"]))
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help="a downloaded gensim wheel (default: pip download gensim==4.4.0)")
    args = ap.parse_args()
    stats = build(find_wheel(args.wheel))
    print(json.dumps(stats, indent=1))
    print(f"wrote {OUT / 'documents.jsonl'} ({(OUT / 'documents.jsonl').stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
