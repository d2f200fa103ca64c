# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Calibration: traces -> profile figures -> what the partitioner and the simulator use."""

import json
from dataclasses import replace

import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.partitioner import partition, plan_on_machine
from blastnet_ros.core.profile import (Calibration, calibrated_profile, load_profile,
                                       profile_from_dict, save_profile)
from blastnet_ros.core.block_plan import BlockPlan, DUO_BLOCK
from blastnet_ros.core.load_changes import LoadChange, SLOWDOWN
from blastnet_ros.core.scenario import (calibrated_load_changes, calibrated_timings,
                                        quantile_draw, Scenario, task_releases, TaskTiming)
from blastnet_ros.core.simulator import simulate
from blastnet_ros.runtime.block_trace import BlockTraceEntry
from blastnet_ros.runtime.engine_description import task_plans_from_key_values
from blastnet_ros.runtime.job_trace import JobTraceEntry
from blastnet_ros.runtime.recorded_traces import write_recorded_traces
from blastnet_ros.runtime.trace_calibration import (calibration_from_runs, RecordedRun,
                                                    recorded_runs, STEADY_MIN_MS)
from blastnet_ros.tools.cli.main import main
from simulation_support import machine_profile, model_profile, MS, scenario, task

T0 = 1_800_000_000_000_000_000
PROFILE = machine_profile({'net': model_profile('net', [2.0, 2.0, 4.0])})
ENGINE = (('policy', 'blastnet'), ('task.det.model', 'net'),
          ('task.det.weights', 'untrained'),
          ('task.det.blocks', '0-2 cpu0:onnx-cpu cpu1:onnx-cpu | 2-3 cpu0:onnx-cpu'))


