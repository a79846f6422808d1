"""The SPC engine reproduces NHSRplotthedots v0.2.2 and agrees with the plain loop."""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import spc_reference as reference
from spc_reference import compute_spc_loop

from collectonce.feedback.spc import (
    SPECIAL_CAUSE_TYPES,
    classify_assurance,
    compute_spc,
    rules,
    summarise_spc,
)

CASES_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "spc_expected_cases.json"
CASES: list[dict[str, Any]] = json.loads(CASES_FILE.read_text(encoding="utf-8"))


def _dates(case: dict[str, Any]) -> pd.DatetimeIndex:
    n = len(case["values"])
    if "dates" in case:
        return pd.DatetimeIndex(pd.to_datetime(case["dates"]))
    if "dates_start" in case:
        return pd.date_range(case["dates_start"].split()[0], periods=n, freq="D")
    return pd.date_range("2020-01-01", periods=n, freq="MS")


def _run(case: dict[str, Any], **overrides: Any) -> pd.DataFrame:
    options = case.get("options") or {}
    kwargs: dict[str, Any] = {
        "direction": case.get("improvement_direction") or "neutral",
        "target": case.get("target"),
        "screen_outliers": options.get("screen_outliers", True),
        "rebase": options.get("rebase"),
        "fix_after_n_points": options.get("fix_after_n_points"),
    }
    kwargs.update(overrides)
    frame = pd.DataFrame({"date": _dates(case), "value": [float(v) for v in case["values"]]})
    points = compute_spc(frame, **kwargs)
    pd.testing.assert_frame_equal(points, compute_spc_loop(frame, **kwargs))
    return points


def _matches(actual: float, expected: float, precision: str | None) -> bool:
    if precision is None:
        return actual == pytest.approx(expected, rel=1e-12, abs=1e-12)
    if "s.f." in precision:
        digits = int(precision.split()[0])
        return float(f"{actual:.{digits}g}") == pytest.approx(expected, rel=1e-12)
    if "2 dp" in precision:
        return round(actual, 2) == pytest.approx(expected, abs=1e-12)
    raise AssertionError(f"unknown precision {precision!r}")


def _check_limits(points: pd.DataFrame, expected: dict[str, Any]) -> None:
    for col in ("mean", "lpl", "upl", "nlpl", "nupl"):
        if col in expected:
            assert points[col].nunique() == 1
            actual = float(points[col].iloc[0])
            assert _matches(actual, expected[col], expected.get("precision")), (col, actual)


def _longest_run(flags: list[bool]) -> int:
    best = current = 0
    for flag in flags:
        current = current + 1 if flag else 0
        best = max(best, current)
    return best


def _check_pipeline(case: dict[str, Any]) -> None:
    points = _run(case)
    expected = case["expected"]
    point_types = points["point_type"].astype(str).tolist()
    _check_limits(points, expected)

    if "point_types" in expected:
        assert point_types == expected["point_types"]
    if "relative_to_mean_first_15" in expected:
        assert points["relative_to_mean"].tolist()[:15] == expected["relative_to_mean_first_15"]
    if "summary" in expected:
        summary = expected["summary"]
        assert len(points) == summary["n"]
        assert point_types.count("common_cause") == summary["common_cause"]
        assert (
            point_types.count("special_cause_improvement") == (summary["special_cause_improvement"])
        )
    if "last_two_point_types" in expected:
        assert point_types[-2:] == expected["last_two_point_types"]
    if "rebase_groups" in expected:
        assert points["rebase_group"].tolist() == expected["rebase_groups"]
    if "consecutive_special_cause_improvement_points" in expected:
        improving = [t == "special_cause_improvement" for t in point_types]
        assert _longest_run(improving) == expected["consecutive_special_cause_improvement_points"]
        assert sum(improving) == expected["consecutive_special_cause_improvement_points"]
        rules = set(points.loc[improving, "special_cause_type"].astype(str))
        assert rules == {"7 Points Below CL"}  # the >=7 points on one side rule
    if "asserted" in expected:  # unscreened limits are wider than screened ones
        screened = _run(case, screen_outliers=True)
        assert (points["upl"] - points["lpl"]).iloc[0] > (screened["upl"] - screened["lpl"]).iloc[0]
    if "variation_icon" in expected:
        summary_row = summarise_spc(points).iloc[0]
        assert summary_row["variation_icon"] == expected["variation_icon"]
        assert summary_row["assurance"] == expected["assurance"]
    if "no_target_variation_icon" in expected:
        no_target = summarise_spc(_run(case, target=None)).iloc[0]
        assert no_target["variation_icon"] == expected["no_target_variation_icon"]
        assert pd.isna(no_target["assurance"])

    # trial limits: the warning fires for groups of fewer than 13 rows
    sizes = points.groupby("rebase_group")["value"].transform("size")
    assert points["short_group_warning"].tolist() == (sizes < 13).tolist()


