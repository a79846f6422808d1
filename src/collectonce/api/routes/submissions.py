"""Uploads and their receipts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from collectonce.access.auth import Principal
from collectonce.access.uploads import UploadInvalid, UploadTooLarge, receive_upload
from collectonce.api.deps import Caller, invalid, note, problems
from collectonce.api.models import SERVER_ONLY_RECEIPT_FIELDS, Receipt, SubmissionList
from collectonce.api.state import State
from collectonce.api.upload_pool import UploadJob

router = APIRouter()

_SUBMIT_STATUS = {"duplicate": 200, "rejected": 422}
__all__ = ["SERVER_ONLY_RECEIPT_FIELDS", "router", "submitter"]

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "CSV, XLSX, Parquet or JSON, in the canonical "
                            "template or any registered request's own template.",
                        }
                    },
                }
            }
        },
    }
}


@router.post(
    "/v1/submissions",
    name="upload",
    tags=["submissions"],
    status_code=201,
    response_model=Receipt,
    openapi_extra=_UPLOAD_BODY,
    responses={
        200: {"model": Receipt, "description": "The same file was received before."},
        201: {"model": Receipt, "description": "Accepted, perhaps with warnings or in part."},
        422: {
            "description": "Rejected (the receipt says why), or no usable file in the body.",
            "content": {
                "application/json": {
                    "schema": {
                        "anyOf": [
                            {"$ref": "#/components/schemas/Receipt"},
                            {"$ref": "#/components/schemas/HTTPValidationError"},
                        ]
                    }
                }
            },
        },
        **problems(401, 403, 413),
    },
)
async def upload(request: Request, caller: Caller, st: State) -> JSONResponse:
    """Submit a file; the answer is the receipt `collectonce submit` prints, without the server's
    file locations. A provider's token may carry only that provider's rows; an admin's is a
    data-team bulk upload."""
    if caller.role == "requester":
        raise HTTPException(403, "requesters do not submit data")
    try:
        received = await receive_upload(
            request, st.settings.root / "uploads", st.settings.max_upload_bytes
        )
    except UploadTooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    except UploadInvalid as exc:
        raise invalid("body", "file", str(exc)) from None
    note(request, params={"file": received.original_name, "bytes": received.size})

    job = UploadJob(
        path=received.path,
        submitter=submitter(caller),
        as_provider=caller.subject if caller.role == "provider" else None,
        original_name=received.original_name,
    )
    try:
        async with st.upload_slots:
            receipt = await st.uploads.submit(job)
    finally:
        received.path.unlink(missing_ok=True)
    note(request, target=receipt.submission_id, rows=receipt.rows_accepted)
    outcome = receipt.status
    if outcome == "duplicate" and receipt.original_status == "rejected":
        outcome = "rejected"  # a rejected file sent again is still rejected
    status = _SUBMIT_STATUS.get(outcome, 201)
    return JSONResponse(Receipt.of(receipt).model_dump(mode="json"), status_code=status)


def submitter(caller: Principal) -> str:
    """Who the receipt says submitted: the provider or the data team, and through which token."""
    who = caller.subject if caller.role == "provider" else "data_team"
    return f"{who} (API token {caller.token_id})"


@router.get(
    "/v1/submissions",
    response_model=SubmissionList,
    name="list_submissions",
    tags=["submissions"],
    responses=problems(401, 403),
)
def list_submissions(
    request: Request,
    caller: Caller,
    st: State,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="Newest first, at most this many.")
    ] = 100,
) -> SubmissionList:
    """The caller's submissions, newest first: a provider's own; all for an admin."""
    if caller.role == "requester":
        raise HTTPException(403, "requesters do not submit data")
    from collectonce.ingest.service import list_receipts

    provider = caller.subject if caller.role == "provider" else None
    receipts = list_receipts(st.settings, provider=provider)
    if provider is not None:
        receipts = [r for r in receipts if r.belongs_to(provider)]
    # newest first, ordered by the receipt's time as written (as the listing always was)
    receipts.sort(key=lambda r: r.received_at.isoformat(), reverse=True)
    shown = [Receipt.of(r) for r in receipts[:limit]]
    note(request, rows=len(shown))
    return SubmissionList(submissions=shown)