def traced_job(index, stretch=1.0):
    """Return job `index` of task det and its two blocks.

    Block 0 (units 0-1, 4 ms profiled) on cpu0 runs 6 ms of its own after 1 ms
    preprocessing; block 1 (unit 2, 4 ms) on cpu1 runs 5 ms after a 0.3 ms hand-over,
    then 0.5 ms postprocessing; released 2 ms after its stamp. `stretch` scales both
    blocks' own times.
    """
    stamp = T0 + index * 100 * MS
    release = stamp + 2 * MS
    b0_start = release + MS // 2            # hand-over from the release: 0.5 ms
    b0_end = b0_start + MS + round(6 * MS * stretch)
    b1_start = b0_end + 300_000
    b1_end = b1_start + round(5 * MS * stretch) + MS // 2
    blocks = (BlockTraceEntry('det', stamp, 0, 'cpu0', b0_start, b0_end, ready_ns=release,
                              dispatch_ns=release, preprocess_ns=MS),
              BlockTraceEntry('det', stamp, 1, 'cpu1', b1_start, b1_end, ready_ns=b0_end,
                              dispatch_ns=b0_end, postprocess_ns=MS // 2))
    job = JobTraceEntry('det', stamp, release - MS // 2, release, b1_end + 100_000,
                        b1_end + 200_000)
    return job, blocks


def recorded(count=6):
    jobs, blocks = zip(*(traced_job(index) for index in range(count)))
    return RecordedRun(tuple(jobs), tuple(entry for pair in blocks for entry in pair), ENGINE)


def test_the_engine_description_gives_each_tasks_units():
    assert task_plans_from_key_values(ENGINE) == {'det': ('net', ((0, 2), (2, 3)))}
    assert task_plans_from_key_values((('task.x.model', 'net'), ('task.x.blocks', 'junk'))) == {}


def test_traces_give_slowdown_stages_handovers_and_release_delay():
    calibration = calibration_from_runs([recorded()], PROFILE, 'runs')
    assert calibration.lane_slowdown == {'cpu0': 1.5, 'cpu1': 1.25}
    assert calibration.model_slowdown == {'net@cpu0': 1.5, 'net@cpu1': 1.25}
    assert calibration.preprocess_ns == {'net': MS}
    assert calibration.postprocess_ns == {'net': MS // 2}
    assert calibration.handover_ns == {'input>cpu0': MS // 2, 'cpu0>cpu1': 300_000}
    assert calibration.release_delay_ns == {'det': 2 * MS}
    assert calibration.release_jitter_ns == {'det': 0}
    assert calibration.exec_variation == {'net': 0.0}   # every job alike
    assert calibration.source == 'runs (1 run(s), 6 jobs)'


def test_stages_and_handovers_are_means_over_every_run():
    # one run's sixth job has 6.5 ms postprocessing (the others 0.5 ms): a long tail the
    # simulator must add on average, so 1.5 ms, not the median 0.5 ms; a second run of 6
    # jobs at 0.5 ms pools to 1 ms
    jobs, blocks = zip(*(traced_job(index) for index in range(6)))
    blocks = [list(pair) for pair in blocks]
    last = blocks[5][1]
    blocks[5][1] = replace(last, end_ns=last.end_ns + 6 * MS, postprocess_ns=13 * MS // 2)
    tailed = RecordedRun(tuple(jobs), tuple(entry for pair in blocks for entry in pair),
                         ENGINE)
    assert calibration_from_runs([tailed], PROFILE, 'runs').postprocess_ns == \
        {'net': 3 * MS // 2}
    pooled = calibration_from_runs([tailed, recorded()], PROFILE, 'runs')
    assert pooled.postprocess_ns == {'net': MS}
    assert pooled.handover_ns == {'input>cpu0': MS // 2, 'cpu0>cpu1': 300_000}


def test_a_calibration_gives_a_scenario_the_jitter_and_variation_it_measured():
    calibration = Calibration(source='test', release_jitter_ns={'det': 3 * MS, 'slow': 50 * MS},
                              exec_variation={'net': 0.08, 'big': 0.95})
    tasks = [task('det', 'net', 33), task('slow', 'net', 20), task('other', 'big', 100),
             task('quiet', 'none', 10)]
    assert calibrated_timings(calibration, tasks) == (
        TaskTiming('det', jitter_ns=3 * MS, exec_variation=0.08),
        TaskTiming('slow', jitter_ns=20 * MS - 1, exec_variation=0.08),
        TaskTiming('other', jitter_ns=0, exec_variation=0.9))


def test_the_execution_variation_is_that_of_whole_jobs():
    # jobs 0.8x to 1.2x the usual (11 of 8 ms profiled): 1.375 x 0.8 .. 1.2, median 1.375
    jobs, blocks = zip(*(traced_job(index, 0.8 + 0.04 * index) for index in range(11)))
    run = RecordedRun(tuple(jobs), tuple(entry for pair in blocks for entry in pair), ENGINE)
    calibration = calibration_from_runs([run], PROFILE, 'runs')
    assert calibration.exec_variation == {'net': 0.2}   # nearest-rank 5th and 95th
    # the factors around what the units hold (1.375x on average): 0.8 .. 1.2
    table = calibration.exec_quantiles['net']
    assert len(table) == 21 and table[0] == pytest.approx(0.8, abs=0.01)
    assert table[10] == pytest.approx(1.0, abs=0.01)
    assert table[-1] == pytest.approx(1.2, abs=0.01)
    # each block alike (both stretched with their job), around its lane's factor
    blocks = calibration.block_quantiles['net']
    assert len(blocks) == 21 and blocks[0] == pytest.approx(0.8, abs=0.01)
    assert blocks[-1] == pytest.approx(1.2, abs=0.01)


def test_blocks_that_vary_apart_give_block_factors_wider_than_the_jobs():
    # block 0 of even jobs 1.2x, of odd ones 0.8x; block 1 the other way round: every
    # job takes its usual time, its blocks do not
    jobs, blocks = [], []
    for index in range(10):
        job, pair = traced_job(index)
        up = 1.2 if index % 2 else 0.8
        first = replace(pair[0], end_ns=pair[0].start_ns + MS + round(6 * MS * up))
        shift = first.end_ns - pair[0].end_ns
        second = replace(pair[1], start_ns=pair[1].start_ns + shift, ready_ns=first.end_ns,
                         dispatch_ns=first.end_ns,
                         end_ns=pair[1].start_ns + shift + MS // 2 + round(5 * MS * (2 - up)))
        jobs.append(job)
        blocks += [first, second]
    calibration = calibration_from_runs([RecordedRun(tuple(jobs), tuple(blocks), ENGINE)],
                                        PROFILE, 'runs')
    assert calibration.exec_quantiles['net'][-1] - calibration.exec_quantiles['net'][0] < 0.05
    assert calibration.block_quantiles['net'][0] == pytest.approx(0.8, abs=0.01)
    assert calibration.block_quantiles['net'][-1] == pytest.approx(1.2, abs=0.01)
    # and per unit range: block 0 is units 0-2, block 1 unit 2-3
    assert calibration.block_quantiles['net@0-2'][0] == pytest.approx(0.8, abs=0.01)
    assert calibration.range_quantiles('net') == (
        (0, 2, calibration.block_quantiles['net@0-2']),
        (2, 3, calibration.block_quantiles['net@2-3']))
    # a scenario built from it draws per block (block factors), not per job
    det = task('det', 'net', 100)
    timing, = calibrated_timings(calibration, [det])
    assert timing.block_factors == calibration.block_quantiles['net']
    assert timing.range_factors == calibration.range_quantiles('net')
    assert (timing.exec_factors, timing.exec_variation) == ((), 0.0)


def slow_start_run(count=50):
    """Return a run of `count` jobs 100 ms apart whose first 250 ms ran 2x, next 250 1.5x."""
    pairs = [traced_job(index, 2.0 if index < 3 else 1.5 if index < 5 else 1.0)
             for index in range(count)]
    return RecordedRun(tuple(job for job, _ in pairs),
                       tuple(entry for _, blocks in pairs for entry in blocks), ENGINE)


def test_a_runs_slow_start_is_measured_apart_from_the_rest():
    # jobs at 0, 100, 200 ms stretched 2x, at 300 and 400 ms 1.5x, the rest as usual:
    # block 0 takes 1 + 6 x stretch ms of its lane (preprocessing included), block 1
    # 5 x stretch + 0.5 (postprocessing); each over its usual 7 and 5.5 ms, averaged.
    # 250-500 ms holds 4 blocks, fewer than MIN_SAMPLES: left out
    calibration = calibration_from_runs([slow_start_run()], PROFILE, 'runs')
    start = calibration.startup_slowdown
    assert start == {'0-250': pytest.approx((13 / 7 + 10.5 / 5.5) / 2, abs=1e-3),
                     '500-1000': 1.0}
    assert calibration.startup_windows() == (
        (0, 250 * MS, start['0-250']), (500 * MS, 1000 * MS, 1.0))
    from blastnet_ros.tools.cli.profile import format_calibration
    text = format_calibration(calibration)
    assert f"start of a run, 0-250 ms: blocks take {start['0-250']:.2f}x their later time" \
        in text
    # the figures of the rest leave the start out: as for a run without a slow start
    assert calibration.lane_slowdown == {'cpu0': 1.5, 'cpu1': 1.25}
    assert calibration.exec_variation == {'net': 0.0}
    # a run too short to tell its start apart (1.1 s: less than STEADY_MIN_MS after its
    # first second) measures none, and counts every block in the other figures
    assert STEADY_MIN_MS == 3000
    short = calibration_from_runs([slow_start_run(count=12)], PROFILE, 'runs')
    assert short.startup_slowdown == {}
    assert short.lane_slowdown['cpu0'] > 1.5 or short.exec_variation['net'] > 0


def test_the_slow_start_slows_every_lane_of_a_simulated_run_and_round_trips(tmp_path):
    calibration = replace(CALIBRATION, startup_slowdown={'250-500': 1.5, '0-250': 2.0})
    assert calibrated_load_changes(calibration) == (
        LoadChange(SLOWDOWN, 0, 250 * MS, 2.0), LoadChange(SLOWDOWN, 250 * MS, 500 * MS, 1.5))
    assert calibrated_load_changes(CALIBRATION) == ()
    calibrated = calibrated_profile(PROFILE, calibration)
    assert list(calibrated.to_dict()['calibration']['startup_slowdown']) == ['0-250',
                                                                             '250-500']
    save_profile(calibrated, tmp_path / 'calibrated.json')
    assert load_profile(tmp_path / 'calibrated.json') == calibrated
    for key in ('250-0', 'start', '0-250ms'):
        document = calibrated.to_dict()
        document['calibration']['startup_slowdown'] = {key: 2.0}
        with pytest.raises(BadInputError, match=f"startup_slowdown key '{key}'"):
            profile_from_dict(document)
    document['calibration']['startup_slowdown'] = {'0-250': 0}
    with pytest.raises(BadInputError, match=r'startup_slowdown\.0-250 is 0'):
        profile_from_dict(document)


def test_figures_with_too_few_samples_are_left_out():
    calibration = calibration_from_runs([recorded(count=2)], PROFILE, 'runs')
    assert calibration.lane_slowdown == {} and calibration.release_delay_ns == {}


def test_a_run_without_its_engine_description_cannot_calibrate():
    run = recorded()
    with pytest.raises(BadInputError, match='no traced block'):
        calibration_from_runs([RecordedRun(run.jobs, run.blocks, ())], PROFILE, 'runs')


CALIBRATION = Calibration(source='test', lane_slowdown={'cpu0': 1.5},
                          preprocess_ns={'net': MS}, postprocess_ns={'net': MS // 2},
                          handover_ns={'input>cpu0': MS // 2, 'cpu0>cpu1': 300_000},
                          release_delay_ns={'det': 2 * MS})


def test_a_calibrated_profile_holds_the_figures_in_its_units_and_round_trips(tmp_path):
    calibrated = calibrated_profile(PROFILE, CALIBRATION)
    units = calibrated.models['net'].units
    assert [unit.latency_ns['cpu0'] for unit in units] == [4 * MS, 3 * MS, 6 * MS + MS // 2]
    assert [unit.latency_ns['cpu1'] for unit in units] == [3 * MS, 2 * MS, 4 * MS + MS // 2]
    assert calibrated.handover_ns('cpu0', 'cpu1') == 300_000
    assert calibrated.handover_ns('cpu1', 'cpu0') == 0
    assert calibrated.release_delay_ns('det') == 2 * MS
    save_profile(calibrated, tmp_path / 'calibrated.json')
    assert load_profile(tmp_path / 'calibrated.json') == calibrated
    # a model's own factor on a lane wins over the lane's
    own = calibrated_profile(PROFILE, replace(CALIBRATION, model_slowdown={'net@cpu0': 2.0}))
    assert [unit.latency_ns['cpu0'] for unit in own.models['net'].units] == [
        5 * MS, 4 * MS, 8 * MS + MS // 2]
    with pytest.raises(BadInputError, match='already calibrated'):
        calibrated_profile(calibrated, CALIBRATION)


def test_a_bad_calibration_section_names_the_entry():
    document = calibrated_profile(PROFILE, CALIBRATION).to_dict()
    document['calibration']['lane_slowdown']['cpu0'] = 0
    with pytest.raises(BadInputError, match=r'calibration\.lane_slowdown\.cpu0 is 0'):
        profile_from_dict(document)
    document['calibration']['lane_slowdown'] = [1.0]
    with pytest.raises(BadInputError, match='not a mapping'):
        profile_from_dict(document)


def test_the_simulator_releases_late_and_hands_over_between_blocks():
    # one job: stamp 0, released 2 ms later; block 0 (units 0-1: 1 + 3 + 3 ms calibrated)
    # on cpu0 (cpu1 is slower) after 0.5 ms from the release, block 1 (6 + 0.5 ms) on cpu0
    # again after 0.3 ms
    calibration = Calibration(source='test', lane_slowdown={'cpu0': 1.5, 'cpu1': 2.0},
                              preprocess_ns={'net': MS}, postprocess_ns={'net': MS // 2},
                              handover_ns={'input>cpu0': MS // 2, 'cpu0>cpu0': 300_000},
                              release_delay_ns={'det': 2 * MS})
    calibrated = calibrated_profile(PROFILE, calibration)
    det = task('det', 'net', 100, 20, lanes=('cpu0', 'cpu1'))
    plans = {'det': BlockPlan('net', ((0, 2), (2, 3)))}
    result = simulate(scenario([det], 50), calibrated, 'edf-block', plans, trace=True)
    first, second = result.timeline
    assert (first.lane, first.start_ns, first.end_ns) == ('cpu0', 2 * MS, 9 * MS + MS // 2)
    assert (second.lane, second.end_ns) == ('cpu0', 9 * MS + MS // 2 + 300_000 + 6 * MS
                                            + MS // 2)
    assert result.jobs[0].release_ns == 0 and result.jobs[0].end_ns == second.end_ns
    assert result.task('det').met == 1
    # the same job against a 15 ms deadline misses only because of what was calibrated
    tight = task('det', 'net', 100, 15, lanes=('cpu0', 'cpu1'))
    assert simulate(scenario([tight], 50), PROFILE, 'edf-block', plans).task('det').met == 1
    assert simulate(scenario([tight], 50), calibrated, 'edf-block',
                    plans).task('det').missed == 1


def test_a_cut_must_pay_for_the_measured_hand_over():
    model = model_profile('net', [4.0, 4.0, 4.0, 4.0])
    lanes = PROFILE.lanes
    assert partition(model, lanes).num_blocks > 1
    assert partition(model, lanes, handover_ns=2 * MS).num_blocks == 1
    costly = Calibration(source='test', handover_ns={'cpu0>cpu1': 2 * MS})
    on_machine = machine_profile({'net': model})
    assert plan_on_machine(DUO_BLOCK, on_machine, 'net', lanes).num_blocks > 1
    calibrated = calibrated_profile(on_machine, costly)
    assert plan_on_machine(DUO_BLOCK, calibrated, 'net', lanes).num_blocks == 1


def test_profile_from_trace_writes_a_calibrated_profile(tmp_path, capsys):
    run = recorded()
    write_recorded_traces(tmp_path / 'report' / 'traces' / 'blastnet', run.jobs, run.blocks,
                          run.engine)
    assert len(recorded_runs(tmp_path / 'report')) == 1
    # a repeat of the policy's run counts too, from the report or the policy's folder
    write_recorded_traces(tmp_path / 'report' / 'traces' / 'blastnet' / 'repeat_2', run.jobs,
                          run.blocks, run.engine)
    assert len(recorded_runs(tmp_path / 'report')) == 2
    assert len(recorded_runs(tmp_path / 'report' / 'traces' / 'blastnet')) == 2
    save_profile(PROFILE, tmp_path / 'profile.json')
    assert main(['profile', '--from-trace', str(tmp_path / 'report'),
                 '--profile', str(tmp_path / 'profile.json')]) == 0
    written = load_profile(tmp_path / 'report' / 'calibrated_profile.json')
    assert written.calibration.lane_slowdown == {'cpu0': 1.5, 'cpu1': 1.25}
    out = capsys.readouterr().out
    assert 'lane cpu0: blocks run 1.500x their profiled time' in out
    assert 'task det: released 2.000 ms after its stamp (+ up to 0.000 ms)' in out
    assert 'net: jobs vary -/+ 0%' in out
    assert 'net: a block takes 1.00x (5th percentile) to 1.00x (95th) its usual time' in out
    document = json.loads((tmp_path / 'report' / 'calibrated_profile.json').read_text())
    assert document['calibration']['handover_ns'] == {'cpu0>cpu1': 300000,
                                                      'input>cpu0': 500000}


def test_profile_from_an_empty_folder_says_what_to_give(tmp_path, capsys):
    assert main(['profile', '--from-trace', str(tmp_path)]) == 2
    assert 'no recorded traces under' in capsys.readouterr().err


def test_recorded_releases_replace_the_period_and_keep_their_arrivals():
    det = task('det', 'net', 100, 20, lanes=('cpu0', 'cpu1'))
    recorded = scenario([det], 50)
    recorded = Scenario(task_set=recorded.task_set, duration_ns=recorded.duration_ns,
                        recorded_releases=(('det', ((0, 3 * MS), (7 * MS, 8 * MS))),))
    calibrated = calibrated_profile(PROFILE, CALIBRATION)   # its 2 ms delay is not added
    result = simulate(recorded, calibrated, 'dm-model', trace=True)
    releases = [(job.release_ns, job.arrival_ns) for job in result.jobs]
    assert releases == [(0, 3 * MS), (7 * MS, 8 * MS)]
    assert result.task('det').released == 2


def test_job_factors_are_drawn_from_the_measured_quantiles():
    assert quantile_draw((1.0, 2.0, 3.0), 0.0) == 1.0
    assert quantile_draw((1.0, 2.0, 3.0), 0.5) == 2.0
    assert quantile_draw((1.0, 2.0, 3.0), 0.75) == 2.5
    assert quantile_draw((1.0, 2.0, 3.0), 0.999) == pytest.approx(3.0, abs=0.01)
    det = task('det', 'net', 10, 10)
    base = scenario([det], 1000)
    noisy = Scenario(task_set=base.task_set, duration_ns=base.duration_ns,
                     timings=(TaskTiming('det', exec_factors=(0.9, 1.0, 1.6)),))
    factors = [release.exec_factor for release in task_releases(noisy, det)]
    assert len(factors) == 100 and 0.9 <= min(factors) and max(factors) <= 1.6
    assert sum(factor > 1.3 for factor in factors) > 10   # the tail is drawn
    with pytest.raises(ValueError, match='exec_factors'):
        Scenario(task_set=base.task_set, duration_ns=base.duration_ns,
                 timings=(TaskTiming('det', exec_factors=(1.2, 1.0)),))


def test_the_simulator_draws_a_factor_for_every_block():
    det = task('det', 'net', 20)   # 3 units of 2, 2, 4 ms; planned whole or as given
    plan = {'det': BlockPlan('net', ((0, 2), (2, 3)))}
    base = scenario([det], 400)

    def block_times(factors, seed=0):
        noisy = replace(base, seed=seed, timings=(TaskTiming('det', block_factors=factors),))
        result = simulate(noisy, PROFILE, 'dm-model', plan, trace=True)
        return [(run.block_index, run.end_ns - run.start_ns) for run in result.timeline]
    doubled = block_times((1.99, 2.01))
    assert len(doubled) == 40
    assert all(7.9 * MS <= ns <= 8.1 * MS for _, ns in doubled)   # each block 2 x 4 ms
    spread = block_times((0.5, 1.5))
    firsts = [ns / (4 * MS) for block, ns in spread if block == 0]
    assert 0.5 <= min(firsts) < 0.7 and 1.3 < max(firsts) <= 1.5
    # the two blocks of a job draw apart, and the same seed draws the same again
    ratios = [ns / (4 * MS) for _, ns in spread]
    assert sum(abs(a - b) > 0.2 for a, b in zip(ratios[::2], ratios[1::2])) > 5
    assert block_times((0.5, 1.5)) == spread != block_times((0.5, 1.5), seed=1)
    # a unit range with factors of its own draws from them; the others from the model's
    ranged = replace(base, timings=(TaskTiming('det', block_factors=(0.99, 1.01),
                                               range_factors=((0, 2, (1.99, 2.01)),)),))
    result = simulate(ranged, PROFILE, 'dm-model', plan, trace=True)
    times = {(run.block_index, round((run.end_ns - run.start_ns) / MS)) for run in result.timeline}
    assert times == {(0, 8), (1, 4)}
    with pytest.raises(ValueError, match='block_factors'):
        replace(base, timings=(TaskTiming('det', block_factors=(1.2, 1.0)),))


def test_a_bad_quantile_table_names_the_model():
    document = calibrated_profile(PROFILE, CALIBRATION).to_dict()
    document['calibration']['exec_quantiles'] = {'net': [1.2, 1.0]}
    with pytest.raises(BadInputError, match=r'exec_quantiles\.net is not a rising list'):
        profile_from_dict(document)
    document['calibration']['exec_quantiles'] = {}
    document['calibration']['block_quantiles'] = {'net': [2.0, 1.0]}
    with pytest.raises(BadInputError, match=r'block_quantiles\.net is not a rising list'):
        profile_from_dict(document)
