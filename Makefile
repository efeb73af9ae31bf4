# OTB Billing. Everything runs from a virtualenv in .venv that the first target creates.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MONTH  ?= 2024-10
ROOT   ?= .
N      ?= 100 1000 10000

.PHONY: help install demo bill watch finalize check fava test lint bench clean

help:
	@echo "make demo                 bill the example month (2024-10) and check the ledger"
	@echo "make bill MONTH=YYYY-MM   bill a month: draft invoices in ledger/, QuickBooks CSVs in build/"
	@echo "make watch MONTH=YYYY-MM  bill the month again on every save of a client, plan, export or settings"
	@echo "make finalize MONTH=...   issue the month's drafts (they are never rewritten after this)"
	@echo "make check [MONTH=...]    validate YAML, exports and the ledger"
	@echo "make fava                 browse the ledger on http://127.0.0.1:5000"
	@echo "make test                 run the test suite"
	@echo "make lint                 ruff on the code, tests and benchmarks; mypy on the whole package"
	@echo "make bench                time otb bill on $(N) clients, 1000 PDFs, status and aging on 120,000 invoices,"
	@echo "                          a year of bills and a December payment on 1,000 clients"
	@echo "                          (BASELINE=REV also times that git revision, interleaved, for ratios)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/otb bill 2024-10 --root $(ROOT)
	$(BIN)/otb check 2024-10 --root $(ROOT)

bill: $(STAMP)
	$(BIN)/otb bill $(MONTH) --root $(ROOT)

watch: $(STAMP)
	$(BIN)/otb watch $(MONTH) --root $(ROOT)

check: $(STAMP)
	$(BIN)/otb check $(MONTH) --root $(ROOT)

fava: $(STAMP)
	$(BIN)/fava --host 127.0.0.1 --port 5000 $(ROOT)/ledger/main.beancount

finalize: $(STAMP)
	$(BIN)/otb finalize $(MONTH) --root $(ROOT)

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

lint: $(STAMP)
	$(BIN)/ruff check otb_billing tests bench
	$(BIN)/mypy otb_billing

bench: $(STAMP)
	$(BIN)/python bench/bench_bill.py $(N) $(if $(BASELINE),--baseline $(BASELINE))
	$(BIN)/python bench/bench_pdf.py 1000 $(if $(BASELINE),--baseline $(BASELINE))
	$(BIN)/python bench/bench_reports.py 10000 $(if $(BASELINE),--baseline $(BASELINE))
	$(BIN)/python bench/bench_year.py 1000 $(if $(BASELINE),--baseline $(BASELINE))

clean:
	rm -rf build .pytest_cache
