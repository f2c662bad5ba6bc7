"""The playground's web server: a FastAPI app serving the page and a small JSON + SSE API.

Endpoints:

- ``GET /`` — the page; ``GET /static/...`` — its script and style (shipped in the package).
- ``GET /api/options`` — data sets, optimizers with their hyperparameters and defaults,
  schedules, activations, ranges, limits and the page's starting settings.
- ``POST /api/runs`` — a JSON :class:`~descentlab.playground.models.RunRequest`; check it,
  build its population and start training; ``201 {"id": ..., "events": ...}``.
- ``GET /api/runs/{id}/events`` — the run's Server-Sent Events (``start``, ``progress``,
  ``done`` per optimizer, ``end``; see :mod:`~descentlab.playground.training_jobs`). One
  reader per run; when that reader goes away (the tab is closed) the training stops.
- ``POST /api/runs/{id}/stop`` — stop a run; returns its summary once it has stopped.
- ``GET /api/runs/{id}`` — the run's summary and, when finished, each optimizer's results.
- ``POST /api/export`` — a run request as the ``config.toml`` that ``descentlab compare
  --config`` reruns (:mod:`~descentlab.playground.export`; drawn data and the MSE loss are
  refused with ``422``).
- ``POST /api/quadratic`` — a :class:`~descentlab.playground.quadratic.QuadraticRequest`:
  the closed-form theory of gradient descent and momentum on a 2-D quadratic and their
  predicted and simulated error curves (:mod:`~descentlab.playground.quadratic`).

Every refusal is JSON ``{"error": message, "field": name or null}`` (ASCII, so any text a
request smuggles in is escaped):

=====  ===========================================================================
``400`` a ``Host`` header this server does not answer to (when ``allowed_hosts`` is set,
        against DNS rebinding), or a body that is not one JSON document: not UTF-8, not
        JSON, a key given twice, nested deeper than :data:`MAX_JSON_DEPTH`
``404`` an unknown page or run
``405`` a method an endpoint does not take
``409`` a second reader of one run's events
``413`` a body over :data:`MAX_BODY_BYTES`, counted as it arrives (with or without a
        ``Content-Length``); the rest is not read
``415`` a body that is not sent as ``application/json``
``422`` a value of the wrong type, out of range or too much work (``field`` is its path in
        the request, e.g. ``optimizers.1.learning_rate``)
``429`` too many trainings at once
``500`` anything unexpected (the details go to the server's log, never to the client)
=====  ===========================================================================
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from importlib import resources
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from descentlab.playground.export import export_toml
from descentlab.playground.models import RequestError, RunRequest, options
from descentlab.playground.plan import RunPlan, build_plan
from descentlab.playground.quadratic import QuadraticRequest, quadratic_report
from descentlab.playground.training_jobs import CapacityError, JobManager, TrainingJob

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_DEPTH", "ApiError", "ServerLimits", "create_app"]

MAX_BODY_BYTES = 65536
"""Largest request body accepted (a full request with four optimizers is under 2 KiB)."""
MAX_JSON_DEPTH = 8
"""Deepest nesting of a request body (a request nests three levels: body, optimizers, one
optimizer's hyperparameters)."""
_Model = TypeVar("_Model", bound=BaseModel)
_MAX_ERRORS = 20
"""Most entries of the ``errors`` list of a ``422`` answer."""


# ----------------------------------------------------------------------------- JSON refusals


class ApiError(Exception):
    """An HTTP error answered as ``{"error": message, "field": field}``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


class _AsciiJSON(JSONResponse):
    """JSON with every non-ASCII character escaped: a lone surrogate from a hostile key
    cannot break the encoding of the answer."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, ensure_ascii=True, allow_nan=False, separators=(",", ":")
        ).encode("ascii")


