#!/usr/bin/env bash
# Rebuilds the example ledger that ships in ledger/ from the example inputs, with the same commands a billing
# admin would type: three months billed, two finalized, payments (one cheque bounced), an overpayment, a credit
# note. Every date and time is given, so the result is byte-identical each time (tests/test_lifecycle.py checks).
# Usage: bash docs/example-ledger.sh [ROOT]   (default: the repo this script is in)
set -euo pipefail
ROOT="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
OTB="${OTB:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/otb}"
otb() { "$OTB" "$@" --root "$ROOT" >/dev/null; }

rm -rf "$ROOT/ledger"
otb fx import "$ROOT/exports/fx-rates.csv"                                        # USD rates for Northwind
otb bill 2024-08
otb finalize 2024-08 --at 2024-09-01T13:00:00Z
otb pay 620547 3257.23 --date 2024-09-20 --ref CHQ-2219 --method cheque
otb pay 987654 2028.74 --date 2024-09-12 --ref EFT-88410
otb pay 555123 1255.80 --date 2024-09-28 --ref VISA-5521 --method card
otb pay HOST-0042 1600.00 --date 2024-09-30 --ref BTC-7f3a --method crypto      # 28.00 more than owed
otb pay NWT-310 1168.73 --date 2024-09-16 --ref WIRE-5501                         # in USD, at 1.3560
otb bill 2024-09
otb finalize 2024-09 --at 2024-10-01T13:00:00Z
otb pay 987654 2000.00 --date 2024-10-14 --ref EFT-90112 --invoice 987654-202409
otb pay 620547 3365.99 --date 2024-10-25 --ref CHQ-2291 --method cheque
otb pay --reverse CHQ-2291 --date 2024-10-29 --note "NSF: returned by the bank"
otb credit 555123-202409 --amount 52.50 --reason "SLA credit: outage on 2024-09-14" --date 2024-10-10 \
    --at 2024-10-10T15:30:00Z
otb pay HOST-0042 1661.33 --date 2024-10-28 --ref BTC-80c1 --method crypto       # the rest after the credit
otb pay NWT-310 1370.77 --date 2024-10-15 --ref WIRE-5688                         # in USD, at 1.3790
otb bill 2024-10
