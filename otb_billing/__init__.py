"""OTB Billing: plain-text billing for managed service providers."""

__version__ = "0.1.0"
