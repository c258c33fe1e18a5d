"""The demo ERP's service capacity: at most `capacity` requests served at once, the others wait in line, first
come first served. Unlike asyncio.Semaphore its size changes while requests are in it: a smaller capacity
lets those in service finish and admits nobody new until fewer remain; a larger one admits waiters at once.
Used from one asyncio event loop, so no locks."""

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class ServiceLine:
    capacity: int | None = None  # None: everyone is served at once
    in_service: int = 0
    _waiting: deque[asyncio.Future[None]] = field(default_factory=deque)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def has_room(self) -> bool:
        return self.capacity is None or self.in_service < self.capacity

    @asynccontextmanager
    async def served(self) -> AsyncIterator[None]:
        """Wait for a place in service (behind everyone already waiting), hold it for the body."""
        await self._enter()
        try:
            yield
        finally:
            self.leave()

    async def _enter(self) -> None:
        if not self._waiting and self.has_room():
            self.in_service += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:  # the client went away while waiting
            if turn.done() and not turn.cancelled():
                self.leave()  # its place had been given to it already: pass it on
            else:
                self._waiting.remove(turn)
            raise

    def leave(self) -> None:
        self.in_service -= 1
        self._admit_waiting()

    def resize(self, capacity: int | None) -> None:
        self.capacity = capacity
        self._admit_waiting()

    def _admit_waiting(self) -> None:
        while self._waiting and self.has_room():
            turn = self._waiting.popleft()
            if not turn.done():
                self.in_service += 1
                turn.set_result(None)
