"""The one look of every HTML output: the shared NHS.UK base template and stylesheet.

Portal pages, provider packs, the overview, the validation report and the burden report all
extend ``templates/base.html.j2``. Served pages link the stylesheet; files written to disk
inline it (pass ``css``), so they open offline and can be attached to an email.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

TEMPLATES = Path(__file__).resolve().parent / "templates"
#: The vendored NHS.UK frontend stylesheet (MIT licence), kept beside the pack templates.
NHSUK_CSS = (
    Path(__file__).resolve().parent.parent / "feedback" / "templates" / "nhsuk-frontend.min.css"
)


@lru_cache(maxsize=1)
def nhsuk_css() -> str:
    """The NHS.UK frontend stylesheet, for inlining into a standalone page."""
    return NHSUK_CSS.read_text(encoding="utf-8")


@lru_cache(maxsize=4)
def environment() -> object:
    """A Jinja environment that knows only the base template (for pages built outside the
    portal and the packs, such as the validation and burden reports)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def strict_environment(folder: Path) -> Any:
    """A Jinja environment over `folder`, then the shared base template, escaping HTML and
    refusing undefined names (the portal's and the packs' own templates)."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(folder), str(TEMPLATES)]),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def standalone_page(title: str, body: str, *, extra_css: str = "", service: str = "") -> str:
    """A self-contained page in the one look: `body` (already escaped HTML) inside the base
    template, with the NHS.UK styles and `extra_css` inlined."""
    from markupsafe import Markup

    template = environment().get_template("standalone.html.j2")  # type: ignore[attr-defined]
    return str(
        template.render(
            title=title,
            body=Markup(body),
            css=nhsuk_css() + "\n" + extra_css,
            service=service,
        )
    )
