"""The billing core: plain data types and pure functions. No file, clock or network access here."""
