"""The playground's web server: a FastAPI app serving the page and a small JSON + SSE API.

Endpoints:

- ``GET /`` — the page; ``GET /static/...`` — its script and style (shipped in the package).
- ``GET /api/options`` — data sets, optimizers with their hyperparameters and defaults,
  schedules, activations, limits and the page's starting settings.
- ``POST /api/runs`` — validate a :class:`~descentlab.playground.models.RunRequest` and start
  training; ``201 {"id": ..., "events": ...}``; ``429`` when ``max_concurrent`` trainings run.
- ``GET /api/runs/{id}/events`` — the run's Server-Sent Events (``start``, ``progress``,
  ``done`` per optimizer, ``end``; see :mod:`~descentlab.playground.training_jobs`). One
  reader per run; when that reader goes away (the tab is closed) the training stops.
- ``POST /api/runs/{id}/stop`` — stop a run; returns its summary once it has stopped.
- ``GET /api/runs/{id}`` — the run's summary and, when finished, each optimizer's results.

Every error is JSON ``{"error": message, "field": name or null}``: ``400`` for a body that
is not JSON, ``422`` for a value out of bounds or an unknown name (``field`` is the path in
the request, e.g. ``optimizers.1.learning_rate``), ``404`` for an unknown run, ``409`` for a
second reader of one run's events, ``413`` for a body over 64 KiB, ``429`` for too many
trainings.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware

from descentlab._validation import DescentLabError
from descentlab.datasets import load_dataset
from descentlab.experiments.specs import (
    ScheduleSpec,
    build_learning_rate,
    build_optimizer,
    resolve_hyperparameters,
)
from descentlab.nn import MLP
from descentlab.playground.models import (
    PLAYGROUND_DATASETS,
    SCHEDULE_SETTINGS,
    RequestError,
    RunRequest,
    check_request,
    generator_defaults,
    options,
)
from descentlab.playground.training_jobs import (
    CapacityError,
    GridSpec,
    JobManager,
    OptimizerRun,
    RunPlan,
    TrainingJob,
)

__all__ = ["MAX_BODY_BYTES", "ApiError", "build_plan", "create_app"]

MAX_BODY_BYTES = 65536
"""Largest request body accepted (a full request with four optimizers is under 2 KiB)."""


class ApiError(Exception):
    """An HTTP error answered as ``{"error": message, "field": field}``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _error(status: int, message: str, field: str | None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, "field": field, **extra}, status_code=status)


def _points(X: np.ndarray, y: np.ndarray) -> dict[str, list]:
    return {
        "x": np.round(X[0], 4).tolist(),
        "y": np.round(X[1], 4).tolist(),
        "label": y.astype(int).tolist(),
    }


def _label(name: str, learning_rate: float, hyperparameters: dict[str, float]) -> str:
    """``adam (lr 0.01, b1 0.8)``: the learning rate and the settings that differ from the defaults."""
    defaults = resolve_hyperparameters(name)
    changed = [f"{k} {v:g}" for k, v in hyperparameters.items() if v != defaults.get(k)]
    return f"{name} ({', '.join([f'lr {learning_rate:g}', *changed])})"


def build_plan(req: RunRequest, *, grid_size: int, max_steps: int, max_work: float) -> RunPlan:
    """Turn a validated request into a :class:`RunPlan`: load the data, build net and optimizers.

    The data: ``load_dataset(name, n_samples=..., noise=..., seed=data_seed)`` with only the
    settings that differ from the generator's defaults (so ``moons`` at 300 / 0.2 without a
    data seed is the seed's exact set), then a stratified split with ``test_fraction``
    (seed ``data_seed`` or 0). The network: ``(2, *hidden, 1)`` for two classes, else
    ``(2, *hidden, n_classes)``. Each optimizer: ``build_optimizer`` of the experiments (so
    ``adam`` is the seed's Adam, ``eps = 0, eps_root = 1e-8``) with the schedule counting
    epochs of ``ceil(m_train / batch_size)`` steps.

    Work caps: ``epochs * ceil(m_train / batch_size) * n_optimizers <= max_steps`` and
    ``epochs * m_train * n_params * n_optimizers <= max_work``.

    Raises:
      RequestError: naming the field that makes the request impossible or too large.
    """
    check_request(req)
    defaults = generator_defaults(req.dataset)
    given: dict[str, Any] = {}
    if req.n_samples != defaults["n_samples"]:
        given["n_samples"] = req.n_samples
    if req.noise is not None and req.noise != defaults["noise"]:
        given["noise"] = req.noise
    if req.data_seed is not None:
        given["seed"] = req.data_seed
    try:
        data = load_dataset(req.dataset, **given)
    except DescentLabError as err:
        raise RequestError("dataset", str(err)) from None
    test = None
    if req.test_fraction > 0:
        try:
            data, test = data.split(req.test_fraction, seed=req.data_seed or 0)
        except DescentLabError as err:
            raise RequestError("test_fraction", str(err)) from None
    m = data.n_examples
    n_out = 1 if data.n_classes == 2 else data.n_classes
    net = MLP((2, *req.hidden, n_out), activation=req.activation)
    steps_per_epoch = math.ceil(m / req.batch_size)
    n_opt = len(req.optimizers)
    steps = req.epochs * steps_per_epoch * n_opt
    if steps > max_steps:
        raise RequestError(
            "epochs",
            f"This run would take {steps:,} gradient steps (epochs x batches per epoch x "
            f"optimizers); the limit is {max_steps:,}. Lower the epochs or raise the batch size.",
        )
    work = req.epochs * m * net.n_params * n_opt
    if work > max_work:
        raise RequestError(
            "epochs",
            f"This run is too large ({work:.3g} example-parameter passes; the limit is "
            f"{max_work:.3g}). Lower the epochs, the number of examples or the hidden units.",
        )

    spec = _schedule_spec(req, steps_per_epoch)
    runs = []
    for i, opt in enumerate(req.optimizers):
        hypers = dict(opt.hyperparameters)
        try:
            optimizer = build_optimizer(
                opt.name, hypers, opt.learning_rate, spec, steps_per_epoch=steps_per_epoch
            )
            rate = build_learning_rate(opt.learning_rate, spec, steps_per_epoch)
        except DescentLabError as err:
            raise RequestError(f"optimizers.{i}", str(err)) from None
        runs.append(
            OptimizerRun(
                label=_label(opt.name, opt.learning_rate, hypers),
                name=opt.name,
                settings={"learning_rate": opt.learning_rate, **hypers},
                optimizer=optimizer,
                learning_rate=rate,
            )
        )
    everything = data.X if test is None else np.concatenate([data.X, test.X], axis=1)
    return RunPlan(
        net=net,
        X=data.X,
        y=data.y,
        X_test=None if test is None else test.X,
        y_test=None if test is None else test.y,
        runs=runs,
        epochs=req.epochs,
        batch_size=req.batch_size,
        seed=req.seed,
        grid=GridSpec.around(everything, grid_size),
        pace_seconds=req.pace_seconds,
        settings=req.model_dump(),
        dataset_info={
            "name": req.dataset,
            "description": PLAYGROUND_DATASETS[req.dataset],
            "n_classes": data.n_classes,
            "classes": [str(c) for c in data.classes],
            "n_train": m,
            "n_test": 0 if test is None else test.n_examples,
            "layer_dims": list(net.layer_dims),
            "train": _points(data.X, data.y),
            "test": None if test is None else _points(test.X, test.y),
        },
    )


