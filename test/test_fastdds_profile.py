# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""config/fastdds_loopback.xml: what it says, and that it does it with real Fast DDS.

Two processes, each with the profile, exchange 640x480 rgb8 frames on a best-effort
subscription (without the profile's 32 MB shared-memory segment most of them are lost:
the default 512 KB segment cannot hold one), while the discovery and data ports of the
test's domain are bound to 127.0.0.1 only.
"""

import json
import os
from pathlib import Path
import subprocess
import sys
import xml.etree.ElementTree as ElementTree

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PROFILE = REPO_ROOT / 'config' / 'fastdds_loopback.xml'
FRAME_BYTES = 640 * 480 * 3
# Elements Fast DDS 3.x added; Fast DDS 2.x (ROS 2 Humble) rejects the profile over them.
FAST_DDS_3_ONLY = {'interfaces', 'allowlist', 'blocklist', 'netmask_filter'}


def profile_root():
    return ElementTree.parse(PROFILE).getroot()


def children(element, tag):
    return [child for child in element if child.tag.split('}')[-1] == tag]


def find_all(element, tag):
    return [node for node in element.iter() if node.tag.split('}')[-1] == tag]


def test_default_participant_uses_only_the_profiles_transports():
    root = profile_root()
    participants = find_all(root, 'participant')
    assert len(participants) == 1 and participants[0].get('is_default_profile') == 'true'
    rtps = children(participants[0], 'rtps')[0]
    assert children(rtps, 'useBuiltinTransports')[0].text.strip() == 'false'
    used = [node.text.strip() for node in find_all(children(rtps, 'userTransports')[0],
                                                   'transport_id')]
    descriptors = {children(node, 'transport_id')[0].text.strip():
                   children(node, 'type')[0].text.strip()
                   for node in find_all(root, 'transport_descriptor')}
    assert sorted(descriptors[name] for name in used) == ['SHM', 'UDPv4']


def test_shared_memory_segment_holds_several_vga_frames():
    shm = [node for node in find_all(profile_root(), 'transport_descriptor')
           if children(node, 'type')[0].text.strip() == 'SHM'][0]
    assert int(children(shm, 'segment_size')[0].text) >= 16 * FRAME_BYTES


def test_udp_and_discovery_name_loopback_only():
    root = profile_root()
    udp = [node for node in find_all(root, 'transport_descriptor')
           if children(node, 'type')[0].text.strip() == 'UDPv4'][0]
    allowed = [node.text.strip() for node in find_all(udp, 'address')]
    assert allowed == ['127.0.0.1']
    builtin = find_all(root, 'builtin')[0]
    for locator_list in ('initialPeersList', 'metatrafficUnicastLocatorList'):
        addresses = [node.text.strip() for node in find_all(children(builtin, locator_list)[0],
                                                            'address')]
        assert addresses == ['127.0.0.1'], locator_list
    assert not find_all(root, 'metatrafficMulticastLocatorList')


def test_profile_uses_no_element_fast_dds_2_rejects():
    tags = {node.tag.split('}')[-1] for node in profile_root().iter()}
    assert not tags & FAST_DDS_3_ONLY


PEER = r'''
import json, os, sys, time
import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

role, count = sys.argv[1], int(sys.argv[2])
context = Context()
rclpy.init(context=context, domain_id=int(os.environ['ROS_DOMAIN_ID']))
node = Node('profile_' + role, context=context)
executor = SingleThreadedExecutor(context=context)
executor.add_node(node)
deadline = time.monotonic() + 40
if role == 'pub':
    publisher = node.create_publisher(Image, 'profile_frames', 5)
    while publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)
    data = np.random.default_rng(0).integers(0, 255, 640 * 480 * 3, np.uint8).tobytes()
    message = Image(height=480, width=640, encoding='rgb8', step=640 * 3, data=data)
    for _ in range(count):
        now_ns = time.time_ns()
        message.header.stamp.sec, message.header.stamp.nanosec = divmod(now_ns, 10**9)
        publisher.publish(message)
        time.sleep(0.05)
    time.sleep(0.5)
else:
    latencies_ms = []
    def on_frame(frame):
        stamp_ns = frame.header.stamp.sec * 10**9 + frame.header.stamp.nanosec
        assert len(frame.data) == 640 * 480 * 3
        latencies_ms.append((time.time_ns() - stamp_ns) / 1e6)
    node.create_subscription(Image, 'profile_frames', on_frame, qos_profile_sensor_data)
    while node.count_publishers('profile_frames') < 1 and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    print('matched', flush=True)
    sys.stdin.readline()  # the test looks at the sockets meanwhile
    while time.monotonic() < deadline and len(latencies_ms) < count:
        executor.spin_once(timeout_sec=0.05)
        if node.count_publishers('profile_frames') == 0:
            break
    print(json.dumps({'received': len(latencies_ms),
                      'p50_ms': float(np.median(latencies_ms)) if latencies_ms else None}),
          flush=True)
executor.shutdown()
node.destroy_node()
rclpy.shutdown(context=context)
'''


def profile_variable():
    """Return the variable this ROS distribution's Fast DDS reads the XML profile from."""
    if os.environ.get('ROS_DISTRO', '') in ('humble', 'iron', 'jazzy'):  # Fast DDS 2.x
        return 'FASTRTPS_DEFAULT_PROFILES_FILE'
    return 'FASTDDS_DEFAULT_PROFILES_FILE'  # Fast DDS 3.x: Kilted (the pip venv) and later