def _check_flags(case: dict[str, Any]) -> None:
    points = _run(case)
    expected = case["expected"]
    _check_limits(points, expected)
    assert points["outside_limits"].tolist() == expected["outside_limits"]
    assert points["relative_to_mean"].tolist() == expected["relative_to_mean"]
    assert points["close_to_limits"].tolist() == expected["close_to_limits"]
    assert points["special_cause_flag"].tolist() == expected["special_cause_flag"]


def _points_with_limits(
    rows: list[dict[str, float]], direction: str, target: float
) -> pd.DataFrame:
    n = len(rows)
    return pd.DataFrame(
        {
            "date": pd.date_range("2024-01-01", periods=n, freq="MS"),
            "value": [1.0] * n,
            "direction": [direction] * n,
            "target": [target] * n,
            "lpl": [r["lpl"] for r in rows],
            "upl": [r["upl"] for r in rows],
            "point_type": ["common_cause"] * n,
        }
    )


def _check_assurance(case: dict[str, Any]) -> None:
    direction, target = case["improvement_direction"], case["target"]
    expected = case["expected"]["assurance"]
    inputs = case["inputs"]
    if isinstance(inputs, dict):  # several row orders: only the last row's limits count
        for rows, want in zip(inputs["row_orders"], expected, strict=True):
            summary = summarise_spc(_points_with_limits(rows, direction, target))
            assert summary["assurance"].iloc[0] == want
        return
    got = classify_assurance(
        target, [r["lpl"] for r in inputs], [r["upl"] for r in inputs], direction
    )
    assert got == expected
    for rows, want in zip(inputs, expected, strict=True):
        summary = summarise_spc(_points_with_limits([rows], direction, target))
        assert (
            None if pd.isna(summary["assurance"].iloc[0]) else summary["assurance"].iloc[0]
        ) == (want)


def _one_group(n: int) -> np.ndarray:
    starts = np.zeros(n, dtype=bool)
    starts[:1] = True
    return starts


def _check_helper(case: dict[str, Any]) -> None:
    name, inputs, expected = case["name"], case["inputs"], case["expected"]["output"]
    if name == "helper_seven_point_one_side_mean":
        assert reference._seven_point_one_side_mean(inputs) == expected
        rtm = np.array(inputs, dtype=np.int8)
        vectorised = (rtm != 0) & rules._in_long_run(rtm, _one_group(len(rtm)), 7)
        assert vectorised.astype(int).tolist() == reference._part_of_seven(expected)
    elif name == "helper_part_of_seven_trend":
        assert reference._part_of_seven(inputs) == expected
    elif name == "helper_seven_point_trend":
        assert reference._seven_point_trend(inputs) == expected
        trend, up = rules._trend_flags(np.array(inputs, dtype=float), _one_group(len(inputs)))
        assert trend.astype(int).tolist() == reference._part_of_seven(expected)
        for flag, is_up in zip(expected, up, strict=True):
            if flag:
                assert is_up == (flag == 1)
    elif name in ("helper_two_in_three", "helper_part_of_two_in_three"):
        close, rtm = inputs["close_to_limits"], inputs["relative_to_mean"]
        loop = reference._two_in_three(close, rtm)
        if name == "helper_two_in_three":
            assert loop == expected
            expected = reference._part_of_two_in_three(expected, close)
        else:
            assert reference._part_of_two_in_three(loop, close) == expected
        vectorised = rules._two_in_three_flags(
            np.array(close, dtype=bool), np.array(rtm, dtype=np.int8), _one_group(len(close))
        )
        assert vectorised.astype(int).tolist() == expected
    elif name == "helper_special_cause_type_precedence":
        y, rtm, outside = inputs["y"], inputs["relative_to_mean"], inputs["outside_limits"]
        trend = inputs["mocked_part_of_seven_trend"]
        run = inputs["mocked_part_of_seven_one_side"]
        two3 = inputs["mocked_part_of_two_in_three"]
        assert reference._special_cause_labels(y, rtm, outside, trend, two3, run) == expected
        starts = _one_group(len(y))
        trend_flags = np.array(trend) != 0
        up = rules._trend_up(
            rules._diff_signs(np.array(y, dtype=float), starts), trend_flags, starts
        )
        codes = rules._label_codes(
            np.array(outside) != 0,
            np.array(rtm, dtype=np.int8),
            trend_flags,
            up,
            np.array(two3) != 0,
            np.array(run) != 0,
        )
        assert [SPECIAL_CAUSE_TYPES[c] for c in codes] == expected
    else:
        raise AssertionError(f"no check for helper {name}")


