"""Slot policies the engine-overhead benchmark tries against the default (`FlowRuntime.open(...,
slot_policy=...)`)."""

from dataclasses import replace

from flows.runtime.slot_pool import SlotPolicy

# A slot handed from one flow run to another is idle for a release, a poll and a lease: with the defaults
# 0.5-1 s (polls every 0.5 s while holding slots, free slots left 0.5 s for others, one slot per 0.2 s for 5 s
# after the limit was last full), 10-20 calls of 50 ms. With the server no longer recording a task run per
# item it can take pools that ask more often: freed slots are found and taken within about 0.1 s.
FAST_HANDOVER = SlotPolicy(
    contention_seconds=1.0,
    linger_seconds=0.05,
    pace_seconds=0.05,
    courtesy_seconds=0.1,
    slow_poll_seconds=0.2,
    fast_poll_seconds=0.05,
    leftover_seconds=0.1,
)
# Slots go round the flow runs every tenure while the limit is full, each round a hand-over; wide tasks keep a
# run's calls coming for its whole life, so fewer rounds lose less (a run that holds none waits longer).
FAST_HANDOVER_LONG_TENURE = replace(FAST_HANDOVER, tenure_seconds=10.0, max_tenure_seconds=40.0)
