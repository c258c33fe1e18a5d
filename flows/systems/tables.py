"""The results database's tables: what each flow writes, and an audit of every guarded write transaction."""

from sqlalchemy import BigInteger, Column, Float, Integer, MetaData, String, Table

metadata = MetaData()

posted_invoices = Table(
    "posted_invoices",
    metadata,
    Column("invoice_number", String(64), primary_key=True),
    Column("supplier", String(200), nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("erp_document_id", String(64), nullable=False),
    Column("flow_run_id", String(64), nullable=False),
)

customers = Table(
    "customers",
    metadata,
    Column("customer_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("email", String(320), nullable=False),
    Column("credit_limit_cents", BigInteger, nullable=False),
    Column("flow_run_id", String(64), nullable=False),
)

reconciliations = Table(
    "reconciliations",
    metadata,
    Column("item_id", String(64), primary_key=True),
    Column("account", String(32), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("erp_amount_cents", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("flow_run_id", String(64), nullable=False),
)

# One row per guarded write transaction, timed inside it: overlapping rows would mean db-write failed.
write_log = Table(
    "write_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("writer", String(64), nullable=False),
    Column("table_name", String(64), nullable=False),
    Column("row_count", Integer, nullable=False),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float, nullable=False),
)
