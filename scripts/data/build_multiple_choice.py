"""Build mtbert_ref/data/multiple_choice/: 4-choice questions made from two real, offline sources.

1. **Trivia** — the English ``trivia.yml`` of the PyPI package ``chatterbot-corpus`` 1.3.3 (BSD licence): 261
   human-written trivia questions, each with its answer. The script reads the YAML straight out of the wheel (a zip),
   downloaded with ``pip download chatterbot-corpus==1.3.3 --no-deps`` unless ``--chatterbot-wheel`` names it.
2. **Debian packages** — "Which Debian package is described as "<short description>"?" with package names as the
   choices. The Debian archive metadata is read from ``apt-cache dumpavail`` (run ``apt-get update`` first on a
   Debian/Ubuntu machine) or from a saved dump given with ``--dumpavail``.

No question, answer or distractor was written by hand or by a model: the distractors of a question are *other real
answers of the same kind*, chosen by these rules.

Trivia answer types (decided by the question's wording first, then the answer's shape):

* ``year``   — the answer is a 4-digit year, or the question asks "what year / which year / when";
* ``number`` — the answer is a number (digits or a number word) or the question asks "how many / how much";
* ``color``  — the question asks for a colour ("color"/"colour");
* ``person`` — the question asks "who/whom/whose" or "which/what <singer|author|actress|president|...>";
* ``place``  — the question asks "where" or "which/what <country|city|state|continent|...>";
* ``animal`` / ``food`` — the question names an animal word (mammal, bird, breed, ...) or a food word (fruit, dish, ...);
* ``thing``  — everything else (short noun phrases: films, objects, substances, ...).

A question's 3 distractors are drawn (seeded per question) from the answers of the *same type* in the trivia set;
a type with too few distinct answers borrows from a related one (year → number; the others → thing), and answers
whose word count is within one of the true answer's are preferred (so a long phrase does not stand out). A
distractor never equals the true answer (case-, article- and punctuation-insensitive) nor contains it or is contained
in it.

Debian questions: packages tagged ``role::program`` (debtags) in the ``main`` section families, not libraries,
-dev/-dbg/-doc/-data/-common packages, transitional/dummy packages or documentation; one package per source package;
a short description of 15–90 characters that does not contain the package's name (or the name's first part, e.g.
"xfce4" of "xfce4-terminal"), so the choice cannot be made by copying a word; at most ``--per-section`` packages per
Section. The 3 distractors are other kept packages of the **same Section** (e.g. ``editors`` with editors) from other
source packages, whose names share no leading component with the answer's.

Splits are by question (a trivia question, or a Debian source package, is in one split only; duplicate questions are
dropped before the split, decided by a SHA-1 hash of the normalised question so that re-running the script gives
the same split). The position of the true answer among the 4 choices is drawn uniformly (seeded).

Output: ``train.jsonl`` / ``test.jsonl`` with one question per line
``{"id", "source", "category", "answer_type", "question", "choices": [4 strings], "label": int}`` and SOURCE.md.

    python scripts/data/build_multiple_choice.py                       # downloads the wheel, runs apt-cache dumpavail
    python scripts/data/build_multiple_choice.py --chatterbot-wheel /tmp/chatterbot_corpus-1.3.3-py2.py3-none-any.whl
"""
from __future__ import annotations

import argparse
import hashlib
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
OUT = ROOT / "mtbert_ref" / "data" / "multiple_choice"
TRIVIA_MEMBER = "chatterbot_corpus/data/english/trivia.yml"
N_CHOICES = 4

NUMBER_WORDS = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
                "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty",
                "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "thousand", "million"}
PERSON_NOUNS = ("singer", "author", "writer", "artist", "painter", "actor", "actress", "president", "designer",
                "leader", "star", "rapper", "scientist", "inventor", "composer", "musician", "king", "queen",
                "person", "woman", "man", "girl", "boy", "character", "celebrity", "player", "sportsperson",
                "prime minister", "poet", "philosopher", "comedian")
PLACE_NOUNS = ("country", "countries", "city", "state", "continent", "capital", "island", "ocean", "sea", "town",
               "nation", "river", "region", "museum", "building", "ship")


