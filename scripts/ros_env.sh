# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
#
# The ROS environment of `make demo` and `make test`: source it (bash), do not run it.
#   source scripts/ros_env.sh
#
# - The package: AMENT_PREFIX_PATH=<repo>/install/blastnet_ros:<repo>/.venv (replaced, not
#   extended: a sourced /opt/ros does not mix with the venv's Kilted wheels), so
#   get_package_share_directory('blastnet_ros') finds the colcon install (config/, launch/)
#   and rclpy finds the ROS 2 wheels' share/ and lib/ in the venv.
#   PYTHONPATH is left alone on purpose: scripts/setup.sh installs blastnet_ros into the
#   venv in editable mode, so every process on .venv/bin/python (pytest, .venv/bin/blastnet,
#   and the colcon-installed executables, whose shebang is the venv's python) imports the
#   source tree. The copy colcon puts under install/.../site-packages is then unused;
#   `source install/setup.bash` (what a ROS user does) would put it first instead.
# - DDS stays on this machine, whatever the calling shell had set:
#   ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST (Jazzy, Kilted), ROS_LOCALHOST_ONLY=1 (Humble;
#   Kilted ignores it), RMW_IMPLEMENTATION=rmw_fastrtps_cpp, and the Fast DDS profile
#   config/fastdds_loopback.xml (32 MB shared memory, UDP on 127.0.0.1 only) in
#   FASTDDS_DEFAULT_PROFILES_FILE, the name Fast DDS 3.x (Kilted, the venv) reads.
#   FASTRTPS_DEFAULT_PROFILES_FILE, the name Fast DDS 2.x (Humble, Jazzy) reads, is unset:
#   Kilted's rmw would use it too, and warn about it in every process. On a Humble machine
#   export FASTRTPS_DEFAULT_PROFILES_FILE=<this repo>/config/fastdds_loopback.xml instead.
# - ROS_DOMAIN_ID: kept when set, else a random one in 1..100 for this run, so two runs
#   on one machine do not hear each other.

_blastnet_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

export AMENT_PREFIX_PATH="${_blastnet_root}/install/blastnet_ros:${_blastnet_root}/.venv"
export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST
export ROS_LOCALHOST_ONLY=1
export RMW_IMPLEMENTATION=rmw_fastrtps_cpp
export FASTDDS_DEFAULT_PROFILES_FILE="${_blastnet_root}/config/fastdds_loopback.xml"
unset FASTRTPS_DEFAULT_PROFILES_FILE
if [ -z "${ROS_DOMAIN_ID:-}" ]; then
    ROS_DOMAIN_ID="$((RANDOM % 100 + 1))"
fi
export ROS_DOMAIN_ID

unset _blastnet_root
