"""The API's routes, one module per resource. ``ROUTERS`` is their order in the app (and in
the OpenAPI document)."""

from fastapi import APIRouter

from collectonce.api.routes import catalogue, providers, requests, service, submissions

ROUTERS: tuple[APIRouter, ...] = (
    service.router,
    requests.router,
    providers.router,
    submissions.router,
    catalogue.router,
)