# --------------------------------------------------------------------------------------------- helpers
def norm(text: str) -> str:
    """Lower case, no articles, punctuation or extra spaces: for comparing answers and deduplicating questions."""
    t = text.lower().replace("\u2019", "'")
    t = re.sub(r"[^a-z0-9' ]+", " ", t)
    t = re.sub(r"\b(the|a|an)\b", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def clean(text: str) -> str:
    t = str(text).replace("\u00a0", " ")
    t = re.sub(r"\s+", " ", t).strip()
    return t


def stable_hash(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest()[:12], 16)


def conflicting(a: str, b: str) -> bool:
    """Two answers that must not both be choices: equal, or one inside the other (after normalisation)."""
    na, nb = norm(a), norm(b)
    if not na or not nb:
        return True
    return na == nb or f" {na} " in f" {nb} " or f" {nb} " in f" {na} "


# --------------------------------------------------------------------------------------------- trivia
def read_trivia(wheel: Path) -> tuple[list[tuple[str, str]], int, int]:
    import yaml

    with zipfile.ZipFile(wheel) as zf:
        data = yaml.safe_load(zf.read(TRIVIA_MEMBER).decode("utf-8"))
    raw = data["conversations"]
    pairs, repaired = [], 0
    for item in raw:
        if isinstance(item, list) and len(item) >= 2:
            pairs.append((clean(item[0]), clean(item[1])))
        elif isinstance(item, str) and "? - " in item:
            # one entry in the YAML lost its list dash, so question and answer were read as one string
            q, a = item.split("? - ", 1)
            pairs.append((clean(q + "?"), clean(a.strip("'\""))))
            repaired += 1
    return pairs, len(raw), repaired


ANIMAL_NOUNS = ("animal", "animals", "mammal", "bird", "creature", "species", "breed", "insect", "deer", "lizard",
                "fish", "dog")
FOOD_NOUNS = ("food", "fruit", "dish", "candy", "beans", "ingredient", "nuts", "juice", "juices", "vitamin", "beer",
              "pastry", "spice", "allspice")


def answer_type(question: str, answer: str) -> str:
    q = question.lower().replace("\u2019", "'")
    a = answer.strip().rstrip(".").lower()
    first = re.split(r"[\s:,-]+", a)[0] if a else ""
    if re.fullmatch(r"(in )?(1\d{3}|20\d{2})", a):
        return "year"
    if re.fullmatch(r"\d+(\.\d+)?", first) or first in NUMBER_WORDS or re.search(r"\bhow (many|much)\b", q):
        return "number"
    if re.search(r"\b(what|which) year\b|^when (did|was|were)\b", q):
        return "year"
    if re.search(r"\bcolou?rs?\b", q):
        return "color"
    gap = r"(?: [\w'\u2019]+){0,3}"
    nouns = "|".join(PERSON_NOUNS)
    if re.search(r"\b(who|whom|whose)\b", q) or re.search(rf"\b(which|what){gap} ({nouns})\b", q):
        return "person"
    places = "|".join(PLACE_NOUNS)
    if re.search(r"\bwhere\b", q) or re.search(rf"\b(which|what){gap} ({places})\b", q):
        return "place"
    if re.search(rf"\b({'|'.join(ANIMAL_NOUNS)})\b", q):
        return "animal"
    if re.search(rf"\b({'|'.join(FOOD_NOUNS)})\b", q):
        return "food"
    return "thing"


FALLBACK = {"year": "number", "number": "thing", "color": "thing", "person": "thing", "place": "thing",
            "animal": "thing", "food": "thing", "thing": None}


def trivia_questions(pairs: list[tuple[str, str]], seed: int) -> tuple[list[dict], dict]:
    seen, items, dup = set(), [], 0
    for q, a in pairs:
        a = a.rstrip(".").strip()
        if answer_type(q, a) == "number" and ":" in a:      # "Five: Dopey, Grumpy, ..." -> "Five"
            a = a.split(":", 1)[0].strip()
        key = norm(q)
        if not key or not a or key in seen:
            dup += 1
            continue
        seen.add(key)
        items.append({"question": q, "answer": a, "answer_type": answer_type(q, a)})
    pools: dict[str, list[str]] = defaultdict(list)
    for it in items:
        if not any(norm(x) == norm(it["answer"]) for x in pools[it["answer_type"]]):
            pools[it["answer_type"]].append(it["answer"])
    out, borrowed = [], Counter()
    for it in items:
        rng = random.Random(seed * 1_000_003 + stable_hash(it["question"]))
        kind, chosen = it["answer_type"], []
        while kind is not None and len(chosen) < N_CHOICES - 1:
            cands = [x for x in pools[kind] if not conflicting(x, it["answer"]) and
                     not any(conflicting(x, c) for c in chosen)]
            rng.shuffle(cands)
            # answers of similar length first (a 6-word phrase among 1-word answers would give itself away)
            n_words = len(it["answer"].split())
            cands.sort(key=lambda x: abs(len(x.split()) - n_words) > 1)
            need = N_CHOICES - 1 - len(chosen)
            if kind != it["answer_type"] and cands[:need]:
                borrowed[f"{it['answer_type']}->{kind}"] += 1
            chosen += cands[:need]
            kind = FALLBACK[kind]
        out.append(_question(it["question"], it["answer"], chosen, rng, source="trivia", category="trivia",
                             answer_type=it["answer_type"]))
    stats = {"trivia_pairs_kept": len(items), "trivia_duplicates_dropped": dup,
             "trivia_types": dict(Counter(it["answer_type"] for it in items)),
             "trivia_pool_sizes": {k: len(v) for k, v in pools.items()}, "trivia_borrowed": dict(borrowed)}
    return out, stats


def _question(question, answer, distractors, rng, **meta) -> dict:
    if len(distractors) != N_CHOICES - 1:
        raise RuntimeError(f"only {len(distractors)} distractors for {question!r}")
    label = rng.randrange(N_CHOICES)
    choices = list(distractors)
    choices.insert(label, answer)
    return {**meta, "question": question, "choices": choices, "label": label}


# --------------------------------------------------------------------------------------------- Debian
EXCLUDED_SECTIONS = {"libs", "libdevel", "oldlibs", "debug", "doc", "localization", "fonts", "metapackages", "kernel",
                     "translations", "tasks", "introspection", "ruby", "perl", "python", "javascript", "java", "php",
                     "haskell", "ocaml", "rust", "golang", "lisp", "r", "cli-mono", "zope", "vcs"}
BAD_SUFFIXES = ("-dev", "-dbg", "-dbgsym", "-doc", "-data", "-common", "-l10n", "-examples", "-dbgsym", "-tests",
                "-plugins", "-plugin", "-themes", "-theme", "-fonts", "-locales")


def read_dumpavail(path: Path | None) -> str:
    if path is not None:
        return path.read_text(encoding="utf-8", errors="replace")
    try:
        return subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise SystemExit(f"apt-cache dumpavail failed ({exc}); run `apt-get update` on a Debian machine or pass "
                         "--dumpavail FILE") from exc


def parse_stanzas(text: str) -> list[dict]:
    out, cur, last = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if cur:
                out.append(cur)
            cur, last = {}, None
        elif line[0] in " \t" and last:
            cur[last] += "\n" + line.strip()
        elif ":" in line:
            k, v = line.split(":", 1)
            cur[k], last = v.strip(), k
    if cur:
        out.append(cur)
    return out


def name_parts(name: str) -> list[str]:
    return [p for p in re.split(r"[-.+]", name.lower()) if p]


def debian_questions(stanzas: list[dict], per_section: int, seed: int) -> tuple[list[dict], dict]:
    kept: dict[str, dict] = {}
    for st in stanzas:
        name, desc = st.get("Package", ""), clean(st.get("Description", "").split("\n")[0])
        section = st.get("Section", "")
        if "/" in section:        # contrib/..., non-free/...: keep main only
            continue
        tags = st.get("Tag", "")
        if "role::program" not in tags or section in EXCLUDED_SECTIONS:
            continue
        if name.startswith("lib") or name.endswith(BAD_SUFFIXES) or re.search(r"transitional|dummy|documentation",
                                                                              desc, re.I):
            continue
        if not 15 <= len(desc) <= 90:
            continue
        low = desc.lower()
        parts = name_parts(name)
        if name.lower() in low or (parts and len(parts[0]) >= 3 and re.search(rf"\b{re.escape(parts[0])}", low)):
            continue
        source = st.get("Source", name).split(" ")[0]
        prev = kept.get(source)
        if prev is None or len(name) < len(prev["package"]):   # one package per source: the shortest name
            kept[source] = {"package": name, "description": desc.rstrip("."), "section": section, "source": source}
    by_section: dict[str, list[dict]] = defaultdict(list)
    for p in sorted(kept.values(), key=lambda p: stable_hash(p["package"])):
        by_section[p["section"]].append(p)
    out = []
    for section, pkgs in sorted(by_section.items()):
        if len(pkgs) < 20:       # too few packages to draw plausible distractors from
            continue
        seen_desc = set()
        asked = []
        for p in pkgs:
            if norm(p["description"]) in seen_desc:
                continue
            seen_desc.add(norm(p["description"]))
            asked.append(p)
            if len(asked) >= per_section:
                break
        for p in asked:
            rng = random.Random(seed * 1_000_003 + stable_hash(p["package"]))
            lead = name_parts(p["package"])[0]
            cands = [o["package"] for o in pkgs if o["source"] != p["source"] and name_parts(o["package"])[0] != lead]
            rng.shuffle(cands)
            chosen = []
            for c in cands:
                if name_parts(c)[0] not in {name_parts(x)[0] for x in chosen}:
                    chosen.append(c)
                if len(chosen) == N_CHOICES - 1:
                    break
            if len(chosen) < N_CHOICES - 1:      # a Section dominated by one name family: no fair distractors
                continue
            q = f"Which Debian package is described as \u201c{p['description']}\u201d?"
            out.append(_question(q, p["package"], chosen, rng, source="debian", category=section,
                                 answer_type="package"))
    stats = {"debian_stanzas": len(stanzas), "debian_candidates": len(kept),
             "debian_sections": dict(Counter(q["category"] for q in out))}
    return out, stats


# --------------------------------------------------------------------------------------------- split & write
def split(items: list[dict], test_frac: float) -> tuple[list[dict], list[dict]]:
    train, test = [], []
    for it in items:
        h = stable_hash("split:" + norm(it["question"])) % 10_000
        (test if h < test_frac * 10_000 else train).append(it)
    return train, test


def write_source_md(path: Path, counts: dict, stats: dict, args) -> None:
    c = counts
    types = ", ".join(f"{k} {v}" for k, v in sorted(stats["trivia_types"].items(), key=lambda kv: -kv[1]))
    pools = ", ".join(f"{k} {v}" for k, v in sorted(stats["trivia_pool_sizes"].items(), key=lambda kv: -kv[1]))
    borrowed = ", ".join(f"{k}: {v}" for k, v in sorted(stats["trivia_borrowed"].items())) or "none"
    sections = len(stats["debian_sections"])
    text = f"""# Multiple-choice questions (notebook 04)

Four choices per question, one of them right. Two real sources, both available offline.

**Trivia.** `chatterbot_corpus/data/english/trivia.yml` from the PyPI package
[chatterbot-corpus](https://pypi.org/project/chatterbot-corpus/) 1.3.3 by Gunther Cox (BSD licence): human-written
trivia questions with their answers. {stats['trivia_raw_entries']} entries in the YAML; one whose list dash is missing
was repaired ({stats['trivia_repaired']}); {stats['trivia_duplicates_dropped']} duplicate question(s) dropped;
{stats['trivia_pairs_kept']} kept.

**Debian packages.** Debian archive metadata (package names, Section, the one-line description, debtags), read from
`apt-cache dumpavail` on the build machine (Debian 12 "bookworm" indexes, {stats['debian_stanzas']:,} packages).
Descriptions are written by each package's maintainers and distributed with the Debian archive; they are used here
as facts about the packages. Question: "Which Debian package is described as "<description>"?"; choices are package
names.

**How it was made** (`scripts/data/build_multiple_choice.py`, seed {args.seed}; its docstring gives every rule).
Nobody (human or model) wrote a question or a distractor: the 3 wrong choices are real answers of *other* questions
of the same kind.
- Trivia: each answer gets a type from the question's wording and the answer's shape (year, number, colour,
  person, place, animal, food, thing). Answers per type: {types}; distinct answers in each pool: {pools}. Distractors come from
  the pool of the same type; a type with too few distinct answers borrows from a related pool ({borrowed}).
  A distractor is never equal to the answer, nor contained in it (ignoring case, articles, punctuation).
- Debian: programs (`role::program`) of Debian main, not libraries, -dev/-doc/-data/-common packages,
  transitional/dummy packages; one package per source package; a description of 15-90 characters that does not
  contain the package name or its first component; Sections with at least 20 such packages ({sections} Sections),
  at most {args.per_section} questions per Section. Distractors: packages of the same Section from other source
  packages, with a different first name component than the answer and each other.
- Split by question (a hash of the normalised question; a Debian package is one question), about
  {int(args.test_frac * 100)}% test. The right answer's position is uniform (seeded).

**Counts.**
| split | trivia | debian | total |
|---|---|---|---|
| train | {c['train']['trivia']} | {c['train']['debian']} | {c['train']['total']} |
| test | {c['test']['trivia']} | {c['test']['debian']} | {c['test']['total']} |

Label positions (train, test): {c['train']['labels']}, {c['test']['labels']}. Chance accuracy is 1/4 = 25%.

**Honest limits.**
- The trivia set is small ({c['test']['trivia']} test questions: one question moves the accuracy by
  {100 / max(1, c['test']['trivia']):.1f} points) and US/pop-culture heavy; a few answers in the YAML are
  misspelt or debatable ("Antartica", "Barbara Streisand") and are kept as they are.
- Typing the answers is a heuristic: some distractors are of a different kind than the answer (e.g. an animal
  among foods, both "thing"), so a question may be easier than it should be. Distractors are drawn from all trivia
  answers, including those of questions in the other split (never the question itself).
- The Debian questions test whether a model links a description to a package *name*; many names are
  abbreviations that no model can decode, and some are guessable from a word of the description (names whose first
  component occurs in the description were removed, other overlaps remain). Two packages of one Section can have
  similar descriptions.
- Facts are as of the sources' dates (chatterbot-corpus 1.3.3; Debian bookworm, November 2026).
"""
    path.write_text(text, encoding="utf-8")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chatterbot-wheel", type=Path, help="chatterbot_corpus-1.3.3 wheel (downloaded if missing)")
    ap.add_argument("--dumpavail", type=Path, help="a saved `apt-cache dumpavail` output (default: run it)")
    ap.add_argument("--per-section", type=int, default=60)
    ap.add_argument("--test-frac", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)

    wheel = args.chatterbot_wheel
    if wheel is None:
        tmp = Path(tempfile.mkdtemp())
        subprocess.run([sys.executable, "-m", "pip", "download", "chatterbot-corpus==1.3.3", "--no-deps", "-q",
                        "-d", str(tmp)], check=True)
        wheel = next(tmp.glob("chatterbot_corpus-*.whl"))
    pairs, n_raw, repaired = read_trivia(wheel)
    trivia, stats = trivia_questions(pairs, args.seed)
    stats.update(trivia_raw_entries=n_raw, trivia_repaired=repaired)
    debian, dstats = debian_questions(parse_stanzas(read_dumpavail(args.dumpavail)), args.per_section, args.seed)
    stats.update(dstats)

    items = trivia + debian
    train, test = split(items, args.test_frac)
    counts = {}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("test", test)):
        with open(args.out / f"{name}.jsonl", "w", encoding="utf-8") as fh:
            for i, it in enumerate(part):
                rec = {"id": f"{name}-{i:05d}", **it}
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
        counts[name] = {"trivia": sum(q["source"] == "trivia" for q in part),
                        "debian": sum(q["source"] == "debian" for q in part), "total": len(part),
                        "labels": dict(sorted(Counter(q["label"] for q in part).items()))}
    write_source_md(args.out / "SOURCE.md", counts, stats, args)
    print(json.dumps({"counts": counts, **stats}, indent=1))


if __name__ == "__main__":
    main()
