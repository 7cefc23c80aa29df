"""Build mtbert_ref/data/debtags/: Debian packages, their descriptions and their debtags (real multi-label data).

Source: the Debian archive's own metadata, as apt sees it after ``apt-get update``:

* the binary ``Packages`` indexes (``apt-cache dumpavail``): package name, Section, short description, and for about
  half of the packages a ``Tag:`` field of debtags (``interface::commandline, use::editing, works-with::text, ...``);
* the ``Translation-en`` indexes: the long description of each package (apt only downloads them when asked:
  ``apt-get update -o Acquire::Languages=en``).

Only a Debian/Ubuntu machine can rebuild the data; everyone else uses the built subset that ships with the course.

    apt-get update -o Acquire::Languages=en
    python scripts/data/build_debtags.py                        # runs apt-cache dumpavail and reads the lists itself
    python scripts/data/build_debtags.py --packages dump.txt --translations Translation-en.txt   # from saved files

What it does (all deterministic, no randomness beyond a hash of names):

1. parse the deb822 stanzas (a small parser written here: "Field: value" lines, continuation lines start with a
   space, " ." is an empty line in a long description);
2. keep packages that carry debtags, dropping debug-symbol, transitional/dummy and documentation-only packages,
   whose text says nothing about what the software does;
3. the multi-label targets are the most frequent tags of four facets that say what a package *is and does*:
   ``interface::`` (how you use it), ``implemented-in::`` (its language), ``works-with::`` (what data it handles) and
   ``use::`` (what it is for). Left out, and why: ``role::`` and ``devel::`` mostly say "library" / "development
   files", which the package name (``lib*-dev``) gives away; ``uitoolkit::`` and ``x11::`` repeat ``interface::``;
   ``interface::x11`` is a copy of ``interface::graphical`` (2,606 vs 2,605 packages, nearly always together), so
   only the latter is kept; ``scope::`` is vague; tags ending in ``::TODO`` are placeholders;
4. keep packages with at least one target tag; binary packages of one source package (``foo``, ``foo-data``,
   ``python3-foo`` ...) and packages with the same short description are joined into one *group*; a group lands in
   one split only (so near-identical siblings never straddle train/test), and at most ``--per-group`` packages per
   group are kept (programs first) so that big library families do not dominate; finally at most ``--per-section``
   packages per Section, so that e.g. the thousands of Perl modules (whose name says ``-perl``) do not swamp the rest;
5. text = ``"<package>: <short description>. <start of the long description>"`` cut at a word boundary to at most
   ``--max-chars`` characters (≈ 40 word pieces), so that a CPU fine-tunes on it quickly;
6. split by a SHA-1 hash of the group's name: 80 % train, 10 % val, 10 % test.

Output, in mtbert_ref/data/debtags/:
    packages.jsonl.gz   {"package", "text", "section", "tags": [all debtags], "split"} per package, sorted by name
    labels.json         the multi-label tag list, the labels of each facet task, the section classes, counts
    SOURCE.md           origin, licence, archive date and suite, how it was built, counts
"""
from __future__ import annotations

import argparse
import collections
import datetime as dt
import glob
import gzip
import hashlib
import io
import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "mtbert_ref" / "data" / "debtags"
LISTS = Path("/var/lib/apt/lists")

FACETS = ("interface", "implemented-in", "works-with", "use")
PER_FACET = {"interface": 6, "implemented-in": 7, "works-with": 8, "use": 8}
EXCLUDED_TAGS = {"interface::x11"}          # duplicate of interface::graphical
SECTION_MIN = 60                            # sections rarer than this become "other" for the section task


# ----------------------------------------------------------------------------------------------- deb822 parsing
def parse_deb822(text: str) -> list[dict[str, str]]:
    """Stanzas separated by blank lines; "Field: value"; a line starting with space/tab continues the last field."""
    stanzas, cur, last = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if cur:
                stanzas.append(cur)
            cur, last = {}, None
            continue
        if line[0] in " \t":
            if last is not None:
                cur[last] += "\n" + line
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        last = key.strip()
        cur[last] = value.strip()
    if cur:
        stanzas.append(cur)
    return stanzas


