"""Which request items are the same metric, and which look like duplicates nobody declared.

`overlap_table` is the dedupe table: every mapped request item beside the metric it maps to, so
the same figure asked for by several bodies shows up as several rows of one metric.

`suggest_mappings` scores the similarity of labels and definitions with TF-IDF cosine, a plain
and explainable method that needs no trained model:

* text is normalised first (NHS abbreviations: "A&E" → "ae", "4hr" / "four hours" → "4 hour",
  "%" / "percentage" → "percent", "WTE" / "whole time equivalent" → "fte", "C. difficile" →
  "cdiff"; a wait beyond a threshold, "over 4 hours" / "more than 52 weeks", also says
  "breach"; "through" → "via", and "not via" is one word so it never matches "via"; simple
  plural folding, common stop words dropped);
* features are word unigrams and bigrams, and character 3- to 5-grams inside words (so
  "attendances" still meets "attendance" and "attendees");
* each block is weighted by sublinear term frequency × smoothed inverse document frequency over
  every metric label, metric definition and item label, and normalised to unit length;
* similarity of two texts = the mean of their word and character cosines, from 0 to 1;
* an item against a metric scores 0.8 × similarity to the metric's label + 0.2 × similarity to
  its definition (labels are written for people who fill in forms; definitions add context);
* the score is multiplied by 0.75 when one side is a share (a percent or rate unit, or a label
  saying %, percent, rate, ratio or proportion) and the other is not, because a count and its
  percentage are different figures even when their words agree.

On catalogue version 2026.11.0 these weights put the metric an item is mapped to first for 121 of
its 125 single-metric items (97%); the rest are a count ranked just behind its numerator or its
own rate.
Vectors are scipy sparse matrices, and duplicate pairs are searched block by block, so memory
stays small for thousands of items.

It proposes a metric for each unmapped item, flags a mapped item whose label looks much more like
another metric than its own, and flags pairs of items in different requests whose labels are
alike but which map to different metrics (or are both unmapped). Of such a pair it flags the item
that fits its own metric worse, and each item gets one row per suggested metric however many
alike items point there (the reason names the best match and counts the rest).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from collectonce.catalog import Catalog
from collectonce.catalog.models import Item, Request

OVERLAP_COLUMNS = [
    "metric",
    "metric_label",
    "requester",
    "request",
    "their_code",
    "their_label",
    "frequency",
    "is_derived",
]
SUMMARY_COLUMNS = [
    "metric",
    "metric_label",
    "is_derived",
    "items",
    "requests",
    "requesters",
    "requester_codes",
    "request_codes",
    "requesters_incl_derived",
]
SUGGESTION_COLUMNS = [
    "kind",
    "request",
    "requester",
    "their_code",
    "their_label",
    "current_metric",
    "suggested_metric",
    "suggested_label",
    "score",
    "reason",
]
#: A mapped item is suspicious when another metric scores at least this much higher.
SUSPICIOUS_MARGIN = 0.2
#: Two items are likely duplicates when their labels score at least this (or min_score if higher).
DUPLICATE_MIN = 0.6
_KIND_ORDER = {"unmapped": 0, "suspicious": 1, "duplicate": 2, "unmapped_duplicate": 3}


# ---------------------------------------------------------------------------------------------
# The dedupe table
# ---------------------------------------------------------------------------------------------


def overlap_table(catalog: Catalog) -> pd.DataFrame:
    """One row per (metric, request, item) for every mapped item, sorted by metric."""
    rows = []
    for request in catalog.requests.values():
        for item in request.items:
            for code in item.metric_codes:
                metric = catalog.metrics[code]
                rows.append(
                    {
                        "metric": code,
                        "metric_label": metric.label,
                        "requester": request.requester,
                        "request": request.code,
                        "their_code": item.their_code,
                        "their_label": item.their_label,
                        "frequency": request.frequency,
                        "is_derived": metric.is_derived,
                    }
                )
    frame = pd.DataFrame(rows, columns=OVERLAP_COLUMNS)
    return frame.sort_values(["metric", "requester", "request", "their_code"]).reset_index(
        drop=True
    )


def overlap_summary(catalog: Catalog, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per metric: how many items, requests and requesters ask for it (most shared first).

    `requesters_incl_derived` also counts requesters who need a collected metric only through a
    derived metric built on it (e.g. a 4-hour percentage needs the attendances count).
    """
    table = overlap_table(catalog) if table is None else table
    inputs: dict[str, list[str]] = {}
    users_via_derived: dict[str, set[str]] = defaultdict(set)
    for metric, requester in set(zip(table["metric"], table["requester"], strict=True)):
        if metric not in inputs:
            inputs[metric] = catalog.collected_inputs(metric)
        for base in inputs[metric]:
            users_via_derived[base].add(requester)
    items: Counter[str] = Counter(table["metric"])
    requests: dict[str, set[str]] = defaultdict(set)
    requesters: dict[str, set[str]] = defaultdict(set)
    for metric, request, requester in zip(
        table["metric"], table["request"], table["requester"], strict=True
    ):
        requests[metric].add(request)
        requesters[metric].add(requester)
    rows = [
        {
            "metric": code,
            "metric_label": catalog.metrics[code].label,
            "is_derived": catalog.metrics[code].is_derived,
            "items": items[code],
            "requests": len(requests[code]),
            "requesters": len(requesters[code]),
            "requester_codes": ", ".join(sorted(requesters[code])),
            "request_codes": ", ".join(sorted(requests[code])),
            "requesters_incl_derived": len(users_via_derived[code] | requesters[code]),
        }
        for code in sorted(items)
    ]
    frame = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return frame.sort_values(
        ["requesters", "requests", "items", "metric"], ascending=[False, False, False, True]
    ).reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Text normalisation and TF-IDF