@pytest.mark.parametrize("case", CASES, ids=[f"{i:02d}-{c['name']}" for i, c in enumerate(CASES)])
def test_published_case(case: dict[str, Any]) -> None:
    """It reproduces every published NHSRplotthedots / nhspy-plotthedots result."""
    kind = case["kind"]
    if kind in ("pipeline", "pipeline_real_data", "limits_only"):
        _check_pipeline(case)
    elif kind == "flags":
        _check_flags(case)
    elif kind == "assurance_rule":
        _check_assurance(case)
    elif kind == "rule_helper":
        _check_helper(case)
    else:
        raise AssertionError(f"unknown case kind {kind}")


# ----------------------------------------------------------------------------------------------
# Vectorised engine == loop reference
# ----------------------------------------------------------------------------------------------


@functools.cache
def _random_frame(seed: int) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Shuffled random series: ties, flat runs, trends, steps, outliers, gaps and rebases."""
    rng = np.random.default_rng(seed)
    months = pd.date_range("2019-01-01", periods=45, freq="MS")
    columns: dict[str, list[Any]] = {"provider": [], "metric": [], "date": [], "value": []}
    rebase: dict[tuple[str, int], list[pd.Timestamp]] = {}
    directions: dict[tuple[str, int], str] = {}
    targets: dict[tuple[str, int], float] = {}
    for s in range(30):
        n = int(rng.integers(1, 45))
        style = s % 4
        if style == 0:  # small integers: ties, points on the mean, zero moving ranges
            values = rng.integers(0, 4, n).astype(float)
        elif style == 1:  # trends
            values = np.cumsum(rng.choice([-1.0, 1.0, 2.0], n, p=[0.2, 0.6, 0.2]))
        elif style == 2:  # step change and outliers
            values = rng.normal(10, 1, n) + np.where(np.arange(n) > n // 2, 3, 0)
            values[rng.random(n) < 0.05] += 15
        else:
            values = np.full(n, 5.0)
            values[rng.random(n) < 0.2] = 6.0
        values[rng.random(n) < 0.06] = np.nan
        key = (f"P{s % 3}", s)
        columns["provider"] += [key[0]] * n
        columns["metric"] += [s] * n
        columns["date"] += list(months[:n])
        columns["value"] += values.tolist()
        if n > 8 and rng.random() < 0.5:
            rebase[key] = list(months[rng.choice(n, int(rng.integers(1, 3)), replace=False)])
        directions[key] = str(rng.choice(["increase", "decrease", "neutral"]))
        if rng.random() < 0.5:
            targets[key] = float(rng.normal(10, 3))
    frame = pd.DataFrame(columns).sample(frac=1.0, random_state=seed)
    return frame, {"rebase": rebase, "direction": directions, "target": targets}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["provider", "metric", "date"]).reset_index(drop=True)


@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize(
    ("screen", "fix_after"), [(True, None), (False, None), (True, 12), (False, 5)]
)
def test_vectorised_engine_matches_loop(seed: int, screen: bool, fix_after: int | None) -> None:
    """It gives exactly the loop's results on shuffled random series with gaps and rebases."""
    frame, mappings = _random_frame(seed)
    options = {
        "series_cols": ["provider", "metric"],
        "screen_outliers": screen,
        "fix_after_n_points": fix_after,
        **mappings,
    }
    fast = compute_spc(frame, **options)
    slow = compute_spc_loop(frame, **options)
    pd.testing.assert_frame_equal(_sorted(fast), _sorted(slow), check_exact=True)
    assert fast["special_cause_flag"].sum() > 0
    assert fast["rebase_group"].max() >= 1


