"""Prefect objects as Pulumi dynamic resources, one module per object."""
