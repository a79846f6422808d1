"""History: the values already held for a run's keys, and how each row compares with them (the
same fact, a revision, a blank that keeps the value held, two returns that disagree).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from collectonce.validate import rules
from collectonce.validate.rows import (
    DAY_OFFSET,
    DAY_SPAN,
    MISSING,
    OTHER_STATUS,
    STATUS_CODE,
    Context,
)

if TYPE_CHECKING:
    from collectonce.validate.run import ValidationRun


@dataclass
class Held:
    unchanged: np.ndarray
    blank_kept: np.ndarray
    revised: np.ndarray
    disagree: np.ndarray
    prev_value: dict[int, float]
    prev_submission: dict[int, str]
    prev_template: dict[int, str]


class History:
    """Values already held (the latest per provider × period × metric), keyed like the run."""

    def __init__(
        self,
        index: pd.Index,
        value: np.ndarray,
        status: np.ndarray,
        template: np.ndarray,
        submission: np.ndarray,
        stats: rules.HistoryStats,
    ) -> None:
        self.index = index
        self.value = value
        self.status = status
        self.template = template
        self.submission = submission
        self.stats = stats

    @classmethod
    def build(cls, history: pd.DataFrame | None, run: ValidationRun, m_count: int) -> History:
        empty_stats = rules.history_stats(pd.DataFrame())
        if history is None or history.empty or not m_count:
            return cls(
                pd.Index([], dtype=np.int64),
                np.zeros(0),
                np.zeros(0, dtype=np.int16),
                np.zeros(0, dtype=object),
                np.zeros(0, dtype=object),
                empty_stats,
            )
        frame = history[history["provider_code"].isin(run._providers.index)]
        frame = frame[frame["metric_id"].isin(run.metric_pos)]
        provider = frame["provider_code"].map(run._providers.index).to_numpy(dtype=np.int64)
        mpos = frame["metric_id"].map(run.metric_pos).to_numpy(dtype=np.int64)
        days = pd.to_datetime(frame["period"]).to_numpy().astype("datetime64[D]").astype(np.int64)
        facts = (provider * DAY_SPAN + (days + DAY_OFFSET)) * m_count + mpos
        status = frame["value_status"].map(STATUS_CODE).fillna(OTHER_STATUS).to_numpy(np.int16)
        template = (
            frame["source_template"].to_numpy(dtype=object)
            if "source_template" in frame
            else np.full(len(frame), "", dtype=object)
        )
        submission = (
            frame["submission_id"].to_numpy(dtype=object)
            if "submission_id" in frame
            else np.full(len(frame), "", dtype=object)
        )
        return cls(
            pd.Index(facts),
            frame["value"].to_numpy(dtype=np.float64),
            status,
            template,
            submission,
            rules.history_stats(frame),
        )

    def compare(self, ctx: Context, candidate: np.ndarray, templates: list[str]) -> Held:
        n = len(candidate)
        unchanged = np.zeros(n, dtype=bool)
        blank_kept = np.zeros(n, dtype=bool)
        revised = np.zeros(n, dtype=bool)
        disagree = np.zeros(n, dtype=bool)
        prev_value: dict[int, float] = {}
        prev_submission: dict[int, str] = {}
        prev_template: dict[int, str] = {}
        if not len(self.index) and len(templates) <= 1:
            # Nothing held and one file: every value is new (the usual bulk load).
            return Held(unchanged, blank_kept, revised, disagree, prev_value, {}, {})
        pos = np.flatnonzero(candidate)
        if not len(pos):
            return Held(unchanged, blank_kept, revised, disagree, prev_value, {}, {})
        m_count = max(len(ctx.run.metric_codes), 1)
        facts = (
            ctx.provider[pos].astype(np.int64) * DAY_SPAN
            + (ctx.day[pos].astype(np.int64) + DAY_OFFSET)
        ) * m_count + ctx.mpos[pos]
        if len(templates) > 1:  # a fact may come from several files: take them in order
            shared = pd.Series(facts).duplicated(keep=False).to_numpy()
            if shared.any():
                sub = np.flatnonzero(shared)
                sub = sub[np.lexsort((ctx.r.row[pos[sub]], ctx.file_of[pos[sub]], facts[sub]))]
                order = np.concatenate([np.flatnonzero(~shared), sub])
                pos, facts = pos[order], facts[order]
        starts = np.r_[True, facts[1:] != facts[:-1]]
        at = self.index.get_indexer(pd.Index(facts)) if len(self.index) else np.full(len(pos), -1)
        value = ctx.r.value
        status = ctx.status
        template_of_file = np.asarray(templates, dtype=object)
        # Single occurrences (the usual case): compare with what is held, vectorised.
        single = starts & np.r_[starts[1:], True]
        s_pos, s_at = pos[single], at[single]
        has = s_at >= 0
        hv = np.where(has, self.value[np.maximum(s_at, 0)] if len(self.value) else np.nan, np.nan)
        hs = np.where(has, self.status[np.maximum(s_at, 0)] if len(self.status) else -1, -1)
        same = has & rules.same_values(value[s_pos], status[s_pos], hv, hs)
        blank = has & ~same & (status[s_pos] == MISSING) & (hs != MISSING)
        unchanged[s_pos[same]] = True
        blank_kept[s_pos[blank]] = True
        rev = has & ~same & ~blank
        revised[s_pos[rev]] = True
        for p, a in zip(s_pos[rev], s_at[rev], strict=True):
            prev_value[int(p)] = float(self.value[a])
            old_template = str(self.template[a] or "")
            prev_submission[int(p)] = str(self.submission[a] or "")
            prev_template[int(p)] = old_template
            if old_template and old_template != template_of_file[ctx.file_of[p]]:
                disagree[p] = True
        # A fact given by several files of this run: take them in order.
        multi = np.flatnonzero(~single)
        current: tuple[float, int, str, str] | None = None
        for i in multi:
            p = int(pos[i])
            if starts[i]:
                a = int(at[i])
                current = (
                    (
                        float(self.value[a]),
                        int(self.status[a]),
                        str(self.template[a] or ""),
                        str(self.submission[a] or ""),
                    )
                    if a >= 0
                    else None
                )
            this_template = str(template_of_file[ctx.file_of[p]])
            this = (
                float(value[p]),
                int(status[p]),
                this_template,
                f"file {ctx.run.files[int(ctx.file_of[p])].name}",
            )
            if current is None:
                current = this
                continue
            prev_value[p] = current[0]
            if rules.same_values(
                np.array([this[0]]),
                np.array([this[1]]),
                np.array([current[0]]),
                np.array([current[1]]),
            )[0]:
                unchanged[p] = True
                continue
            if this[1] == MISSING and current[1] != MISSING:
                blank_kept[p] = True
                continue
            revised[p] = True
            prev_template[p] = current[2]
            prev_submission[p] = current[3]
            if current[2] and current[2] != this_template:
                disagree[p] = True
            current = this
        return Held(
            unchanged,
            blank_kept,
            revised,
            disagree,
            prev_value,
            prev_submission,
            prev_template,
        )
