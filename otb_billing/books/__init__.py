"""The books: Beancount text for invoices and accounts, and what the ledger remembers of earlier invoices."""