def test_it_does_not_change_its_input_and_sorts_by_series_then_date() -> None:
    frame, mappings = _random_frame(7)
    before = frame.copy()
    points = compute_spc(frame, series_cols=["provider", "metric"], **mappings)
    pd.testing.assert_frame_equal(frame, before)
    assert len(points) == len(frame)
    assert points.equals(_sorted(points))


# ----------------------------------------------------------------------------------------------
# Behaviour
# ----------------------------------------------------------------------------------------------


def _series(values: list[float], **kwargs: Any) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"date": pd.date_range("2021-01-01", periods=len(values), freq="MS"), "value": values}
    )
    return compute_spc(frame, **kwargs)


BASE = [9.0, 11.0] * 6  # fixed limits: mean 10, limits 4.68 to 15.32, zone edges 6.45 to 13.55
RISING = [7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0]


def test_runs_and_trends_never_cross_series_or_rebase_boundaries() -> None:
    frame = pd.DataFrame(
        {
            "series": ["a"] * 4 + ["b"] * 4,
            "date": list(pd.date_range("2021-01-01", periods=4, freq="MS")) * 2,
            "value": [float(v) for v in range(1, 9)],
        }
    )
    assert not compute_spc(frame, series_cols="series")["special_cause_flag"].any()

    whole = _series(BASE + RISING, fix_after_n_points=12)
    assert (
        whole["special_cause_type"].astype(str).tolist()[12:] == ["7 Point Trend (Increasing)"] * 7
    )
    split = _series(BASE + RISING, fix_after_n_points=12, rebase=["2022-04-01"])
    assert split["rebase_group"].tolist() == [0] * 15 + [1] * 4
    assert not split["special_cause_flag"].any()


def test_trend_direction_and_orientation() -> None:
    falling = _series(BASE + RISING[::-1], fix_after_n_points=12, direction="decrease")
    assert (
        falling["special_cause_type"].astype(str).tolist()[12:]
        == ["7 Point Trend (Decreasing)"] * 7
    )
    assert set(falling["point_type"][12:]) == {"special_cause_improvement"}
    # a peak shared by a rising and a falling trend takes the slope on its right, as R does
    peak = _series(BASE + RISING + RISING[::-1][1:], fix_after_n_points=12, direction="increase")
    labels = peak["special_cause_type"].astype(str).tolist()
    assert labels[12:18] == ["7 Point Trend (Increasing)"] * 6
    assert labels[18:] == ["7 Point Trend (Decreasing)"] * 7
    assert peak["point_type"].astype(str).tolist()[18] == "special_cause_concern"


def test_a_point_on_the_mean_breaks_a_run() -> None:
    base = [1.0, 3.0] * 6  # mean 2
    unbroken = _series([*base, 3, 3, 3, 3, 3, 3, 3], fix_after_n_points=12)
    assert unbroken["special_cause_type"].astype(str).tolist()[-7:] == ["7 Points Above CL"] * 7
    broken = _series([*base, 3, 3, 3, 2, 3, 3, 3], fix_after_n_points=12)
    assert not broken["special_cause_flag"][12:].any()


def test_two_in_three_counts_close_points_but_not_points_beyond_the_limits() -> None:
    two_close = _series([*BASE, 14, 16, 14, 10], fix_after_n_points=12, direction="increase")
    assert two_close["special_cause_type"].astype(str).tolist()[12:] == [
        "2 in 3 Above CL",
        "Above UCL",
        "2 in 3 Above CL",
        "Common Cause",
    ]
    one_close = _series([*BASE, 14, 16, 11, 10], fix_after_n_points=12, direction="increase")
    assert one_close["special_cause_type"].astype(str).tolist()[12:] == [
        "Common Cause",
        "Above UCL",
        "Common Cause",
        "Common Cause",
    ]
    assert one_close["point_type"].astype(str).tolist()[13] == "special_cause_improvement"