def _schedule_spec(req: RunRequest, steps_per_epoch: int) -> ScheduleSpec | None:
    name = req.schedule.name
    if name == "constant":
        return None
    if name == "cosine":
        return ScheduleSpec("cosine", {"decay_steps": req.epochs * steps_per_epoch})
    settings = {}
    for key, (*_, integer, default, _help) in SCHEDULE_SETTINGS[name].items():
        value = getattr(req.schedule, key)
        value = default if value is None else value
        settings[key] = int(value) if integer else float(value)
    return ScheduleSpec(name, settings)


class _BodyLimit:
    """ASGI middleware: answer ``413`` to a request whose ``Content-Length`` exceeds ``max_bytes``."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            size = dict(scope["headers"]).get(b"content-length", b"0")
            if not size.isdigit() or int(size) > self.max_bytes:
                message = f"The request body is too large (limit {self.max_bytes} bytes)."
                await _error(413, message, "body")(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _field(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] == "body":
        parts = parts[1:]
    return ".".join(parts) or "body"


def _sse(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data, allow_nan=False, separators=(',', ':'))}\n\n"


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
      max_concurrent: trainings that may run at once (each with up to four optimizer threads);
        one more gets ``429``.
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

    def factory(run_id: str, plan: RunPlan) -> TrainingJob:
        return TrainingJob(
            run_id,
            plan,
            updates_per_second=updates_per_second,
            max_seconds=max_seconds,
            connect_timeout=connect_timeout,
        )

    manager = JobManager(max_concurrent, job_factory=factory)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        manager.stop_all()

    app = FastAPI(title="descentlab playground", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.manager = manager
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))

    app.add_middleware(_BodyLimit, max_bytes=MAX_BODY_BYTES)

    static = resources.files("descentlab.playground") / "static"
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()
        ]
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return _error(400, "The request body is not valid JSON.", "body", errors=errors)
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        return _error(422, f"{first['field']}: {first['message']}", first["field"], errors=errors)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message, exc.field)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), None)

    def get_job(run_id: str) -> TrainingJob:
        job = manager.get(run_id)
        if job is None:
            raise ApiError(
                404, f"No run with id {run_id!r} (it may have been forgotten).", "run_id"
            )
        return job

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html")

    @app.get("/api/options")
    async def get_options() -> dict[str, Any]:
        out = options()
        out["limits"].update(
            {
                "max_concurrent": max_concurrent,
                "max_steps": max_steps,
                "max_work": max_work,
                "max_seconds": max_seconds,
                "grid_size": grid_size,
            }
        )
        return out

    @app.post("/api/runs", status_code=201)
    async def start_run(req: RunRequest) -> dict[str, Any]:
        try:
            plan = await asyncio.to_thread(
                build_plan, req, grid_size=grid_size, max_steps=max_steps, max_work=max_work
            )
        except RequestError as err:
            raise ApiError(422, f"{err.field}: {err.message}", err.field) from None
        try:
            job = manager.submit(plan)
        except CapacityError as err:
            raise ApiError(429, str(err), None) from None
        return {"id": job.id, "status": job.status, "events": f"/api/runs/{job.id}/events"}

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

        async def stream() -> AsyncIterator[str]:
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
                    elif job.finished and not events:
                        return
                    elif now - quiet_since > 15.0:
                        quiet_since = now
                        yield ": keep-alive\n\n"
                    await asyncio.sleep(0.05)
            finally:
                if not ended:
                    job.stop("the page stopped reading its events (closed or reloaded)")

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app
