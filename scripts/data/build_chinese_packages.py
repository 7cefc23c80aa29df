"""Build mtbert_ref/data/chinese_packages/ — a multi-class Chinese text set: what kind of software is this package?

Source: the Simplified-Chinese translations of Debian package descriptions (Debian Description Translation Project,
``dists/<suite>/main/i18n/Translation-zh_CN.bz2``) of the suites bullseye, bookworm, trixie and sid, and the Section
of each package from the same suites' ``main/binary-amd64/Packages.xz``. Both come from the Debian archive
(deb.debian.org); the descriptions are written by the packages' maintainers and translated by DDTP volunteers, and are
distributed by Debian under the licence of the package they describe (free software licences, DFSG).

    .venv/bin/python scripts/data/build_chinese_packages.py            # downloads ~40 MB into /tmp/mtbert_debian_zh

Steps (deterministic, seed 0):
1. parse every translation; the text is the translated short description, a full stop, then the long description
   with its paragraph markers removed and whitespace collapsed; identical texts are merged (many binary packages of
   one source share a description);
2. label = the package's Debian Section (the newest suite that has the package wins), grouped into 10 classes
   (``GROUPS`` below: e.g. libs + oldlibs → libraries, gnome + kde + x11 + xfce → desktop); packages whose Section
   is in no group (utils, misc, text, metapackages, ... — catch-all sections with no clear topic) are left out and
   counted in SOURCE.md;
3. split by *source package* (all binaries of one source land in the same split, so near-identical descriptions
   of e.g. ``foo`` and ``foo-data`` never sit on both sides): 25 % of the sources go to test;
4. train a character-level WordPiece vocabulary on the train texts only (as for chinese_reviews). The data files
   are reproduced exactly; the `tokenizers` trainer breaks ties between equally frequent word pieces in no fixed
   order, so a rebuilt vocab.txt may order (and, at the 4,000 cut-off, choose) a few Latin word pieces differently
   — the shipped file is the one the course's results were measured with.

Output: train.jsonl.gz, test.jsonl.gz, labels.json, vocab.txt, SOURCE.md.
"""
from __future__ import annotations

import bz2
import collections
import datetime as dt
import gzip
import json
import lzma
import random
import re
import sys
import urllib.request
from pathlib import Path

from build_chinese_reviews import train_vocab   # the same vocabulary trainer (scripts/ is on sys.path when run)

MIRROR = "http://deb.debian.org/debian/dists"
SUITES = ["bullseye", "bookworm", "trixie", "sid"]        # oldest first: a newer suite's Section overrides
GROUPS = {
    "libs": "libraries", "oldlibs": "libraries",
    "libdevel": "development", "devel": "development", "python": "development", "interpreters": "development",
    "java": "development", "perl": "development",
    "admin": "system administration",
    "net": "networking", "web": "networking", "mail": "networking",
    "gnome": "desktop", "kde": "desktop", "x11": "desktop", "xfce": "desktop",
    "doc": "documentation",
    "games": "games",
    "sound": "multimedia", "video": "multimedia", "graphics": "multimedia",
    "fonts": "fonts and localisation", "localization": "fonts and localisation",
    "science": "science", "math": "science",
}
LABELS = ["libraries", "development", "system administration", "networking", "desktop", "documentation", "games",
          "multimedia", "fonts and localisation", "science"]
LABELS_ZH = ["库", "开发", "系统管理", "网络", "桌面", "文档", "游戏", "多媒体", "字体与本地化", "科学"]
TEST_SHARE = 0.25
VOCAB_SIZE, MIN_FREQ = 4000, 2
OUT = Path(__file__).resolve().parents[2] / "mtbert_ref" / "data" / "chinese_packages"
CACHE = Path("/tmp/mtbert_debian_zh")
SPACE = re.compile(r"\s+")


def fetch(url: str) -> bytes:
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / url.replace("http://", "").replace("/", "_")
    if not path.exists():
        print("downloading", url, flush=True)
        with urllib.request.urlopen(url, timeout=120) as resp:
            path.write_bytes(resp.read())
    return path.read_bytes()


def paragraphs(text: str):
    for para in text.split("\n\n"):
        fields, key = {}, None
        for line in para.split("\n"):
            if line.startswith((" ", "\t")) and key:
                fields[key] += "\n" + line
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key] = value.strip()
        if "Package" in fields:
            yield fields


def clean(short: str, long: str) -> str:
    lines = [ln.strip() for ln in long.split("\n")]
    body = " ".join(ln for ln in lines if ln and ln != ".")
    short = SPACE.sub(" ", short).strip()
    return SPACE.sub(" ", f"{short}。{body}" if body else short).strip()


def main() -> None:
    section, source = {}, {}
    for suite in SUITES:
        text = lzma.decompress(fetch(f"{MIRROR}/{suite}/main/binary-amd64/Packages.xz")).decode("utf-8")
        for f in paragraphs(text):
            section[f["Package"]] = f.get("Section", "").split("/")[-1]
            source[f["Package"]] = f.get("Source", f["Package"]).split()[0]
    translated = {}
    for suite in SUITES:
        text = bz2.decompress(fetch(f"{MIRROR}/{suite}/main/i18n/Translation-zh_CN.bz2")).decode("utf-8")
        for f in paragraphs(text):
            desc = f.get("Description-zh_CN")
            if desc:
                short, _, long = desc.partition("\n")
                translated[f["Package"]] = clean(short, long)
    by_text: dict[str, str] = {}
    for pkg in sorted(translated):
        by_text.setdefault(translated[pkg], pkg)          # identical texts merged: the first package name wins
    skipped = collections.Counter()
    items = []
    for text, pkg in by_text.items():
        sec = section.get(pkg, "(not in Packages)")
        group = GROUPS.get(sec)
        if group is None:
            skipped[sec] += 1
            continue
        items.append({"text": text, "label": LABELS.index(group), "label_name": group, "package": pkg,
                      "section": sec, "source": source.get(pkg, pkg)})
    sources = sorted({it["source"] for it in items})
    rng = random.Random(0)
    rng.shuffle(sources)
    test_sources = set(sources[:round(len(sources) * TEST_SHARE)])
    train = [it for it in items if it["source"] not in test_sources]
    test = [it for it in items if it["source"] in test_sources]
    rng.shuffle(train)
    rng.shuffle(test)
    OUT.mkdir(parents=True, exist_ok=True)
    for split, rows in (("train", train), ("test", test)):
        with gzip.GzipFile(OUT / f"{split}.jsonl.gz", "wb", mtime=0) as fh:
            for it in rows:
                fh.write((json.dumps({k: it[k] for k in ("text", "label", "label_name", "package", "section")},
                                     ensure_ascii=False) + "\n").encode("utf-8"))
    (OUT / "labels.json").write_text(json.dumps(LABELS) + "\n")
    n_vocab = train_vocab([it["text"] for it in train], OUT / "vocab.txt", VOCAB_SIZE, MIN_FREQ)
    counts = {split: collections.Counter(it["label_name"] for it in rows) for split, rows in (("train", train),
                                                                                             ("test", test))}
    majority = max(counts["train"], key=counts["train"].get)
    chars = sorted(len(it["text"]) for it in train)
    table = "\n".join(f"| {name} | {zh} | {', '.join(s for s, g in GROUPS.items() if g == name)} | "
                      f"{counts['train'][name]} | {counts['test'][name]} |" for name, zh in zip(LABELS, LABELS_ZH))
    left_out = ", ".join(f"{s} {n}" for s, n in skipped.most_common())
    (OUT / "SOURCE.md").write_text(f"""# chinese_packages — what kind of software is this? (10 classes, Chinese)

**Origin.** The Simplified-Chinese (zh_CN) translations of Debian package descriptions, made by the volunteers of the
Debian Description Translation Project, as published in `dists/<suite>/main/i18n/Translation-zh_CN.bz2` for the
suites {", ".join(SUITES)} on deb.debian.org (fetched {dt.date.today().isoformat()}); the label is the package's
Debian *Section*, from the same suites' `main/binary-amd64/Packages.xz`. Package descriptions are part of the
packages; Debian distributes them under the free-software licence of each package.

**How it was built** (`scripts/data/build_chinese_packages.py`, deterministic, seed 0): {len(translated):,} translated
packages; identical texts merged → {len(by_text):,} distinct descriptions; text = translated short description + "。" +
long description (paragraph markers removed, whitespace collapsed). Sections grouped into the 10 classes below;
{sum(skipped.values())} descriptions whose Section is a catch-all with no clear topic were left out ({left_out}).
Split by source package (no source on both sides), 25 % of the sources to test.
Train texts have {chars[len(chars) // 2]} characters at the median, {chars[int(len(chars) * 0.9)]} at the 90th percentile.
Majority class (train): {majority} — {counts['test'][majority] / len(test):.1%} of the test set.

| class | 中文 | Debian sections | train | test |
|---|---|---|---|---|
{table}

**Vocabulary.** `vocab.txt` ({n_vocab:,} entries): WordPiece trained on the train texts only (`tokenizers`,
`BertWordPieceTokenizer`, `handle_chinese_chars=True`, lowercase, vocab_size={VOCAB_SIZE}, min_frequency={MIN_FREQ}):
single characters for Chinese, word pieces for the Latin words (program names, GNOME, Python, ...).
Load it with `mtbert_ref.lessons.chinese.chinese_tokenizer("chinese_packages")`.

**Files.** `train.jsonl.gz` ({len(train):,}), `test.jsonl.gz` ({len(test):,}): one JSON object per line,
`{{"text", "label", "label_name", "package", "section"}}`; `labels.json`; `vocab.txt`.
""", encoding="utf-8")
    print(len(translated), len(by_text), len(items), len(train), len(test), n_vocab, dict(counts["test"]), skipped)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit("usage: build_chinese_packages.py   (no arguments; downloads into /tmp/mtbert_debian_zh)")
    main()