def test_fix_after_n_points_freezes_the_limits() -> None:
    values = [10.0, 12.0] * 6 + [30.0] * 6
    fixed = _series(values, fix_after_n_points=12, direction="decrease")
    assert fixed["mean"].iloc[-1] == 11.0
    assert fixed["point_type"].astype(str).tolist()[12:] == ["special_cause_concern"] * 6
    free = _series(values, direction="decrease")
    assert free["mean"].iloc[-1] > 11.0
    with pytest.raises(ValueError, match="fix_after_n_points"):
        _series(values, fix_after_n_points=0)


def test_neutral_direction_gives_neutral_point_types_and_icons() -> None:
    by_default = _series([*([1.0, 2.0] * 8), 9.0])  # increase, as in NHSRplotthedots
    assert by_default["point_type"].astype(str).iloc[-1] == "special_cause_improvement"
    high = _series([*([1.0, 2.0] * 8), 9.0], direction="neutral")
    assert high["point_type"].astype(str).iloc[-1] == "special_cause_neutral_high"
    assert summarise_spc(high)["variation_icon"].iloc[0] == "neutral_high"
    low = _series([*([1.0, 2.0] * 8), -6.0], direction="neutral")
    assert summarise_spc(low)["variation_icon"].iloc[0] == "neutral_low"


@pytest.mark.parametrize(
    ("direction", "last", "icon"),
    [
        ("increase", 9.0, "improvement_high"),
        ("increase", -6.0, "concern_low"),
        ("decrease", 9.0, "concern_high"),
        ("decrease", -6.0, "improvement_low"),
    ],
)
def test_variation_icon_follows_the_last_point(direction: str, last: float, icon: str) -> None:
    points = _series([*([1.0, 2.0] * 8), last], direction=direction)
    assert summarise_spc(points)["variation_icon"].iloc[0] == icon


def test_missing_values_are_kept_but_not_judged_and_ranges_do_not_bridge_gaps() -> None:
    points = _series([1.0, 2.0, np.nan, 10.0, 11.0], screen_outliers=False)
    assert len(points) == 5
    assert pd.isna(points["point_type"].iloc[2])
    assert pd.isna(points["special_cause_type"].iloc[2])
    assert pd.isna(points["relative_to_mean"].iloc[2])
    assert points["mean"].iloc[0] == 6.0
    assert points["upl"].iloc[0] == pytest.approx(6.0 + 2.66 * 1.0)  # ranges 1 and 1, not 8


def test_missing_latest_value_uses_the_last_point_with_a_value() -> None:
    points = _series([*([1.0, 2.0] * 8), 9.0, np.nan], direction="increase", target=100.0)
    summary = summarise_spc(points).iloc[0]
    assert summary["variation_icon"] == "improvement_high"
    assert summary["value"] == 9.0
    assert summary["assurance"] == "consistent_fail"


def test_short_and_flat_series_do_not_crash_or_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = _series([5.0])
        flat = _series([3.0] * 15)
        empty = compute_spc(pd.DataFrame({"date": pd.to_datetime([]), "value": []}))
        gaps = _series([np.nan, np.nan, 4.0])
    assert one["lpl"].isna().all() and one["upl"].isna().all()
    assert one["point_type"].tolist() == ["common_cause"]
    # every moving range is 0, so screening keeps none and R's limits are NaN
    assert flat["lpl"].isna().all() and flat["upl"].isna().all()
    assert (flat["mean"] == 3.0).all()
    assert flat["point_type"].eq("common_cause").all()
    assert not flat["special_cause_flag"].any()
    assert empty.empty and "point_type" in empty.columns
    assert gaps["upl"].isna().all()
    assert summarise_spc(flat)["variation_icon"].iloc[0] == "common_cause"


