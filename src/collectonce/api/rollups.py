"""Roll-up routes: a metric at a region or England, and the regional and England packs.

Who sees what:
- admin: everything;
- a regional team (``token create --region NAME``): its own region's roll-ups and pack, and
  the data and packs of its region's providers; nothing else;
- a provider: its own region's and England's roll-ups and packs, without any other provider's
  figures (no league);
- a requester: roll-ups of the metrics its own requests' items map to (and of ratios derived
  only from them); no packs.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from collectonce.access.auth import Principal
from collectonce.api.deps import PERIOD_PATTERN, REGION_ROUTES, invalid, region_may_call
from collectonce.api.models import Rollups
from collectonce.api.state import ApiState, State

LEVEL_PATTERN = "^(icb|region|england)$"
METRIC_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"

__all__ = ["REGION_ROUTES", "allowed_codes", "build_router", "region_may_call"]


def _problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        401: "No token, or an invalid, expired or revoked one.",
        403: "The caller may not see this.",
        404: "Unknown metric, region or publication.",
    }
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {code: {"description": text[code], "content": problem} for code in codes}


def _requester_metrics(catalog: Any, requester: str) -> set[str]:
    """The metrics of the requester's items, and the derived metrics built only from them
    (figures it can already compute from what it receives)."""
    items = {
        code
        for request in catalog.requests.values()
        if request.requester == requester
        for item in request.items
        for code in item.metric_codes
    }
    derived = {
        code
        for code, metric in catalog.metrics.items()
        if metric.is_derived and set(catalog.collected_inputs(code)) <= items
    }
    return items | derived


def allowed_codes(catalog: Any, caller: Principal, level: str, metric: str) -> set[str] | None:
    """The level codes the caller may see for `metric` (None: all); 403 when none."""
    from collectonce.rollup.levels import ENGLAND

    if caller.role == "admin":
        return None
    if caller.role == "requester":
        if metric not in _requester_metrics(catalog, str(caller.subject)):
            raise HTTPException(403, f"{metric} is not an item of {caller.subject}'s requests")
        return None
    if caller.role == "region":
        if level == "region":
            return {str(caller.subject)}
        if level == "icb":  # the boards whose every provider is in the region
            return {
                icb
                for icb, members in catalog.icbs.items()
                if icb != catalog.levels.unassigned_label
                and all(catalog.region_of(ods) == caller.subject for ods in members)
            }
        raise HTTPException(403, "a regional team sees its own region's roll-ups only")
    # a provider: its own board, its own region and England
    if level == "england":
        return {ENGLAND}
    if level == "icb":
        return {catalog.icb_of(str(caller.subject))}
    return {catalog.region_of(str(caller.subject))}


def build_router(authenticated: Any) -> APIRouter:
    """The roll-up routes, checking callers with the app's `authenticated` dependency."""
    router = APIRouter()

    @router.get(
        "/v1/rollups/{level}",
        name="rollups",
        tags=["rollups"],
        response_model=Rollups,
        responses=_problems(401, 403, 404),
    )
    async def rollups(
        request: Request,
        caller: Annotated[Principal, Depends(authenticated)],
        st: State,
        level: Annotated[
            str, PathParam(pattern=LEVEL_PATTERN, description="icb, region or england")
        ],
        metric: Annotated[
            str, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="Metric code.")
        ],
        region: Annotated[
            str | None, Query(max_length=80, description="Only this region (level region).")
        ] = None,
        icb: Annotated[
            str | None,
            Query(max_length=120, description="Only this integrated care board (level icb)."),
        ] = None,
        period_from: Annotated[
            str | None, Query(alias="from", pattern=PERIOD_PATTERN, description="First month.")
        ] = None,
        period_to: Annotated[
            str | None, Query(alias="to", pattern=PERIOD_PATTERN, description="Last month.")
        ] = None,
        as_of: Annotated[int | None, Query(ge=0, le=2_147_483_647)] = None,
    ) -> JSONResponse:
        """A metric rolled up to each region or to England: value, providers contributing and
        expected, and whether the value is partial. Counts are summed and ratios recomputed
        from the summed numerator and denominator; a metric that cannot be rolled up is
        refused (422, as a parameter error naming `metric`)."""
        from collectonce.publish.errors import BadParameter, UnknownPublication
        from collectonce.rollup.errors import NotAggregable, UnknownLevel
        from collectonce.rollup.levels import resolve_code
        from collectonce.rollup.query import rows_to_dicts, select_rollups

        catalog = st.catalog
        request.state.audit_target = f"{level}:{metric}"
        if metric not in catalog.metrics:
            raise HTTPException(404, f"there is no metric {metric!r} in the catalogue")
        allowed = allowed_codes(catalog, caller, level, metric)
        codes = allowed
        named = {"region": region, "icb": icb}
        for name, given in named.items():
            if given is None:
                continue
            if level != name:
                raise invalid("query", name, f"{name} goes with level {name}", given)
            try:
                wanted = resolve_code(catalog, level, given)
            except UnknownLevel as exc:
                raise HTTPException(404, str(exc)) from None
            if allowed is not None and wanted not in allowed:
                raise HTTPException(403, f"this token may not see the roll-ups of {wanted}")
            codes = {wanted}
        try:
            rows, version = await run_in_threadpool(
                select_rollups,
                catalog,
                st.settings,
                metric=metric,
                level=level,
                period_from=period_from,
                period_to=period_to,
                as_of=as_of,
                codes=codes,
            )
        except NotAggregable as exc:
            raise invalid("query", "metric", str(exc), metric) from None
        except UnknownLevel as exc:
            raise HTTPException(404, str(exc)) from None
        except BadParameter as exc:
            raise invalid("query", "from", str(exc), period_from) from None
        except UnknownPublication as exc:
            raise HTTPException(404, str(exc)) from None
        request.state.audit_publication_version = version
        request.state.audit_rows = len(rows)
        body = Rollups.model_validate(
            {
                "metric": metric,
                "level": level,
                "publication_version": version,
                "rows": rows_to_dicts(catalog, rows),
            }
        )
        return JSONResponse(
            body.model_dump(mode="json"), headers={"X-Publication-Version": str(version)}
        )

    async def _pack(
        request: Request, caller: Principal, st: ApiState, level: str, name: str | None
    ) -> HTMLResponse:
        from collectonce.feedback.level_pack import build_level_pack, render_level_pack_html
        from collectonce.feedback.pack import NoPublication, PackError
        from collectonce.rollup.errors import UnknownLevel
        from collectonce.rollup.levels import ENGLAND, resolve_region

        catalog = st.catalog
        request.state.audit_target = f"{level}:{name or ENGLAND}"
        if caller.role == "requester":
            raise HTTPException(403, "requesters pull roll-ups of their items from /v1/rollups")
        code = ENGLAND
        if level == "region":
            try:
                code = resolve_region(catalog, name or "")
            except UnknownLevel as exc:
                raise HTTPException(404, str(exc)) from None
        if caller.role == "region" and (level != "region" or code != caller.subject):
            raise HTTPException(403, f"a regional team sees only the pack of {caller.subject}")
        if (
            caller.role == "provider"
            and level == "region"
            and code != catalog.region_of(str(caller.subject))
        ):
            raise HTTPException(403, "a provider sees only its own region's pack")
        league = caller.role in ("admin", "region")

        def make() -> tuple[str, int | None]:
            pack = build_level_pack(catalog, st.settings, level, code, league=league)
            return render_level_pack_html(pack), pack.publication_version

        try:
            html, version = await run_in_threadpool(make)
        except NoPublication as exc:
            raise HTTPException(404, str(exc)) from None
        except PackError as exc:
            raise HTTPException(404, str(exc)) from None
        request.state.audit_publication_version = version
        return HTMLResponse(html, headers={"X-Publication-Version": str(version)})

    html_200 = {200: {"content": {"text/html": {"schema": {"type": "string"}}}}}

    @router.get(
        "/v1/packs/region/{name}",
        name="region_pack",
        tags=["rollups"],
        response_class=HTMLResponse,
        responses={**html_200, **_problems(401, 403, 404)},
    )
    async def region_pack(
        request: Request,
        caller: Annotated[Principal, Depends(authenticated)],
        st: State,
        name: Annotated[str, PathParam(max_length=80, description="The region, e.g. London.")],
    ) -> HTMLResponse:
        """A region's pack: each metric's XmR chart and assurance for the region, the providers
        behind each value and, for the data team and the regional team, the league of its
        providers."""
        return await _pack(request, caller, st, "region", name)

    @router.get(
        "/v1/packs/england",
        name="england_pack",
        tags=["rollups"],
        response_class=HTMLResponse,
        responses={**html_200, **_problems(401, 403, 404)},
    )
    async def england_pack(
        request: Request, caller: Annotated[Principal, Depends(authenticated)], st: State
    ) -> HTMLResponse:
        """England's pack: each metric rolled up from every provider, with SPC and coverage."""
        return await _pack(request, caller, st, "england", None)

    return router
