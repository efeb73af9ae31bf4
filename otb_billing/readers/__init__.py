"""Readers: turn the billing repo's YAML and CSV files into core data types, collecting problems with sources."""