def test_trial_limits_warning_for_groups_under_13_rows() -> None:
    assert _series([1.0, 2.0] * 6)["short_group_warning"].all()
    assert not _series([1.0, 2.0] * 6 + [1.0])["short_group_warning"].any()


def test_per_series_options_by_mapping_and_by_column() -> None:
    dates = pd.date_range("2022-01-01", periods=17, freq="MS")
    values = [*([1.0, 2.0] * 8), 9.0]
    frame = pd.DataFrame(
        {
            "org": ["A"] * 17 + ["B"] * 17,
            "date": list(dates) * 2,
            "value": values * 2,
            "better": ["increase"] * 17 + ["decrease"] * 17,
            "goal": [1.0] * 17 + [20.0] * 17,
        }
    )
    by_mapping = compute_spc(
        frame,
        series_cols="org",
        direction={"A": "increase", "B": "decrease"},
        target={"A": 1.0, "B": 20.0},
        rebase={"B": ["2022-03-01"]},
    )
    by_column = compute_spc(
        frame, series_cols=["org"], direction_col="better", target_col="goal", rebase={"B": []}
    )
    summary = summarise_spc(by_column, series_cols="org").set_index("org")
    assert summary.loc["A", "variation_icon"] == "improvement_high"
    assert summary.loc["B", "variation_icon"] == "concern_high"
    assert summary.loc["A", "assurance"] == "inconsistent"
    assert summary.loc["B", "assurance"] == "consistent_pass"
    assert by_mapping.loc[by_mapping["org"] == "B", "rebase_group"].max() == 1
    assert by_mapping.loc[by_mapping["org"] == "A", "rebase_group"].max() == 0
    with pytest.raises(ValueError, match="not in the data"):
        compute_spc(frame, series_cols="org", rebase={"C": ["2022-03-01"]})


def test_bad_input_raises_clear_errors() -> None:
    frame = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-01"]), "value": [1, 2]})
    with pytest.raises(ValueError, match="duplicate date"):
        compute_spc(frame)
    with pytest.raises(ValueError, match="missing column"):
        compute_spc(frame, value_col="count")
    with pytest.raises(ValueError, match="direction"):
        compute_spc(frame.iloc[:1], direction="up")
    with pytest.raises(ValueError, match="not numbers"):
        compute_spc(frame.assign(value=["1", "x"], date=["2024-01-01", "2024-02-01"]))


def test_classify_assurance_treats_a_target_on_a_limit_as_inconsistent() -> None:
    assert classify_assurance(5.0, 1.0, 5.0, "increase") == ["inconsistent"]
    assert classify_assurance([6.0, 0.5], [1.0, 1.0], [5.0, 5.0], "decrease") == [
        "consistent_pass",
        "consistent_fail",
    ]
    assert classify_assurance(float("nan"), 1.0, 5.0, "increase") == [None]


def test_summary_is_the_same_whatever_the_key_type_or_row_order() -> None:
    frame, mappings = _random_frame(3)
    keys = ["provider", "metric"]
    points = compute_spc(frame, series_cols=keys, **mappings)
    plain = summarise_spc(points, series_cols=keys)
    categorical = points.astype({"provider": "category", "metric": "category"})
    for variant in (categorical, categorical.sample(frac=1.0, random_state=1)):
        summary = summarise_spc(variant, series_cols=keys).astype({"provider": str, "metric": int})
        pd.testing.assert_frame_equal(summary, plain, check_dtype=False)
    assert len(plain) == 30
    assert plain["n_points"].sum() == len(frame)


# ----------------------------------------------------------------------------------------------
# Edge conditions, each worked out by hand from NHSRplotthedots' R code
# ----------------------------------------------------------------------------------------------


def test_the_mean_is_computed_as_r_does_so_a_decimal_value_can_sit_exactly_on_it() -> None:
    """R's mean() sums in extended precision: these 13 values average exactly 0.2, so the 0.2
    is on the mean and breaks the run of 7 low values (a plain double sum gives
    0.20000000000000004, which would put 0.2 below the mean and flag a run)."""
    values = [0.05, 0.1, 0.1, 0.2, 0.1, 0.05, 0.05, 0.4, 0.35, 0.25, 0.3, 0.3, 0.35]
    assert sum(values) / len(values) != 0.2
    points = _series(values, direction="increase")
    assert (points["mean"] == 0.2).all()
    assert points["relative_to_mean"].tolist()[:7] == [-1, -1, -1, 0, -1, -1, -1]
    assert "7 Points Below CL" not in points["special_cause_type"].astype(str).tolist()


