# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""AudioSceneSynth: determinism, a timeline that tiles the audio, sounds that sound right."""

import numpy as np
import pytest
from scipy import signal

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.specs import model_spec
from blastnet_ros.tools.scenes.audio_scenes import (active_labels, AUDIO_LABELS, AudioEvent,
                                                    AudioSceneSynth, BACKGROUND, render_clip)

RATE = 16000


def dominant_frequencies(samples, rate=RATE, frame_s=0.064):
    """Return the strongest frequency (Hz) of each frame."""
    freqs, _, power = signal.spectrogram(samples.astype(np.float64), rate,
                                         nperseg=int(frame_s * rate), noverlap=0)
    return freqs[np.argmax(power, axis=0)]


def test_labels_are_the_model_labels():
    assert AUDIO_LABELS == model_spec('sbcnn').labels


def test_same_seed_same_audio_and_a_longer_run_starts_the_same():
    samples, events = AudioSceneSynth(RATE, seed=4).generate(6.0)
    again, events_again = AudioSceneSynth(RATE, seed=4).generate(6.0)
    assert samples.dtype == np.int16 and samples.shape == (6 * RATE,)
    assert np.array_equal(samples, again) and events == events_again
    other, _ = AudioSceneSynth(RATE, seed=5).generate(6.0)
    assert not np.array_equal(samples, other)
    shorter, _ = AudioSceneSynth(RATE, seed=4).generate(2.5)
    assert np.array_equal(shorter, samples[:len(shorter)])


def test_events_tile_the_timeline_alternating_background_and_sounds():
    duration = 30.0
    samples, events = AudioSceneSynth(RATE, seed=1).generate(duration)
    assert events[0].start_s == 0.0 and events[-1].end_s == duration
    for before, after in zip(events, events[1:]):
        assert before.end_s == after.start_s
        assert (before.label == BACKGROUND) != (after.label == BACKGROUND)
    assert {e.label for e in events} <= set(AUDIO_LABELS)
    assert {e.label for e in events} - {BACKGROUND}   # some sound happens
    peak = int(np.max(np.abs(samples.astype(np.int32))))
    assert 3000 < peak < 32767   # audible, not clipped


def test_sounds_stand_out_from_the_background():
    samples, events = AudioSceneSynth(RATE, seed=2).generate(20.0)
    levels = {BACKGROUND: [], 'sound': []}
    for event in events:
        part = samples[int(event.start_s * RATE):int(event.end_s * RATE)].astype(np.float64)
        levels[BACKGROUND if event.label == BACKGROUND else 'sound'].append(
            np.sqrt(np.mean(part ** 2)))
    assert np.median(levels['sound']) > 2 * np.median(levels[BACKGROUND])


def test_a_siren_sweeps_its_dominant_frequency():
    synth = AudioSceneSynth(RATE, seed=3, labels=('siren',))
    samples, events = synth.generate(8.0)
    sirens = [e for e in events if e.label == 'siren' and e.end_s - e.start_s >= 1.5]
    assert sirens
    for siren in sirens:
        part = samples[int((siren.start_s + 0.1) * RATE):int((siren.end_s - 0.1) * RATE)]
        dominant = dominant_frequencies(part)
        assert np.all((dominant > 400) & (dominant < 2000))
        assert np.percentile(dominant, 90) - np.percentile(dominant, 10) > 250
        assert len(np.unique(np.round(dominant / 50))) >= 5   # many steps, not two tones


def test_a_horn_is_a_harmonic_stack_and_an_engine_rumbles_low():
    rng = np.random.default_rng(0)
    horn = render_clip('horn', 1.0, RATE, rng, snr_db=(30.0, 30.0))
    freqs, power = signal.welch(horn, RATE, nperseg=4096)
    peaks, _ = signal.find_peaks(power, height=power.max() * 0.01, distance=10)
    assert len(peaks) >= 4   # several harmonics above the noise
    engine = render_clip('engine', 1.0, RATE, rng, snr_db=(30.0, 30.0))
    freqs, power = signal.welch(engine, RATE, nperseg=2048)
    assert power[freqs < 600].sum() > 0.8 * power.sum()


def test_active_labels_of_a_chunk():
    events = [AudioEvent(BACKGROUND, 0.0, 1.0), AudioEvent('horn', 1.0, 1.5),
              AudioEvent(BACKGROUND, 1.5, 3.0)]
    assert active_labels(events, 0.9, 1.0) == (BACKGROUND,)
    assert active_labels(events, 0.9, 1.1) == (BACKGROUND, 'horn')
    assert active_labels(events, 1.1, 1.2) == ('horn',)


def test_bad_input_is_refused():
    with pytest.raises(BadInputError, match='not positive'):
        AudioSceneSynth(RATE, seed=0).generate(0.0)
    with pytest.raises(BadInputError, match='unknown or missing foreground labels'):
        AudioSceneSynth(RATE, seed=0, labels=('bark',))
    with pytest.raises(BadInputError, match="unknown audio label 'bark'"):
        render_clip('bark', 1.0, RATE, np.random.default_rng(0))


def test_event_weights_set_the_mix_and_zero_leaves_an_event_out():
    plain = AudioSceneSynth(RATE, seed=5).timeline(120.0)
    equal = AudioSceneSynth(RATE, seed=5, event_weights=dict.fromkeys(
        ('siren', 'horn', 'engine', 'speech'), 2.0)).timeline(120.0)
    assert equal == plain   # equal weights: the same draws as no weights
    mix = AudioSceneSynth(RATE, seed=5, event_weights={'siren': 3, 'horn': 1, 'engine': 0,
                                                       'speech': 0}).timeline(300.0)
    labels = [event.label for event in mix if event.label != BACKGROUND]
    assert set(labels) == {'siren', 'horn'}
    assert labels.count('siren') > 2 * labels.count('horn')   # 3:1 expected
    only = AudioSceneSynth(RATE, seed=5, event_weights={'speech': 1}).timeline(30.0)
    assert {event.label for event in only} == {'speech', BACKGROUND}


@pytest.mark.parametrize('weights, cause', [
    ({'siren': 1, 'drill': 1}, 'unknown sound event(s) drill'),
    ({'siren': -1}, 'weight -1 of sound event siren'),
    ({'siren': float('nan')}, 'weight nan of sound event siren'),
    ({'siren': 0, 'horn': 0}, 'every sound event has weight 0'),
])
def test_bad_event_weights_are_named(weights, cause):
    with pytest.raises(BadInputError) as error:
        AudioSceneSynth(RATE, seed=1, event_weights=weights)
    assert cause in error.value.cause and error.value.fix
