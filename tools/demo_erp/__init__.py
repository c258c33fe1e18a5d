"""A small stand-in for the ERP the flows talk to: an HTTP API with configurable latency that enforces its own
maximum concurrency and request rate (429 + Retry-After when exceeded) and reports what it saw.

Run it with `python -m tools.demo_erp --port 8765`; tests and the benchmark drive it through `DemoErpAdmin`.
"""