def socket_inodes(pids):
    """Return the inodes of the sockets the processes `pids` hold open (Linux /proc)."""
    inodes = set()
    for pid in pids:
        for fd in Path(f'/proc/{pid}/fd').iterdir():
            try:
                target = os.readlink(fd)
            except OSError:   # closed meanwhile
                continue
            if target.startswith('socket:['):
                inodes.add(target[len('socket:['):-1])
    return inodes


def udp_sockets(pids):
    """Return [(address, port)] of the IPv4 UDP sockets of the processes `pids` (Linux).

    Only theirs: another process of the machine may hold an ephemeral UDP port that falls
    in the domain's port range (seen in CI: 192.0.2.2:46742, not a DDS socket).
    """
    inodes = socket_inodes(pids)
    sockets = []
    for line in Path('/proc/net/udp').read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] not in inodes:
            continue
        address_hex, port_hex = fields[1].split(':')
        address = '.'.join(str(int(address_hex[i:i + 2], 16)) for i in (6, 4, 2, 0))
        sockets.append((address, int(port_hex, 16)))
    return sockets


@pytest.mark.skipif(not Path('/proc/net/udp').exists(), reason='needs Linux /proc/net/udp')
def test_two_processes_exchange_vga_frames_on_loopback_only(ros_domain_id):
    count = 40
    env = dict(os.environ, ROS_DOMAIN_ID=str(ros_domain_id),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', ROS_LOCALHOST_ONLY='1',
               RMW_IMPLEMENTATION='rmw_fastrtps_cpp')
    env.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)
    env.pop('FASTRTPS_DEFAULT_PROFILES_FILE', None)
    env[profile_variable()] = str(PROFILE)
    subscriber = subprocess.Popen([sys.executable, '-c', PEER, 'sub', str(count)], env=env,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
    publisher = subprocess.Popen([sys.executable, '-c', PEER, 'pub', str(count)], env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert subscriber.stdout.readline().strip() == 'matched'
        # the RTPS well-known ports of the domain (PB 7400, DG 250, PG 2; d0 0, d1 10,
        # d2 1, d3 11): multicast first_port + 0 / + 1, unicast first_port + 10 + 2 i /
        # + 11 + 2 i for participant i. Only those: an ephemeral send socket of the same
        # processes may fall in the domain's range (seen: 192.0.2.2:50872, offset 222).
        first_port = 7400 + 250 * ros_domain_id
        well_known = {first_port, first_port + 1} | {
            first_port + 10 + 2 * index + unicast for index in range(8) for unicast in (0, 1)}
        domain_sockets = [(address, port) for address, port
                          in udp_sockets((subscriber.pid, publisher.pid))
                          if port in well_known]
        subscriber.stdin.write('\n')
        subscriber.stdin.flush()
        result = json.loads(subscriber.stdout.readline())
        assert publisher.wait(timeout=60) == 0, publisher.stderr.read()
        assert subscriber.wait(timeout=30) == 0, subscriber.stderr.read()
    finally:
        for process in (subscriber, publisher):
            if process.poll() is None:
                process.kill()
                process.wait()
    # discovery and user ports of both participants (RTPS port mapping of the domain)
    assert len(domain_sockets) >= 4, domain_sockets
    assert {address for address, _ in domain_sockets} == {'127.0.0.1'}, domain_sockets
    multicast_ports = {first_port, first_port + 1}  # discovery and user multicast
    assert not multicast_ports & {port for _, port in domain_sockets}, 'a multicast listener'
    assert result['received'] >= count * 0.9, result
    assert result['p50_ms'] < 100, result
