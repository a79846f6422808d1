"""`collectonce requests dedupe` at the door: registers, JSON, review page, accepting clusters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from collectonce.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[3]


def write_register(path: Path, rows: list[tuple[str, ...]], header: str | None = None) -> Path:
    """A register CSV as a spreadsheet would save it (quoted where needed)."""
    import csv

    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow((header or "requester,request,item_code,label").split(","))
        writer.writerows(rows)
    return path


#: Alike labels that ask for different figures, in wording of our own (not the dev set's).
NEAR_MISSES = [
    ("nhs_region", "region_uec", "R1", "Type 1 A&E: patients seen within 4 hours (%)"),
    ("icb_north", "north_pack", "N1", "All A&E types: % admitted or discharged within 4hrs"),
    ("nhs_region", "region_uec", "R2", "A&E patients waiting more than 4 hours from arrival"),
    ("icb_north", "north_pack", "N2", "A&E patients waiting more than 12 hours from arrival"),
    ("nhs_region", "region_uec", "R3", "RTT incomplete pathways waiting 18 weeks or less (%)"),
    ("icb_north", "north_pack", "N3", "RTT incomplete pathways waiting over 52 weeks (%)"),
    ("nhs_region", "region_uec", "R4", "Admitted RTT pathways treated within 18 weeks (%)"),
    ("cqc_x", "cqc_insight", "X4", "Incomplete RTT pathways within 18 weeks (%)"),
    ("nhs_region", "region_uec", "R5", "Number of patients waiting more than 52 weeks (RTT)"),
    ("icb_north", "north_pack", "N5", "% of RTT patients waiting > 52 weeks"),
    ("cqc_x", "cqc_insight", "X6", "Patients waiting more than 12 hours from decision to admit"),
    ("nhs_region", "region_uec", "R7", "Staff Friends and Family Test: % recommending care"),
    (
        "icb_north",
        "north_pack",
        "N7",
        "Friends and Family Test (inpatients): % who would recommend",
    ),
]
SEPARATE = [
    ("R1", "N1"),
    ("R2", "N2"),
    ("R3", "N3"),
    ("R4", "X4"),
    ("R5", "N5"),
    ("N2", "X6"),
    ("R7", "N7"),
]
SAME = [
    (
        "nhs_region",
        "region_uec",
        "R8",
        "Cancer: diagnosis communicated within 28 days of urgent referral (%)",
    ),
    (
        "icb_north",
        "north_pack",
        "N8",
        "Faster diagnosis: % told their outcome within 4 weeks of urgent referral",
    ),
]


def run(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def dedupe_json(catalog: Path, register: Path) -> dict:
    result = run("requests", "dedupe", "--catalog", catalog, "--register", register, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def linked(data: dict, a: str, b: str) -> bool:
    for pair in data["pairs"]:
        codes = {pair["a"]["item_code"], pair["b"]["item_code"]}
        if codes == {a, b}:
            return True
    return any({a, b} <= {m["item_code"] for m in c["members"]} for c in data["clusters"])


def test_near_misses_are_never_merged_and_28_days_meets_4_weeks(tmp_path: Path) -> None:
    """It links no near-miss pair, and links '28 days' with '4 weeks' as one figure."""
    register = write_register(tmp_path / "reg.csv", NEAR_MISSES + SAME)
    data = dedupe_json(ROOT / "catalog", register)
    for a, b in SEPARATE:
        assert not linked(data, a, b), (a, b)
    misses = {
        frozenset((m["a"]["item_code"], m["b"]["item_code"])): m["conflicts"]
        for m in data["summary"]["near_misses"]
    }
    assert {"facet": "threshold", "a": "4 hours", "b": "12 hours"} in misses[
        frozenset(("R2", "N2"))
    ]
    same = [p for p in data["pairs"] if {p["a"]["item_code"], p["b"]["item_code"]} == {"R8", "N8"}]
    assert same and same[0]["decision"] == "duplicate", same


def test_json_is_one_object_in_the_documented_shape(tmp_path: Path) -> None:
    """It prints exactly one object with pairs, clusters and summary, each field present."""
    register = write_register(tmp_path / "reg.csv", NEAR_MISSES + SAME)
    data = dedupe_json(ROOT / "catalog", register)
    assert set(data) == {"pairs", "clusters", "summary"}
    pair = data["pairs"][0]
    assert {"a", "b", "score", "decision", "agree", "conflicts", "reason"} <= set(pair)
    assert set(pair["a"]) == {"request", "item_code"} and 0 <= pair["score"] <= 1
    assert pair["decision"] in ("duplicate", "review")
    for p in data["pairs"]:
        assert p["a"]["request"] != p["b"]["request"]
        for c in p["conflicts"]:
            assert set(c) == {"facet", "a", "b"}
    cluster = data["clusters"][0]
    assert {"members", "requesters", "metric", "proposed_metric"} <= set(cluster)
    assert (cluster["metric"] is None) != (cluster["proposed_metric"] is None)
    assert all(set(m) == {"request", "item_code"} for m in cluster["members"])
    assert [i["label"] for i in cluster["items"]]
    assert data["summary"]["register_items"] == len(NEAR_MISSES) + len(SAME)


def test_a_terse_header_meets_a_long_sentence(tmp_path: Path) -> None:
    """It pairs 'Sickness %' with a long definition-like label, and '% >52wks' with its sentence."""
    register = write_register(
        tmp_path / "reg.csv",
        [
            ("trust_z", "board_ipr", "T1", "Sickness %"),
            (
                "nhs_e",
                "workforce_return",
                "W1",
                "Staff sickness absence rate: FTE days lost to sickness as a percentage of "
                "FTE days available",
            ),
            ("trust_z", "board_ipr", "T2", "% >52wks"),
            (
                "nhs_e",
                "elective_return",
                "E1",
                "Proportion of patients on incomplete RTT pathways who have waited more "
                "than 52 weeks",
            ),
        ],
    )
    data = dedupe_json(ROOT / "catalog", register)
    by_codes = {frozenset((p["a"]["item_code"], p["b"]["item_code"])): p for p in data["pairs"]}
    assert by_codes[frozenset(("T1", "W1"))]["decision"] == "duplicate"
    assert by_codes[frozenset(("T2", "E1"))]["decision"] in ("duplicate", "review")
    sickness = next(c for c in data["clusters"] if "T1" in {m["item_code"] for m in c["members"]})
    assert sickness["metric"] == "staff_sickness_absence_rate"


def test_a_malformed_register_fails_with_one_line_naming_row_and_column(tmp_path: Path) -> None:
    """It exits 1 with one line naming the file, row 3 and column label; no traceback."""
    bad = tmp_path / "bad.csv"
    bad.write_text("requester,request,item_code,label\nicb,q,Q1,Sickness %\nicb,q,Q2,\n")
    result = run("requests", "dedupe", "--register", bad, "--catalog", ROOT / "catalog")
    assert result.exit_code == 1
    assert "row 3, column label" in result.output and "Traceback" not in result.output
    as_json = run("requests", "dedupe", "--register", bad, "--catalog", ROOT / "catalog", "--json")
    assert as_json.exit_code == 1 and json.loads(as_json.stdout)["ok"] is False


def test_unknown_columns_are_ignored_with_a_warning(tmp_path: Path) -> None:
    """It warns on stderr and still prints one JSON object on stdout."""
    register = write_register(
        tmp_path / "reg.csv",
        [("icb", "q", "Q1", "Sickness %", "Jo")],
        header="requester,request,item_code,label,owner",
    )
    result = run(
        "requests", "dedupe", "--register", register, "--catalog", ROOT / "catalog", "--json"
    )
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert any("owner" in w for w in data["summary"]["warnings"])


def test_the_review_queue_and_the_html_page(tmp_path: Path) -> None:
    """It prints clusters with reasons and writes a self-contained, accessible page."""
    register = write_register(tmp_path / "reg.csv", NEAR_MISSES + SAME)
    page = tmp_path / "out" / "review.html"
    result = run(
        "requests", "dedupe", "--catalog", ROOT / "catalog", "--register", register, "--html", page
    )
    assert result.exit_code == 0, result.output
    assert f"accept: collectonce requests dedupe --register {register} --accept" in result.stdout
    assert "same topic=" in result.stdout
    html = page.read_text(encoding="utf-8")
    assert '<html lang="en-GB">' in html and 'class="nhsuk-skip-link"' in html
    assert "<main" in html and "nhsuk-header" in html
    assert 'src="http' not in html and 'href="http' not in html and "@import" not in html
    assert "--register" in html and "Accept" in html and "Reject" in html
    assert "requested items in" in html and "built-in method" not in html


def test_accepting_a_cluster_updates_the_catalogue_and_the_check_passes(
    tmp_path: Path, catalog_copy: Path
) -> None:
    """It maps the register's items, writes the new request and metric, and the check passes."""
    register = write_register(
        tmp_path / "reg.csv",
        [
            (
                "North ICB",
                "Urgent care pack",
                "U1",
                "Ambulance handovers taking longer than 60 minutes",
            ),
            ("Region", "UEC daily return", "D1", "Handover delays > 1 hour"),
            ("Region", "UEC daily return", "D2", "Type 1 A&E attendances"),
        ],
    )
    data = dedupe_json(catalog_copy, register)
    handover = next(c for c in data["clusters"] if "U1" in {m["item_code"] for m in c["members"]})
    assert handover["metric"] is None and handover["proposed_metric"]["code"]
    code = handover["proposed_metric"]["code"]
    result = run(
        "requests",
        "dedupe",
        "--catalog",
        catalog_copy,
        "--register",
        register,
        "--accept",
        handover["id"],
        "--json",
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)["accepted"][0]
    assert report["ok"] and report["metric"] == code
    assert (catalog_copy / report["new_metric_file"]).exists()
    check = run("catalog", "check", "--catalog", catalog_copy, "--json")
    assert check.exit_code == 0, check.output
    from collectonce.catalog import load_catalog

    cat = load_catalog(catalog_copy)
    mapped = {(r.code, i.their_code): i.metric for r in cat.requests.values() for i in r.items}
    assert mapped[("urgent_care_pack", "U1")] == code
    assert mapped[("uec_daily_return", "D1")] == code
    assert mapped[("uec_daily_return", "D2")] is None  # not in this cluster: left for review
    assert "north_icb" in cat.requesters
    # The same analysis now sees the handover items as declared, and accepting again is refused.
    again = dedupe_json(catalog_copy, register)
    assert all(c["id"] != handover["id"] or c["metric"] == code for c in again["clusters"])


