"""`python -m otb_billing` is `otb`."""

from .cli import main

main()
