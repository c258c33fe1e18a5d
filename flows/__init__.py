"""The RPA flows (rpa1, rpa2, rpa3) and the concurrency runtime they share.

Importing this package must stay cheap and free of Prefect: the demo ERP (tools/demo_erp) imports the ERP's
models (flows.erp_api) and the clock (flows.clock) from it, in a process of its own.
"""
