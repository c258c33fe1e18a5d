"""Drive a running demo ERP: change its behaviour, reset and read its counters (tests, benchmark, demos)."""

import httpx

from tools.demo_erp.behaviour import ErpBehaviour
from tools.demo_erp.schedule import BehaviourSchedule
from tools.demo_erp.stats import ErpStats
from tools.demo_erp.timeline import ErpTimeline, LatencySummary


class DemoErpAdmin:
    def __init__(self, base_url: str) -> None:
        self._http = httpx.Client(base_url=base_url, timeout=10)

    def is_healthy(self) -> bool:
        try:
            return self._http.get("/health").status_code == 200
        except httpx.TransportError:
            return False

    def configure(self, behaviour: ErpBehaviour) -> None:
        """Behave like this from now on (ends a running schedule)."""
        self._http.put("/_admin/behaviour", json=behaviour.model_dump()).raise_for_status()

    def schedule(self, schedule: BehaviourSchedule) -> None:
        """Apply each step's behaviour at its time (steps already due apply at once)."""
        self._http.put("/_admin/schedule", json=schedule.model_dump()).raise_for_status()

    def reset(self) -> None:
        self._http.post("/_admin/reset").raise_for_status()

    def stats(self) -> ErpStats:
        response = self._http.get("/_admin/stats")
        response.raise_for_status()
        return ErpStats.model_validate(response.json())

    def timeline(self) -> ErpTimeline:
        response = self._http.get("/_admin/timeline")
        response.raise_for_status()
        return ErpTimeline.model_validate(response.json())

    def latencies(self, since: float, until: float) -> LatencySummary:
        """Latencies of the requests answered from `since` to before `until` (wall clock)."""
        response = self._http.get("/_admin/latencies", params={"since": since, "until": until})
        response.raise_for_status()
        return LatencySummary.model_validate(response.json())

    def close(self) -> None:
        self._http.close()