WIDE = [0.0, 20.0, 0.0, 20.0]  # wide limits, so the points after it are neither close nor out


def test_an_equal_consecutive_value_breaks_a_trend() -> None:
    tied = _series([*WIDE, 7, 8, 9, 10, 10, 11, 12], direction="increase")
    assert not tied["special_cause_flag"].any()
    strict = _series([*WIDE, 7, 8, 9, 10, 10.5, 11, 12], direction="increase")
    assert (
        strict["special_cause_type"].astype(str).tolist()
        == ["Common Cause"] * 4 + ["7 Point Trend (Increasing)"] * 7
    )


def test_the_last_point_of_a_trend_before_a_tied_trend_takes_the_flat_slope() -> None:
    """R labels a trend point by the slope to its right when the next point is in a trend too:
    a rise of 7 ending at 7, then 7 again and a fall of 7, gives the last rising point a slope
    of 0, which R reads as "Decreasing" (and so concern when higher is better)."""
    values = [20.0, *WIDE, 1, 2, 3, 4, 5, 6, 7, 7, 6, 5, 4, 3, 2, 1]
    points = _series(values, direction="increase")
    labels = points["special_cause_type"].astype(str).tolist()
    assert labels[:5] == ["Common Cause"] * 5
    assert labels[5:11] == ["7 Point Trend (Increasing)"] * 6
    assert labels[11:] == ["7 Point Trend (Decreasing)"] * 8
    assert points["point_type"].astype(str).tolist()[11] == "special_cause_concern"
    assert set(points["point_type"].astype(str).tolist()[5:11]) == {"special_cause_improvement"}


def test_a_moving_range_equal_to_the_screening_threshold_is_screened_out() -> None:
    """Moving ranges 3267, eight of 748 and 749 average exactly 1000; 3267 is not strictly
    below 3.267 * 1000, so it is dropped and the limits rest on the other nine."""
    values = [0.0, 3267, 2519, 3267, 2519, 3267, 2519, 3267, 2519, 3267, 2518]
    points = _series(values)
    mean = sum(values) / len(values)
    assert points["upl"].iloc[0] == pytest.approx(mean + 2.66 * 6733 / 9, rel=1e-15)
    unscreened = _series(values, screen_outliers=False)
    assert unscreened["upl"].iloc[0] == pytest.approx(mean + 2.66 * 1000, rel=1e-15)


@pytest.mark.parametrize(
    ("direction", "above", "below"),
    [
        ("increase", "consistent_fail", "consistent_pass"),
        ("decrease", "consistent_pass", "consistent_fail"),
    ],
)
def test_a_target_exactly_on_a_limit_is_inconsistent(
    direction: str, above: str, below: str
) -> None:
    points = _series(BASE, direction=direction)
    upl, lpl = float(points["upl"].iloc[0]), float(points["lpl"].iloc[0])

    def assurance(target: float) -> str:
        return str(summarise_spc(points.assign(target=target))["assurance"].iloc[0])

    assert assurance(upl) == assurance(lpl) == "inconsistent"
    assert assurance(float(np.nextafter(upl, np.inf))) == above
    assert assurance(float(np.nextafter(lpl, -np.inf))) == below
    assert str(summarise_spc(_series(BASE, direction=direction, target=upl))["assurance"][0]) == (
        "inconsistent"
    )


def test_fix_after_n_points_counts_from_the_start_of_each_rebase_group() -> None:
    first = [10.0, 12.0] * 6 + [30.0] * 3
    second = [20.0, 24.0] * 6 + [50.0] * 3
    points = _series(first + second, fix_after_n_points=12, rebase=["2022-04-01"])
    assert points["rebase_group"].tolist() == [0] * 15 + [1] * 15
    assert points["mean"].tolist() == [11.0] * 15 + [22.0] * 15
    assert points["upl"].iloc[0] == pytest.approx(11 + 2.66 * 2)
    assert points["upl"].iloc[-1] == pytest.approx(22 + 2.66 * 4)
    labels = points["special_cause_type"].astype(str).tolist()
    assert labels[12:15] == labels[27:30] == ["Above UCL"] * 3
    assert not points["short_group_warning"].any()


