"""Build the English text the shipped MLM/NSP heads are trained on, and the held-out slice they are judged on.

Sources (both inside the PyPI wheel of gensim 4.4.0, read straight out of the zip; gensim is never installed):

* ``gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2`` — a shortened
  English Wikipedia dump (2016; 106 articles after redirects and non-article pages are dropped). The wikitext is
  cleaned here (templates, tables, references, files, categories, lists and headings removed; links replaced by their
  text) and split into sentences with the course's news-corpus splitter (scripts/data/build_mlm_corpus.py).
* the course's news corpus, mtbert_ref/data/text_corpus/documents.jsonl (the Lee corpus of ABC news, already built
  by scripts/data/build_mlm_corpus.py from the same wheel), with its own train/test split.

Held out, never trained on: a seeded (seed 0) random 12 % of the Wikipedia articles and the news corpus's "test"
documents. Output::

    <cache>/train_documents.jsonl                                  the training text (not shipped; rebuilt)
    mtbert_ref/data/pretrained_heads/heldout_wiki.jsonl            the held-out Wikipedia articles (shipped)

Each line is ``{"id", "source", "split", "sentences"}`` as in the news corpus. Run::

    python scripts/pretrain/build_text.py [--wheel gensim-4.4.0-....whl] [--cache /tmp/mtbert_pretrain]
"""
from __future__ import annotations

import argparse
import bz2
import html
import json
import random
import re
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts" / "data"))
from build_mlm_corpus import find_wheel, split_sentences  # noqa: E402  (the one sentence splitter)

WIKI_MEMBER = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
NEWS = ROOT / "mtbert_ref" / "data" / "text_corpus" / "documents.jsonl"
SHIP = ROOT / "mtbert_ref" / "data" / "pretrained_heads"
DEFAULT_CACHE = Path("/tmp/mtbert_pretrain")
HELDOUT_FRACTION = 0.12
SEED = 0
MIN_WORDS = 5

_PAGE = re.compile(r"<page>(.*?)</page>", re.S)
_NESTED = [(re.compile(r"\{\{[^{}]*\}\}"), ""),            # templates, innermost first
           (re.compile(r"\{\|[^{}]*?\|\}", re.S), ""),       # tables
           (re.compile(r"\[\[(?:File|Image|Category|[a-z\-]{2,12}):[^\[\]]*\]\]", re.I), "")]  # files, interwiki


def _strip_nested(text: str) -> str:
    """Remove templates, tables and file/category links, which nest, by deleting innermost ones until none is left."""
    while True:
        before = text
        for pattern, repl in _NESTED:
            text = pattern.sub(repl, text)
        if text == before:
            return text


def clean_wikitext(text: str) -> list[str]:
    """Wikitext of one article → its running-text paragraphs (plain text, one string per paragraph)."""
    text = html.unescape(text)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<ref[^>/]*/>", "", text)
    text = re.sub(r"<ref[^>]*>.*?</ref>", "", text, flags=re.S)
    text = _strip_nested(text)
    text = re.sub(r"\[\[[^\[\]|]*\|([^\[\]]*)\]\]", r"\1", text)     # [[target|shown]] → shown
    text = re.sub(r"\[\[([^\[\]]*)\]\]", r"\1", text)                 # [[target]] → target
    text = re.sub(r"\[https?://[^\s\]]+ ([^\]]*)\]", r"\1", text)     # [url shown] → shown
    text = re.sub(r"\[https?://[^\]]*\]", "", text)
    text = re.sub(r"<[^>]+>", "", text)                               # remaining html tags
    text = text.replace("'''", "").replace("''", "")
    paragraphs = []
    for line in text.split("\n"):
        line = line.strip()
        if not line or line[0] in "=*#:;|!{}[" or line.startswith("__"):
            continue
        line = re.sub(r"\([\s,;:'\"]*\)", "", line)                  # brackets emptied by the removals
        line = re.sub(r"\s+([,.;:])", r"\1", re.sub(r"\s+", " ", line)).strip()
        if len(line.split()) >= MIN_WORDS:
            paragraphs.append(line)
    return paragraphs


def _clean_sentence(s: str) -> bool:
    return len(s.split()) >= MIN_WORDS and not re.search(r"[{}\[\]|=<>]|https?:", s)


def wiki_documents(wheel: Path) -> list[dict]:
    with zipfile.ZipFile(wheel) as zf:
        xml = bz2.decompress(zf.read(WIKI_MEMBER)).decode("utf-8")
    docs = []
    for page in _PAGE.findall(xml):
        ns = re.search(r"<ns>(\d+)</ns>", page)
        body = re.search(r"<text[^>]*>(.*?)</text>", page, re.S)
        title = re.search(r"<title>(.*?)</title>", page).group(1)
        if ns is None or ns.group(1) != "0" or body is None or body.group(1).lstrip().upper().startswith("#REDIRECT"):
            continue
        sentences = [s for p in clean_wikitext(body.group(1)) for s in split_sentences(p) if _clean_sentence(s)]
        if len(sentences) >= 4:
            docs.append({"id": f"enwiki-{html.unescape(title)}", "source": WIKI_MEMBER, "sentences": sentences})
    return docs


def build(wheel: Path, cache: Path) -> dict:
    wiki = wiki_documents(wheel)
    rng = random.Random(SEED)
    held = set(rng.sample(range(len(wiki)), round(HELDOUT_FRACTION * len(wiki))))
    for i, d in enumerate(wiki):
        d["split"] = "test" if i in held else "train"
    news = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines() if line.strip()]
    cache.mkdir(parents=True, exist_ok=True)
    SHIP.mkdir(parents=True, exist_ok=True)
    train = [d for d in wiki + news if d["split"] == "train"]
    with open(cache / "train_documents.jsonl", "w", encoding="utf-8") as fh:
        for d in train:
            fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    with open(SHIP / "heldout_wiki.jsonl", "w", encoding="utf-8") as fh:
        for d in wiki:
            if d["split"] == "test":
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")

    def count(docs):
        return dict(documents=len(docs), sentences=sum(len(d["sentences"]) for d in docs),
                    words=sum(len(s.split()) for d in docs for s in d["sentences"]))
    return {"wiki_train": count([d for d in wiki if d["split"] == "train"]),
            "wiki_heldout": count([d for d in wiki if d["split"] == "test"]),
            "news_train": count([d for d in news if d["split"] == "train"]),
            "news_heldout": count([d for d in news if d["split"] == "test"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel", help="a downloaded gensim 4.4.0 wheel (default: pip download it)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where the (unshipped) training text goes")
    args = ap.parse_args()
    print(json.dumps(build(find_wheel(args.wheel), args.cache), indent=1))


if __name__ == "__main__":
    main()
