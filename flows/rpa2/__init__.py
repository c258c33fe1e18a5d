"""rpa2: record sync between two systems. Page through the ERP's customer master (one API call per page,
pages fetched concurrently under erp-api and erp-api-rate) and upsert each page into the results database
(under db-write), so the two stay in step; rerunning is idempotent."""
