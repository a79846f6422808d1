"""The review queue for people: a terminal view and a self-contained HTML page for approvers."""

from __future__ import annotations

from importlib import resources
from typing import Any

from jinja2 import Environment, select_autoescape
from rich.console import Console
from rich.markup import escape

from collectonce.dedupe.engine import DedupeResult


def _target(c: dict[str, Any]) -> str:
    if c["metric"]:
        return f"catalogue metric {c['metric']} ({c['metric_match']})"
    p = c["proposed_metric"] or {}
    extra = f"; closest catalogue metric {c['metric_candidate']} (check it)" if c["metric_candidate"] else ""
    return f"new metric {p.get('code')} ({p.get('unit')}, {p.get('domain')}){extra}"


def print_queue(result: DedupeResult, console: Console, *, limit: int | None = None) -> None:
    """Clusters, most certain first, each with its members and the reason for every link."""
    data = result.to_dict()
    s = data["summary"]
    console.print(
        f"[bold]{s['items']} items[/] in {s['requests']} requests from {s['requesters']} "
        f"requesters ({s['register_items']} from the register): {s['duplicate_pairs']} duplicate "
        f"and {s['review_pairs']} review pairs, {s['vetoed_pairs']} candidate pairs vetoed by "
        f"a facet conflict, {s['refused_merges']} merges refused."
    )
    clusters = data["clusters"][:limit] if limit else data["clusters"]
    if not clusters:
        console.print("No duplicate requests found.")
    for c in clusters:
        colour = "green" if c["decision"] == "duplicate" else "yellow"
        console.print(
            f"\n[{colour}]■ {c['id']}[/] [bold]{c['decision']}[/] · {len(c['members'])} items from "
            f"{len(c['requesters'])} requester(s) → {escape(_target(c))}"
        )
        for m in c["members"]:
            mapped = f" [dim](mapped to {m['mapped_to']})[/]" if m["mapped_to"] else ""
            console.print(
                f"    {escape(m['request'])} · {escape(m['item_code'])} · "
                f"{escape(m['label'])} [dim]({escape(m['requester'])})[/]{mapped}",
                highlight=False,
            )
        for link in c["links"]:
            console.print(
                f"    [dim]{escape(link['a']['item_code'])} ↔ {escape(link['b']['item_code'])} "
                f"{link['score']:.2f} {link['decision']}: {escape(link['reason'])}[/]",
                highlight=False,
            )
        console.print(f"    accept: collectonce requests dedupe --accept {c['id']}", highlight=False)
    if limit and len(data["clusters"]) > limit:
        console.print(f"\n… and {len(data['clusters']) - limit} more clusters (--json or --html for all).")


