# blastnet_ros: the two commands (see README.md).
#   make demo   set up .venv and the colcon install, then run the nodes on a generated bag
#   make test   the same set-up, then the whole test suite (what CI runs: .ci/run)
#   make lint   flake8, pep257 and copyright headers only
#   make clean  remove build/, install/, log/, .demo/ and caches (keeps .venv)
# Extra arguments: make demo DEMO_ARGS="--duration 20"   make test PYTEST_ARGS="-x -k bag"

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test lint setup clean distclean

setup:
	@scripts/setup.sh

demo: setup
	@source scripts/ros_env.sh && .venv/bin/blastnet demo $(DEMO_ARGS)

# pytest exits 5 when it collects nothing: make then fails, as it should.
test: setup
	@source scripts/ros_env.sh && .venv/bin/python -m pytest test/ -q $(PYTEST_ARGS)

lint: setup
	@source scripts/ros_env.sh && .venv/bin/python -m pytest test/ -q -m linter $(PYTEST_ARGS)

clean:
	rm -rf build install log .demo .pytest_cache *.egg-info
	find blastnet_ros test launch -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf .venv
