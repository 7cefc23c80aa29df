"""Build mtbert_ref/data/qa/: a small extractive question-answering set (SQuAD format) from real Wikipedia text.

Source: the shortened English Wikipedia dump that ships as test data inside the PyPI package ``gensim``
(``gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2``; Wikipedia text is
CC BY-SA). The script never needs gensim installed: it reads that one file straight out of the gensim wheel (a zip),
which it downloads with ``pip download gensim==4.4.0 --no-deps`` unless you pass it with ``--wheel``::

    python scripts/data/build_qa.py
    python scripts/data/build_qa.py --wheel /tmp/gensim-4.4.0-cp311-...whl

No question was written by hand or by a model. Every question comes from one sentence of an article by a transparent
rule: a phrase of the sentence that is a date, a year, a percentage, a count ("3 million people") or a well-known
place is the answer, and the question is the sentence with that phrase replaced by a wh-phrase::

    "Albania declared independence in 1912."  ->  "Albania declared independence in what year?"   answer: "1912"

The context is the paragraph around the sentence (short paragraphs are joined with the next one), so the model must
find the sentence first and then the span. Train and test are split by article (no test article is seen in
training). Output: ``train.jsonl.gz`` / ``test.jsonl.gz`` in SQuAD's layout
``{"id", "title", "qtype", "context", "question", "answers": {"text": [...], "answer_start": [...]}}`` and SOURCE.md.
"""
from __future__ import annotations

import argparse
import bz2
import gzip
import html
import json
import random
import re
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "mtbert_ref" / "data" / "qa"
MEMBER = "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
SEED = 0
TEST_FRACTION = 0.2          # of the articles
MAX_PER_ARTICLE = 24         # keeps the big articles (Anarchism, Alabama, ...) from dominating
MAX_PER_PARAGRAPH = 4
MIN_CONTEXT_WORDS = 60
MAX_CONTEXT_WORDS = 320
MAX_QUESTION_WORDS = 36      # long questions leave little room for the context in a 128-192 token window
MAX_QUESTION_CHARS = 200     # (a 36-word question full of chemical names is 100+ word pieces)

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
MONTH = "(?:" + "|".join(MONTHS) + ")"
NUMBER_WORDS = ["two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
# Places the WHERE rule accepts (a gazetteer: a capitalised word after "in" is often not a place, e.g. "in Latin").
PLACES = set("""
Afghanistan Albania Algeria Andorra Angola Argentina Armenia Australia Austria Azerbaijan Bahrain Bangladesh Belarus
Belgium Bolivia Bosnia Brazil Bulgaria Burma Cambodia Cameroon Canada Chad Chile China Colombia Congo Croatia Cuba
Cyprus Czechoslovakia Denmark Ecuador Egypt England Eritrea Estonia Ethiopia Finland France Georgia Germany Ghana
Greece Guatemala Haiti Honduras Hungary Iceland India Indonesia Iran Iraq Ireland Israel Italy Jamaica Japan Jordan
Kazakhstan Kenya Korea Kosovo Kuwait Latvia Lebanon Liberia Libya Lithuania Luxembourg Macedonia Madagascar Malaysia
Mali Malta Mexico Moldova Monaco Mongolia Montenegro Morocco Mozambique Namibia Nepal Netherlands Nicaragua Niger
Nigeria Norway Oman Pakistan Palestine Panama Paraguay Persia Peru Poland Portugal Prussia Qatar Romania Russia Rwanda
Scotland Senegal Serbia Singapore Slovakia Slovenia Somalia Spain Sudan Sweden Switzerland Syria Taiwan Tajikistan
Tanzania Thailand Tunisia Turkey Turkmenistan Uganda Ukraine Uruguay Uzbekistan Venezuela Vietnam Wales Yemen
Yugoslavia Zambia Zimbabwe Aruba Namibia Botswana Zaire Tibet Siberia
Africa Asia Europe Antarctica Australia America Arctic Scandinavia Balkans Caribbean
Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Hawaii Idaho Illinois Indiana Iowa
Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska
Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah Vermont Virginia Washington Wisconsin Wyoming
Alberta Ontario Quebec Manitoba Saskatchewan Bavaria Catalonia Andalusia Sicily Sardinia Crete Corsica
London Paris Berlin Vienna Rome Madrid Lisbon Moscow Athens Cairo Kabul Tirana Algiers Luanda Baku Beijing Tokyo
Delhi Bombay Mumbai Calcutta Baghdad Tehran Istanbul Constantinople Jerusalem Alexandria Babylon Sparta Troy Carthage
Chicago Boston Philadelphia Hollywood Houston Atlanta Montgomery Birmingham Mobile Huntsville Anchorage Juneau
Edmonton Calgary Toronto Montreal Vancouver Ottawa Geneva Zurich Munich Hamburg Frankfurt Prague Budapest Warsaw
Stockholm Oslo Copenhagen Amsterdam Brussels Dublin Edinburgh Oxford Cambridge Manchester Liverpool Venice
Florence Milan Naples Barcelona Seville Marseille Lyon Princeton Bern Ulm Kandahar Herat Mazar Durr Tlemcen Oran
Constantine Benguela Huambo Lobito Cabinda Havana Mecca Medina Damascus Beirut Kiev Petersburg Leningrad Stalingrad
Shanghai Hong Kong Sydney Melbourne Perth Brisbane Auckland Nairobi Lagos Johannesburg Pretoria Dakar Tunis Tripoli
Lincoln Springfield Kentucky Gettysburg Richmond Charleston Yorktown Saratoga Lexington Concord Trenton
""".split())
MULTI_WORD_PLACES = ["New York", "New York City", "Los Angeles", "San Francisco", "New Orleans", "New Mexico",
                     "New Jersey", "New Hampshire", "North Carolina", "South Carolina", "North Dakota", "South Dakota",
                     "West Virginia", "Rhode Island", "Washington, D.C.", "British Columbia", "Nova Scotia",
                     "New Zealand", "South Africa", "North Africa", "West Africa", "East Africa", "Central Asia",
                     "South America", "North America", "Latin America", "Central America", "the United States",
                     "the United Kingdom", "the Soviet Union", "the Middle East", "Western Europe", "Eastern Europe",
                     "Southeast Asia", "Saudi Arabia", "Sri Lanka", "Great Britain", "the Netherlands",
                     "the Atlantic Ocean", "the Pacific Ocean", "the Indian Ocean", "the Mediterranean",
                     "the Arctic", "Ancient Greece", "Bosnia and Herzegovina", "Costa Rica", "Puerto Rico",
                     "El Salvador", "Hong Kong", "St. Louis", "Las Vegas", "Mexico City", "Rio de Janeiro",
                     "Buenos Aires", "Cape Town", "Tel Aviv", "Czech Republic", "Ivory Coast", "North Korea",
                     "South Korea", "East Germany", "West Germany", "Ottoman Empire", "Holy Roman Empire",
                     "the Ottoman Empire", "the Roman Empire", "the Holy Roman Empire", "Asia Minor"]
STOP_SECTIONS = {"see also", "references", "notes", "external links", "further reading", "bibliography", "sources",
                 "footnotes", "citations", "works cited", "primary sources", "secondary sources", "gallery"}
ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "gen", "sen", "gov", "lt", "col", "capt", "rev",
                 "no", "vs", "etc", "inc", "co", "corp", "ltd", "approx", "c", "ca", "fl", "e.g", "i.e", "cf", "al",
                 "vol", "pp", "ed", "eds", "b", "d", "mt", "ft", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
                 "sep", "sept", "oct", "nov", "dec"}
HOLE = "\x00"   # marks text removed from inside a sentence (a template, a formula): such sentences are dropped


# ------------------------------------------------------------------------------------------- wikitext -> text
def _strip_nested(text: str, pattern: str, repl) -> str:
    """Apply ``re.sub(pattern, repl)`` until nothing changes (removes nested constructs innermost first)."""
    rx = re.compile(pattern, re.S)
    while True:
        new = rx.sub(repl, text)
        if new == text:
            return new
        text = new


def _template(m: re.Match) -> str:
    parts = m.group(1).split("|")
    name = parts[0].strip().lower()
    if name == "convert" and len(parts) >= 3:
        return f"{parts[1].strip()} {parts[2].strip()}"
    if (name.startswith("lang") or name in {"nowrap", "nobr", "small"}) and len(parts) >= 2:
        return parts[-1].strip()
    if name in {"circa", "c."}:
        return "c."
    return HOLE


def _link(m: re.Match) -> str:
    target, label = m.group(1), m.group(2)
    low = target.strip().lower()
    if ":" in low and low.split(":", 1)[0] in {"file", "image", "category", "media", "wikipedia", "wp", "wikt",
                                              "s", "q", "commons", "help", "template", "portal"}:
        return ""
    if re.match(r"^[a-z\-]{2,12}:", low):      # interlanguage link such as [[de:Anarchismus]]
        return ""
    return (label if label is not None else target).strip()


def clean_wikitext(text: str) -> str:
    """Turn one article's wikitext into plain text: paragraphs separated by blank lines, headings kept as '== x =='."""
    text = html.unescape(text)                                         # the dump is XML-escaped
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = re.sub(r"<ref[^>]*/>", "", text)
    text = re.sub(r"<ref[^>]*>.*?</ref>", "", text, flags=re.S)
    text = re.sub(r"<(math|gallery|timeline|table|div|code|pre|source|syntaxhighlight)[^>]*>.*?</\1>", HOLE, text,
                  flags=re.S | re.I)
    text = _strip_nested(text, r"\{\{([^{}]*)\}\}", _template)
    text = _strip_nested(text, r"\{\|[^{}]*?\|\}", "\n")                 # tables
    text = _strip_nested(text, r"\[\[([^\[\]|]*)(?:\|([^\[\]]*))?\]\]", _link)
    text = re.sub(r"\[https?://[^\s\]]+ ([^\]]*)\]", r"\1", text)
    text = re.sub(r"\[https?://[^\]]*\]", "", text)
    text = re.sub(r"'{2,}", "", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text).replace("\u00a0", " ")
    return text


def paragraphs(article_text: str) -> list[list[str]]:
    """Prose paragraphs (lists of sentences) before the first 'See also'/'References' section."""
    out: list[list[str]] = []
    current: list[str] = []

    def flush():
        if current:
            para = re.sub(r"\s+", " ", " ".join(current)).strip()
            if para:
                out.append(split_sentences(para))
            current.clear()

    for line in article_text.split("\n"):
        s = line.strip()
        if s.startswith("="):
            flush()
            if s.strip("= ").lower() in STOP_SECTIONS:
                break
            out.append([])                                               # a section break: never join across it
            continue
        if not s or s[0] in "*#:;|!{}" or s.startswith("__"):
            flush()
            continue
        current.append(s)
    flush()
    return out


_BOUNDARY = re.compile(r"""(?<=[.!?])(["')\]]*)\s+(?=["'(\[]?[A-Z0-9])""")


def split_sentences(text: str) -> list[str]:
    """Rule-based sentence splitter: . ! ? followed by a capital/digit, except after abbreviations and initials."""
    sentences, start = [], 0
    for m in _BOUNDARY.finditer(text):
        end = m.start() + len(m.group(1))
        before = text[start:end].rstrip("\"')]")
        stem = (before.split(" ")[-1] if before else "").rstrip(".!?").lower()
        if before.endswith(".") and (stem in ABBREVIATIONS or re.fullmatch(r"[a-z]", stem)
                                     or re.fullmatch(r"(?:[a-z]\.)+[a-z]", stem)):
            continue
        sentences.append(text[start:end].strip())
        start = m.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return [s for s in sentences if s]


def good_sentence(s: str) -> bool:
    """A clean prose sentence: no markup debris, 6-60 words, starts upper-case, ends with a full stop."""
    return (HOLE not in s and 6 <= len(s.split()) <= 60 and s[:1].isupper() and s.endswith(".")
            and not re.search(r"\(\s*[,;]?\s*\)|\s[,;.]|\s{2}|\s-\s|[\[\]{}=|<>]", s))


def contexts(paras: list[list[str]]) -> list[list[str]]:
    """Join clean paragraphs into contexts of MIN_CONTEXT_WORDS..MAX_CONTEXT_WORDS words (never across sections).

    A sentence with a hole left by markup removal is dropped from the context (the rest of the paragraph stays).
    """
    out: list[list[str]] = []
    buf: list[str] = []
    for para in paras + [[]]:
        if not para:                                   # section break
            if sum(len(s.split()) for s in buf) >= MIN_CONTEXT_WORDS:
                out.append(buf)
            buf = []
            continue
        sents = [s for s in para if good_sentence(s)]
        if len(sents) < max(2, len(para) // 2):       # mostly markup debris: skip the paragraph
            continue
        for s in sents:
            if buf and sum(len(x.split()) for x in buf) + len(s.split()) > MAX_CONTEXT_WORDS:
                if sum(len(x.split()) for x in buf) >= MIN_CONTEXT_WORDS:
                    out.append(buf)
                buf = []
            buf.append(s)
        if sum(len(s.split()) for s in buf) >= MIN_CONTEXT_WORDS:
            out.append(buf)
            buf = []
    return out


# ------------------------------------------------------------------------------------------- question rules
YEAR = r"(?:1[0-9]{3}|20[0-2][0-9]|[5-9][0-9]{2})"
RULES = []   # (qtype, compiled regex with groups 'whole' (replaced) and 'ans' (the answer), wh-phrase function)


def _rule(qtype, pattern, wh):
    RULES.append((qtype, re.compile(pattern), wh))


_rule("date", rf"(?P<whole>\b(?P<prep>[Oo]n )?(?P<ans>(?:[1-3]?[0-9] {MONTH}|{MONTH} [1-3]?[0-9],) {YEAR}))\b"
      r"(?![,]? \d)",
      lambda m: ("on what date" if m.group("prep") else "what date"))
_rule("year", rf"(?P<whole>\b(?P<prep>in|In|by|By|since|Since|until|Until) (?P<ans>{YEAR}))\b"
      rf"(?![\d%]|,\d| ?(?:–|-|to) ?\d| (?:BC|BCE|AD|CE|B\.C)|s\b| [a-z]+s\b)",
      lambda m: f"{m.group('prep')} what year")
_rule("percentage", r"(?P<whole>\b(?P<ans>(?P<num>\d+(?:\.\d+)?)(?:%| percent| per cent)))(?![\w-])",
      lambda m: "what percentage")
_rule("count", r"(?P<whole>(?<![\w\-.,–—])(?:the )?(?P<ans>(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?|"
      + "|".join(NUMBER_WORDS) + r")"
      r"(?: (?:million|billion|thousand|hundred))?) (?P<noun>(?!years\b|times\b|is\b|was\b|has\b|this\b|its\b)"
      r"[a-z]{3,}s))\b(?! of\b)",
      lambda m: f"how many {m.group('noun')}")
_PLACE_ALT = "|".join(sorted((re.escape(p) for p in list(PLACES) + MULTI_WORD_PLACES), key=len, reverse=True))
_rule("place", rf"(?P<whole>\b(?P<prep>in|near|at) (?P<ans>{_PLACE_ALT}))(?=[.;]|,(?! [A-Z]))",
      lambda m: "where")

RULE_ORDER = ["date", "year", "percentage", "count", "place"]


def questions_from_sentence(sentence: str):
    """Yield (qtype, question, answer, start of the answer in the sentence, extra gold answers) for one sentence."""
    taken: list[tuple[int, int]] = []
    for qtype, rx, wh in RULES:
        for m in rx.finditer(sentence):
            a, b = m.span("whole")
            if any(a < y and x < b for x, y in taken):        # overlaps an answer already used (a date's year)
                continue
            if qtype == "count" and re.fullmatch(YEAR, m.group("ans")):
                continue                                          # "1990 elections": a year, not a count
            if qtype == "year" and re.search(rf"{MONTH}\s*$", sentence[:a]):
                continue
            taken.append((a, b))
            phrase = wh(m)
            if a == 0:
                phrase = phrase[0].upper() + phrase[1:]
            q = sentence[:a] + phrase + sentence[b:]
            q = re.sub(r"[.\s]+$", "", q) + "?"
            extra = []
            if qtype == "percentage":
                extra.append((m.group("num"), m.start("num")))
            if qtype == "count" and " " in m.group("ans"):     # "3 million" also accepts "3"
                extra.append((m.group("ans").split(" ")[0], m.start("ans")))
            yield qtype, q, m.group("ans"), m.start("ans"), extra
            break                                                 # one question per rule and sentence


# ------------------------------------------------------------------------------------------- build
def find_wheel(wheel: str | None) -> Path:
    if wheel:
        return Path(wheel)
    tmp = Path(tempfile.mkdtemp(prefix="gensim_wheel_"))
    subprocess.run([sys.executable, "-m", "pip", "download", "gensim==4.4.0", "--no-deps", "--only-binary", ":all:",
                    "-d", str(tmp), "-q"], check=True)
    return next(tmp.glob("gensim-*.whl"))


def read_articles(wheel: Path) -> list[tuple[str, str]]:
    with zipfile.ZipFile(wheel) as zf:
        xml = bz2.decompress(zf.read(MEMBER)).decode("utf-8")
    arts = []
    for page in re.findall(r"<page>(.*?)</page>", xml, re.S):
        if re.search(r"<ns>(\d+)</ns>", page).group(1) != "0":
            continue
        title = html.unescape(re.search(r"<title>(.*?)</title>", page).group(1))
        m = re.search(r"<text[^>]*>(.*?)</text>", page, re.S)
        body = m.group(1) if m else ""
        if body.lstrip().upper().startswith("#REDIRECT") or "(disambiguation)" in title or title.startswith("List of"):
            continue
        arts.append((title, body))
    return arts


def build(wheel: Path) -> dict:
    rng = random.Random(SEED)
    articles = read_articles(wheel)
    records_by_title: dict[str, list[dict]] = defaultdict(list)
    seen_q: set[str] = set()
    for title, body in articles:
        ctxs = contexts(paragraphs(clean_wikitext(body)))
        cands = []
        for ci, sents in enumerate(ctxs):
            context = " ".join(sents)
            offset, per_para = 0, []
            for s in sents:
                pos = context.index(s, offset)
                offset = pos + len(s)
                if len(s.split()) > MAX_QUESTION_WORDS:
                    continue
                for qtype, q, ans, start, extra in questions_from_sentence(s):
                    key = re.sub(r"\W+", " ", q.lower()).strip()
                    if key in seen_q or len(q) > MAX_QUESTION_CHARS:
                        continue
                    seen_q.add(key)
                    texts = [ans] + [t for t, _ in extra]
                    starts = [pos + start] + [pos + st for _, st in extra]
                    assert all(context[st:st + len(t)] == t for t, st in zip(texts, starts)), (q, texts)
                    per_para.append(dict(title=title, qtype=qtype, context=context, question=q,
                                         answers={"text": texts, "answer_start": starts}))
            rng.shuffle(per_para)
            cands.extend(per_para[:MAX_PER_PARAGRAPH])
        rng.shuffle(cands)
        if cands:
            records_by_title[title] = cands[:MAX_PER_ARTICLE]
    titles = sorted(records_by_title)
    rng.shuffle(titles)
    n_test = int(round(len(titles) * TEST_FRACTION))
    split = {t: ("test" if i < n_test else "train") for i, t in enumerate(titles)}
    out = {"train": [], "test": []}
    for t in sorted(titles):
        out[split[t]].extend(records_by_title[t])
    for name, recs in out.items():
        recs.sort(key=lambda r: (r["title"], r["context"], r["answers"]["answer_start"][0]))
        for i, r in enumerate(recs):
            r["id"] = f"{name}-{i:04d}"
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wheel", help="a downloaded gensim-4.4.0 wheel (otherwise pip downloads it)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    data = build(find_wheel(args.wheel))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keys = ["id", "title", "qtype", "context", "question", "answers"]
    for name, recs in data.items():
        with gzip.GzipFile(out / f"{name}.jsonl.gz", "wb", mtime=0) as fh:   # mtime=0: byte-identical rebuilds
            for r in recs:
                fh.write((json.dumps({k: r[k] for k in keys}, ensure_ascii=False) + "\n").encode("utf-8"))
    for name, recs in data.items():
        n_ctx = len({r["context"] for r in recs})
        n_art = len({r["title"] for r in recs})
        print(f"{name}: {len(recs)} questions, {n_ctx} contexts, {n_art} articles, "
              f"types {dict(Counter(r['qtype'] for r in recs))}")


if __name__ == "__main__":
    main()
