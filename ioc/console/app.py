"""The console's web application, built by a factory from a `Console`: the HTTP API under
`/api/` (OpenAPI 3.1 at `/api/openapi.json`, its docs page at `/api/docs`), the live events,
and the web page at `/` (built from `web/` by `make web` into `ioc/console/static/`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from starlette.staticfiles import StaticFiles

from ioc import __version__
from ioc.console import problems
from ioc.console.database import StoreUnavailable
from ioc.console.problems import Problem
from ioc.console.routes import events, feeds, geo, incidents, meta
from ioc.console.security_headers import SecurityHeaders
from ioc.console.service import Console

DESCRIPTION = """The Lâm Đồng IOC console's API: incidents and operators' actions, zones and
sensors as GeoJSON, counts, live events (SSE) and CAP 1.2 feeds.

Every endpoint but `/healthz` needs `Authorization: Bearer <token>`: a token from
`ioc tokens create --role ROLE --name NAME`, or a JWT from the province's identity provider.
Roles: `operator` (the province, may act), `district:<slug>` (one district, may act on its
incidents), `viewer` (the province, read only). Errors are RFC 9457 problem details."""


def static_dir() -> Path:
    return Path(str(resources.files("ioc.console").joinpath("static")))


def create_app(console: Console, *, manage_console: bool = True) -> FastAPI:
    """The app for `console`; with `manage_console` the app opens and closes it."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_console:
            await console.open()
        try:
            yield
        finally:
            if manage_console:
                await console.close()

    app = FastAPI(
        title="ioc console",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.console = console
    problems.install(app)

    async def store_unavailable(_: Request, exc: Exception) -> JSONResponse:
        # Any route, any read: a store that cannot be reached is a 503 problem, never a 500.
        return Problem(503, "store-unavailable", str(exc)).response()

    app.add_exception_handler(StoreUnavailable, store_unavailable)
    for module in (incidents, geo, events, feeds, meta):
        app.include_router(module.router)
    _add_page(app)
    app.add_middleware(SecurityHeaders, basemap_style=console.settings.console_basemap_style)
    return app


def _add_page(app: FastAPI) -> None:
    root = static_dir()

    @app.get("/api/docs", include_in_schema=False)
    async def docs() -> FileResponse:
        page = root / "docs.html"
        if not page.exists():
            raise Problem(503, "page-not-built", "the docs page is not built: run `make web`")
        return FileResponse(page)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        page = root / "index.html"
        if not page.exists():
            raise Problem(503, "page-not-built", "the web page is not built: run `make web`")
        return FileResponse(page, headers={"Cache-Control": "no-cache"})

    if (root / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=root / "assets"), name="assets")
