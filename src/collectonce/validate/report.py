"""The validation report: one self-contained HTML page per submission, built from its findings.

It has the one look of every collectonce page (`collectonce.web`: the NHS.UK base template, its
stylesheet inlined). No scripts, no fonts and no stylesheets from elsewhere: the page opens
offline and can be attached to an email. Everything shown is escaped.
"""

from __future__ import annotations

import html
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from collectonce.atomic import write_text_atomic
from collectonce.catalog import Catalog
from collectonce.catalog.layouts import LAYOUT_TITLES
from collectonce.findings import READ_RULES, RULES, Finding
from collectonce.settings import Settings
from collectonce.web import standalone_page

if TYPE_CHECKING:
    from collectonce.store.receipts import Receipt

_STATUS_TEXT = {
    "accepted": ("Accepted", "ok"),
    "accepted_with_warnings": ("Accepted with warnings", "warn"),
    "partially_accepted": ("Partly accepted: some rows rejected", "warn"),
    "rejected": ("Rejected", "bad"),
    "duplicate": ("Already received (duplicate)", "ok"),
}

_CSS = """
.badge{display:inline-block;padding:.2rem .6rem;border-radius:.3rem;font-weight:600}
.ok{background:#e3f5e9;color:#00703c}.warn{background:#fff4d6;color:#6b4e00}
.bad{background:#fbe4e2;color:#a5120b}
main table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem;background:#fff}
main th,main td{border-bottom:1px solid #d8dde0;padding:.5rem;text-align:left;vertical-align:top}
main th{background:#f0f4f5}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.error td:first-child{border-left:4px solid #d5281b}
tr.warning td:first-child{border-left:4px solid #ffb81c}
.muted{color:#4c6272}code{background:#f0f4f5;padding:0 .2rem}
main dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}main dt{font-weight:600}
"""


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def render_report(receipt: Receipt, catalog: Catalog | None = None) -> str:
    """The page as text."""
    label, tone = _STATUS_TEXT.get(receipt.status, (receipt.status, "warn"))
    findings: list[Finding] = receipt.findings
    errors = [f for f in findings if f.severity == "error"]
    warnings = [f for f in findings if f.severity == "warning"]
    by_rule = Counter((f.severity, f.rule) for f in findings)
    parts = [
        f"<h1>{_e(receipt.original_name)}</h1>",
        f"<p><span class='badge {tone}'>{_e(label)}</span></p>",
        "<dl>",
        f"<dt>Submission</dt><dd><code>{_e(receipt.submission_id)}</code></dd>",
        f"<dt>Received</dt><dd>{_e(receipt.received_at.strftime('%Y-%m-%d %H:%M:%S UTC'))}</dd>",
        f"<dt>Sent by</dt><dd>{_e(receipt.submitted_by)}"
        + (f" (as {_e(receipt.as_provider)})" if receipt.as_provider else "")
        + "</dd>",
        f"<dt>Template</dt><dd>{_e(_template_name(receipt.template, catalog))}</dd>",
        f"<dt>Providers</dt><dd>{_e(', '.join(receipt.providers) or '-')}</dd>",
        f"<dt>Periods</dt><dd>{_e(_span(receipt.periods))}</dd>",
        f"<dt>File sha256</dt><dd><code>{_e(receipt.file_sha256)}</code></dd>",
        (
            f"<dt>Catalogue</dt><dd>version {_e(receipt.catalog_version)}</dd>"
            if receipt.catalog_version
            else ""
        ),
        "</dl>",
        "<h2>Every row accounted for</h2><table>",
        "<tr><th>Rows read</th><th>Accepted</th><th>Rejected</th><th>Skipped</th>"
        "<th>Values stored</th>"
        "<th>Already held (same value)</th><th>Revisions</th></tr>",
        f"<tr><td class='n'>{receipt.rows_read:,}</td><td class='n'>{receipt.rows_accepted:,}</td>"
        f"<td class='n'>{receipt.rows_rejected:,}</td><td class='n'>{receipt.rows_skipped:,}</td>"
        f"<td class='n'>{receipt.values_stored:,}</td>"
        f"<td class='n'>{receipt.values_unchanged:,}</td>"
        f"<td class='n'>{receipt.values_revised:,}</td></tr></table>",
        "<p class='muted'>Errors reject the whole row; warnings accept it, flagged. "
        "Fix the rejected rows and send them again (only those rows are needed).</p>",
    ]
    if by_rule:
        parts.append("<h2>Summary by check</h2><table><tr><th>Check</th><th>Severity</th>")
        parts.append("<th>What it means</th><th>Findings</th></tr>")
        for (severity, rule), count in sorted(by_rule.items()):
            parts.append(
                f"<tr class='{_e(severity)}'><td><code>{_e(rule)}</code></td><td>{_e(severity)}"
                f"</td><td>{_e(_meaning(rule))}</td><td class='n'>{count:,}</td></tr>"
            )
        parts.append("</table>")
    for title, items in (("Errors", errors), ("Warnings", warnings)):
        if not items:
            continue
        parts.append(f"<h2>{title} ({len(items):,})</h2><table>")
        parts.append(
            "<tr><th>Row</th><th>Column</th><th>Metric</th><th>Value</th><th>Check</th>"
            "<th>What to do</th></tr>"
        )
        for f in items:
            parts.append(
                f"<tr class='{_e(f.severity)}'><td class='n'>{_e(f.row if f.row else 'file')}"
                f"</td><td>{_e(f.column)}</td><td>{_e(f.metric)}</td><td>{_e(f.value)}</td>"
                f"<td><code>{_e(f.rule)}</code></td><td>{_e(f.message)}</td></tr>"
            )
        parts.append("</table>")
    if not findings:
        parts.append("<h2>No problems found</h2><p>Every row passed every check.</p>")
    if catalog is not None:
        parts.append(_why_section(receipt, catalog))
    return standalone_page(
        f"Validation report: {receipt.original_name}",
        "".join(parts),
        extra_css=_CSS,
        service="Validation report",
    )


