"""rpa3: a reconciliation batch. Fetch a batch's open items from the ERP, reconcile each against the ERP's
books (one API call per item, under the stack's erp-api and erp-api-rate limits), write the outcomes to the
results database (under db-write)."""
