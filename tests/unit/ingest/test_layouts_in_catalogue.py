"""The published A&E layouts live in the catalogue (``catalog/layouts/*.yaml``): a data team
teaches collectonce a new heading by editing YAML only, and `collectonce catalog check` names a
layout's mistakes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

runner = CliRunner()
PUBLISHED = "layouts/nhse_ae_published_monthly.yaml"
BY_TYPE = "layouts/nhse_ae_by_department_type.yaml"


def cli(*args: str):
    from collectonce.cli import app

    return runner.invoke(app, list(args))


@pytest.fixture
def copied(shipped_catalog_dir: Path, tmp_path: Path) -> Path:
    """A copy of the shipped catalogue a data team may edit."""
    dest = tmp_path / "catalog"
    shutil.copytree(shipped_catalog_dir, dest)
    return dest


def edit(catalog: Path, rel: str, change) -> None:
    path = catalog / rel
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def submit(path: Path, catalog: Path) -> tuple[int, dict]:
    result = cli("submit", str(path), "--as", "RF4", "--json", "--catalog", str(catalog))
    return result.exit_code, json.loads(result.stdout)


def test_a_new_heading_wording_in_the_layout_yaml_is_read_by_submit(
    home, shipped_catalog_dir, copied, tmp_path
) -> None:
    """A file heading type 1 attendances in a way no published file has is not read as them by
    the shipped catalogue; once the wording is added to the layout's YAML (nothing else), `submit`
    stores the figure as the metric the layout maps it to."""
    header = (
        "Period,Org Code,Type 1 A&E attendances (all),Attendances over 4hrs Type 1,"
        "Emergency admissions via A&E - Type 1\n"
    )
    earlier = tmp_path / "rf4__ae_new_wording_december.csv"
    earlier.write_text(header + "MSitAE-DECEMBER-2018,RF4,15873,6901,4420\n", encoding="utf-8")
    code, before = submit(earlier, shipped_catalog_dir)
    assert code == 0, before
    unknown = [f for f in before["findings"] if f["rule"] == "unknown_column"]
    assert [f["column"] for f in unknown] == ["Type 1 A&E attendances (all)"]
    assert before["values_stored"] == 1  # the breaches only

    edit(
        copied,
        PUBLISHED,
        lambda d: d["columns"]["attendances_type1"].append("Type 1 A&E attendances (all)"),
    )
    assert cli("catalog", "check", "--catalog", str(copied)).exit_code == 0
    path = tmp_path / "rf4__ae_new_wording.csv"
    path.write_text(header + "MSitAE-JANUARY-2019,RF4,16428,7363,4607\n", encoding="utf-8")
    code, after = submit(path, copied)
    assert code == 0, after
    assert after["template"] == "nhse_ae_published_monthly", after
    assert not [f for f in after["findings"] if f["rule"] == "unknown_column"]
    assert (after["values_stored"], after["periods"]) == (2, ["2019-01"])

    from collectonce.catalog import load_catalog
    from collectonce.ingest.readers import read_submission
    from collectonce.settings import get_settings

    parsed = read_submission(path, load_catalog(copied), get_settings(home=home))
    values = dict(zip(parsed.rows.metric_id, parsed.rows.value, strict=True))
    assert values == {"ae_attendances_type1": 16428.0, "ae_breaches_4hr_type1": 7363.0}


def test_a_new_measure_heading_of_the_by_type_layout_is_read_by_submit(
    home, copied, tmp_path
) -> None:
    """A trust's extract heading attendances ``Total attends`` is read once the by-department-type
    layout's YAML lists that heading."""
    header = "period,org_code,type,Total attends,breaches\n"
    earlier = tmp_path / "rf4__ae_by_type_new_heading_december.csv"
    earlier.write_text(
        header + "2018-12-01,RF4,1,15873,6901\n2018-12-01,RF4,2,801,3\n", encoding="utf-8"
    )
    code, before = submit(earlier, copied)
    assert [f["column"] for f in before["findings"] if f["rule"] == "unknown_column"] == [
        "Total attends"
    ]
    assert before["values_stored"] == 2  # the breaches of types 1 and 2 only
    edit(
        copied, BY_TYPE, lambda d: d["measures"]["attendances"]["headings"].append("Total attends")
    )
    path = tmp_path / "rf4__ae_by_type_new_heading.csv"
    path.write_text(
        header + "2019-01-01,RF4,1,16428,7363\n2019-01-01,RF4,2,789,2\n", encoding="utf-8"
    )
    code, after = submit(path, copied)
    assert code == 0, after
    assert after["template"] == "nhse_ae_by_department_type"
    assert after["values_stored"] == 4
    assert not [f for f in after["findings"] if f["rule"] == "unknown_column"]