def test_equal_values_have_no_limits_when_screened_and_zero_width_ones_when_not() -> None:
    screened = _series([4.0] * 15, direction="increase", target=5.0)
    assert screened["lpl"].isna().all() and screened["upl"].isna().all()
    summary = summarise_spc(screened).iloc[0]
    # R compares the target with NaN limits: neither above nor below, so inconsistent
    assert summary["variation_icon"] == "common_cause"
    assert summary["assurance"] == "inconsistent"
    unscreened = _series([4.0] * 15, direction="increase", target=5.0, screen_outliers=False)
    assert (unscreened["lpl"] == 4.0).all() and (unscreened["upl"] == 4.0).all()
    assert not unscreened["special_cause_flag"].any()  # on the mean, not beyond the limits
    assert summarise_spc(unscreened)["assurance"].iloc[0] == "consistent_fail"


def test_runs_still_count_after_a_flat_baseline_without_limits() -> None:
    """With the first 12 values equal, the fixed limits are NaN, but 7 later values above the
    mean are still a run (R's run rule needs only the mean)."""
    points = _series([5.0] * 12 + [6.0] * 7, fix_after_n_points=12, direction="decrease")
    assert points["upl"].isna().all()
    assert points["special_cause_type"].astype(str).tolist()[12:] == ["7 Points Above CL"] * 7
    assert set(points["point_type"].astype(str).tolist()[12:]) == {"special_cause_concern"}
    assert not points["special_cause_flag"].iloc[:12].any()


def test_series_of_one_and_two_points() -> None:
    one = _series([5.0], direction="increase", target=1.0)
    assert one["mean"].tolist() == [5.0] and one["upl"].isna().all()
    assert summarise_spc(one)["variation_icon"].iloc[0] == "common_cause"
    two = _series([4.0, 6.0])
    assert two["mean"].tolist() == [5.0, 5.0]
    assert two["upl"].tolist() == [pytest.approx(5 + 2.66 * 2)] * 2
    assert two["short_group_warning"].all()


def test_time_zone_dates_and_values_near_the_float_limit_do_not_crash_or_warn() -> None:
    dates = pd.date_range("2024-01-01", periods=4, freq="MS", tz="Europe/London")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        zoned = compute_spc(pd.DataFrame({"date": dates, "value": [1.0, 2.0, 3.0, 4.0]}))
        huge = _series([1.7e308, 1.7e308, 1.0], direction="increase", target=0.0)
        summary = summarise_spc(huge)
    assert zoned["mean"].tolist() == [2.5] * 4
    assert zoned["date"].dt.tz is None
    assert np.isinf(huge["upl"]).all()  # the moving range overflows to inf, as in R
    assert summary["assurance"].iloc[0] == "inconsistent"


def test_a_value_exactly_on_a_limit_or_zone_edge_is_not_beyond_it() -> None:
    """Both comparisons are strict in R: on the upper limit is not outside, and on the 2-sigma
    edge is not close (so two such points are not a 2-in-3 signal)."""
    upl = 10.0 + 2.66 * 2.0  # BASE: mean 10, mean moving range 2
    nupl = 10.0 + 2 * (2.66 / 3) * 2.0
    points = _series([*BASE, upl, nupl, nupl, 10.0], fix_after_n_points=12, direction="increase")
    assert points["upl"].iloc[0] == upl and points["nupl"].iloc[0] == nupl
    assert points["outside_limits"].tolist()[12:] == [False] * 4
    assert points["close_to_limits"].tolist()[12:] == [True, False, False, False]
    assert not points["special_cause_flag"].iloc[12:].any()
    above = _series([*BASE, float(np.nextafter(upl, np.inf))], fix_after_n_points=12)
    assert above["special_cause_type"].astype(str).iloc[-1] == "Above UCL"