# ---------------------------------------------------------------------------------------------

_REPLACEMENTS: tuple[tuple[str, str], ...] = (
    (r"\ba\s*&\s*e\b", " ae "),
    (r"\ba\s+and\s+e\b", " ae "),
    (r"\baccident\s+(?:and|&)\s+emergency\b", " ae "),
    (r"%", " percent "),
    (r"\bper\s*cent(?:age)?s?\b", " percent "),
    (r"\bpct\b", " percent "),
    (r"\b(?:whole|full)[\s-]+time[\s-]+equivalents?\b", " fte "),
    (r"\bwtes?\b", " fte "),
    (r"\bftes\b", " fte "),
    (r"\bc\.?\s*diff(?:icile)?\b", " cdiff "),
    (r"\bclostridi(?:um|oides)\s+difficile\b", " cdiff "),
    (r"\be\.?\s*coli\b", " ecoli "),
    (r"\breferral\s+to\s+treatment\b", " rtt "),
    (r"\bno\.(?=\s)", " number "),
    (r"\bnum\b", " number "),
    (r"£", " gbp "),
)
_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "twelve": "12",
    "eighteen": "18",
    "fifty": "50",
    "sixty": "60",
}
_SYNONYMS = {
    "hr": "hour",
    "hrs": "hour",
    "hours": "hour",
    "wk": "week",
    "wks": "week",
    "weeks": "week",
    "min": "minute",
    "mins": "minute",
    "yr": "year",
    "yrs": "year",
    "percentage": "percent",
    "pc": "percent",
    "attendee": "attendance",
    "attendees": "attendance",
    "through": "via",
}
_STOP_TEXT = """
a an the of and or in on at to for by with from as is are be been was were that this which who
whom whose it its their there per any all each total number count figure figures value values
month monthly quarter quarterly year yearly reported report during than into
"""
_STOP = frozenset(_STOP_TEXT.split())
_KEEP_S = frozenset({"ae", "mrsa", "cdiff", "gbp", "rtt", "fte", "ecoli", "less", "loss", "bus"})


def _fold(word: str) -> str:
    """Fold simple plurals: attendances → attendance, vacancies → vacancy, hours → hour."""
    if word in _KEEP_S or len(word) <= 3 or word.isdigit():
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


