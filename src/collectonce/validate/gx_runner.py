"""Run the catalogue's Great Expectations suites on pandas frames and return their failures.

One ephemeral context per process and catalogue, built on first use and cached: a pandas data
source with one dataframe asset per suite, a whole-dataframe batch definition and a validation
definition each. Progress bars and telemetry are off. A lock makes the cache safe to share
between the threads of the API server. This is the fast path, in the shape the ingest benchmark
needs; a `record` callback receives each run's results, which `data_docs` stores in the data
folder's file-backed GX project (with its checkpoints) and renders as Data Docs.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from collectonce.catalog import Catalog
from collectonce.errors import ValidateError
from collectonce.findings import Severity
from collectonce.validate.gx_import import load_gx
from collectonce.validate.gx_kwargs import install as install_kwargs
from collectonce.validate.suites import (
    CURRENT_PERIOD,
    LONG_SUITE,
    WIDE_SUITE,
    build_suites,
    suite_definitions,
)

#: Called with (suite name, GX validation result) after each run, e.g. to build Data Docs.
Recorder = Callable[[str, Any], None]


class ValidationEngineError(ValidateError, RuntimeError):
    """Great Expectations could not evaluate an expectation (a defect, never bad input)."""


@dataclass(frozen=True)
class Failure:
    """One failed expectation: its rule and what it found."""

    suite: str
    expectation: str
    kwargs: dict[str, Any]
    meta: dict[str, Any]
    #: Distinct unexpected values (long suite).
    values: list[Any] = field(default_factory=list)
    #: Wide-frame groups whose row failed (wide suite).
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def rule(self) -> str:
        return str(self.meta.get("rule", self.expectation))

    @property
    def severity(self) -> Severity:
        return "warning" if self.meta.get("severity") == "warning" else "error"

    @property
    def metric(self) -> str | None:
        """The metric a cross-metric rule belongs to (None for other expectations)."""
        return _text(self.meta.get("metric"))

    @property
    def other(self) -> str | None:
        """The other metric of a cross-metric rule."""
        return _text(self.meta.get("other"))

    @property
    def op(self) -> str | None:
        """How a cross-metric rule compares the two (lte, lt, gte, gt or eq)."""
        return _text(self.meta.get("op"))

    @property
    def column(self) -> str | None:
        column = self.kwargs.get("column")
        return None if column is None else str(column)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass
class _Runner:
    context: Any
    definitions: dict[str, Any]
    lock: threading.Lock
    #: The wide suite's expectations (plain dictionaries) and its batch definition.
    wide_expectations: list[dict[str, Any]] = field(default_factory=list)
    wide_batch: Any = None
    #: Validation definitions of parts of the wide suite, keyed by the expectations they hold.
    wide_parts: dict[tuple[int, ...], Any] = field(default_factory=dict)


_RUNNERS: dict[str, _Runner] = {}
_RUNNERS_LOCK = threading.Lock()


def _runner(catalog: Catalog) -> _Runner:
    key = f"{catalog.root}:{catalog.fingerprint}"
    with _RUNNERS_LOCK:
        found = _RUNNERS.get(key)
        if found is None:
            found = _build_runner(catalog)
            _RUNNERS[key] = found
        return found


def _build_runner(catalog: Catalog) -> _Runner:
    gx = load_gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    install_kwargs()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    source = context.data_sources.add_pandas("collectonce")
    definitions: dict[str, Any] = {}
    batches: dict[str, Any] = {}
    for name, suite in build_suites(catalog).items():
        asset = source.add_dataframe_asset(name)
        batch = asset.add_batch_definition_whole_dataframe(f"{name}_whole")
        batches[name] = batch
        saved = context.suites.add(suite)
        definitions[name] = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"validate_{name}", data=batch, suite=saved)
        )
    wide = suite_definitions(catalog)[WIDE_SUITE]["expectations"]
    return _Runner(context, definitions, threading.Lock(), wide, batches[WIDE_SUITE])


def _columns_of(expectation: dict[str, Any]) -> list[str]:
    kwargs = expectation["kwargs"]
    return [str(kwargs[k]) for k in ("column", "column_A", "column_B") if k in kwargs]


def _wide_part(runner: _Runner, present: set[str]) -> tuple[Any, list[str]] | None:
    """The validation definition holding the wide expectations whose columns all hold data
    (a file of three metrics runs three expectations, not a hundred); cached per column set."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    chosen = tuple(
        i
        for i, e in enumerate(runner.wide_expectations)
        if all(c in present for c in _columns_of(e))
    )
    if not chosen:
        return None
    columns = sorted({c for i in chosen for c in _columns_of(runner.wide_expectations[i])})
    if len(chosen) == len(runner.wide_expectations):
        return runner.definitions[WIDE_SUITE], columns
    found = runner.wide_parts.get(chosen)
    if found is None:
        name = f"{WIDE_SUITE}_part_{len(runner.wide_parts) + 1}"
        expectations = [
            ExpectationConfiguration(
                type=e["type"], kwargs=e["kwargs"], meta=e["meta"]
            ).to_domain_obj()
            for e in (runner.wide_expectations[i] for i in chosen)
        ]
        suite = runner.context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
        found = runner.context.validation_definitions.add(
            gx.ValidationDefinition(name=f"validate_{name}", data=runner.wide_batch, suite=suite)
        )
        if len(runner.wide_parts) < 256:
            runner.wide_parts[chosen] = found
    return found, columns


