"""The external systems the RPA flows work with (the ERP API, the results database), configured from the
flow run's environment and reached only through the concurrency runtime's guards."""

from flows.systems.connections import open_systems, systems
from flows.systems.erp import ErpApi
from flows.systems.results_db import ResultsDatabase

__all__ = ["ErpApi", "ResultsDatabase", "open_systems", "systems"]
