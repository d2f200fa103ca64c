# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The executor's topic of level changes, torch-free so readers need not load the models.

With `adaptation:=true` the executor publishes every level switch it makes on
LEVEL_CHANGES_TOPIC (relative, like every executor topic) as std_msgs/String, one JSON
object a change (runtime/level_adaptation.py level_change_json): `time_ns` (the
executor's clock), `task`, `from`, `to` (model names), `direction` ('down' or 'up'),
`reason`, and `switch_ms` where the executor measured the switch.
"""

LEVEL_CHANGES_TOPIC = 'blastnet/level_changes'   # std_msgs/String, one JSON object a change
