"""What one publication changed against the one before it: values added, revised and withdrawn,
the providers and periods they belong to, and some examples."""

from __future__ import annotations

from typing import Any

from collectonce import duck
from collectonce.settings import Settings

#: Changed values listed as examples.
CHANGES_SHOWN = 25

_CHANGES_SQL = """
WITH joined AS (
    SELECT
        coalesce(n.provider_code, o.provider_code) AS provider,
        coalesce(n.period, o.period) AS period,
        coalesce(n.metric_id, o.metric_id) AS metric,
        o.value AS before,
        n.value AS after,
        coalesce(n.value_status, o.value_status) AS status,
        CASE
            WHEN o.metric_id IS NULL THEN 'added'  -- a suppressed or missing value counts too
            WHEN n.metric_id IS NULL THEN 'withdrawn'
            WHEN o.value IS DISTINCT FROM n.value
                OR o.value_status IS DISTINCT FROM n.value_status THEN 'revised'
        END AS change
    FROM old_rows o
    FULL OUTER JOIN new_rows n
        ON o.provider_code = n.provider_code
        AND o.period = n.period
        AND o.metric_id = n.metric_id
)
SELECT * FROM joined WHERE change IS NOT NULL
"""


def publication_changes(
    settings: Settings, version: int, shown: int = CHANGES_SHOWN
) -> dict[str, Any]:
    """What publication `version` changed against `version - 1` (everything is added for the
    first one, or when the one before was vacuumed)."""
    from collectonce.publish.errors import UnknownPublication
    from collectonce.publish.unified import read_unified_table

    columns = ["provider_code", "period", "metric_id", "value", "value_status"]
    new_rows = read_unified_table(settings, version, columns=columns)
    against: int | None = version - 1 if version > 0 else None
    try:
        old_rows = (
            read_unified_table(settings, against, columns=columns) if against is not None else None
        )
    except UnknownPublication:
        against, old_rows = None, None
    if old_rows is None:
        old_rows = new_rows.schema.empty_table()
    with duck.connect() as con:
        con.register("new_rows", new_rows)
        con.register("old_rows", old_rows)
        con.execute(f"CREATE TEMP TABLE changed AS {_CHANGES_SQL}")
        counts = dict(con.execute("SELECT change, count(*) FROM changed GROUP BY 1").fetchall())
        providers = [
            r[0] for r in con.execute("SELECT DISTINCT provider FROM changed ORDER BY 1").fetchall()
        ]
        periods = [
            f"{r[0]:%Y-%m}"
            for r in con.execute("SELECT DISTINCT period FROM changed ORDER BY 1").fetchall()
        ]
        kind = "revised" if counts.get("revised") else "added"
        examples = con.execute(
            "SELECT provider, period, metric, before, after, status FROM changed "
            f"WHERE change = ? ORDER BY provider, period, metric LIMIT {int(shown)}",
            [kind],
        ).fetchall()
    return {
        "against": against,
        "added": int(counts.get("added", 0)),
        "revised": int(counts.get("revised", 0)),
        "withdrawn": int(counts.get("withdrawn", 0)),
        "providers": providers,
        "periods": periods,
        "examples_kind": kind,
        "examples": [
            {
                "provider": provider,
                "period": f"{period:%Y-%m}",
                "metric": metric,
                "before": before,
                "after": after,
                "status": status,
            }
            for provider, period, metric, before, after, status in examples
        ],
    }