def warm_up(catalog: Catalog) -> None:
    """Build the cached context now (it takes a second or two the first time)."""
    _runner(catalog)


def _run(
    catalog: Catalog,
    suite: str,
    frame: pd.DataFrame,
    result_format: dict[str, Any],
    parameters: dict[str, Any] | None = None,
    record: Recorder | None = None,
) -> list[Any]:
    runner = _runner(catalog)
    with runner.lock:
        definition = runner.definitions[suite]
        if suite == WIDE_SUITE:
            present = {str(c) for c in frame.columns if frame[c].notna().any()}
            part = _wide_part(runner, present)
            if part is None:
                return []
            definition, columns = part
            frame = frame[columns]
        result = _validate(definition, frame, result_format, parameters or {})
    if record is not None:
        record(suite, result)
    failed = []
    for res in result.results:
        info = res.exception_info or {}
        raised = info.get("raised_exception") or any(
            isinstance(v, dict) and v.get("raised_exception") for v in info.values()
        )
        if raised:
            message = info.get("exception_message") or next(
                (v.get("exception_message") for v in info.values() if isinstance(v, dict)), ""
            )
            raise ValidationEngineError(
                f"{res.expectation_config.type} on {res.expectation_config.kwargs}: {message}"
            )
        if not res.success:
            failed.append(res)
    return failed


def _validate(
    definition: Any, frame: pd.DataFrame, result_format: dict[str, Any], parameters: dict[str, Any]
) -> Any:
    """What ``definition.run`` answers, without keeping the result in the context's results
    store: that store is in memory, so a server or worker would hold every result it ever
    produced, and serialising each one into it costs a sixth of a small file's check. The
    results that are kept go to the data folder's GX project (`Recorder`)."""
    from great_expectations.constants import DATAFRAME_REPLACEMENT_STR
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.validator.v1_validator import Validator

    validator = Validator(
        batch_definition=definition.batch_definition,
        batch_parameters={"dataframe": frame},
        result_format=result_format,
    )
    result = validator.validate_expectation_suite(definition.suite, parameters)
    run_id = RunIdentifier(run_time=dt.datetime.now(dt.UTC))
    meta: Any = result.meta
    meta.update(
        validation_id=definition.id,
        checkpoint_id=None,
        run_id=run_id,
        validation_time=run_id.run_time,
        batch_parameters={"dataframe": DATAFRAME_REPLACEMENT_STR},
    )
    return result