def long_description(field: str) -> str:
    """The long part of a Description field (its lines after the first), as one paragraph-joined string."""
    lines = field.split("\n")[1:]
    paras, cur = [], []
    for ln in lines:
        ln = ln.strip()
        if ln == ".":
            if cur:
                paras.append(" ".join(cur))
            cur = []
        else:
            cur.append(ln)
    if cur:
        paras.append(" ".join(cur))
    return " ".join(paras)


def split_tags(field: str) -> list[str]:
    return sorted({t.strip() for t in field.replace("\n", " ").split(",") if t.strip()})


# ----------------------------------------------------------------------------------------------- reading apt's data
def read_packages(path: str | None) -> str:
    if path:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    return subprocess.run(["apt-cache", "dumpavail"], check=True, capture_output=True, text=True,
                          errors="replace").stdout


def read_translations(paths: list[str] | None) -> str:
    if paths:
        return "\n\n".join(Path(p).read_text(encoding="utf-8", errors="replace") for p in paths)
    files = sorted(glob.glob(str(LISTS / "*_i18n_Translation-en*")))
    if not files:
        raise SystemExit("No Translation-en index in /var/lib/apt/lists: run `apt-get update -o Acquire::Languages=en`")
    out = []
    for f in files:  # apt stores them compressed (lz4/gz/xz); apt-helper decompresses whatever it is
        out.append(subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", f], check=True, capture_output=True,
                                  text=True, errors="replace").stdout)
    return "\n\n".join(out)


def archive_info() -> list[str]:
    """'suite (Date)' for each Release file apt has, for SOURCE.md."""
    info = []
    for f in sorted(glob.glob(str(LISTS / "*InRelease"))):
        txt = Path(f).read_text(encoding="utf-8", errors="replace")
        suite = re.search(r"^Suite:\s*(.+)$", txt, re.M)
        codename = re.search(r"^Codename:\s*(.+)$", txt, re.M)
        date = re.search(r"^Date:\s*(.+)$", txt, re.M)
        origin = re.search(r"^Origin:\s*(.+)$", txt, re.M)
        info.append(f"{origin.group(1) if origin else '?'} {codename.group(1) if codename else '?'} "
                    f"(suite {suite.group(1) if suite else '?'}), Release dated {date.group(1) if date else '?'}")
    return info


# ----------------------------------------------------------------------------------------------- building
def clean(s: str) -> str:
    s = re.sub(r"\s+", " ", s).strip()
    return s


def make_text(package: str, short: str, long: str, max_chars: int) -> str:
    short = clean(short)
    text = f"{package}: {short}" + ("" if short.endswith((".", "!", "?")) else ".")
    rest = clean(long)
    if rest:
        text = f"{text} {rest}"
    if len(text) > max_chars:
        cut = text[:max_chars + 1]
        cut = cut[:cut.rfind(" ")] if " " in cut[len(package) + 2:] else cut[:max_chars]
        text = cut.rstrip(" ,;:-(")
    return text


def is_noise(pkg: str, short: str, tags: list[str]) -> bool:
    s = short.lower()
    if pkg.endswith(("-dbg", "-dbgsym")) or "role::debug-symbols" in tags:
        return True
    if "transitional" in s or "dummy package" in s or "role::dummy" in tags:
        return True
    if "role::documentation" in tags and "role::program" not in tags:
        return True
    return False


class UnionFind:
    def __init__(self):
        self.parent: dict[str, str] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def split_of(group: str) -> str:
    h = int(hashlib.sha1(group.encode("utf-8")).hexdigest()[:8], 16) % 100
    return "train" if h < 80 else ("val" if h < 90 else "test")