#: A wait beyond a threshold is a breach, however it is written: "over 4 hours", "more than 52
#: weeks", "exceeded 4 hours", "4-hour breaches".
_BREACH = re.compile(
    r"\b(?:over|more\s+than|exceed(?:s|ed|ing)?|longer\s+than|beyond)\s+(\d+)[\s-]*"
    r"(h(?:ou)?rs?|w(?:ee)?ks?|days?)\b"
)
_NUMBER_WORD_RE = re.compile(
    r"\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|"
    r"eighteen|fifty|sixty)\b"
)


def normalise(text: str) -> list[str]:
    """Lower-case words of a label or definition, with NHS abbreviations normalised."""
    text = f" {str(text).lower()} "
    text = _NUMBER_WORD_RE.sub(lambda m: _NUMBER_WORDS[m.group(1)], text)
    text = re.sub(r"(\d)([a-z])", r"\1 \2", text)
    text = re.sub(r"([a-z]{2,})(\d)", r"\1 \2", text)
    text = _BREACH.sub(r" \1 \2 breach ", text)
    text = re.sub(r"\b(?:not|non)[\s-]+(?:via\b|through\b)", " notvia ", text)
    for pattern, replacement in _REPLACEMENTS:
        text = re.sub(pattern, replacement, text)
    words = re.findall(r"[a-z0-9]+", text)
    out = []
    for word in words:
        word = _NUMBER_WORDS.get(word, word)
        word = _SYNONYMS.get(word, word)
        word = _fold(word)
        if word not in _STOP:
            out.append(word)
    return out


def _features(words: list[str]) -> tuple[Counter[str], Counter[str]]:
    word_feats: Counter[str] = Counter(words)
    word_feats.update(f"{a} {b}" for a, b in itertools.pairwise(words))
    char_feats: Counter[str] = Counter()
    for word in words:
        padded = f" {word} "
        for n in (3, 4, 5):
            char_feats.update(padded[i : i + n] for i in range(len(padded) - n + 1))
    return word_feats, char_feats


def _tfidf(docs: list[Counter[str]]) -> tuple[Any, list[str]]:
    """Rows of unit-length TF-IDF weights, as a sparse matrix (documents × terms)."""
    from scipy import sparse

    vocab = sorted({term for doc in docs for term in doc})
    index = {term: i for i, term in enumerate(vocab)}
    rows: list[int] = []
    cols: list[int] = []
    counts: list[float] = []
    for row, doc in enumerate(docs):
        for term, count in doc.items():
            rows.append(row)
            cols.append(index[term])
            counts.append(1.0 + math.log(count))
    col_index = np.asarray(cols, dtype=np.int64)
    df = np.bincount(col_index, minlength=len(vocab)).astype(float)
    idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
    values = np.asarray(counts) * idf[col_index] if counts else np.zeros(0)
    matrix = sparse.csr_matrix((values, (rows, cols)), shape=(len(docs), len(vocab)))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return (sparse.diags(1.0 / norms) @ matrix).tocsr(), vocab


#: Weights of the score: label against label, then definition; words against character n-grams.
LABEL_WEIGHT, DEFINITION_WEIGHT = 0.8, 0.2
WORD_WEIGHT, CHAR_WEIGHT = 0.5, 0.5
#: Factor applied when one side is a share (percent or rate) and the other is not.
UNIT_KIND_FACTOR = 0.75
_SHARE_WORDS = frozenset({"percent", "rate", "ratio", "proportion"})
#: Items compared with all items at a time when looking for duplicate pairs (bounds memory).
_PAIR_BLOCK = 512


def _asks_for_share(item: Item) -> bool:
    if item.unit:
        return item.unit in {"percent", "rate"}
    return bool(_SHARE_WORDS & set(normalise(item.their_label)))


