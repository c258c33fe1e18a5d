"""rpa1: invoice intake. Read invoice documents (an inbox directory of text files, or generated demo
documents), extract their fields, post each invoice to the ERP (under erp-api and erp-api-rate), and record
the postings in the results database (under db-write)."""
