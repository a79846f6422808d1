"""The API's dependencies: who is calling (``Caller``), what each route may be asked
(path and query parameters), and the refusals and audit notes every route shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from collectonce.access.auth import Principal, token_id_of, verify
from collectonce.api.cache import Rendered
from collectonce.api.state import ApiState, State
from collectonce.catalog.models import ODS_PATTERN
from collectonce.publish import errors
from collectonce.publish.exports import MEDIA_TYPES

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
REQUEST_CODE_PATTERN = r"^[a-z0-9_]{1,64}$"
Format = Literal["json", "csv", "parquet", "xlsx"]

#: The routes a regional team's token may call; any other answers 403.
REGION_ROUTES = frozenset(
    {
        "rollups",
        "region_pack",
        "england_pack",
        "pull_provider_data",
        "pull_pack",
        "list_metrics",
        "publications",
    }
)


# --------------------------------------------------------------------------- who is calling

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="A token from `collectonce token create`, sent as `Authorization: Bearer <token>`.",
)


def region_may_call(request: Request) -> None:
    """Refuse a regional team's token on any route not made for it."""
    route = request.scope.get("route")
    if getattr(route, "name", None) not in REGION_ROUTES:
        raise HTTPException(
            403,
            "a regional team's token reads its region's roll-ups and pack and its providers' "
            "data: GET /v1/rollups/region?metric=CODE",
        )


async def authenticated(
    request: Request,
    st: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller's principal; 401 without a valid, unexpired, unrevoked token."""
    if credentials is None:
        raise HTTPException(
            401,
            "a token is required: send `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = verify(st.settings, credentials.credentials)
    if principal is None:
        request.state.claimed_token_id = token_id_of(credentials.credentials)
        raise HTTPException(
            401,
            "the token is invalid, expired or revoked",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    request.state.principal = principal
    known = {
        "provider": st.catalog.providers,
        "requester": st.catalog.requesters,
        "region": st.catalog.regions,
    }
    if principal.role in known and principal.subject not in known[principal.role]:
        raise HTTPException(403, f"the token's {principal.role} is no longer in the catalogue")
    if principal.role == "region":
        region_may_call(request)
    return principal


Caller = Annotated[Principal, Depends(authenticated)]


def may_see_provider(st: ApiState, caller: Principal, ods: str) -> None:
    """403 unless the caller may see provider `ods`'s own data; 404 for an unknown provider."""
    if caller.role == "requester":
        raise HTTPException(
            403, "requesters pull their own requests' views; a provider's data is its own"
        )
    if caller.role == "provider" and ods != caller.subject:
        raise HTTPException(403, "a provider may see only its own data")
    if caller.role == "region" and (
        ods not in st.catalog.providers or st.catalog.region_of(ods) != caller.subject
    ):
        raise HTTPException(403, f"a regional team sees only {caller.subject}'s providers")
    if ods not in st.catalog.providers:
        raise HTTPException(404, f"there is no provider {ods!r} in the catalogue")


def note(request: Request, **values: Any) -> None:
    """Details for this call's audit line (target, parameters, version served, rows)."""
    for key, value in values.items():
        setattr(request.state, f"audit_{key}", value)


# --------------------------------------------------------------------------- parameters

RequestCode = Annotated[
    str,
    PathParam(
        pattern=REQUEST_CODE_PATTERN,
        description="A request code from the catalogue (GET /v1/requests lists yours).",
    ),
]
OdsCode = Annotated[
    str, PathParam(pattern=ODS_PATTERN, description="The provider's ODS code, e.g. RF4.")
]
PeriodFrom = Annotated[
    str | None,
    Query(alias="from", pattern=PERIOD_PATTERN, description="First month, YYYY-MM (inclusive)."),
]
PeriodTo = Annotated[
    str | None,
    Query(alias="to", pattern=PERIOD_PATTERN, description="Last month, YYYY-MM (inclusive)."),
]
FormatQuery = Annotated[Format, Query(alias="format", description="The answer's format.")]
AsOf = Annotated[
    int | None,
    Query(
        ge=0,
        le=2_147_483_647,
        description="Serve a past publication (GET /v1/publications); the latest when omitted.",
    ),
]


def invalid(where: str, name: str, message: str, value: object = None) -> RequestValidationError:
    """A 422 shaped like FastAPI's own parameter errors."""
    return RequestValidationError(
        [{"type": "value_error", "loc": (where, name), "msg": message, "input": value}]
    )


def check_range(period_from: str | None, period_to: str | None) -> None:
    if period_from and period_to and period_from > period_to:
        raise invalid("query", "from", f"from {period_from} is after to {period_to}", period_from)


def publish_errors(exc: Exception) -> HTTPException | RequestValidationError | None:
    """Map the publish stage's typed errors to answers."""
    if isinstance(exc, errors.UnknownRequest | errors.UnknownProvider | errors.UnknownPublication):
        return HTTPException(404, str(exc))
    if isinstance(exc, errors.ExportTooLarge):
        return invalid("query", "format", str(exc))
    if isinstance(exc, errors.BadParameter):
        return invalid("query", "parameters", str(exc))
    return None


def answering(make: Callable[[], Rendered]) -> Callable[[], Rendered]:
    """`make`, with the publish stage's typed errors turned into 404 and 422 answers."""

    def wrapped() -> Rendered:
        try:
            return make()
        except Exception as exc:
            mapped = publish_errors(exc)
            if mapped is None:
                raise
            raise mapped from exc

    return wrapped


# --------------------------------------------------------------------------- documented answers


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The documented refusals of a route, each a Problem."""
    text = {
        401: "No token, or an invalid, expired or revoked one.",
        403: "The caller may not see this.",
        404: "Unknown request, provider or publication.",
        413: "The upload is larger than the limit.",
    }
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {code: {"description": text[code], "content": problem} for code in codes}


def data_content(model: type[Any]) -> dict[int | str, dict[str, Any]]:
    """The documented 200 of a data route: JSON as `model`, or CSV, Parquet or XLSX."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {
        200: {
            "model": model,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                MEDIA_TYPES["parquet"]: binary,
                MEDIA_TYPES["xlsx"]: binary,
            },
            "description": "The rows, in the chosen format (CSV, Parquet and XLSX as attachments).",
        }
    }