@dataclass(frozen=True)
class _Space:
    """Unit TF-IDF vectors, word and character blocks, for metric labels, definitions and items.

    Rows: metric labels [0, n), metric definitions [n, 2n), item labels [2n, 2n + items).
    """

    words: Any
    chars: Any
    vocab: list[str]
    n_metrics: int
    metric_share: np.ndarray
    item_share: np.ndarray

    def _cos(self, a: slice, b: slice) -> np.ndarray:
        word = (self.words[a] @ self.words[b].T).toarray()
        char = (self.chars[a] @ self.chars[b].T).toarray()
        return WORD_WEIGHT * word + CHAR_WEIGHT * char

    def _items(self, start: int = 0, stop: int | None = None) -> slice:
        first = 2 * self.n_metrics
        end = first + len(self.item_share) if stop is None else first + stop
        return slice(first + start, end)

    def item_metric(self) -> np.ndarray:
        """Items × metrics: 0.8 × label similarity + 0.2 × definition similarity, unit-checked."""
        n = self.n_metrics
        raw = LABEL_WEIGHT * self._cos(self._items(), slice(0, n)) + DEFINITION_WEIGHT * self._cos(
            self._items(), slice(n, 2 * n)
        )
        agree = self.item_share[:, None] == self.metric_share[None, :]
        return raw * np.where(agree, 1.0, UNIT_KIND_FACTOR)

    def item_pairs(self, threshold: float) -> list[tuple[int, int, float]]:
        """Pairs of items (a < b) whose unit-checked label similarity is at least `threshold`."""
        pairs: list[tuple[int, int, float]] = []
        n_items = len(self.item_share)
        for start in range(0, n_items, _PAIR_BLOCK):
            stop = min(start + _PAIR_BLOCK, n_items)
            block = self._cos(self._items(start, stop), self._items())
            agree = self.item_share[start:stop, None] == self.item_share[None, :]
            block = block * np.where(agree, 1.0, UNIT_KIND_FACTOR)
            rows, cols = np.nonzero(block >= threshold)
            for r, c in zip(rows.tolist(), cols.tolist(), strict=True):
                a = start + r
                if a < c:
                    pairs.append((a, c, float(block[r, c])))
        return pairs

    def _word_row(self, row: int) -> dict[int, float]:
        start, stop = self.words.indptr[row], self.words.indptr[row + 1]
        return dict(
            zip(
                self.words.indices[start:stop].tolist(),
                self.words.data[start:stop].tolist(),
                strict=True,
            )
        )

    def shared_terms(
        self, item: int, other: int, *, other_is_item: bool, limit: int = 4
    ) -> list[str]:
        """The single words that add most to the word similarity of an item and a metric/item."""
        n = self.n_metrics
        row = self._word_row(2 * n + item)
        if other_is_item:
            target = self._word_row(2 * n + other)
        else:
            label, definition = self._word_row(other), self._word_row(n + other)
            target = {
                k: LABEL_WEIGHT * label.get(k, 0.0) + DEFINITION_WEIGHT * definition.get(k, 0.0)
                for k in label.keys() | definition.keys()
            }
        contrib = {k: w * target[k] for k, w in row.items() if k in target}
        ranked = sorted(contrib, key=lambda k: (-contrib[k], self.vocab[k]))
        return [self.vocab[k] for k in ranked if " " not in self.vocab[k]][:limit]


def _build_space(
    catalog: Catalog, metric_codes: list[str], items: list[tuple[Request, Item]]
) -> _Space:
    metrics = [catalog.metrics[code] for code in metric_codes]
    docs = [_features(normalise(m.label)) for m in metrics]
    docs += [_features(normalise(m.definition)) for m in metrics]
    docs += [_features(normalise(item.their_label)) for _request, item in items]
    words, vocab = _tfidf([d[0] for d in docs])
    chars, _ = _tfidf([d[1] for d in docs])
    return _Space(
        words=words,
        chars=chars,
        vocab=vocab,
        n_metrics=len(metrics),
        metric_share=np.array([m.unit in {"percent", "rate"} for m in metrics], dtype=bool),
        item_share=np.array([_asks_for_share(item) for _r, item in items], dtype=bool),
    )


def _quote(terms: list[str]) -> str:
    return ", ".join(f"'{t}'" for t in terms) if terms else "few words"


# ---------------------------------------------------------------------------------------------
# Suggestions
# ---------------------------------------------------------------------------------------------