def test_accepting_maps_an_unmapped_catalogue_item_to_an_existing_metric(
    tmp_path: Path, catalog_copy: Path
) -> None:
    """It writes `metric:` into the request YAML, keeps the rest of the file, and checks again."""
    path = catalog_copy / "requests" / "icb_quality" / "icb_mental_health_schedule_monthly.yaml"
    before = path.read_text(encoding="utf-8")
    path.write_text(
        before.rstrip("\n")
        + '\n  - their_code: "QS-NEW-1"\n    their_label: "Sickness %"\n'
        + '    unmapped_reason: "new in the 2026/27 schedule"\n',
        encoding="utf-8",
    )
    data = dedupe_json(
        catalog_copy,
        write_register(tmp_path / "r.csv", [("trust", "ipr", "S", "Sickness absence %")]),
    )
    cluster = next(
        c for c in data["clusters"] if "QS-NEW-1" in {m["item_code"] for m in c["members"]}
    )
    assert cluster["metric"] == "staff_sickness_absence_rate"
    result = run(
        "requests",
        "dedupe",
        "--catalog",
        catalog_copy,
        "--register",
        tmp_path / "r.csv",
        "--accept",
        cluster["id"],
    )
    assert result.exit_code == 0, result.output
    assert "catalogue check passes" in result.stdout
    after = path.read_text(encoding="utf-8")
    assert "metric: staff_sickness_absence_rate" in after and "new in the 2026/27" not in after
    assert after.splitlines()[: len(before.splitlines())] == before.splitlines()