def _short(text: Any, limit: int = 200) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _error(
    status: int,
    message: str,
    field: str | None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {"error": _short(message, 2000), "field": None if field is None else _short(field)}
    return _AsciiJSON({**body, **extra}, status_code=status, headers=headers)


def _field(loc: Sequence[Any]) -> str:
    """The request field of a schema error's location (relative to the body)."""
    return ".".join(str(p) for p in loc) or "body"


def _invalid(errors: Sequence[dict[str, Any]]) -> JSONResponse:
    """``422`` for pydantic's errors: the first one as ``error``/``field``, the rest listed."""
    rows = [
        {"field": _short(_field(e.get("loc", ()))), "message": _short(e.get("msg", ""))}
        for e in errors[:_MAX_ERRORS]
    ]
    first = rows[0] if rows else {"field": "body", "message": "invalid request"}
    return _error(422, f"{first['field']}: {first['message']}", first["field"], errors=rows)


def _install_error_handlers(app: FastAPI) -> None:
    """Answer every error as JSON ``{"error", "field"}``, a crash included (``500``)."""

    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _invalid(exc.errors())

    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.field)

    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        messages = {
            404: f"Nothing here: {request.url.path!r}.",
            405: f"{request.method} is not allowed on {request.url.path!r}.",
        }
        message = messages.get(exc.status_code, str(exc.detail))
        return _error(exc.status_code, message, None, headers=getattr(exc, "headers", None))

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        return _error(
            500, "The server failed to handle this request; the details are in its log.", None
        )

    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_crash)


# ----------------------------------------------------------------------------- middleware


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value
    return None


class _BodyTooLarge(Exception):
    """Raised by the counting ``receive`` once the body has passed the limit."""


class _BodyLimit:
    """ASGI middleware: ``413`` JSON as soon as a request body passes ``max_bytes``.

    A ``Content-Length`` over the limit is refused before anything is read. Otherwise (a
    chunked body has no ``Content-Length``; a declared length may lie) the bytes are counted
    as ``receive()`` delivers them: the message that passes the limit raises instead of
    reaching the app (no handler inside catches it, so the app answers nothing), nothing more
    is read and the client gets the ``413``.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _refusal(self) -> JSONResponse:
        """The ``413``, with ``Connection: close``: the server then closes the connection
        instead of reading the rest of the body to keep it alive."""
        message = f"The request body is too large (limit {self.max_bytes} bytes)."
        return _error(413, message, "body", headers={"Connection": "close"})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refusal()(scope, receive, send)
            return
        received, exceeded = 0, False

        async def counted_receive() -> dict[str, Any]:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, counted_receive, send)
        except Exception:
            if not exceeded:
                raise
        if exceeded:  # the app answers nothing: _BodyTooLarge reaches no handler inside
            await self._refusal()(scope, receive, send)


def _host_name(value: bytes | None) -> str:
    """The host of a ``Host`` header, lower case, without port or IPv6 brackets."""
    text = (value or b"").decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[1 : text.find("]")] if "]" in text else text
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class _HostCheck:
    """ASGI middleware: ``400`` JSON unless the ``Host`` header names an allowed host.

    Against DNS rebinding: a page of another site that resolves its own name to 127.0.0.1
    still sends its own name as ``Host``. ``allowed_hosts`` are names or addresses (IPv6 with
    or without brackets); ``"*"`` allows any.
    """

    def __init__(self, app: Any, allowed_hosts: Sequence[str]) -> None:
        self.app = app
        self.allowed = {_host_name(h.encode("latin-1", "replace")) for h in allowed_hosts}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and "*" not in self.allowed:
            host = _host_name(_header(scope, b"host"))
            if host not in self.allowed:
                message = (
                    f"This server does not answer to the host {host!r}; open it as "
                    f"http://{sorted(self.allowed)[0]}:<port>/ instead."
                )
                await _error(400, message, "host")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _install_middleware(app: FastAPI, allowed_hosts: Sequence[str] | None) -> None:
    """The host check outermost (nothing is read for a foreign host), then the body limit."""
    app.add_middleware(_BodyLimit, max_bytes=MAX_BODY_BYTES)
    if allowed_hosts is not None:
        app.add_middleware(_HostCheck, allowed_hosts=list(allowed_hosts))


# ----------------------------------------------------------------------------- request bodies


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of :func:`json.loads`: a key given twice is an error, not "the last
    one wins"."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ApiError(
                400, f"The request body gives the key {_short(key, 60)!r} twice.", "body"
            )
        out[key] = value
    return out


def _depth(doc: Any) -> int:
    """How deeply lists and objects nest in ``doc`` (a scalar is 0), without recursion."""
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, level = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, level)
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, level + 1) for item in items)
    return deepest


def _parse_json(body: bytes) -> Any:
    """The one JSON document in ``body``; ``400`` :class:`ApiError` for anything else."""
    try:
        doc = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys)
    except UnicodeDecodeError:
        raise ApiError(400, "The request body is not UTF-8 text.", "body") from None
    except json.JSONDecodeError as err:
        raise ApiError(
            400, f"The request body is not valid JSON ({err.msg} at line {err.lineno}, column "
            f"{err.colno}).", "body",
        ) from None  # fmt: skip
    except RecursionError:
        raise ApiError(400, "The request body nests too deeply.", "body") from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise ApiError(400, f"The request body is not usable JSON: {_short(err)}", "body") from None
    if _depth(doc) > MAX_JSON_DEPTH:
        raise ApiError(400, f"The request body nests deeper than {MAX_JSON_DEPTH} levels.", "body")
    return doc


async def _read_run_request(request: Request) -> RunRequest:
    """:func:`_read_request` of a :class:`RunRequest`."""
    return await _read_request(request, RunRequest)


async def _read_request(request: Request, model: type[_Model]) -> _Model:
    """Check the media type, read and parse the body, validate its schema (``model``).

    Raises:
      ApiError: ``415`` not ``application/json``; ``400`` not one JSON document; ``422`` empty.
      RequestValidationError: the schema's errors (answered ``422``).
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        shown = repr(_short(media, 60)) if media else "no Content-Type"
        raise ApiError(
            415, f"Send the request as JSON (Content-Type: application/json); got {shown}.", "body"
        )
    body = await request.body()
    if not body.strip():
        raise ApiError(422, "body: The request body is empty; send the settings as JSON.", "body")
    doc = _parse_json(body)
    try:
        return model.model_validate(doc)
    except ValidationError as err:
        raise RequestValidationError(err.errors()) from None


