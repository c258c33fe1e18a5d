"""The RPA flows (rpa1, rpa2, rpa3), the concurrency runtime they share, and a demo ERP to run them against.

Importing this package must stay cheap and free of Prefect: the demo ERP runs from it in its own process.
"""
