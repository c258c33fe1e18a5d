"""Pulumi program and dynamic providers for the RPA platform."""