# ----------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class ServerLimits:
    """The caps of one server (see :func:`create_app` for each)."""

    max_concurrent: int = 2
    max_steps: int = 2_000_000
    max_work: float = 2e10
    max_seconds: float = 300.0
    updates_per_second: float = 10.0
    grid_size: int = 60
    connect_timeout: float = 30.0

    def job_factory(self) -> Callable[[str, RunPlan], TrainingJob]:
        return partial(
            TrainingJob,
            updates_per_second=self.updates_per_second,
            max_seconds=self.max_seconds,
            connect_timeout=self.connect_timeout,
        )


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, allow_nan=False, separators=(',', ':'))}\n\n"


async def _event_stream(job: TrainingJob, keep_alive: float = 15.0) -> AsyncIterator[str]:
    """The job's events as Server-Sent Events until ``end`` (every job ends with one); a
    comment after every ``keep_alive`` quiet seconds.

    If the reader goes away before ``end`` (the tab closed), the training is stopped.
    """
    quiet_since = time.monotonic()
    ended = False
    try:
        while True:
            events = job.drain()
            for name, data in events:
                yield _sse(name, data)
                if name == "end":
                    ended = True
                    return
            now = time.monotonic()
            if events:
                quiet_since = now
            elif now - quiet_since > keep_alive:
                quiet_since = now
                yield ": keep-alive\n\n"
            await asyncio.sleep(0.05)
    finally:
        if not ended:
            job.stop("the page stopped reading its events (closed or reloaded)")


