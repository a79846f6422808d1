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
    extra = (
        f"; closest catalogue metric {c['metric_candidate']} (check it)"
        if c["metric_candidate"]
        else ""
    )
    return f"new metric {p.get('code')} ({p.get('unit')}, {p.get('domain')}){extra}"


def print_queue(
    result: DedupeResult, console: Console, *, limit: int | None = None, register_arg: str = ""
) -> None:
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
        for m in c["items"]:
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
        command = f"collectonce requests dedupe{register_arg} --accept {c['id']}"
        console.print(f"    accept: {escape(command)}", highlight=False, soft_wrap=True)
    misses = s.get("near_misses", [])[:8]
    if misses:
        console.print("\n[bold]Alike but not the same figure[/] (vetoed by a facet conflict):")
        labels = {(i.request, i.item_code): i.label for i in result.items}
        for m in misses:
            a, b = m["a"], m["b"]
            why = "; ".join(f"{c['facet']} {c['a']} vs {c['b']}" for c in m["conflicts"])
            console.print(
                f"    {escape(labels[(a['request'], a['item_code'])])} [dim]≠[/] "
                f"{escape(labels[(b['request'], b['item_code'])])} [dim]({escape(why)})[/]",
                highlight=False,
            )
    if limit and len(data["clusters"]) > limit:
        console.print(
            f"\n… and {len(data['clusters']) - limit} more clusters (--json or --html for all)."
        )


def render_html(result: DedupeResult, *, register_arg: str = "") -> str:
    """One self-contained page (styles inline, no network) in the NHS.UK design."""
    styles = resources.files("collectonce.feedback") / "templates" / "nhsuk-frontend.min.css"
    page = resources.files("collectonce.dedupe") / "templates" / "review.html.j2"
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    data = result.to_dict()
    return env.from_string(page.read_text(encoding="utf-8")).render(
        css=styles.read_text(encoding="utf-8"),
        s=data["summary"],
        clusters=data["clusters"],
        names=result.requester_names,
        labels={(i.request, i.item_code): i.label for i in result.items},
        register_arg=register_arg,
    )
