"""The largest numbers a Prefect object can hold, as measured against Prefect 3.9.1 servers (see
tests/contract/test_number_bounds.py and the closing note of issue 9).

- Limits and priorities are INTEGER columns. On PostgreSQL that is 32 bits: 2**31 - 1 is stored, 2**31 is
  answered with HTTP 503. On SQLite 2**63 - 1 is stored and 2**63 answered with HTTP 500. Pulumi carries every
  number as a 64-bit float, exact only up to 2**53. So 2**31 - 1 is the bound that holds on every server.
- A rate limit's slot decay: the server computes floor(slotDecayPerSecond x seconds since the limit last
  changed) as a 64-bit integer on SQLite. Past 2**63, every read of the server's limits answers HTTP 503 (at
  1e18 slots per second, within ten seconds). At 2**31 - 1 per second that is 136 years away.
"""

from typing import Annotated, Final

from pydantic import Field

MAX_STORED_INT: Final = 2**31 - 1
MAX_EXACT_NUMBER: Final = 2**53
"""Pulumi sends numbers as 64-bit floats: a larger integer arrives changed (2**53 + 1 becomes 2**53)."""

Count = Annotated[int, Field(ge=0, le=MAX_STORED_INT)]
"""A concurrency limit: 0 stops everything it guards."""
Priority = Annotated[int, Field(ge=1, le=MAX_STORED_INT)]
"""A queue's priority: 1 is the highest."""
SlotDecay = Annotated[float, Field(ge=0, le=MAX_STORED_INT, allow_inf_nan=False)]
"""Slots a rate limit frees per second; 0 for a plain concurrency limit."""
