# plots/figures.mk - the paper's figures and the reproduction report (issue 7) as a make rule.
#
# Included by Makefile.experiments, which defines NSID_ROOT, PLOTS, NSID_DB (the nsid-db
# binary), STORE (results.db), MERGED (the stamp `nsid-db merge` leaves), RESULTS and
# FIGURES (the stamp of this rule). Alone:
#     make -f plots/figures.mk STORE=results/results.db NSID_DB=build/nsid-db
# (without a merge stamp the rule depends on the database file itself).
#
# The figures and the report are redrawn when the merged results change (MERGED is touched
# by each merge that brought something in) or when a script, the views or the paper's
# values change, and not otherwise: a second `make` does nothing.
#   FIG_FORMATS   formats drawn, default "png svg pdf"
#   FIG_OUT       where the figures land, default plots/ (git-ignored), data in plots/data/

FIG_MK := $(lastword $(MAKEFILE_LIST))
PLOTS ?= $(patsubst %/,%,$(dir $(FIG_MK)))
NSID_ROOT ?= $(patsubst %/,%,$(dir $(PLOTS)))
RESULTS ?= results
STORE ?= $(RESULTS)/results.db
NSID_DB ?= build/nsid-db
MERGED ?= $(STORE)
FIGURES ?= $(RESULTS)/figures.stamp
FIG_FORMATS ?= png svg pdf
FIG_OUT ?= $(PLOTS)
FIG_DATA ?= $(PLOTS)/data

FIG_INPUTS := $(PLOTS)/figures.sh $(PLOTS)/spec-figures.sh $(PLOTS)/views.sql $(wildcard $(PLOTS)/findings.sql) $(NSID_ROOT)/scripts/nsid-report.sh \
              $(sort $(wildcard $(PLOTS)/gp/*.gp $(PLOTS)/gp/*.awk $(PLOTS)/paper_*.csv))

$(FIGURES): $(MERGED) $(FIG_INPUTS)
	bash $(PLOTS)/figures.sh --db $(STORE) --nsid-db $(NSID_DB) --out $(FIG_OUT) --data $(FIG_DATA) \
	    --results $(RESULTS) --formats "$(FIG_FORMATS)"
	@touch $@

.PHONY: figures report
figures: $(FIGURES)
report: $(FIGURES)
