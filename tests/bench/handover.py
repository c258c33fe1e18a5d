"""`make bench-handover` (`python -m tests.bench.handover`): how slots change hands between flow runs sharing a
limit, with the runtime's default slot policy, each scenario beside a baseline measured in the same run on
the same Prefect server (SQLite), calls of 500 ms at the demo ERP:

- alone: one run on a limit of 10 (nobody to hand slots to), against the same work without a limiter;
- pair: two runs on a limit of 10, against two runs without a limiter whose widths add up to 10;
- six: six runs on a limit of 4 (no limiter-free split of 4 slots across 6 runs exists: against the ideal),
  when each made its first call, and how far apart they finished.

The scenarios run `--rounds` times (3 by default), one round after the other. One round's figures move by a
few percent between runs of the same code on a quiet machine, as much as the policy changes they judge: each
target is met or missed on its median over the rounds, and the result gives every round's value beside it.
Each target of issue 20 is checked and reported (`met`); the results go to bench-results/handover.json.
"""

import argparse
import json
import os
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tests.bench.guards import Variant
from tests.bench.outcome import Outcome
from tests.bench.processes import exit_on_sigterm
from tests.bench.run import Scenario, _flow_run_env, _run_all
from tests.bench.table import render
from tests.support.prefect_server import free_port, server_on
from tools.demo_erp.launcher import DemoErpProcess

DURATION = 0.5
ALONE = {"runs": 1, "limit": 10, "tasks": 200, "width": 10}  # the pair's work: the same start-up share
PAIR = {"runs": 2, "limit": 10, "tasks": 200, "width": 10}
SIX = {"runs": 6, "limit": 4, "tasks": 240, "width": 4}
# Issue 20's targets for the default policy.
ALONE_MIN_SPEED = 0.97  # of the limiter-free time
PAIR_MAX_TIME = 1.05  # x the limiter-free time
SIX_MIN_SPEED = 0.92  # of the ideal
SIX_MAX_FIRST_CALL_S = 5.0
SIX_MAX_FINISH_SPREAD = 1.3  # the last run's finish over the first's


PAIR_RUNTIME = Scenario(Variant.RUNTIME, DURATION, **PAIR)
SIX_RUNTIME = Scenario(Variant.RUNTIME, DURATION, **SIX)
ROUND = [
    Scenario(Variant.UNLIMITED, DURATION, **ALONE),
    Scenario(Variant.RUNTIME, DURATION, **ALONE),
    Scenario(Variant.UNLIMITED, DURATION, **PAIR),
    PAIR_RUNTIME,
    SIX_RUNTIME,
]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.handover", description=__doc__)
    parser.add_argument("--rounds", type=int, default=3, help="times each scenario runs (default 3)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds: at least 1")
    workdir = Path(tempfile.mkdtemp(prefix="rpa-bench-handover-"))
    print(f"work directory (server and flow-run logs): {workdir}", flush=True)
    scenarios = [replace(scenario, repeat=n) for n in range(args.rounds) for scenario in ROUND]
    erp = DemoErpProcess(port=free_port())
    admin = erp.start()
    try:
        with server_on("sqlite", workdir / "sqlite") as server:
            env = _flow_run_env(server)
            outcomes = _run_all("sqlite", scenarios, server, admin, erp.url, env, workdir / "sqlite")
    finally:
        erp.stop()
    rounds = [outcomes[n : n + len(ROUND)] for n in range(0, len(outcomes), len(ROUND))]
    targets = _over_rounds([_targets(*one_round) for one_round in rounds])
    report = {
        "machine_cpus": os.cpu_count(),
        "duration_s": DURATION,
        "rounds": args.rounds,
        "outcomes": [asdict(outcome) for outcome in outcomes],
        "targets": targets,
    }
    results = Path("bench-results")
    results.mkdir(exist_ok=True)
    path = results / f"handover-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    (results / "handover.json").write_text(path.read_text())
    print()
    print(render(outcomes, header=True))
    print()
    for name, target in targets.items():
        values = " ".join(f"{value:.3f}" for value in target["rounds"])
        verdict = "met" if target["met"] else "MISSED"
        print(f"{name:<34} {target['value']:>6.3f}  target {target['target']}  {verdict}  (rounds: {values})")
    for name, scenario in (("pair", PAIR_RUNTIME), ("six", SIX_RUNTIME)):
        counts = [one_round[ROUND.index(scenario)].handovers or {} for one_round in rounds]
        print(
            f"{name}: slots passed between runs (count, slot seconds idle, median gap ms) per round: "
            + ", ".join(
                f"{c.get('count')} / {c.get('idle_slot_seconds')} / {c.get('median_gap_ms')}" for c in counts
            )
        )
    print(f"written to {path}")


@dataclass(frozen=True)
class Target:
    value: float
    bound: float
    at_least: bool


def _over_rounds(rounds: list[dict[str, Target]]) -> dict[str, dict[str, object]]:
    """Each target judged on its median over the rounds, every round's value beside it."""
    judged: dict[str, dict[str, object]] = {}
    for name, first in rounds[0].items():
        values = [one_round[name].value for one_round in rounds]
        median = statistics.median(values)
        met = median >= first.bound if first.at_least else median <= first.bound
        judged[name] = {
            "value": round(median, 3),
            "target": f"{'>=' if first.at_least else '<='} {first.bound}",
            "met": met,
            "rounds": [round(value, 3) for value in values],
        }
    return judged


def _targets(
    alone_free: Outcome, alone: Outcome, pair_free: Outcome, pair: Outcome, six: Outcome
) -> dict[str, Target]:
    return {
        "alone: speed of the limiter-free": Target(
            _time(alone_free) / _time(alone), ALONE_MIN_SPEED, at_least=True
        ),
        "pair: time x the limiter-free": Target(
            _time(pair) / _time(pair_free), PAIR_MAX_TIME, at_least=False
        ),
        "six: speed of the ideal": Target(six.ideal_s / _time(six), SIX_MIN_SPEED, at_least=True),
        "six: latest first call (s)": Target(max(six.run_first_call_s), SIX_MAX_FIRST_CALL_S, at_least=False),
        "six: last finish / first finish": Target(
            max(six.run_finish_s) / min(six.run_finish_s), SIX_MAX_FINISH_SPREAD, at_least=False
        ),
    }


def _time(outcome: Outcome) -> float:
    if outcome.time_s is None:
        raise SystemExit(f"{outcome.variant} ran into the cap: no time to compare")
    return outcome.time_s


if __name__ == "__main__":
    exit_on_sigterm()
    main()