def test_a_new_department_type_word_in_the_layout_yaml_is_read_by_submit(
    home, copied, tmp_path
) -> None:
    """A trust writing type 1 as ``Consultant-led ED`` has that row refused (its department type
    is unknown) until the layout's YAML lists the word under type 1."""
    header = "period,org_code,type,attendances,breaches\n"
    earlier = tmp_path / "rf4__ae_new_type_word_december.csv"
    earlier.write_text(header + "2018-12-01,RF4,Consultant-led ED,15873,6901\n", encoding="utf-8")
    code, before = submit(earlier, copied)
    assert code == 1, before
    assert [(f["row"], f["rule"]) for f in before["findings"] if f["severity"] == "error"] == [
        (2, "department_type")
    ]
    edit(copied, BY_TYPE, lambda d: d["department_types"]["type_1"].append("Consultant-led ED"))
    path = tmp_path / "rf4__ae_new_type_word.csv"
    path.write_text(header + "2019-01-01,RF4,Consultant-led ED,16428,7363\n", encoding="utf-8")
    code, after = submit(path, copied)
    assert code == 0, after
    assert (after["rows_accepted"], after["values_stored"], after["errors"]) == (1, 2, 0)


@pytest.mark.parametrize(
    ("rel", "change", "field", "value", "fix"),
    [
        (
            PUBLISHED,
            lambda d: d["metrics"].update(
                {"ae_atendances_type2": d["metrics"].pop("ae_attendances_type2")}
            ),
            "metrics.ae_atendances_type2",
            "ae_atendances_type2",
            "did you mean `ae_attendances_type2`?",
        ),
        (
            BY_TYPE,
            lambda d: d["measures"]["breaches"]["metrics"].update(type_2="ae_breaches_4h_type2"),
            "measures.breaches.metrics.type_2",
            "ae_breaches_4h_type2",
            "did you mean `ae_breaches_4hr_type2`?",
        ),
        (
            PUBLISHED,
            lambda d: d["metrics"]["ae_attendances_type1"][0].update(optional=["bookd_type1"]),
            "metrics.ae_attendances_type1[0].optional",
            "bookd_type1",
            "did you mean `booked_type1`?",
        ),
        (
            PUBLISHED,
            lambda d: d.update(layout="nhse_ae_publishd_monthly"),
            "layout",
            "nhse_ae_publishd_monthly",
            "did you mean `nhse_ae_published_monthly`?",
        ),
    ],
)
def test_catalog_check_names_the_file_key_and_closest_code_of_a_layout_mistake(
    copied, rel, change, field, value, fix
) -> None:
    """A metric code, column or layout name a layout file gets wrong stops `catalog check` with
    the file, the key, the bad value and the closest right one."""
    edit(copied, rel, change)
    result = cli("catalog", "check", "--catalog", str(copied), "--json")
    assert result.exit_code == 1, result.stdout
    (problem,) = json.loads(result.stdout)["problems"]
    assert (problem["file"], problem["field"], problem["value"]) == (rel, field, value)
    assert problem["fix"] == fix


def test_a_layout_file_with_a_field_it_does_not_have_is_refused(copied) -> None:
    """A misspelt field of a layout file is named, as for any catalogue file."""
    edit(copied, BY_TYPE, lambda d: d.update(type_colum=d.pop("type_column")))
    result = cli("catalog", "check", "--catalog", str(copied), "--json")
    assert result.exit_code == 1
    fields = {p["field"] for p in json.loads(result.stdout)["problems"]}
    assert fields == {"type_column", "type_colum"}