def _install_routes(app: FastAPI, manager: JobManager, limits: ServerLimits) -> None:
    """The page, its static files and the JSON + SSE API."""
    static = resources.files("descentlab.playground") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    def get_job(run_id: str) -> TrainingJob:
        job = manager.get(run_id)
        if job is None:
            raise ApiError(
                404, f"No run with id {_short(run_id, 40)!r} (it may have been forgotten).",
                "run_id",
            )  # fmt: skip
        return job

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html")

    @app.get("/api/options")
    async def get_options() -> dict[str, Any]:
        out = options()
        out["limits"].update(
            {
                "max_concurrent": limits.max_concurrent,
                "max_steps": limits.max_steps,
                "max_work": limits.max_work,
                "max_seconds": limits.max_seconds,
                "grid_size": limits.grid_size,
            }
        )
        return out

    @app.post("/api/runs", status_code=201)
    async def start_run(request: Request) -> dict[str, Any]:
        req = await _read_run_request(request)
        try:
            plan = await asyncio.to_thread(
                build_plan,
                req,
                grid_size=limits.grid_size,
                max_steps=limits.max_steps,
                max_work=limits.max_work,
            )
        except RequestError as err:
            raise ApiError(422, f"{err.field}: {err.message}", err.field) from None
        try:
            job = manager.submit(plan)
        except CapacityError as err:
            raise ApiError(429, str(err), None) from None
        return {"id": job.id, "status": job.status, "events": f"/api/runs/{job.id}/events"}

    @app.post("/api/export")
    async def export(request: Request) -> Response:
        req = await _read_run_request(request)
        try:
            text = await asyncio.to_thread(export_toml, req)
        except RequestError as err:
            raise ApiError(422, f"{err.field}: {err.message}", err.field) from None
        return Response(
            text,
            media_type="application/toml; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="config.toml"'},
        )

    @app.post("/api/quadratic")
    async def quadratic(request: Request) -> dict[str, Any]:
        req = await _read_request(request, QuadraticRequest)
        try:
            return await asyncio.to_thread(quadratic_report, req)
        except RequestError as err:
            raise ApiError(422, f"{err.field}: {err.message}", err.field) from None

    @app.get("/api/runs/{run_id}")
    async def get_run(run_id: str) -> dict[str, Any]:
        return get_job(run_id).summary()

    @app.post("/api/runs/{run_id}/stop")
    async def stop_run(run_id: str) -> dict[str, Any]:
        job = get_job(run_id)
        job.stop()
        await asyncio.to_thread(job.wait, 10.0)
        return job.summary()

    @app.get("/api/runs/{run_id}/events")
    async def run_events(run_id: str) -> StreamingResponse:
        job = get_job(run_id)
        if job.subscribed:
            raise ApiError(409, f"The events of run {run_id!r} are already being read.", "run_id")
        job.subscribed = True
        return StreamingResponse(
            _event_stream(job),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )


def create_app(
    max_concurrent: int = 2,
    *,
    max_steps: int = 2_000_000,
    max_work: float = 2e10,
    max_seconds: float = 300.0,
    updates_per_second: float = 10.0,
    grid_size: int = 60,
    connect_timeout: float = 30.0,
    allowed_hosts: Sequence[str] | None = None,
) -> FastAPI:
    """The playground app.

    Args:
      max_concurrent: trainings that may run at once (each one population of up to four
        optimizers, in one worker thread); one more gets ``429``.
      max_steps: most gradient steps of one request, summed over its optimizers.
      max_work: most ``epochs * m_train * n_params * n_optimizers`` of one request.
      max_seconds: wall-time limit of one training; it stops when reached.
      updates_per_second: most ``progress`` events per second per optimizer.
      grid_size: the decision boundary is computed on ``grid_size x grid_size`` points.
      connect_timeout: a run whose events nobody reads within this many seconds is stopped.
      allowed_hosts: accepted ``Host`` headers (None: any); the command line sets the
        loopback names when it serves on loopback, against DNS rebinding.

    Returns:
      the FastAPI application (serve it with uvicorn).
    """
    limits = ServerLimits(
        max_concurrent, max_steps, max_work, max_seconds, updates_per_second, grid_size,
        connect_timeout,
    )  # fmt: skip
    manager = JobManager(max_concurrent, job_factory=limits.job_factory())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        manager.stop_all()

    app = FastAPI(title="descentlab playground", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.manager = manager
    _install_middleware(app, allowed_hosts)
    _install_error_handlers(app)
    _install_routes(app, manager, limits)
    return app
