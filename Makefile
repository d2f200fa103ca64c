# blastnet_ros: the commands (see README.md).
#   make demo   set up .venv and the colcon install, then run the nodes on a generated bag
#   make eval   the same set-up, then the policies on real nodes over a generated bag at
#               several loads, compared with its ground truth and with the simulator:
#               .eval/report/sweep.md (and a report per load point)
#   make test   the same set-up, then the whole test suite (what CI runs: .ci/run)
#   make lint   flake8, pep257 and copyright headers only
#   make clean  remove build/, install/, log/, .demo/, .eval/ and caches (keeps .venv)
# Extra arguments: make demo DEMO_ARGS="--duration 20"   make test PYTEST_ARGS="-x -k bag"
#   make eval EVAL_ARGS="--json"   make eval EVAL_LOADS=0.6,0.8,1.0,1.2 EVAL_POLICIES=blastnet,dm-model

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

DEMO_ARGS ?=
PYTEST_ARGS ?=
EVAL_ARGS ?=
# make eval: a load sweep. A 30 fps scenario bag of EVAL_DURATION s, replayed into the task
# set of config/eval_tasks.yaml at each share of the lanes' capacity in EVAL_LOADS (the
# bag faster, every period and deadline shorter by the same factor), the policies in turn
# EVAL_REPEAT times per point. Each run replays the bag's first EVAL_RUN_S x rate seconds,
# so it lasts EVAL_RUN_S s whatever the machine's speed sets the rates to (the whole bag
# where that is shorter); with node start-up (~6 s on a 2-core machine) and drain (~3 s),
# 3 points x 3 policies x 3 runs take about 8-10 min. The bag is kept in .eval/ and reused
# for the same settings.
# Loads are model time (the measured profile) over the lanes' capacity: live, pre- and
# postprocessing, the input path and DDS come on top: at 0.8 the lanes are about full.
# EVAL_LOADS= (empty) evaluates once at EVAL_RATE instead.
EVAL_DURATION ?= 12
EVAL_RUN_S ?= 10
EVAL_SEED ?= 1
EVAL_REPEAT ?= 3
EVAL_LOADS ?= 0.6,0.7,0.8
EVAL_RATE ?= 1
EVAL_POLICIES ?= blastnet,dm-model,edf-block
EVAL_BAG := .eval/scenario_$(EVAL_DURATION)s_30fps_seed$(EVAL_SEED)
# The load points are shares of the lanes' capacity as measured now: `make eval` first
# profiles the task set's models on this machine (~15 s; a VM's speed moves from day to
# day, by 44 % here between two days) into EVAL_MEASURED_PROFILE, which the executor plans
# with and the simulator starts from. EVAL_PROFILE=FILE uses that profile instead.
EVAL_PROFILE ?=
EVAL_MEASURED_PROFILE := .eval/profile.json

.PHONY: demo eval test lint setup clean distclean

setup:
	@scripts/setup.sh

demo: setup
	@source scripts/ros_env.sh && .venv/bin/blastnet demo $(DEMO_ARGS)

eval: setup
	@source scripts/ros_env.sh \
		&& { [ -f $(EVAL_BAG)/metadata.yaml ] || .venv/bin/blastnet scenario \
			--duration $(EVAL_DURATION) --fps 30 --seed $(EVAL_SEED) --output $(EVAL_BAG); } \
		&& { [ -n "$(EVAL_PROFILE)" ] || { mkdir -p .eval && .venv/bin/blastnet profile \
			--tasks-file config/eval_tasks.yaml --repeats 30 --no-block-check \
			--output $(EVAL_MEASURED_PROFILE) > .eval/profile.txt; }; } \
		&& .venv/bin/blastnet evaluate $(EVAL_BAG) --policies $(EVAL_POLICIES) \
			--profile $(or $(EVAL_PROFILE),$(EVAL_MEASURED_PROFILE)) \
			$(if $(EVAL_LOADS),--load $(EVAL_LOADS),--rate $(EVAL_RATE)) \
			--repeat $(EVAL_REPEAT) --run-seconds $(EVAL_RUN_S) \
			--tasks-file config/eval_tasks.yaml \
			--output .eval/report $(EVAL_ARGS)

# pytest exits 5 when it collects nothing: make then fails, as it should.
test: setup
	@source scripts/ros_env.sh && .venv/bin/python -m pytest test/ -q $(PYTEST_ARGS)

lint: setup
	@source scripts/ros_env.sh && .venv/bin/python -m pytest test/ -q -m linter $(PYTEST_ARGS)

clean:
	rm -rf build install log .demo .eval .pytest_cache *.egg-info
	find blastnet_ros test launch -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv
