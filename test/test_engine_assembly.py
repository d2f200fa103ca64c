# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""The engine assembled from a task set without ROS: what it loaded, and that it runs."""

import threading
import time

import pytest

from blastnet_ros.core.deadline_stats import DeadlineStats
from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.task import LaneSpec
from blastnet_ros.runtime.config_files import load_task_set
from blastnet_ros.runtime.engine_assembly import (assemble_engine, check_lane_devices,
                                                  EngineOptions)
from blastnet_ros.runtime.engine_description import (BlockDescription, EngineDescription,
                                                     TaskDescription, weights_from_key_values)
from blastnet_ros.runtime.profiler import example_message_input


def test_the_description_round_trips_the_weights_through_key_values():
    description = EngineDescription(
        policy='blastnet', granularity='duo-block', profile='vm (2026-11-23)',
        tasks=(TaskDescription('detector', 'tiny_yolo', '/x/models/weights/tiny_yolo.pt',
                               (BlockDescription((0, 4), (('cpu0', 'onnx-cpu'),
                                                          ('cpu1', 'torch-cpu'))),
                                BlockDescription((4, 11), (('cpu0', 'onnx-cpu'),)))),
               TaskDescription('sound', 'sbcnn', 'untrained',
                               (BlockDescription((0, 4), (('cpu1', 'torch-cpu'),)),))))
    pairs = dict(description.key_values())
    assert pairs['profile'] == 'vm (2026-11-23)'
    assert pairs['task.detector.blocks'] == '0-4 cpu0:onnx-cpu cpu1:torch-cpu | 4-11 cpu0:onnx-cpu'
    assert weights_from_key_values(description.key_values()) == (
        ('detector', '/x/models/weights/tiny_yolo.pt'), ('sound', 'untrained'))


def test_the_default_task_set_assembles_and_runs_a_job_of_every_task():
    task_set = load_task_set()
    warnings = []
    assembled = assemble_engine(task_set, EngineOptions(policy='dm-model'),
                                warn=warnings.append)
    assert warnings == []   # the shipped trained weights load
    described = {task.task: task for task in assembled.description.tasks}
    assert set(described) == {task.name for task in task_set.tasks}
    for task in task_set.tasks:
        assert described[task.name].weights.endswith(f'{task.model}.pt')
        assert [block.units for block in described[task.name].blocks] == \
            list(assembled.plan.blocks[task.name].unit_ranges)
    done = threading.Semaphore(0)
    results = []
    stats = DeadlineStats([task.name for task in task_set.tasks])
    engine = assembled.start(time.monotonic_ns, stats, on_result=lambda r: (results.append(r),
                                                                            done.release()),
                             on_failure=lambda f: done.release(), drop_hopeless=False)
    try:
        for task in task_set.tasks:
            engine.submit(task.name, time.monotonic_ns(), example_message_input(task.model))
        for _ in task_set.tasks:
            assert done.acquire(timeout=30)
    finally:
        engine.close()
    assert sorted(result.job.task for result in results) == sorted(described)


def test_a_cuda_lane_without_cuda_is_a_clear_configuration_error():
    pytest.importorskip('torch')
    import torch
    if torch.cuda.is_available():
        pytest.skip('this machine has CUDA')
    with pytest.raises(BadInputError) as caught:
        check_lane_devices([LaneSpec('gpu0', 'cuda:0')])
    assert "lane 'gpu0' is on cuda:0" in str(caught.value)