def build(packages_txt: str, translations_txt: str, max_chars: int, per_group: int, per_section: int):
    stanzas = parse_deb822(packages_txt)
    longs = {}
    for st in parse_deb822(translations_txt):
        if "Package" in st and "Description-en" in st:
            longs[(st["Package"], st.get("Description-md5", ""))] = long_description(st["Description-en"])
    n_all = len({s["Package"] for s in stanzas if "Package" in s})

    pkgs = {}
    for st in stanzas:
        if "Tag" not in st or "Package" not in st:
            continue
        name = st["Package"]
        tags = split_tags(st["Tag"])
        short = st.get("Description", "").split("\n")[0]
        long = longs.get((name, st.get("Description-md5", "")), "") or long_description(st.get("Description", ""))
        source = st.get("Source", name).split(" ")[0]
        pkgs[name] = dict(package=name, short=short, long=long, tags=tags, source=source,
                          section=st.get("Section", "unknown").split("/")[-1])
    n_tagged = len(pkgs)
    pkgs = {k: v for k, v in pkgs.items() if not is_noise(k, v["short"], v["tags"])}
    n_clean = len(pkgs)

    # the label set: most frequent tags of each facet (computed on the cleaned tagged packages)
    freq = collections.Counter(t for p in pkgs.values() for t in p["tags"])
    facets = {}
    for facet in FACETS:
        cands = [(t, n) for t, n in freq.most_common() if t.startswith(facet + "::") and not t.endswith("::TODO")
                 and t not in EXCLUDED_TAGS]
        facets[facet] = [t for t, _ in cands[:PER_FACET[facet]]]
    labels = [t for f in FACETS for t in facets[f]]
    label_set = set(labels)
    pkgs = {k: v for k, v in pkgs.items() if label_set & set(v["tags"])}

    # groups: same source package, or same short description (case/space-insensitive)
    uf = UnionFind()
    by_desc: dict[str, str] = {}
    for name, p in sorted(pkgs.items()):
        uf.union("src:" + p["source"], "pkg:" + name)
        key = clean(p["short"]).lower().rstrip(".")
        if key in by_desc:
            uf.union("pkg:" + name, "pkg:" + by_desc[key])
        else:
            by_desc[key] = name
    groups = collections.defaultdict(list)
    for name in pkgs:
        groups[uf.find("pkg:" + name)].append(name)

    def priority(name: str):
        tags = pkgs[name]["tags"]
        return ("role::program" not in tags, -len(label_set & set(tags)), len(name), name)

    kept = []
    for g, members in groups.items():
        members = sorted(members, key=priority)[:per_group]
        split = split_of(g)
        for m in members:
            kept.append((m, split, g))

    # cap each Section: keep the packages with the most target tags, ties by a hash of the name
    by_section = collections.defaultdict(list)
    for m, split, g in kept:
        by_section[pkgs[m]["section"]].append((m, split))
    final = []
    for sec, items in by_section.items():
        items.sort(key=lambda it: (-len(label_set & set(pkgs[it[0]]["tags"])),
                                   hashlib.sha1(it[0].encode()).hexdigest()))
        final.extend(items[:per_section])
    final.sort()

    records = []
    for name, split in final:
        p = pkgs[name]
        records.append({"package": name, "text": make_text(name, p["short"], p["long"], max_chars),
                        "section": p["section"], "tags": p["tags"], "split": split})
    counts = dict(all_packages=n_all, tagged=n_tagged, after_noise_filter=n_clean,
                  with_target_tag=len(pkgs), groups=len(groups), kept=len(records))
    return records, labels, facets, counts


