"""A scripted change of the demo ERP's behaviour over time ("capacity 10 for 20 s, then 4 for 20 s, then 10
again"), applied by the ERP itself on its own clock, so a benchmark or a demo is reproducible to the
millisecond and needs no driver thread of its own.

`PUT /_admin/schedule` (DemoErpAdmin.schedule) starts one; `python -m tools.demo_erp --step 20:capacity=4`
starts one when the ERP starts. Setting a behaviour (`PUT /_admin/behaviour`) ends a running schedule."""

import json

from pydantic import BaseModel, Field

from tools.demo_erp.behaviour import ErpBehaviour


class BehaviourStep(BaseModel):
    after_seconds: float = Field(ge=0)  # from the schedule's start
    behaviour: ErpBehaviour


class BehaviourSchedule(BaseModel):
    start_at: float  # wall clock (time.time()): callers in other processes share it
    steps: list[BehaviourStep]

    def due(self, now: float, applied: int) -> int:
        """How many steps are due at `now`; those beyond the `applied` ones are to be applied, in order."""
        due = applied
        while due < len(self.steps) and self.start_at + self.steps[due].after_seconds <= now:
            due += 1
        return due

    def ends_at(self) -> float:
        return self.start_at + max((step.after_seconds for step in self.steps), default=0.0)


def parse_step(text: str, base: ErpBehaviour) -> BehaviourStep:
    """`20:max_concurrency=4,capacity=4` -> 20 s after the start, `base` with those fields changed. A value is
    JSON (`none` and `null` mean unset), so `latency_seconds=0.2` and `capacity=none` both work."""
    offset, _, changes = text.partition(":")
    fields: dict[str, object] = {}
    for change in filter(None, changes.split(",")):
        key, sep, value = change.partition("=")
        if not sep:
            raise ValueError(f"step {text!r}: {change!r} is not KEY=VALUE")
        fields[key.strip()] = None if value.strip().lower() == "none" else json.loads(value)
    unknown = set(fields) - set(ErpBehaviour.model_fields)
    if unknown:
        raise ValueError(f"step {text!r}: no such behaviour field(s) {sorted(unknown)}")
    behaviour = ErpBehaviour.model_validate(base.model_dump() | fields)
    return BehaviourStep(after_seconds=float(offset), behaviour=behaviour)
