"""Read an item's label and definition into facets, and compare two items' facets.

A facet is a set of values (empty = unknown). The threshold is a set of waits in minutes, so
"28 days" and "4 weeks" are the same. The label speaks first; the definition fills what the label
leaves unknown, and where the two disagree the facet holds both values, which makes any pair
with it a review, never a confident duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from collectonce.dedupe.rules import Rules
from collectonce.dedupe.text import normalise

THRESHOLD = "threshold"
_EMPTY: frozenset[str] = frozenset()


class Status(StrEnum):
    AGREE = "agree"
    CONFLICT = "conflict"
    PARTIAL = "partial"
    ONE_SIDED = "one_sided"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Facets:
    """Facet values read from one item; `implied` names facets set by an `implies` rule."""

    values: dict[str, frozenset[str]]
    threshold: frozenset[float]
    implied: frozenset[str] = frozenset()
    text: str = ""

    def get(self, name: str) -> frozenset[str]:
        return self.values.get(name, frozenset())

    def known(self) -> dict[str, object]:
        """Known facets for people and JSON: thresholds as readable waits."""
        out: dict[str, object] = {}
        for name, vals in self.values.items():
            if vals:
                out[name] = sorted(vals)[0] if len(vals) == 1 else sorted(vals)
        if self.threshold:
            waits = [describe_minutes(m) for m in sorted(self.threshold)]
            out[THRESHOLD] = waits[0] if len(waits) == 1 else waits
        return out


def describe_minutes(minutes: float) -> str:
    """40320 → '4 weeks (28 days)'; 240 → '4 hours'."""
    if minutes >= 43830 and minutes % 43830 == 0:
        n = int(minutes // 43830)
        return f"{n} month{'s' if n != 1 else ''}"
    for unit, size in (("week", 10080), ("day", 1440), ("hour", 60)):
        if minutes >= size and minutes % size == 0:
            n = int(minutes // size)
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            if unit == "week":
                text += f" ({n * 7} days)"
            return text
    return f"{minutes:g} minutes"


@dataclass
class _Read:
    values: dict[str, set[str]] = field(default_factory=dict)
    threshold: set[float] = field(default_factory=set)


#: Facets read after reporting periods and denominators are struck out ("over 12 months").
_READ_STRIPPED = frozenset({"direction"})
#: Facets where a definition that disagrees with the label makes the facet ambiguous; for the
#: others the label speaks and the definition only fills what the label leaves unknown.
_AMBIGUOUS_ON_DISAGREEMENT = frozenset({"direction", "clock_start"})


def _read(text: str, rules: Rules) -> _Read:
    out = _Read()
    stripped = rules.ignore_re.sub(" ", text) if rules.ignore_re else text
    for facet in rules.facets:
        found: list[tuple[int, int, str]] = []  # (order, -length, value)
        source = stripped if facet.name in _READ_STRIPPED else text
        if not facet.any.search(source):
            continue
        for order, (value, pattern) in enumerate(facet.values):
            for match in pattern.finditer(source):
                found.append((order, -(match.end() - match.start()), value))
                if facet.choose == "first":
                    break
        if not found:
            continue
        if facet.choose == "first":
            out.values[facet.name] = {min(found)[2]}
        elif facet.choose == "longest":
            out.values[facet.name] = {min(found, key=lambda f: (f[1], f[0]))[2]}
        else:
            out.values[facet.name] = {f[2] for f in found}
    for match in rules.duration_re.finditer(stripped):
        out.threshold.add(float(match.group(1)) * rules.unit_minutes[match.group(3)])
    return out


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


def _close(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance * max(a, b)


def _apply_implications(read: _Read, text: str, rules: Rules) -> set[str]:
    """Apply the rules until nothing changes (one implied facet may enable another rule)."""
    implied: set[str] = set()
    for _ in range(4):
        before = len(implied)
        _apply_once(read, text, rules, implied)
        if len(implied) == before:
            break
    return implied


def _unknown(read: _Read, facet: str) -> bool:
    return not (read.threshold if facet == THRESHOLD else read.values.get(facet))


def _apply_once(read: _Read, text: str, rules: Rules, implied: set[str]) -> None:
    tolerance = rules.spec.threshold_tolerance
    values, threshold = read.values, read.threshold
    for rule in rules.implications:
        # Cheapest tests first: is there anything left to set, do the facets hold, then the text.
        for facet, _ in rule.then:
            if not (read.threshold if facet == THRESHOLD else values.get(facet)):
                break
        else:
            continue
        holds = True
        for facet, wanted in rule.when:
            if facet == THRESHOLD:
                threshold = read.threshold
                ok = (
                    bool(threshold)
                    if not isinstance(wanted, tuple)
                    else any(
                        _close(m, t, tolerance)
                        for m in wanted
                        for t in threshold  # type: ignore[union-attr]
                    )
                )
            else:
                ok = bool(values.get(facet, _EMPTY) & wanted)  # type: ignore[operator]
            if not ok:
                holds = False
                break
        if not holds:
            continue
        if rule.when_text is not None and not rule.when_text.search(text):
            continue
        if rule.unless_text is not None and rule.unless_text.search(text):
            continue
        for facet, value in rule.then:
            if not _unknown(read, facet):
                continue
            if facet == THRESHOLD:
                read.threshold = set(value)  # type: ignore[arg-type]
            else:
                values[facet] = set(value)  # type: ignore[arg-type]
            implied.add(facet)


def extract(
    label: str, definition: str = "", unit: str = "", context: str = "", *, rules: Rules
) -> Facets:
    """The facets of one item, from its label, its definition and its unit.

    `context` (the title of the request it is on) can only supply the topic, and only when the
    label and definition say nothing of it: "Percentage waiting 6+ weeks" on a diagnostics return.
    """
    label_text = normalise(label, rules)
    own = _read(label_text, rules)
    def_text = normalise(definition, rules) if definition else ""
    if def_text:
        extra = _read(def_text, rules)
        for name, vals in extra.values.items():
            mine = own.values.get(name)
            if not mine:
                own.values[name] = set(vals)
            elif not (mine & vals) and name in _AMBIGUOUS_ON_DISAGREEMENT:
                own.values[name] = mine | vals  # the label and the definition disagree
        if not own.threshold:
            own.threshold = set(extra.threshold)
        elif extra.threshold and not any(
            _close(a, b, rules.spec.threshold_tolerance)
            for a in own.threshold
            for b in extra.threshold
        ):
            own.threshold |= extra.threshold
    if context and not own.values.get("topic"):
        topic = _read(normalise(context, rules), rules).values.get("topic")
        if topic:
            own.values["topic"] = set(topic)
    measure = rules.spec.unit_measures.get(str(unit or "").strip().lower())
    if measure:  # the unit the requester states is what is submitted: it outranks the words
        own.values["measure"] = {measure}
    both = f"{label_text} {def_text}".strip()
    implied = _apply_implications(own, both, rules)
    return Facets(
        values={k: frozenset(v) for k, v in own.values.items() if v},
        threshold=frozenset(own.threshold),
        implied=frozenset(implied),
        text=label_text,
    )


def _compare_sets(a: frozenset[str], b: frozenset[str]) -> Status:
    if not a and not b:
        return Status.UNKNOWN
    if not a or not b:
        return Status.ONE_SIDED
    if a == b:
        return Status.AGREE
    if a & b:
        return Status.PARTIAL
    return Status.CONFLICT


def _compare_thresholds(a: frozenset[float], b: frozenset[float], tolerance: float) -> Status:
    if not a and not b:
        return Status.UNKNOWN
    if not a or not b:
        return Status.ONE_SIDED
    a_hit = all(any(_close(x, y, tolerance) for y in b) for x in a)
    b_hit = all(any(_close(y, x, tolerance) for x in a) for y in b)
    if a_hit and b_hit:
        return Status.AGREE
    if any(_close(x, y, tolerance) for x in a for y in b):
        return Status.PARTIAL
    return Status.CONFLICT


def compare(a: Facets, b: Facets, rules: Rules) -> dict[str, Status]:
    """Every facet's status for a pair (facets unknown on both sides are left out)."""
    out: dict[str, Status] = {}
    for facet in rules.facets:
        status = _compare_sets(a.get(facet.name), b.get(facet.name))
        if status is not Status.UNKNOWN:
            out[facet.name] = status
    status = _compare_thresholds(a.threshold, b.threshold, rules.spec.threshold_tolerance)
    if status is not Status.UNKNOWN:
        out[THRESHOLD] = status
    return out


def value_of(facets: Facets, name: str) -> object:
    """A facet's value for people and JSON (None when unknown)."""
    if name == THRESHOLD:
        waits = [describe_minutes(m) for m in sorted(facets.threshold)]
        return (waits[0] if len(waits) == 1 else waits) or None
    vals = sorted(facets.get(name))
    return (vals[0] if len(vals) == 1 else vals) or None