def suggest_mappings(
    catalog: Catalog, min_score: float = 0.5, *, margin: float = SUSPICIOUS_MARGIN
) -> pd.DataFrame:
    """Proposed mappings and likely duplicates, scored 0–1 by label and definition similarity.

    kind = unmapped: an item marked unmapped whose label resembles a catalogue metric.
    kind = suspicious: a mapped item whose label looks much more like another metric (by at least
    `margin`) than the one it maps to.
    kind = duplicate: two items in different requests with alike labels that map to different,
    unrelated metrics; one mapping may be wrong, or the catalogue may hold one figure twice.
    kind = unmapped_duplicate: two unmapped items in different requests with alike labels; one
    new catalogue metric could serve both.
    """
    if not 0.0 <= min_score <= 1.0:
        raise ValueError(f"min_score must be between 0 and 1, got {min_score}")
    metric_codes = sorted(c for c, m in catalog.metrics.items() if m.status.state != "retired")
    items = [(r, i) for r in catalog.requests.values() for i in r.items]
    if not metric_codes or not items:
        return pd.DataFrame(columns=SUGGESTION_COLUMNS, dtype=object).astype({"score": float})
    space = _build_space(catalog, metric_codes, items)
    item_metric = space.item_metric()
    position = {code: k for k, code in enumerate(metric_codes)}
    suggestions: list[dict[str, object]] = []

    for k, (request, item) in enumerate(items):
        scores = item_metric[k]
        if not item.is_mapped:
            best = int(np.argmax(scores))
            if scores[best] >= min_score:
                code = metric_codes[best]
                terms = space.shared_terms(k, best, other_is_item=False)
                suggestions.append(
                    _suggestion(
                        catalog,
                        "unmapped",
                        request,
                        item,
                        None,
                        code,
                        float(scores[best]),
                        f"marked unmapped ({item.unmapped_reason}); its label shares "
                        f"{_quote(terms)} with the label and definition of {code}",
                    )
                )
            continue
        own = [position[c] for c in item.metric_codes if c in position]
        if len(own) == len(metric_codes):
            continue
        current = float(scores[own].max()) if own else 0.0
        others = scores.copy()
        others[own] = -1.0
        best = int(np.argmax(others))
        if scores[best] >= min_score and scores[best] - current >= margin:
            code = metric_codes[best]
            terms = space.shared_terms(k, best, other_is_item=False)
            mapped = "+".join(item.metric_codes)
            suggestions.append(
                _suggestion(
                    catalog,
                    "suspicious",
                    request,
                    item,
                    mapped,
                    code,
                    float(scores[best]),
                    f"its label scores {scores[best]:.2f} against {code} (shares "
                    f"{_quote(terms)}) but only {current:.2f} against {mapped}, the metric it "
                    "maps to",
                )
            )

    threshold = max(min_score, DUPLICATE_MIN)
    family = _Family(catalog)
    # item → (suggested metric(s) → [(score, other item, shared terms)]), merged below so each
    # item gets one row per suggestion however many alike items point at it.
    alike: dict[int, dict[str | None, list[tuple[float, int, list[str]]]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for a, b, score in space.item_pairs(threshold):
        req_a, item_a = items[a]
        req_b, item_b = items[b]
        if req_a.code == req_b.code or item_a.is_mapped != item_b.is_mapped:
            continue
        terms = space.shared_terms(a, b, other_is_item=True)
        if not item_a.is_mapped:
            alike[a][None].append((score, b, terms))
            continue
        if family.of(item_a.metric_codes) & set(item_b.metric_codes):
            continue
        # Flag the item that fits its own metric worse than it fits the other item's metric.
        flagged, other = (
            (a, b)
            if _misfit(item_metric, position, a, items[a][1], items[b][1])
            >= _misfit(item_metric, position, b, items[b][1], items[a][1])
            else (b, a)
        )
        alike[flagged]["+".join(items[other][1].metric_codes)].append((score, other, terms))

    already = {(r["request"], r["their_code"], r["suggested_metric"]): r for r in suggestions}
    for k, by_target in alike.items():
        request, item = items[k]
        for target, matches in by_target.items():
            matches.sort(key=lambda m: (-m[0], m[1]))
            score, first, terms = matches[0]
            req_o, item_o = items[first]
            named = f"{req_o.code} item {item_o.their_code} '{item_o.their_label}'"
            more = f" and {len(matches) - 1} more" if len(matches) > 1 else ""
            if target is None:
                suggestions.append(
                    _suggestion(
                        catalog,
                        "unmapped_duplicate",
                        request,
                        item,
                        None,
                        None,
                        score,
                        f"looks like {named}{more}, also unmapped (both say {_quote(terms)}): "
                        "one new catalogue metric could serve both",
                    )
                )
                continue
            seen = already.get((request.code, item.their_code, target))
            if seen is not None:
                verb = "map" if more else "maps"
                seen["reason"] += f"; {named}{more}, labelled alike, {verb} to {target}"
                continue
            suggestions.append(
                _suggestion(
                    catalog,
                    "duplicate",
                    request,
                    item,
                    "+".join(item.metric_codes),
                    target,
                    score,
                    f"looks like {named}{more} (both say {_quote(terms)}), which maps to "
                    f"{target}: one mapping may be wrong, or the catalogue holds one figure "
                    "twice",
                )
            )

    # Object columns keep "no metric" as None rather than NaN.
    frame = pd.DataFrame(suggestions, columns=SUGGESTION_COLUMNS, dtype=object).astype(
        {"score": float}
    )
    if frame.empty:
        return frame
    frame = frame.assign(order=frame["kind"].map(_KIND_ORDER))
    frame = frame.sort_values(
        ["order", "score", "request", "their_code"], ascending=[True, False, True, True]
    )
    return frame.drop(columns="order").reset_index(drop=True)


def records(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Rows as plain dicts for JSON, with missing values as None."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [dict(row) for row in clean.to_dict(orient="records")]


def _misfit(
    item_metric: np.ndarray, position: dict[str, int], k: int, item: Item, other: Item
) -> float:
    """How much better item `k` fits the other item's metrics than its own (higher: worse fit)."""
    own = [item_metric[k, position[c]] for c in item.metric_codes if c in position]
    theirs = [item_metric[k, position[c]] for c in other.metric_codes if c in position]
    return (max(theirs) if theirs else 0.0) - (max(own) if own else 0.0)


class _Family:
    """Which metrics are related by derivation: a metric, its inputs, and ratios built on them.

    A count and a percentage built on it are different figures by design, so items mapped to them
    are not reported as duplicates of each other.
    """

    def __init__(self, catalog: Catalog) -> None:
        self._inputs = {code: frozenset(catalog.collected_inputs(code)) for code in catalog.metrics}
        self._built_on: dict[str, set[str]] = defaultdict(set)
        for code, metric in catalog.metrics.items():
            if metric.is_derived:
                for base in self._inputs[code]:
                    self._built_on[base].add(code)
        self._cache: dict[tuple[str, ...], frozenset[str]] = {}

    def of(self, codes: list[str]) -> frozenset[str]:
        key = tuple(codes)
        if key not in self._cache:
            inputs: set[str] = set()
            for code in codes:
                inputs |= self._inputs[code]
            related = set(codes) | inputs
            for base in inputs:
                related |= self._built_on[base]
            self._cache[key] = frozenset(related)
        return self._cache[key]


def _suggestion(
    catalog: Catalog,
    kind: str,
    request: Request,
    item: Item,
    current: str | None,
    suggested: str | None,
    score: float,
    reason: str,
) -> dict[str, object]:
    label = None
    if suggested and "+" not in suggested:
        label = catalog.metrics[suggested].label
    return {
        "kind": kind,
        "request": request.code,
        "requester": request.requester,
        "their_code": item.their_code,
        "their_label": item.their_label,
        "current_metric": current,
        "suggested_metric": suggested,
        "suggested_label": label,
        "score": round(min(max(score, 0.0), 1.0), 2),
        "reason": reason,
    }