def run_long_suite(
    catalog: Catalog, distinct: pd.DataFrame, today: dt.date, record: Recorder | None = None
) -> list[Failure]:
    """Validate the distinct values of the canonical columns; unexpected values per failure."""
    current = pd.Timestamp(today.year, today.month, 1)
    failures = []
    for res in _run(
        catalog,
        LONG_SUITE,
        distinct,
        {"result_format": "COMPLETE"},
        {CURRENT_PERIOD: current},
        record,
    ):
        config = res.expectation_config
        values = list(res.result.get("unexpected_list") or [])
        failures.append(
            Failure(LONG_SUITE, config.type, dict(config.kwargs), dict(config.meta or {}), values)
        )
    return failures


def run_wide_suite(
    catalog: Catalog, wide: pd.DataFrame, record: Recorder | None = None
) -> list[Failure]:
    """Validate the provider × period pivot; the failing groups (the frame's index) per failure.

    Great Expectations decides which expectations fail and counts the unexpected rows (result
    format BASIC). The failing rows are then located with the expectation's own comparison, and
    their number must equal GX's count. Asking GX for every failing row (COMPLETE) costs about
    15 µs per row in deep copies and JSON: fine for ten failures, minutes for a broken bulk file
    of a million.
    """
    failures = []
    for res in _run(catalog, WIDE_SUITE, wide, {"result_format": "BASIC"}, record=record):
        config = res.expectation_config
        kwargs = dict(config.kwargs)
        mask = _unexpected(wide, config.type, kwargs)
        expected = res.result.get("unexpected_count")
        if expected is not None and int(expected) != int(mask.sum()):
            raise ValidationEngineError(
                f"{config.type} on {kwargs}: GX counted {expected} unexpected rows, "
                f"the comparison found {int(mask.sum())}"
            )
        groups = wide.index.to_numpy()[mask].astype(np.int64)
        failures.append(
            Failure(WIDE_SUITE, config.type, kwargs, dict(config.meta or {}), groups=groups)
        )
    return failures


def merge_failures(catalog: Catalog, first: list[Failure], second: list[Failure]) -> list[Failure]:
    """The failures of the wide suite run over two parts of one pivot, as one run over the
    whole pivot gives them: one per expectation, with the groups of both, in the suite's order."""
    order = {
        _identity(e["type"], e["kwargs"]): i
        for i, e in enumerate(_runner(catalog).wide_expectations)
    }
    merged: dict[tuple[str, ...], Failure] = {}
    for failure in [*first, *second]:
        key = _identity(failure.expectation, failure.kwargs)
        found = merged.get(key)
        merged[key] = (
            failure
            if found is None
            else replace(found, groups=np.union1d(found.groups, failure.groups).astype(np.int64))
        )
    return sorted(
        merged.values(), key=lambda f: order.get(_identity(f.expectation, f.kwargs), len(order))
    )


def _identity(kind: str, kwargs: dict[str, Any]) -> tuple[str, ...]:
    return (kind, *(str(kwargs.get(k, "")) for k in ("column", "column_A", "column_B")))


def _unexpected(frame: pd.DataFrame, kind: str, kwargs: dict[str, Any]) -> np.ndarray:
    """The rows an expectation of the wide suite finds unexpected (missing values are skipped,
    as GX skips them)."""
    with np.errstate(invalid="ignore"):
        if kind == "expect_column_values_to_be_between":
            x = frame[kwargs["column"]].to_numpy(dtype=np.float64)
            bad = np.zeros(len(x), dtype=bool)
            lo, hi = kwargs.get("min_value"), kwargs.get("max_value")
            strict_lo, strict_hi = kwargs.get("strict_min"), kwargs.get("strict_max")
            if lo is not None:
                bad |= (x <= lo) if strict_lo else (x < lo)
            if hi is not None:
                bad |= (x >= hi) if strict_hi else (x > hi)
            return bad & ~np.isnan(x)
        a = frame[kwargs["column_A"]].to_numpy(dtype=np.float64)
        b = frame[kwargs["column_B"]].to_numpy(dtype=np.float64)
        present = ~np.isnan(a) & ~np.isnan(b)
        if kind == "expect_column_pair_values_a_to_be_greater_than_b":
            ok = (a >= b) if kwargs.get("or_equal") else (a > b)
        elif kind == "expect_column_pair_values_to_be_equal":
            ok = a == b
        else:
            raise ValidationEngineError(f"no row locator for {kind}")
        return present & ~ok
