# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Log-mel features and the audio windower: frequencies, frame counts, windows, stamps."""

import time

import numpy as np
import pytest

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.audio_features import (AudioWindower, hz_to_mel, LogMelExtractor,
                                                mel_filterbank, mel_to_hz)

RATE = 16000
NS_PER_SAMPLE = 62_500  # at 16 kHz
T0_NS = 1_700_000_000_000_000_000


def sine(frequency_hz, seconds=1.0, rate=RATE):
    """Return a float32 sine of `frequency_hz`."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def test_a_1khz_sine_peaks_in_the_mel_band_around_1khz():
    extractor = LogMelExtractor()
    features = extractor(sine(1000.0))
    assert features.shape == (64, 97) and features.dtype == np.float32
    band = int(features.mean(axis=1).argmax())
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(50.0), hz_to_mel(8000.0), 66))
    assert edges_hz[band] < 1000.0 < edges_hz[band + 2]
    assert band == int(np.abs(edges_hz[1:-1] - 1000.0).argmin())  # the band centred nearest
    assert int(extractor(sine(4000.0)).mean(axis=1).argmax()) > band + 20


def test_the_slaney_mel_scale():
    assert hz_to_mel(1000.0) == pytest.approx(15.0)
    assert hz_to_mel(200.0) == pytest.approx(3.0)
    assert hz_to_mel(6400.0) == pytest.approx(15.0 + 27.0)
    hz = np.array([0.0, 300.0, 999.0, 1000.0, 2500.0, 8000.0])
    assert mel_to_hz(hz_to_mel(hz)) == pytest.approx(hz)
    bank = mel_filterbank(RATE, 512, 64, 50.0, 8000.0)
    assert bank.shape == (64, 257) and (bank >= 0).all() and (bank.sum(axis=1) > 0).all()


@pytest.mark.parametrize('num_samples', [512, 513, 671, 672, 16000, 16001, 24000])
def test_frame_count_is_one_plus_hops_without_centering(num_samples):
    extractor = LogMelExtractor()
    frames = 1 + (num_samples - 512) // 160
    assert extractor.frames_for(num_samples) == frames
    noise = np.random.default_rng(0).normal(0, 0.1, num_samples).astype(np.float32)
    assert extractor(noise).shape == (64, frames)


def test_frames_for_too_short_is_zero():
    assert LogMelExtractor().frames_for(511) == 0
    assert LogMelExtractor(n_fft=1024, hop_length=320).frames_for(16000) == 1 + 14976 // 320


def test_each_frame_is_the_log_mel_of_its_hann_windowed_slice():
    extractor = LogMelExtractor()
    samples = np.random.default_rng(1).normal(0, 0.3, 4000).astype(np.float32)
    features = extractor(samples)
    frame = 7
    chunk = samples[frame * 160:frame * 160 + 512].astype(np.float64)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(512) / 512)  # periodic Hann
    power = np.abs(np.fft.rfft(chunk * hann)) ** 2
    expected = np.log(mel_filterbank(RATE, 512, 64, 50.0, 8000.0) @ power + 1e-6)
    assert features[:, frame] == pytest.approx(expected, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize('samples, cause', [
    (np.zeros(0, np.float32), 'audio window is empty'),
    (np.array([0.0, np.nan] * 400, np.float32), 'NaN or Inf'),
    (np.array([0.0, np.inf] * 400, np.float32), 'NaN or Inf'),
    (np.zeros(511, np.float32), '511 samples, fewer than n_fft 512'),
    (np.zeros((2, 800), np.float32), 'not 1-D mono'),
    ('loud', 'not a numpy array'),
])
def test_bad_audio_is_a_bad_input(samples, cause):
    with pytest.raises(BadInputError, match=cause):
        LogMelExtractor()(samples)


def test_bad_parameters_are_bad_inputs():
    with pytest.raises(BadInputError, match='must be positive'):
        LogMelExtractor(hop_length=0)
    with pytest.raises(BadInputError, match='mel range'):
        LogMelExtractor(fmax_hz=9000.0)
    with pytest.raises(BadInputError, match='without an FFT bin'):
        LogMelExtractor(n_fft=64, n_mels=128)
    with pytest.raises(BadInputError, match='must be positive'):
        AudioWindower(RATE, 0.0, 0.5)


def test_one_second_takes_well_under_5_ms():
    extractor = LogMelExtractor()
    samples = sine(440.0)
    extractor(samples)
    durations = []
    for _ in range(20):
        start = time.perf_counter()
        extractor(samples)
        durations.append(time.perf_counter() - start)
    assert float(np.median(durations)) < 0.005


def stream(windower, chunk_sizes, first_index=0, t0_ns=T0_NS, arrival=False, delays_ns=None):
    """Push a ramp (sample value = stream index) in chunks; return all windows.

    Each chunk is timed by its last sample's capture time, plus delays_ns[i] (as an
    arrival time would be) where given.
    """
    windows = []
    index = first_index
    for number, size in enumerate(chunk_sizes):
        chunk = np.arange(index, index + size, dtype=np.float32)
        delay_ns = delays_ns[number] if delays_ns is not None else 0
        windows += windower.push(chunk, t0_ns + (index + size - 1) * NS_PER_SAMPLE + delay_ns,
                                 arrival=arrival)
        index += size
    return windows


def test_a_chunked_stream_gives_every_window_once_stamped_with_its_last_sample():
    windower = AudioWindower(RATE, 1.0, 0.5)
    windows = stream(windower, [1600] * 25)  # 2.5 s in 0.1 s chunks
    ends = [16000, 24000, 32000, 40000]
    assert len(windows) == len(ends)
    for (samples, stamp_ns), end in zip(windows, ends):
        assert samples.dtype == np.float32
        assert np.array_equal(samples, np.arange(end - 16000, end, dtype=np.float32))
        assert stamp_ns == T0_NS + (end - 1) * NS_PER_SAMPLE
    assert (windower.resets, windower.re_anchors) == (0, 0)


def test_arrival_jitter_leaves_the_stamps_exact_to_the_sample():
    """Arrivals 0..90 ms after capture: stamps follow the sample count from the first one.

    The first chunk arrives 5 ms after its last sample was captured: that is the clock's
    anchor, and every window is stamped from it by the sample count, not by arrival.
    """
    delays_ns = [5_000_000] + np.random.default_rng(4).integers(
        0, 90_000_000, 49).tolist()
    windower = AudioWindower(RATE, 1.0, 0.5)
    windows = stream(windower, [1600] * 50, arrival=True, delays_ns=delays_ns)
    assert len(windows) == 9
    for number, (_, stamp_ns) in enumerate(windows):
        assert stamp_ns == T0_NS + 5_000_000 + (16000 + number * 8000 - 1) * NS_PER_SAMPLE
    assert (windower.resets, windower.re_anchors) == (0, 0)


def test_windows_come_out_as_soon_as_their_last_sample_arrives():
    windower = AudioWindower(RATE, 1.0, 0.5, max_chunk_s=5.0)
    counts = [len(batch) for batch in (
        stream(windower, [15999]), stream(windower, [1], first_index=15999),
        stream(windower, [7999], first_index=16000), stream(windower, [1], first_index=23999),
        stream(windower, [40000], first_index=24000))]
    assert counts == [0, 1, 0, 1, 5]


def test_odd_chunk_sizes_and_big_chunks_give_the_same_windows():
    sizes = np.random.default_rng(2).integers(1, 5000, 40).tolist()
    odd = stream(AudioWindower(RATE, 1.0, 0.25), sizes)
    whole = stream(AudioWindower(RATE, 1.0, 0.25, max_chunk_s=0), [sum(sizes)])
    assert len(odd) == len(whole) == 1 + (sum(sizes) - 16000) // 4000
    for (a, stamp_a), (b, stamp_b) in zip(odd, whole):
        assert np.array_equal(a, b) and stamp_a == stamp_b


def test_a_hop_longer_than_the_window_skips_samples():
    windows = stream(AudioWindower(RATE, 0.5, 1.0), [4000] * 10)  # 2.5 s
    assert [int(w[0]) for w, _ in windows] == [0, 16000, 32000]
    assert all(len(w) == 8000 for w, _ in windows)


def test_a_stamped_gap_re_anchors_the_clock_and_keeps_every_window():
    """0.3 s of stamped audio lost after 1.2 s: the buffered audio is kept, no zeros.

        stream index  0 ........ 19200 | 0.3 s lost | 19200 ........ 43200
        windows       [0, 16000)  [8000, 24000)  [16000, 32000)  [24000, 40000)
    The window ending at sample 24000 joins audio from both sides; its stamp and every
    later one is the capture time of its last sample, 0.3 s later than the count says.
    """
    windower = AudioWindower(RATE, 1.0, 0.5)
    first = stream(windower, [1600] * 12)  # 1.2 s: one window, ending at 1.0 s
    lost = 4800
    after = stream(windower, [1600] * 15, first_index=12 * 1600 + lost)
    assert (windower.resets, windower.re_anchors) == (0, 1)
    assert [int(w[0]) for w, _ in first + after] == [0, 8000, 16000, 24000 + lost]
    assert [stamp for _, stamp in first + after] == [
        T0_NS + (16000 - 1) * NS_PER_SAMPLE] + [
        T0_NS + (end + lost - 1) * NS_PER_SAMPLE for end in (24000, 32000, 40000)]
    window = after[0][0]  # samples 8000..19199, then 24000..28799 after the gap
    assert np.array_equal(window, np.concatenate([np.arange(8000, 19200), np.arange(
        19200 + lost, 24000 + lost)]).astype(np.float32))


def test_a_gap_longer_than_the_window_starts_a_new_stream():
    windower = AudioWindower(RATE, 1.0, 0.5)
    stream(windower, [1600] * 12)
    resume = 12 * 1600 + 20000  # 1.25 s lost
    after = stream(windower, [1600] * 15, first_index=resume)
    assert (windower.resets, windower.re_anchors) == (1, 0)
    assert [int(w[0]) for w, _ in after] == [resume, resume + 8000]
    assert [stamp for _, stamp in after] == [
        T0_NS + (resume + 16000 - 1) * NS_PER_SAMPLE,
        T0_NS + (resume + 24000 - 1) * NS_PER_SAMPLE]


def test_lost_arriving_audio_re_anchors_once_the_lateness_lasts():
    """Header-less chunks, 0.3 s lost after chunk 11: arrivals stay 0.3 s late.

    The clock waits one tolerance (100 ms) of arrival time before it believes the
    lateness; from then on the stamps are the capture times again.
    """
    windower = AudioWindower(RATE, 1.0, 0.5)
    lost = 4800
    windows = stream(windower, [1600] * 12, arrival=True)
    windows += stream(windower, [1600] * 18, first_index=12 * 1600 + lost, arrival=True)
    assert (windower.resets, windower.re_anchors) == (0, 1)
    assert len(windows) == 1 + (18 * 1600 - 4800) // 8000 + 1
    assert windows[-1][1] == T0_NS + (48000 + lost - 1) * NS_PER_SAMPLE


def test_a_delayed_backlog_of_arriving_audio_does_not_move_the_clock():
    """A 0.4 s delivery stall: chunks 10..13 arrive together with chunk 14, none lost."""
    windower = AudioWindower(RATE, 1.0, 0.5)
    delays_ns = [0] * 10 + [400_000_000, 300_000_000, 200_000_000, 100_000_000] + [0] * 16
    windows = stream(windower, [1600] * 30, arrival=True, delays_ns=delays_ns)
    assert (windower.resets, windower.re_anchors) == (0, 0)
    assert [stamp for _, stamp in windows] == [
        T0_NS + (end - 1) * NS_PER_SAMPLE for end in range(16000, 48001, 8000)]


def test_jitter_within_the_tolerance_is_not_a_gap_but_stamps_going_back_are():
    windower = AudioWindower(RATE, 1.0, 0.5)
    stream(windower, [1600] * 5)
    stream(windower, [1600] * 5, first_index=8000, t0_ns=T0_NS + 20_000_000)  # 20 ms late
    assert windower.resets == 0
    stream(windower, [1600], first_index=8000)  # stamps jump back 0.5 s: overlap
    assert windower.resets == 1


def test_an_arrival_earlier_than_the_clock_moves_the_clock_back():
    """The first chunks came late (300, 200, 100 ms), then on time.

    Chunk 2 arrives 200 ms before the clock (anchored on chunk 0) says its last sample
    was captured: the clock moves back to it and stays within the 100 ms tolerance.
    """
    windower = AudioWindower(RATE, 1.0, 0.5)
    windows = stream(windower, [1600] * 20, arrival=True,
                     delays_ns=[300_000_000, 200_000_000, 100_000_000] + [0] * 17)
    assert (windower.resets, windower.re_anchors) == (0, 1)
    assert [stamp for _, stamp in windows] == [
        T0_NS + 100_000_000 + (end - 1) * NS_PER_SAMPLE for end in (16000, 24000, 32000)]


def test_a_chunk_longer_than_max_chunk_s_is_a_bad_input_and_changes_nothing():
    windower = AudioWindower(RATE, 1.0, 0.5, max_chunk_s=1.0)
    stream(windower, [1600] * 5, arrival=True)
    with pytest.raises(BadInputError) as caught:
        windower.push(np.zeros(10_000_000, np.float32), T0_NS + 8000 * NS_PER_SAMPLE,
                      arrival=True)
    assert caught.value.kind == 'chunk_too_long'
    assert caught.value.cause == ('audio chunk of 10000000 samples (625 s) is longer than '
                                  'max_chunk_s 1 s')
    windows = stream(windower, [1600] * 15, first_index=8000, arrival=True)
    assert [stamp for _, stamp in windows] == [
        T0_NS + (end - 1) * NS_PER_SAMPLE for end in (16000, 24000, 32000)]
    assert (windower.resets, windower.re_anchors) == (0, 0)


def test_an_arriving_chunk_with_more_audio_than_time_passed_is_a_bad_input():
    windower = AudioWindower(RATE, 1.0, 0.5, max_chunk_s=1.0)
    stream(windower, [1600] * 5, arrival=True)
    with pytest.raises(BadInputError) as caught:  # 0.9 s of audio 0.1 s after the last
        windower.push(np.zeros(14400, np.float32), T0_NS + 9599 * NS_PER_SAMPLE,
                      arrival=True)
    assert caught.value.kind == 'chunk_too_long'
    assert 'arrived 0.1 s after the previous one' in caught.value.cause
    assert len(stream(windower, [1600] * 15, first_index=8000, arrival=True)) == 3


def test_bad_chunks_are_bad_inputs_and_reset_the_stream():
    windower = AudioWindower(RATE, 1.0, 0.5)
    stream(windower, [8000])
    with pytest.raises(BadInputError, match='audio chunk contains NaN') as caught:
        windower.push(np.full(1600, np.nan, np.float32), T0_NS + 9599 * NS_PER_SAMPLE)
    assert caught.value.kind == 'not_finite'
    with pytest.raises(BadInputError, match='audio chunk is empty'):
        windower.push(np.zeros(0, np.float32), T0_NS)
    assert windower.resets == 1
    windows = stream(windower, [8000, 8000], first_index=9600)  # 1 s after the bad chunk
    assert [int(w[0]) for w, _ in windows] == [9600]


def test_non_integer_sample_periods_keep_stamps_within_rounding():
    windower = AudioWindower(44100, 0.1, 0.05)  # 4410-sample windows, 2205-sample hops
    last_ns = T0_NS + (44100 - 1) * 1_000_000_000 // 44100
    windows = windower.push(np.zeros(44100, np.float32), last_ns)
    assert len(windows) == 1 + (44100 - 4410) // 2205
    for index, (_, stamp_ns) in enumerate(windows):
        end = 4410 + index * 2205
        assert abs(stamp_ns - (T0_NS + (end - 1) * 1_000_000_000 / 44100)) < 2.0
