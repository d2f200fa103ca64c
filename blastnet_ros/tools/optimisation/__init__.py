# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""`blastnet optimise`: each task's level and the task priorities, chosen jointly offline.

- space.py: what may be chosen (each task's profiled levels and their accuracy loss, a
  priority order), the genome NSGA-II searches and how it decodes, the storage bound;
- pruning.py: the work bound that rejects surely infeasible candidates unsimulated;
- scoring.py: one candidate scored by the simulator over several seeds;
- evaluators.py: candidates scored in this process, on local processes, or on Dask;
- search.py: the NSGA-II run (pymoo), the archive, the chosen point, the diagnosis of an
  infeasible task set;
- report.py: the task set YAML the executor reads, and the report (Markdown, JSON, PNG).
"""
