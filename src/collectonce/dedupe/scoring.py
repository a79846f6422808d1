"""Score pairs of items: facets veto, text similarity ranks what survives.

Candidates come from blocking, so the cost grows with the number of items, not its square:
each item meets its nearest neighbours by TF-IDF over character n-grams and facet tokens, and the
other items of its topic when the topic is small. Facets are compared for all candidates at once
as bit masks, one column per facet.

For a candidate pair:
* a facet known on both sides with no value in common is a conflict, and vetoes the pair;
* text similarity = mean of the TF-IDF cosine (character n-grams within words) and rapidfuzz's
  token-set ratio, both on the rewritten labels;
* facet agreement = weight of agreeing facets / weight of facets known on at least one side,
  scaled down when the agreeing weight is below `full_agreement` (two labels that share only a
  topic have not shown they are the same figure);
* score = text_weight × text + (1 − text_weight) × facet agreement;
* a *duplicate* needs the score at the duplicate threshold, topic and measure agreeing, and no
  facet known on one side only (or only partly shared); otherwise a pair at the review threshold
  is for *review*. Items of the same request are never paired.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import cast

import numpy as np
from rapidfuzz import fuzz, process
from scipy import sparse
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from collectonce.dedupe.facets import THRESHOLD, Facets, Status, extract, value_of
from collectonce.dedupe.rules import Rules

#: A topic block larger than this is left to the nearest-neighbour candidates alone.
BLOCK_CAP = 250
#: Blocking ignores features found in more than this share of the items (and at least BLOCK_DF_MIN).
BLOCK_DF_SHARE = 0.05
BLOCK_DF_MIN = 50
_UNKNOWN, _ONE, _PARTIAL, _AGREE, _CONFLICT = 0, 1, 2, 3, 4
_STATUS = {_ONE: Status.ONE_SIDED, _PARTIAL: Status.PARTIAL, _AGREE: Status.AGREE}


@dataclass(frozen=True)
class Text:
    """What the scorer reads of one thing: label, definition and unit."""

    label: str
    definition: str = ""
    unit: str = ""
    group: str = ""  # things in the same group (a request) are never paired
    context: str = ""  # the request's title: a topic when the label names none


class PairScore:
    """A scored pair; what agrees, what is in doubt and the reason are read on demand."""

    def __init__(
        self,
        a: int,
        b: int,
        score: float,
        text: float,
        decision: str,
        statuses: np.ndarray,
        row: int,
        space: Space,
    ) -> None:
        self.a, self.b, self.score, self.text = a, b, score, text
        self.decision = decision  # "duplicate" | "review"
        self._statuses, self._row = statuses, row  # one shared matrix for all pairs of a call
        self.space = space

    @property
    def status(self) -> list[int]:
        return self._statuses[self._row].tolist()

    def __repr__(self) -> str:
        return f"PairScore({self.a}, {self.b}, {self.score}, {self.decision})"

    @cached_property
    def agree(self) -> tuple[str, ...]:
        names = self.space.all_names
        return tuple(names[j] for j, s in enumerate(self.status) if s == _AGREE)

    @cached_property
    def doubts(self) -> tuple[tuple[str, object, object], ...]:
        names = self.space.all_names
        fa, fb = self.space.facets[self.a], self.space.facets[self.b]
        return tuple(
            (names[j], value_of(fa, names[j]), value_of(fb, names[j]))
            for j, s in enumerate(self.status)
            if s in (_ONE, _PARTIAL)
        )

    @cached_property
    def reason(self) -> str:
        return _reason(self.decision, self.agree, self.doubts, self.space.facets[self.a], self.text)


@dataclass
class Space:
    """Facets and vectors of a list of texts, ready to score any pairs of them."""

    rules: Rules
    texts: list[Text]
    facets: list[Facets]
    masks: np.ndarray  # (n, facets + 2) uint64 bit masks; the last two columns are thresholds
    names: list[str]
    vectors: sparse.csr_matrix
    blocking: sparse.csr_matrix
    normalised: list[str]

    @property
    def all_names(self) -> list[str]:
        return [*self.names, THRESHOLD]


def _threshold_ids(facets: list[Facets], tolerance: float) -> dict[float, int]:
    values = sorted({m for f in facets for m in f.threshold})
    ids: dict[float, int] = {}
    current, anchor = 0, None
    for value in values:
        if anchor is None or value - anchor > tolerance * value:
            current += 1
            anchor = value
        ids[value] = current
    return ids


def build_space(texts: list[Text], rules: Rules) -> Space:
    cache: dict[tuple[str, str, str, str], Facets] = {}
    facets = []
    for t in texts:
        key = (t.label.lower(), t.definition.lower(), t.unit, t.context.lower())
        if key not in cache:
            cache[key] = extract(t.label, t.definition, t.unit, t.context, rules=rules)
        facets.append(cache[key])
    names = [f.name for f in rules.facets]
    bits = {f.name: {v: 1 << i for i, (v, _) in enumerate(f.values)} for f in rules.facets}
    ids = _threshold_ids(facets, rules.spec.threshold_tolerance)
    masks = np.zeros((len(texts), len(names) + 2), dtype=np.uint64)
    for row, f in enumerate(facets):
        for col, name in enumerate(names):
            m = 0
            for v in f.get(name):
                m |= bits[name][v]
            masks[row, col] = m
        tids = sorted({ids[m] for m in f.threshold})[:2]
        for k, tid in enumerate(tids):
            masks[row, len(names) + k] = tid
    normalised = [f.text for f in facets]
    vectoriser = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(3, 4),
        sublinear_tf=True,
        dtype=np.float32,  # pyright: ignore[reportArgumentType]  # stubs know only float64
    )
    vectors = vectoriser.fit_transform(normalised).tocsr()
    tokens = [
        " ".join(f"{name}={v}".replace(" ", "_") for name in names for v in sorted(f.get(name)))
        + "".join(f" thr={ids[m]}" for m in f.threshold)
        for f in facets
    ]
    facet_vec = TfidfVectorizer(
        token_pattern=r"\S+",
        lowercase=False,
        dtype=np.float32,  # pyright: ignore[reportArgumentType]  # stubs know only float64
    ).fit_transform(tokens)
    both = sparse.hstack([vectors, 0.7 * facet_vec]).tocsc()
    # Features shared by a large share of the items find no neighbours but cost the most in
    # the nearest-neighbour product; blocking leaves them out (scores still use every feature).
    df = np.diff(both.indptr)
    cap = max(BLOCK_DF_SHARE * len(texts), BLOCK_DF_MIN)
    # `normalize` returns the sparse type it is given; its stubs cannot say so
    blocking = cast(sparse.csr_matrix, normalize(both[:, np.flatnonzero(df <= cap)].tocsr()))
    return Space(rules, texts, facets, masks, names, vectors, blocking, normalised)


def candidates(space: Space, k: int | None = None, chunk: int = 1024) -> np.ndarray:
    """Candidate pairs (i < j, different groups) as an (m, 2) array."""
    n = len(space.texts)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    k = min(k or space.rules.spec.thresholds.neighbours, n - 1)
    found: list[np.ndarray] = []
    z = space.blocking
    zt = z.T.tocsc()
    for start in range(0, n, chunk):
        block = (z[start : start + chunk] @ zt).toarray()
        rows = np.arange(block.shape[0])
        block[rows, rows + start] = -1.0
        top = (
            np.argpartition(-block, k - 1, axis=1)[:, :k]
            if k < n - 1
            else np.argsort(-block)[:, :k]
        )
        left = np.repeat(np.arange(start, start + block.shape[0]), top.shape[1])
        found.append(np.stack([left, top.ravel()], axis=1))
    topic = space.names.index("topic")
    by_topic: dict[int, list[int]] = {}
    for i, m in enumerate(space.masks[:, topic]):
        if m:
            by_topic.setdefault(int(m), []).append(i)
    for members in by_topic.values():
        if 1 < len(members) <= BLOCK_CAP:
            idx = np.array(members)
            a, b = np.triu_indices(len(idx), 1)
            found.append(np.stack([idx[a], idx[b]], axis=1))
    pairs = np.concatenate(found).astype(np.int64)
    lo, hi = pairs.min(axis=1), pairs.max(axis=1)
    keys = np.unique((lo * n + hi)[lo != hi])
    lo, hi = keys // n, keys % n
    names = np.array([t.group for t in space.texts], dtype=object)
    groups = np.unique(names, return_inverse=True)[1].ravel()
    keep = groups[lo] != groups[hi]
    return np.stack([lo[keep], hi[keep]], axis=1)


def _statuses(masks: np.ndarray, a: np.ndarray, b: np.ndarray, n_facets: int) -> np.ndarray:
    ma, mb = masks[a], masks[b]
    out = np.zeros((len(a), n_facets + 1), dtype=np.int8)
    fa, fb = ma[:, :n_facets], mb[:, :n_facets]
    known_a, known_b = fa != 0, fb != 0
    both = known_a & known_b
    out[:, :n_facets] = np.where(known_a ^ known_b, _ONE, _UNKNOWN)
    inter = (fa & fb) != 0
    out[:, :n_facets] = np.where(both & (fa == fb), _AGREE, out[:, :n_facets])
    out[:, :n_facets] = np.where(both & (fa != fb) & inter, _PARTIAL, out[:, :n_facets])
    out[:, :n_facets] = np.where(both & ~inter, _CONFLICT, out[:, :n_facets])
    ta, tb = ma[:, n_facets:], mb[:, n_facets:]
    ka, kb = ta[:, 0] != 0, tb[:, 0] != 0
    same = (ta[:, 0] == tb[:, 0]) & (ta[:, 1] == tb[:, 1])
    meet = (
        (ta[:, 0] == tb[:, 0])
        | (ta[:, 0] == tb[:, 1])
        | ((ta[:, 1] != 0) & ((ta[:, 1] == tb[:, 0]) | (ta[:, 1] == tb[:, 1])))
    )
    thr = np.where(ka ^ kb, _ONE, _UNKNOWN)
    thr = np.where(ka & kb & same, _AGREE, thr)
    thr = np.where(ka & kb & ~same & meet, _PARTIAL, thr)
    thr = np.where(ka & kb & ~meet, _CONFLICT, thr)
    out[:, n_facets] = thr
    return out


def score_pairs(
    space: Space,
    pairs: np.ndarray,
    extra_doubt: np.ndarray | None = None,
    min_score: float | None = None,
    near: list[tuple[int, int, float]] | None = None,
) -> tuple[list[PairScore], int]:
    """Scored pairs at the review threshold or above, best first, and how many were vetoed.

    `extra_doubt` marks pairs with a doubt the facets cannot see (e.g. mapped to different
    catalogue metrics): they are never duplicates. Pass a list as `near` to receive the vetoed
    pairs whose labels are most alike (a, b, cosine).
    """
    th = space.rules.spec.thresholds
    floor = th.review if min_score is None else min_score
    if len(pairs) == 0:
        return [], 0
    a, b = pairs[:, 0], pairs[:, 1]
    nf = len(space.names)
    status = _statuses(space.masks, a, b, nf)
    vetoed = (status == _CONFLICT).any(axis=1)
    weights = np.array(
        [space.rules.weights[n] for n in space.names] + [space.rules.weights[THRESHOLD]]
    )
    agree_w = ((status == _AGREE) * weights).sum(axis=1)
    doubt_w = (((status == _ONE) | (status == _PARTIAL)) * weights).sum(axis=1)
    facet_score = np.divide(
        agree_w, agree_w + doubt_w, out=np.zeros(len(a)), where=(agree_w + doubt_w) > 0
    )
    facet_score *= np.minimum(1.0, agree_w / th.full_agreement)
    # Text is read only where it can still lift the pair to the floor, and for vetoed pairs
    # only when their near misses are wanted.
    reachable = th.text_weight + (1 - th.text_weight) * facet_score >= floor
    live = np.flatnonzero(~vetoed & reachable)
    measured = np.flatnonzero(reachable | vetoed) if near is not None else live
    cos = np.zeros(len(a))
    if len(measured):
        va, vb = space.vectors[a[measured]], space.vectors[b[measured]]
        cos[measured] = np.asarray(va.multiply(vb).sum(axis=1)).ravel()
    if near is not None:
        gone = np.flatnonzero(vetoed)
        best = gone[np.argsort(-cos[gone], kind="stable")[:20]]
        near.extend((int(a[k]), int(b[k]), round(float(cos[k]), 3)) for k in best)
    tsr = np.zeros(len(a))
    if len(live):
        texts = np.array(space.normalised, dtype=object)
        tsr[live] = (
            process.cpdist(
                list(texts[a[live]]), list(texts[b[live]]), scorer=fuzz.token_set_ratio, workers=-1
            )
            / 100.0
        )
    text = 0.5 * cos + 0.5 * tsr
    score = th.text_weight * text + (1 - th.text_weight) * facet_score
    topic, measure = space.names.index("topic"), space.names.index("measure")
    clean = doubt_w == 0
    if extra_doubt is not None:
        clean &= ~extra_doubt
    dup = (
        clean
        & (status[:, topic] == _AGREE)
        & (status[:, measure] == _AGREE)
        & (score >= th.duplicate)
    )
    keep = np.flatnonzero(~vetoed & reachable & (score >= floor))
    kept = status[keep]
    columns = zip(
        a[keep].tolist(),
        b[keep].tolist(),
        np.round(score[keep], 3).tolist(),
        np.round(text[keep], 3).tolist(),
        dup[keep].tolist(),
        range(len(keep)),
        strict=True,
    )
    out = [
        PairScore(i, j, sc, tx, "duplicate" if d else "review", kept, row, space)
        for i, j, sc, tx, d, row in columns
    ]
    out.sort(key=lambda p: (p.decision != "duplicate", -p.score, p.a, p.b))
    return out, int(vetoed.sum())


def _reason(
    decision: str,
    agree: tuple[str, ...],
    doubts: tuple[tuple[str, object, object], ...],
    facets: Facets,
    text: float,
) -> str:
    shown = [
        f"{n}={_show(value_of(facets, n))}"
        for n in agree
        if n in ("topic", "measure", THRESHOLD, "direction")
    ]
    shown += [n for n in agree if n not in ("topic", "measure", THRESHOLD, "direction")]
    same = f"same {', '.join(shown)}" if shown else "no facet stated on both sides"
    if decision == "duplicate":
        return f"{same}; text similarity {text:.2f}"
    if not doubts:
        return f"{same}; text similarity {text:.2f}, too low or too few facets to be sure"
    diff = "; ".join(
        f"{name} {'only on one side' if a is None or b is None else 'partly shared'} "
        f"({_show(a)} vs {_show(b)})"
        for name, a, b in doubts
    )
    return f"{same}; check {diff}; text similarity {text:.2f}"


def _show(value: object) -> str:
    if value is None:
        return "unstated"
    if isinstance(value, list):
        return "/".join(map(str, value))
    return str(value)


def conflicts_between(space: Space, i: int, j: int) -> list[tuple[str, object, object]]:
    """The facets on which two things conflict (empty when compatible)."""
    nf = len(space.names)
    status = _statuses(space.masks, np.array([i]), np.array([j]), nf)[0]
    names = [*space.names, THRESHOLD]
    fi, fj = space.facets[i], space.facets[j]
    return [
        (names[c], value_of(fi, names[c]), value_of(fj, names[c]))
        for c in np.flatnonzero(status == _CONFLICT)
    ]