def test_accepting_an_unknown_cluster_is_refused(catalog_copy: Path) -> None:
    """It exits 1 naming the cluster and how to list the real ones."""
    result = run("requests", "dedupe", "--catalog", catalog_copy, "--accept", "c00000000")
    assert result.exit_code == 1 and "no cluster c00000000" in result.output


def test_burden_shows_the_hours_accepting_duplicates_would_save(
    catalog_copy: Path, tmp_path: Path
) -> None:
    """It adds the saving to the burden text, JSON and HTML."""
    path = catalog_copy / "requests" / "icb_quality" / "icb_quality_schedule_monthly.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").rstrip("\n")
        + '\n  - their_code: "QS-NEW-2"\n    their_label: "Ambulance handovers over 60 minutes"\n'
        + '    unmapped_reason: "new"\n',
        encoding="utf-8",
    )
    other = catalog_copy / "requests" / "nhs_england" / "nhse_ae_monthly.yaml"
    other.write_text(
        other.read_text(encoding="utf-8").rstrip("\n")
        + '\n  - their_code: "AEA99"\n    their_label: "Handover delays of more than one hour"\n'
        + '    unmapped_reason: "new"\n',
        encoding="utf-8",
    )
    out = tmp_path / "reports"
    result = run("burden", "--catalog", catalog_copy, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    savings = json.loads(result.stdout)["dedupe_savings"]
    assert savings["duplicate_clusters"] >= 1 and savings["hours_saved"] > 0
    text = run("burden", "--catalog", catalog_copy, "--out", out)
    assert "duplicate cluster" in text.stdout and "requests dedupe" in text.stdout
    assert "Duplicate requests not yet collected once" in (out / "burden.html").read_text()


def test_the_installed_command_on_a_register_outside_the_repo(tmp_path: Path) -> None:
    """It runs `collectonce requests dedupe --register FILE --json` as a user would."""
    register = write_register(tmp_path / "outside.csv", NEAR_MISSES + SAME)
    env = {**os.environ, "COLLECTONCE_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "collectonce.cli",
            "requests",
            "dedupe",
            "--catalog",
            str(ROOT / "catalog"),
            "--register",
            str(register),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"pairs", "clusters", "summary"}


def test_suggest_flags_a_mapping_its_label_contradicts(catalog_copy: Path) -> None:
    """It flags a type 1 label mapped to the type 2 metric, and names the type 1 metric."""
    path = catalog_copy / "requests" / "nhs_england" / "nhse_ae_monthly.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            '"Type 1 Departments - Major A&E: total attendances"\n    metric: ae_attendances_type1',
            '"Type 1 Departments - Major A&E: total attendances"\n    metric: ae_attendances_type2',
        ),
        encoding="utf-8",
    )
    result = run("requests", "suggest", "--catalog", catalog_copy, "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["suggestions"]
    hit = next(r for r in rows if r["their_code"] == "AEA01")
    assert hit["kind"] == "suspicious" and hit["current_metric"] == "ae_attendances_type2"
    assert hit["suggested_metric"] == "ae_attendances_type1"
    assert "scope.ae_type" in hit["reason"]