def _meaning(rule: str) -> str:
    if rule in RULES:
        return RULES[rule]
    return READ_RULES.get(rule, "")


def _template_name(template: str, catalog: Catalog | None) -> str:
    if catalog is not None and template in catalog.requests:
        request = catalog.requests[template]
        return f"{request.title} ({template}), mapped through the catalogue"
    names = {
        "canonical_long": "canonical long",
        "canonical_wide": "canonical wide",
        **{name: f"{title}, mapped through the catalogue" for name, title in LAYOUT_TITLES.items()},
    }
    return names.get(template, template or "-")


def _span(periods: list[str]) -> str:
    if not periods:
        return "-"
    if len(periods) <= 3:
        return ", ".join(periods)
    return f"{periods[0]} to {periods[-1]} ({len(periods)} periods)"


def _why_section(receipt: Receipt, catalog: Catalog) -> str:
    metrics = sorted({f.metric for f in receipt.findings if f.metric in catalog.metrics})
    if not metrics:
        return ""
    rows = []
    for code in metrics[:50]:
        metric = catalog.metrics[str(code)]
        users = ", ".join(catalog.requesters_of(metric.code)) or "-"
        rows.append(
            f"<tr><td><code>{_e(metric.code)}</code></td><td>{_e(metric.label)}</td>"
            f"<td>{_e(metric.why_collected)}</td><td>{_e(users)}</td></tr>"
        )
    return (
        "<h2>Why these figures are collected</h2><table><tr><th>Metric</th><th>Label</th>"
        "<th>Why</th><th>Used by</th></tr>" + "".join(rows) + "</table>"
    )


def report_path(settings: Settings, submission_id: str) -> Path:
    return settings.reports_dir / "validation" / f"{submission_id}.html"


def write_report(settings: Settings, receipt: Receipt, catalog: Catalog | None = None) -> Path:
    """Write the page atomically; its path."""
    return write_text_atomic(
        report_path(settings, receipt.submission_id), render_report(receipt, catalog)
    )
