"""The burden report in Markdown and in one self-contained HTML page (no scripts, no CDN)."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from collectonce.burden.model import BurdenReport

_MEASURE_LABELS = {
    "hours_reduction_pct": "Hours removed (%)",
    "cost_reduction_pct": "Cost removed (%)",
    "items_served_from_catalogue_pct": "Requested items served from the catalogue (%)",
    "unique_items_reduction_pct": "Fewer unique items than requested items (%)",
}


def _n(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def _gbp(value: float) -> str:
    return f"£{value:,.0f}"


def _headline(d: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    avg = d["per_provider_average"]
    return [
        (
            "Hours per year, all providers",
            _n(d["hours_before"]),
            _n(d["hours_after"]),
            f"{_n(d['hours_saved'])} ({_n(d['reduction_pct'])}%)",
        ),
        (
            "Cost per year, all providers",
            _gbp(d["cost_before_gbp"]),
            _gbp(d["cost_after_gbp"]),
            _gbp(d["cost_saved_gbp"]),
        ),
        (
            "Hours per provider per year (average)",
            _n(avg["hours_before"]),
            _n(avg["hours_after"]),
            _n(avg["hours_saved"]),
        ),
        (
            "Cost per provider per year (average)",
            _gbp(avg["cost_before_gbp"]),
            _gbp(avg["cost_after_gbp"]),
            _gbp(avg["cost_saved_gbp"]),
        ),
        (
            "Items to supply (register)",
            f"{d['items_requested']:,} requested",
            f"{d['unique_items']:,} unique",
            f"ratio {d['unique_items_ratio']:.3f} (−{_n(d['unique_items_reduction_pct'])}%)",
        ),
    ]


def _summary_sentence(d: dict[str, Any]) -> str:
    avg = d["per_provider_average"]
    return (
        f"Collecting each figure once removes {_n(d['hours_saved'])} of "
        f"{_n(d['hours_before'])} hours a year across {d['providers']} providers "
        f"({_n(d['reduction_pct'])}%, {_gbp(d['cost_saved_gbp'])} at "
        f"£{d['hourly_cost_gbp']:,.2f} an hour), or {_n(avg['hours_saved'])} hours per provider. "
        f"{d['items_requested']} requested items rest on {d['unique_metrics_collected']} collected "
        f"metrics and {d['items_unmapped']} unmapped item(s); "
        f"{_n(d['items_served_from_catalogue_pct'])}% of requested items are served from the "
        "catalogue."
    )


def _md_table(headers: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        cells = [str(c).replace("|", "\\|").replace("\n", " ") for c in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _target_rows(d: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            _MEASURE_LABELS.get(t["measure"], t["measure"]),
            t["description"],
            _n(t["target"]),
            _n(t["actual"]),
            "met" if t["met"] else f"not met (short by {_n(t['gap'])})",
            t["by"] or "",
        ]
        for t in d["targets"]
    ]


def savings_text(savings: dict[str, Any] | None) -> str:
    """One paragraph on what accepting the duplicate clusters would save (empty if unknown)."""
    if not savings:
        return ""
    if "hours_saved" not in savings:
        return f"Duplicate requests: {savings.get('reason', 'not analysed')}."
    dup, review = savings["duplicate_clusters"], savings["review_clusters"]
    first = (
        f"Accepting the {dup} duplicate cluster{'s' if dup != 1 else ''} found by "
        f"`collectonce requests dedupe` would save a further {_n(savings['hours_saved'])} hours "
        f"a year ({_gbp(savings['cost_saved_gbp'])})"
        if dup
        else "`collectonce requests dedupe` finds no undeclared duplicate that would save hours"
    )
    rest = (
        f"; {review} cluster{'s' if review != 1 else ''} to review could save "
        f"{_n(savings['review_hours'])} hours more."
        if review
        else "."
    )
    return first + rest


def render_burden_markdown(report: BurdenReport, savings: dict[str, Any] | None = None) -> str:
    """The burden report as Markdown (with the duplicate-request savings when given)."""
    d = report.to_dict()
    parts = [
        "# Reporting burden before and after collect-once",
        "",
        f"Catalogue version {d['catalog_version']}; hourly cost £{d['hourly_cost_gbp']:,.2f}; "
        f"{d['providers']} providers.",
        "",
        _summary_sentence(d),
        "",
        *([savings_text(savings), ""] if savings else []),
        "## Headline",
        "",
        _md_table(["", "before", "after", "saved"], [list(row) for row in _headline(d)]),
        "",
        "## Progress against targets",
        "",
    ]
    if d["targets"]:
        parts.append(
            _md_table(["measure", "target", "goal", "actual", "status", "by"], _target_rows(d))
        )
    else:
        parts.append("No targets are set in targets.yaml.")
    parts += [
        "",
        "## Per requester",
        "",
        "Hours after are attributed: each shared metric's burden is split across the requesters "
        "that need it, in proportion to their burden on it before.",
        "",
        _md_table(
            [
                "requester",
                "requests",
                "items",
                "hours before",
                "hours after",
                "saved",
                "cost saved",
            ],
            [
                [
                    r["name"],
                    ", ".join(r["requests"]),
                    r["items"],
                    _n(r["hours_before"]),
                    _n(r["hours_after"]),
                    f"{_n(r['hours_saved'])} ({_n(r['reduction_pct'])}%)",
                    _gbp(r["cost_saved_gbp"]),
                ]
                for r in d["per_requester"]
            ],
        ),
        "",
        "## Per peer group",
        "",
        "Every provider in a peer group answers the same requests, so carries the same burden.",
        "",
        _md_table(
            [
                "peer group",
                "providers",
                "items before",
                "metrics after",
                "hours before / provider",
                "hours after / provider",
                "saved / provider",
                "hours saved, group",
            ],
            [
                [
                    g["peer_group"],
                    g["providers"],
                    g["items_before_per_provider"],
                    g["metrics_after_per_provider"] + g["unmapped_items_per_provider"],
                    _n(g["per_provider"]["hours_before"]),
                    _n(g["per_provider"]["hours_after"]),
                    f"{_n(g['per_provider']['hours_saved'])} "
                    f"({_gbp(g['per_provider']['cost_saved_gbp'])})",
                    _n(g["hours_saved"]),
                ]
                for g in d["per_peer_group"]
            ],
        ),
        "",
        "## Providers",
        "",
    ]
    for group in d["per_peer_group"]:
        codes = [p["provider"] for p in d["per_provider"] if p["peer_group"] == group["peer_group"]]
        parts.append(f"- **{group['peer_group']}** ({len(codes)}): {', '.join(codes)}")
    parts += ["", "## Method", "", _method_text(), ""]
    parts += [f"- {a}" for a in d["assumptions"]]
    parts.append("")
    return "\n".join(parts)


def _method_text() -> str:
    return (
        "burden = Σ over requests r, items i: providers(r) × periods_per_year(r) × "
        "minutes(r, i) / 60 × hourly cost — the Paperwork Reduction Act burden-hours count priced "
        "with the Standard Cost Model."
    )


_CSS = """
main table{border-collapse:collapse;width:100%;margin:.6rem 0 1.5rem;background:#fff}
main th,main td{border:1px solid #d8dde0;padding:.5rem;text-align:left;vertical-align:top}
main th{background:#e8edee}td.num{text-align:right;font-variant-numeric:tabular-nums}
.lead{background:#fff;border-left:8px solid #005eb8;padding:1rem 1.5rem}
.met{color:#007f3b;font-weight:600}.unmet{color:#d5281b;font-weight:600}
.bar{height:.8rem;display:inline-block;vertical-align:middle}.before{background:#768692}
.after{background:#005eb8}.muted{color:#4c6272}
"""


def _html_table(headers: list[str], rows: list[list[Any]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = ' class="num"' if i in numeric else ""
            text = cell if isinstance(cell, _Raw) else escape(str(cell))
            cells.append(f"<td{cls}>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


class _Raw(str):
    """HTML that is already safe."""


def _bars(before: float, after: float, scale: float) -> _Raw:
    wb = 0 if scale <= 0 else 16 * before / scale
    wa = 0 if scale <= 0 else 16 * after / scale
    return _Raw(
        f'<span class="bar before" style="width:{wb:.2f}rem" title="before"></span><br>'
        f'<span class="bar after" style="width:{wa:.2f}rem" title="after"></span>'
    )


def render_burden_html(report: BurdenReport, savings: dict[str, Any] | None = None) -> str:
    """The burden report as one self-contained HTML page."""
    d = report.to_dict()
    target_rows = []
    for row, t in zip(_target_rows(d), d["targets"], strict=True):
        cls = "met" if t["met"] else "unmet"
        row[4] = _Raw(f'<span class="{cls}">{escape(row[4])}</span>')
        target_rows.append(row)
    top = max([r["hours_before"] for r in d["per_requester"]] or [0])
    requester_rows = [
        [
            r["name"],
            ", ".join(r["requests"]),
            r["items"],
            _n(r["hours_before"]),
            _n(r["hours_after"]),
            f"{_n(r['hours_saved'])} ({_n(r['reduction_pct'])}%)",
            _gbp(r["cost_saved_gbp"]),
            _bars(r["hours_before"], r["hours_after"], top),
        ]
        for r in d["per_requester"]
    ]
    group_rows = [
        [
            g["peer_group"],
            g["providers"],
            g["items_before_per_provider"],
            g["metrics_after_per_provider"] + g["unmapped_items_per_provider"],
            _n(g["per_provider"]["hours_before"]),
            _n(g["per_provider"]["hours_after"]),
            _n(g["per_provider"]["hours_saved"]),
            _n(g["hours_saved"]),
        ]
        for g in d["per_peer_group"]
    ]
    provider_rows = [
        [
            p["provider"],
            p["name"],
            p["peer_group"],
            p["items_before"],
            p["metrics_after"] + p["unmapped_items"],
            _n(p["hours_before"]),
            _n(p["hours_after"]),
            _n(p["hours_saved"]),
            _gbp(p["cost_saved_gbp"]),
        ]
        for p in d["per_provider"]
    ]
    targets_html = (
        _html_table(["measure", "target", "goal", "actual", "status", "by"], target_rows, {2, 3})
        if target_rows
        else "<p>No targets are set in targets.yaml.</p>"
    )
    assumptions = "".join(f"<li>{escape(a)}</li>" for a in d["assumptions"])
    body = f"""
<h1>Reporting burden before and after collect-once</h1>
<p class="muted">Catalogue version {escape(d["catalog_version"])} · hourly cost
£{d["hourly_cost_gbp"]:,.2f} · {d["providers"]} providers</p>
<p class="lead">{escape(_summary_sentence(d))}</p>
<h2>Headline</h2>
{_html_table(["", "before", "after", "saved"], [list(r) for r in _headline(d)], {1, 2, 3})}
<h2>Progress against targets</h2>
{targets_html}
<h2>Per requester</h2>
<p>Hours after are attributed: each shared metric's burden is split across the requesters that
need it, in proportion to their burden on it before. Grey bar: before; blue bar: after.</p>
{
        _html_table(
            [
                "requester",
                "requests",
                "items",
                "hours before",
                "hours after",
                "saved",
                "cost saved",
                "",
            ],
            requester_rows,
            {2, 3, 4, 5, 6},
        )
    }
<h2>Per peer group</h2>
<p>Every provider in a peer group answers the same requests, so carries the same burden.</p>
{
        _html_table(
            [
                "peer group",
                "providers",
                "items before",
                "items after",
                "hours before / provider",
                "hours after / provider",
                "saved / provider",
                "hours saved, group",
            ],
            group_rows,
            {1, 2, 3, 4, 5, 6, 7},
        )
    }
<details><summary>Every provider ({len(provider_rows)})</summary>
{
        _html_table(
            [
                "ODS",
                "name",
                "peer group",
                "items before",
                "items after",
                "hours before",
                "hours after",
                "hours saved",
                "cost saved",
            ],
            provider_rows,
            {3, 4, 5, 6, 7, 8},
        )
    }
</details>
{_savings_html(savings)}
<h2>Method</h2>
<p>{escape(_method_text())}</p>
<ul>{assumptions}</ul>
"""
    from collectonce.web import standalone_page

    return standalone_page(
        f"Reporting burden — catalogue {d['catalog_version']}",
        body,
        extra_css=_CSS,
        service="Reporting burden",
    )


def _savings_html(savings: dict[str, Any] | None) -> str:
    if not savings:
        return ""
    rows = [
        [c["cluster"], c["decision"], c["label"], _n(c["hours_saved"])]
        for c in savings.get("per_cluster", [])
    ]
    table = (
        _html_table(["cluster", "decision", "first item", "hours saved"], rows, {3}) if rows else ""
    )
    return (
        f"<h2>Duplicate requests not yet collected once</h2><p>{escape(savings_text(savings))}</p>"
        f"<p>{escape(savings.get('method', ''))}</p>{table}"
    )


def write_burden_report(
    report: BurdenReport, out_dir: Path | str, savings: dict[str, Any] | None = None
) -> dict[str, Path]:
    """Write burden.md, burden.html and burden.json into `out_dir`; return their paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "markdown": out / "burden.md",
        "html": out / "burden.html",
        "json": out / "burden.json",
    }
    paths["markdown"].write_text(render_burden_markdown(report, savings), encoding="utf-8")
    paths["html"].write_text(render_burden_html(report, savings), encoding="utf-8")
    data = report.to_dict()
    if savings is not None:
        data["dedupe_savings"] = savings
    paths["json"].write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    return paths
