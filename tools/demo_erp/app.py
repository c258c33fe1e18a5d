"""The demo ERP's HTTP API: business endpoints under /api (metered and limited), admin under /_admin."""

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from flows.erp_api import CALLER_HEADER, InvoicePosting, ReconciliationRequest
from tools.demo_erp import records
from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.gatekeeper import Gatekeeper
from tools.demo_erp.schedule import BehaviourSchedule

Handler = Callable[[Request], Awaitable[object]]
# How often a schedule's due steps are looked for when no request comes: the precision of its step times.
SCHEDULE_TICK_SECONDS = 0.02


def create_app(behaviour: ErpBehaviour, schedule: BehaviourSchedule | None = None) -> Starlette:
    gatekeeper = Gatekeeper(behaviour)
    if schedule is not None:
        gatekeeper.start_schedule(schedule)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async def tick() -> None:
            while True:
                gatekeeper.apply_due()
                await asyncio.sleep(SCHEDULE_TICK_SECONDS)

        ticker = asyncio.create_task(tick())
        try:
            yield
        finally:
            ticker.cancel()

    def business(handler: Handler, status_code: int = 200) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            caller = request.headers.get(CALLER_HEADER)
            arrived_at = time.monotonic()
            rejection = gatekeeper.admit(request.headers.get("idempotency-key"), caller)
            if rejection is not None:
                headers = {}
                if rejection.retry_after_seconds is not None:
                    headers["Retry-After"] = str(rejection.retry_after_seconds)
                return JSONResponse({"detail": "rejected"}, rejection.status, headers=headers)
            try:
                async with gatekeeper.served():
                    # Read once served: a schedule may have changed the latency while it waited.
                    await asyncio.sleep(gatekeeper.behaviour.latency_seconds)
                    return JSONResponse(await handler(request), status_code)
            except (ValidationError, ValueError, KeyError) as error:
                return JSONResponse({"detail": str(error)}, 422)
            finally:
                gatekeeper.finish(caller, arrived_at)

        return endpoint

    async def open_items(request: Request) -> object:
        return records.open_items(request.query_params["batch"], int(request.query_params["count"]))

    async def reconcile(request: Request) -> object:
        body = ReconciliationRequest.model_validate(await request.json())
        return records.reconcile(body.item_id, body.amount_cents)

    async def post_invoice(request: Request) -> object:
        body = InvoicePosting.model_validate(await request.json())
        return records.post_invoice(body.invoice_number)

    async def customers(request: Request) -> object:
        return records.customers_page(
            int(request.query_params["page"]), int(request.query_params["page_size"])
        )

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def stats(_: Request) -> Response:
        return JSONResponse(gatekeeper.stats.model_dump())

    async def timeline(_: Request) -> Response:
        return JSONResponse(gatekeeper.timeline.snapshot().model_dump())

    async def latencies(request: Request) -> Response:
        since = float(request.query_params.get("since", "-inf"))
        until = float(request.query_params.get("until", "inf"))
        return JSONResponse(gatekeeper.timeline.latencies_between(since, until).model_dump())

    async def reset(_: Request) -> Response:
        gatekeeper.reset()
        return Response(status_code=204)

    async def configure(request: Request) -> Response:
        try:
            gatekeeper.configure(ErpBehaviour.model_validate(await request.json()))
        except ValidationError as error:
            return JSONResponse({"detail": error.errors(include_url=False)}, 422)
        return JSONResponse(gatekeeper.behaviour.model_dump())

    async def start_schedule(request: Request) -> Response:
        try:
            gatekeeper.start_schedule(BehaviourSchedule.model_validate(await request.json()))
        except ValidationError as error:
            return JSONResponse({"detail": error.errors(include_url=False)}, 422)
        return JSONResponse(gatekeeper.behaviour.model_dump())

    return Starlette(
        routes=[
            Route("/api/open-items", business(open_items), methods=["GET"]),
            Route("/api/reconciliations", business(reconcile), methods=["POST"]),
            Route("/api/invoices", business(post_invoice, 201), methods=["POST"]),
            Route("/api/customers", business(customers), methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/_admin/stats", stats, methods=["GET"]),
            Route("/_admin/timeline", timeline, methods=["GET"]),
            Route("/_admin/latencies", latencies, methods=["GET"]),
            Route("/_admin/reset", reset, methods=["POST"]),
            Route("/_admin/behaviour", configure, methods=["PUT"]),
            Route("/_admin/schedule", start_schedule, methods=["PUT"]),
        ],
        lifespan=lifespan,
    )
