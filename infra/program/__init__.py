"""The Pulumi program: the stack's Prefect objects, its worker containers and its own server, declared from
its validated settings (infra/__main__.py runs it)."""
