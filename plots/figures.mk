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
#
# A project of one's own (PROJECT set, docs/project.md) gets no paper figures: one figure per
# `plot:` declaration of its specs (plots/spec-figures.sh) into FIG_OUT (PROJECT/results/figures)
# and a report on its own experiments (scripts/nsid-report.sh --project) in RESULTS/REPORT.md.

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
              $(sort $(wildcard $(PLOTS)/gp/*.gp $(PLOTS)/gp/*.awk $(PLOTS)/gp/*.sh $(PLOTS)/paper_*.csv))

ifneq ($(strip $(PROJECT)),)
FIG_INPUTS := $(wildcard $(PLOTS)/spec-figures.sh $(PLOTS)/views.sql $(PLOTS)/gp/*.gp $(PLOTS)/gp/*.sh) $(NSID_ROOT)/scripts/nsid-report.sh $(SPECS)

$(FIGURES): $(MERGED) $(FIG_INPUTS)
	bash $(PLOTS)/spec-figures.sh --db $(STORE) --nsid-db $(NSID_DB) --out $(FIG_OUT) \
	    --formats "$(FIG_FORMATS)" --report-dir $(RESULTS)
	bash $(NSID_ROOT)/scripts/nsid-report.sh --project $(PROJECT) --db $(STORE) --nsid-db $(NSID_DB) \
	    --figures $(FIG_OUT) --results $(RESULTS) --specs "$(SPECS)"
	@touch $@
else
$(FIGURES): $(MERGED) $(FIG_INPUTS)
	bash $(PLOTS)/figures.sh --db $(STORE) --nsid-db $(NSID_DB) --out $(FIG_OUT) --data $(FIG_DATA) \
	    --results $(RESULTS) --formats "$(FIG_FORMATS)"
	@touch $@
endif

.PHONY: figures report
figures: $(FIGURES)
report: $(FIGURES)
