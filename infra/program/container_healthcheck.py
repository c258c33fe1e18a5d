"""A HealthCheck as pulumi-docker's `healthcheck` input, its durations written exactly as the provider reads
them back from Docker (Go's time.Duration.String(): 60 s is "1m0s", not "60s"). Written any other way, every
refresh rewrites the state and every preview then proposes to change the container back."""

import pulumi_docker as docker

from infra.program.container_spec import HealthCheck


def go_duration(seconds: int) -> str:
    """Whole seconds as Go prints a time.Duration: 0s, 45s, 1m0s, 5m0s, 1h0m0s, 1h1m1s."""
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def healthcheck_args(check: HealthCheck) -> docker.ContainerHealthcheckArgs:
    return docker.ContainerHealthcheckArgs(
        tests=check.test,
        interval=go_duration(check.interval_seconds),
        timeout=go_duration(check.timeout_seconds),
        retries=check.retries,
        start_period=go_duration(check.start_period_seconds),
    )