_PAGE = """<!DOCTYPE html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Duplicate requests for review</title>
<style>
{{ css | safe }}
.co-mono { font-family: monospace; font-size: 1rem; }
.co-links { font-size: 1rem; }
.nhsuk-tag--white { color: #212b32; }
</style>
</head>
<body>
<a class="nhsuk-skip-link" href="#maincontent">Skip to main content</a>
<header class="nhsuk-header" role="banner">
  <div class="nhsuk-width-container nhsuk-header__container">
    <p class="nhsuk-header__service-name" style="color:#fff;margin:0;padding:16px 0;font-weight:600">collectonce · request register</p>
  </div>
</header>
<div class="nhsuk-width-container">
<main class="nhsuk-main-wrapper" id="maincontent" role="main">
<h1>Duplicate requests for review</h1>
<p class="nhsuk-body-l">{{ s.items }} requested items in {{ s.requests }} requests from {{ s.requesters }} requesters.
{{ s.clusters }} figures are asked for more than once ({{ s.duplicate_clusters }} certain, {{ s.clusters - s.duplicate_clusters }} to review).</p>
<div class="nhsuk-inset-text"><span class="nhsuk-u-visually-hidden">Information: </span>
<p>Each card is one figure asked for by several requests. Read the items and the reason for each link, then choose
<strong>Accept</strong> to collect it once (the items are mapped to the metric named) or <strong>Reject</strong>.
The commands to run are listed at the end of the page.</p></div>
<form id="decisions">
{% for c in clusters %}
<section class="nhsuk-card" aria-labelledby="h-{{ c.id }}">
<div class="nhsuk-card__content">
<h2 class="nhsuk-card__heading nhsuk-heading-m" id="h-{{ c.id }}">
<strong class="nhsuk-tag {{ 'nhsuk-tag--green' if c.decision == 'duplicate' else 'nhsuk-tag--yellow' }}">{{ 'Duplicate' if c.decision == 'duplicate' else 'Review' }}</strong>
{{ c.members[0].label }}</h2>
<p>Cluster <span class="co-mono">{{ c.id }}</span> · {{ c.members|length }} items from {{ c.requesters|join(', ') }} →
{% if c.metric %}catalogue metric <span class="co-mono">{{ c.metric }}</span> ({{ c.metric_match }}){% else %}new metric <span class="co-mono">{{ c.proposed_metric.code }}</span> ({{ c.proposed_metric.unit }}){% if c.metric_candidate %}; closest catalogue metric <span class="co-mono">{{ c.metric_candidate }}</span>, to check{% endif %}{% endif %}</p>
<table class="nhsuk-table">
<caption class="nhsuk-table__caption nhsuk-u-visually-hidden">Items in cluster {{ c.id }}</caption>
<thead class="nhsuk-table__head"><tr><th scope="col">Requester</th><th scope="col">Request</th><th scope="col">Code</th><th scope="col">Label</th><th scope="col">Mapped to</th></tr></thead>
<tbody class="nhsuk-table__body">
{% for m in c.members %}<tr class="nhsuk-table__row"><td class="nhsuk-table__cell">{{ names.get(m.requester, m.requester) }}</td><td class="nhsuk-table__cell">{{ m.request }}</td><td class="nhsuk-table__cell co-mono">{{ m.item_code }}</td><td class="nhsuk-table__cell">{{ m.label }}</td><td class="nhsuk-table__cell">{{ m.mapped_to or '—' }}</td></tr>
{% endfor %}</tbody></table>
<details class="nhsuk-details"><summary class="nhsuk-details__summary"><span class="nhsuk-details__summary-text">Why these items are linked</span></summary>
<div class="nhsuk-details__text"><ul class="co-links">
{% for l in c.links %}<li><span class="co-mono">{{ l.a.item_code }} ↔ {{ l.b.item_code }}</span>, score {{ '%.2f'|format(l.score) }}, {{ l.decision }}: {{ l.reason }}</li>
{% endfor %}</ul>
<p>Facets: {% for k, v in c.facets.items() %}{{ k }} = {{ v }}{% if not loop.last %}; {% endif %}{% endfor %}</p></div></details>
<fieldset class="nhsuk-fieldset" aria-describedby="h-{{ c.id }}">
<legend class="nhsuk-fieldset__legend nhsuk-fieldset__legend--s">Decision for {{ c.id }}</legend>
<div class="nhsuk-radios nhsuk-radios--inline">
<div class="nhsuk-radios__item"><input class="nhsuk-radios__input" id="a-{{ c.id }}" name="{{ c.id }}" type="radio" value="accept"><label class="nhsuk-label nhsuk-radios__label" for="a-{{ c.id }}">Accept</label></div>
<div class="nhsuk-radios__item"><input class="nhsuk-radios__input" id="r-{{ c.id }}" name="{{ c.id }}" type="radio" value="reject"><label class="nhsuk-label nhsuk-radios__label" for="r-{{ c.id }}">Reject</label></div>
</div></fieldset>
<p class="co-mono">collectonce requests dedupe{{ register_arg }} --accept {{ c.id }}</p>
</div></section>
{% endfor %}
</form>
<h2>Commands for the accepted clusters</h2>
<p>Choose Accept on a card and its command appears here.</p>
<pre class="co-mono" id="commands" aria-live="polite">(none chosen yet)</pre>
<h2>How items were compared</h2>
<p>Each label and definition is read into facets: topic, measure, threshold and direction, scope, clock start,
population and staff group. A facet that two items state differently vetoes the pair; a facet stated by one
item only makes the pair one to review. Text similarity ranks what is left. {{ s.vetoed_pairs }} candidate pairs were vetoed
and {{ s.refused_merges }} merges refused because they would have joined conflicting items.</p>
</main></div>
<script>
(function () {
  var form = document.getElementById('decisions');
  var out = document.getElementById('commands');
  form.addEventListener('change', function () {
    var lines = [];
    form.querySelectorAll('input[value=accept]:checked').forEach(function (i) {
      lines.push('collectonce requests dedupe{{ register_arg }} --accept ' + i.name);
    });
    out.textContent = lines.length ? lines.join('\\n') : '(none chosen yet)';
  });
})();
</script>
</body>
</html>
"""


def render_html(result: DedupeResult, *, register_arg: str = "") -> str:
    """One self-contained page (styles inline, no network) in the NHS.UK design."""
    css = (resources.files("collectonce.feedback") / "templates" / "nhsuk-frontend.min.css").read_text(
        encoding="utf-8"
    )
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    data = result.to_dict()
    return env.from_string(_PAGE).render(
        css=css,
        s=data["summary"],
        clusters=data["clusters"],
        names=result.requester_names,
        register_arg=register_arg,
    )