def write(records, labels, facets, counts, max_chars, per_group, per_section):
    OUT.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, compresslevel=9) as gz:
        for r in records:
            gz.write((json.dumps(r, ensure_ascii=False) + "\n").encode("utf-8"))
    (OUT / "packages.jsonl.gz").write_bytes(buf.getvalue())

    split_n = collections.Counter(r["split"] for r in records)
    sec_n = collections.Counter(r["section"] for r in records)
    sections = sorted(s for s, n in sec_n.items() if n >= SECTION_MIN) + ["other"]
    label_n = {t: {s: sum(1 for r in records if r["split"] == s and t in r["tags"]) for s in ("train", "val", "test")}
               for t in labels}
    facet_cover = {f: sum(1 for r in records if any(t in r["tags"] for t in ls)) for f, ls in facets.items()}
    meta = {
        "description": "Debian packages with debtags. `labels` are the multi-label targets (notebook 06); `facets` "
                       "are one task each for the multi-task notebook (07): within a facet a package may carry "
                       "several tags or none (then the task has no target for it); `sections` is a single-label "
                       "task (a package's Section, rare ones mapped to 'other').",
        "labels": labels,
        "facets": facets,
        "sections": sections,
        "section_other_below": SECTION_MIN,
        "counts": {"packages": len(records), "splits": dict(split_n), "per_label": label_n,
                   "packages_with_a_tag_in_facet": facet_cover,
                   "per_section": dict(sorted(sec_n.items(), key=lambda kv: -kv[1]))},
        "build": {"max_chars": max_chars, "per_group": per_group, "per_section": per_section, **counts},
    }
    (OUT / "labels.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return meta


def write_source_md(meta, archive, built_on):
    c = meta["build"]
    sp = meta["counts"]["splits"]
    lab_lines = "\n".join(
        f"| `{t}` | {n['train']} | {n['val']} | {n['test']} |" for t, n in meta["counts"]["per_label"].items())
    md = f"""# Debian packages with debtags (multi-label and multi-task data)

**Origin.** Debian archive metadata: the binary `Packages` index (package name, Section, short description,
debtags in the `Tag:` field) and the `Translation-en` index (long descriptions) of Debian, as downloaded by
`apt-get update -o Acquire::Languages=en` on {built_on}. Archive indexes used:
{chr(10).join('- ' + a for a in archive)}

(The subset comes from `bookworm`, Debian 12, `main` component, amd64; the `-updates` and `-security` suites only
replace the index entries of updated packages.)

**Licence.** Package descriptions are written by each package's maintainers and distributed by Debian as part of
the archive metadata (they come from each package's `debian/control`, whose terms are stated in its
`debian/copyright`; everything in `main` is free software under the Debian Free Software Guidelines). Debtags are a community-maintained tag vocabulary distributed by Debian in the same
indexes. They are used here as facts about the packages, for teaching; cite "Debian archive metadata, debtags".

**How it was built.** `scripts/data/build_debtags.py` (the module docstring explains every step): parse the deb822
stanzas; keep packages with debtags ({c['tagged']:,} of {c['all_packages']:,}); drop debug-symbol, transitional/dummy
and documentation-only packages ({c['after_noise_filter']:,} left); choose the target tags (below); keep packages with
at least one target tag ({c['with_target_tag']:,}); join packages of one source package or with the same short
description into groups ({c['groups']:,}) that never straddle splits, at most {c['per_group']} per group (programs
first); at most {c['per_section']} per Section; text = `"<package>: <short description>. <start of the long
description>"` cut at a word boundary to ≤ {c['max_chars']} characters; split by a SHA-1 hash of the group name
(80/10/10).

**Counts.** {c['kept']:,} packages: train {sp.get('train', 0):,}, val {sp.get('val', 0):,}, test {sp.get('test', 0):,}.

**Targets.** The multi-label task (notebook 06) predicts {len(meta['labels'])} tags: the most frequent tags of the
facets `interface::` (how it is used), `implemented-in::` (language), `works-with::` (what data it handles) and
`use::` (what it is for). Left out: `role::`/`devel::` (mostly "library"/"development files", which the name
`lib*-dev` gives away), `uitoolkit::`/`x11::` (repeat `interface::`), `interface::x11` (a copy of
`interface::graphical`), `scope::` (vague), `*::TODO` (placeholders). The multi-task notebook (07) uses each facet
as a task (`labels.json` → `facets`) plus the Section as a single-label task (`labels.json` → `sections`; sections
with fewer than {meta['section_other_below']} packages become `other`). `tags` in each record keeps *all* the
package's debtags, so other label sets can be drawn from the same file.

| tag | train | val | test |
|---|---|---|---|
{lab_lines}

**Format.** `packages.jsonl.gz`: one JSON object per line,
`{{"package": "ripgrep", "text": "ripgrep: Recursively searches ...", "section": "utils", "tags": ["implemented-in::rust", ...],
"split": "train"}}`, sorted by package name.
"""
    (OUT / "SOURCE.md").write_text(md, encoding="utf-8")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--packages", help="saved output of `apt-cache dumpavail` (default: run it)")
    ap.add_argument("--translations", nargs="*", help="decompressed Translation-en files (default: apt's lists)")
    ap.add_argument("--max-chars", type=int, default=150)
    ap.add_argument("--per-group", type=int, default=2)
    ap.add_argument("--per-section", type=int, default=900)
    args = ap.parse_args()
    records, labels, facets, counts = build(read_packages(args.packages), read_translations(args.translations),
                                            args.max_chars, args.per_group, args.per_section)
    meta = write(records, labels, facets, counts, args.max_chars, args.per_group, args.per_section)
    write_source_md(meta, archive_info(), dt.date.today().isoformat())
    print(json.dumps(meta["build"], indent=1))
    print("splits", meta["counts"]["splits"])
    print("labels", labels)


if __name__ == "__main__":
    main()
