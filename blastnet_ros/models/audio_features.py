# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Audio to model input: sliding windows of a sample stream, and their log-mel features.

numpy and scipy only (no torch): the audio input node computes features without torch.

Log-mel features: periodic Hann window, power spectrum |rfft|^2, a mel filterbank on the
Slaney mel scale (linear below 1 kHz, logarithmic above) with Slaney area normalisation
(the defaults of librosa.filters.mel), then log(mel + 1e-6). No centering or padding:
a signal of n samples gives 1 + (n - n_fft) // hop_length frames, frame i covering samples
[i * hop_length, i * hop_length + n_fft).

Windows and their stamps (AudioWindower): a stream's samples are counted from its first
chunk, whose time anchors the stream's sample clock; sample i of the stream was captured
at anchor + i / sample_rate, and a window is stamped with the capture time of its last
sample by that clock, never with a chunk's arrival. Each chunk's observed time is
compared with the clock; a difference beyond the tolerance (half a hop, at most 100 ms)
is a discontinuity:

- A gap (the chunk comes later than its samples say) of at most window_s re-anchors the
  clock at that chunk and keeps the buffered audio: no window is thrown away, the next
  one joins the audio either side of the gap (no zeros are filled in), and its stamp is
  its last sample's capture time. A longer gap starts a new stream.
- Capture stamps (AudioDataStamped) say exactly when a chunk was captured: a gap
  re-anchors at once, and stamps going backwards (an overlap, a restarted bag) start a
  new stream.
- Arrival times (header-less types) are capture time plus a delay that varies, so an
  arrival can only be early if the clock is late: a chunk arriving before its samples
  could have been captured moves the anchor back to it (re-anchor), unless the chunk
  holds more audio than the time since the previous chunk can explain (a bad input).
  A late arrival may be a delivery delay (a backlog that catches up at once) rather than
  lost audio, so the clock re-anchors only when the lateness lasts for a tolerance of
  arrival time; windows finished meanwhile keep the clock's stamps.

A chunk longer than max_chunk_s is a bad input (kind chunk_too_long) and changes nothing;
so is a chunk holding no samples, NaN or Inf, which also starts a new stream.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import scipy.fft
import scipy.sparse

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.core.units import NS_PER_MS, NS_PER_S

LOG_OFFSET = 1e-6
DEFAULT_MAX_CHUNK_S = 1.0
MAX_DRIFT_TOLERANCE_NS = 100 * NS_PER_MS

# Kinds of bad audio input (BadInputError.kind).
EMPTY_AUDIO = 'empty_audio'
NOT_FINITE = 'not_finite'
BAD_SAMPLES = 'bad_samples'
CHUNK_TOO_LONG = 'chunk_too_long'

_MIN_LOG_HZ = 1000.0
_HZ_PER_MEL = 200.0 / 3.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _HZ_PER_MEL
_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Convert frequencies in Hz to Slaney mels (linear below 1 kHz, log above)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _HZ_PER_MEL
    logarithmic = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOG_STEP
    return np.where(hz >= _MIN_LOG_HZ, logarithmic, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Convert Slaney mels to frequencies in Hz (the inverse of hz_to_mel)."""
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _HZ_PER_MEL
    logarithmic = _MIN_LOG_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, logarithmic, linear)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin_hz: float,
                   fmax_hz: float) -> np.ndarray:
    """Return the (n_mels, n_fft // 2 + 1) Slaney-normalised triangular mel filterbank."""
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(fmin_hz), hz_to_mel(fmax_hz), n_mels + 2))
    widths_hz = np.diff(edges_hz)
    ramps = edges_hz[:, None] - fft_hz[None, :]
    rising = -ramps[:-2] / widths_hz[:-1, None]
    falling = ramps[2:] / widths_hz[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= (2.0 / (edges_hz[2:] - edges_hz[:-2]))[:, None]
    return weights


def _check_samples(samples: np.ndarray, what: str) -> np.ndarray:
    """Return `samples` as a 1-D float32 array, or raise BadInputError."""
    if not isinstance(samples, np.ndarray):
        raise BadInputError(f'{what} is a {type(samples).__name__}, not a numpy array',
                            'pass mono samples as a 1-D float32 numpy array', kind=BAD_SAMPLES)
    if samples.ndim != 1:
        raise BadInputError(f'{what} has shape {samples.shape}, not 1-D mono',
                            'mix down or de-interleave the channels to mono first',
                            kind=BAD_SAMPLES)
    if samples.dtype.kind not in 'fiu':
        raise BadInputError(f'{what} has dtype {samples.dtype}', 'pass float32 samples',
                            kind=BAD_SAMPLES)
    if samples.size == 0:
        raise BadInputError(f'{what} is empty', 'send audio chunks with at least one sample',
                            kind=EMPTY_AUDIO)
    samples = samples.astype(np.float32, copy=False)
    if not np.isfinite(samples).all():
        raise BadInputError(f'{what} contains NaN or Inf',
                            'check the microphone driver; samples must be finite',
                            kind=NOT_FINITE)
    return samples


class LogMelExtractor:
    """Log-mel spectrogram of a mono signal: float32 (n_mels, frames); see the module doc."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 512, hop_length: int = 160,
                 n_mels: int = 64, fmin_hz: float = 50.0,
                 fmax_hz: Optional[float] = None) -> None:
        fmax_hz = sample_rate / 2.0 if fmax_hz is None else float(fmax_hz)
        if sample_rate <= 0 or n_fft <= 0 or hop_length <= 0 or n_mels <= 0:
            raise BadInputError(
                f'sample_rate {sample_rate}, n_fft {n_fft}, hop_length {hop_length} and '
                f'n_mels {n_mels} must be positive', 'fix the log-mel parameters')
        if not 0.0 <= fmin_hz < fmax_hz <= sample_rate / 2.0:
            raise BadInputError(
                f'mel range {fmin_hz:g}..{fmax_hz:g} Hz is not inside 0..{sample_rate / 2:g} Hz',
                'use 0 <= fmin_hz < fmax_hz <= sample_rate / 2')
        filterbank = mel_filterbank(sample_rate, n_fft, n_mels, fmin_hz, fmax_hz)
        if not (filterbank.sum(axis=1) > 0).all():
            raise BadInputError(
                f'{n_mels} mel bands over {fmin_hz:g}..{fmax_hz:g} Hz leave some bands without '
                f'an FFT bin at n_fft {n_fft}', 'use fewer mel bands or a larger n_fft')
        self.sample_rate = sample_rate
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.n_mels = n_mels
        self.fmin_hz = float(fmin_hz)
        self.fmax_hz = fmax_hz
        # the periodic Hann window (scipy.signal.get_window('hann', n_fft), bit for bit in
        # float32), without importing scipy.signal: 0.6 s of every executor's start
        self._window = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n_fft) / n_fft)).astype(
            np.float32)
        # sparse (each band spans a few bins), and no BLAS: a multi-threaded BLAS stalls for
        # milliseconds on a tiny product when the cores are busy with other nodes
        self._filterbank = scipy.sparse.csr_matrix(filterbank.astype(np.float32))

    def frames_for(self, num_samples: int) -> int:
        """Return the number of frames `num_samples` samples give (0 when too short)."""
        if num_samples < self.n_fft:
            return 0
        return 1 + (num_samples - self.n_fft) // self.hop_length

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """Return the float32 (n_mels, frames) log-mel spectrogram of mono `samples`."""
        samples = _check_samples(samples, 'audio window')
        if samples.size < self.n_fft:
            raise BadInputError(
                f'audio window has {samples.size} samples, fewer than n_fft {self.n_fft}',
                f'use windows of at least {self.n_fft} samples '
                f'({self.n_fft / self.sample_rate:g} s)')
        frames = np.lib.stride_tricks.sliding_window_view(samples, self.n_fft)[::self.hop_length]
        spectrum = scipy.fft.rfft(frames * self._window, axis=-1)
        power = spectrum.real ** 2 + spectrum.imag ** 2
        mel = self._filterbank @ np.ascontiguousarray(power.T)
        return np.log(mel + np.float32(LOG_OFFSET)).astype(np.float32, copy=False)


class AudioWindower:
    """Cut a timed stream of mono chunks into windows of `window_s`, one every `hop_s`.

    push() takes a chunk and the observed time of its last sample: its capture time from
    a stamp, or (arrival=True) the time it arrived. Each window is returned once, as soon
    as its last sample arrives, stamped by the stream's sample clock with the capture
    time of that last sample (see the module docstring for the clock, its re-anchoring
    and what starts a new stream). The first window of a stream ends window_s after its
    start; each next one hop_s later.

    `resets` counts new streams after a discontinuity (buffer dropped), `re_anchors` the
    clock corrections that kept the buffer.
    """

    def __init__(self, sample_rate: int, window_s: float, hop_s: float,
                 max_chunk_s: float = DEFAULT_MAX_CHUNK_S) -> None:
        if sample_rate <= 0 or window_s <= 0 or hop_s <= 0 or max_chunk_s < 0:
            raise BadInputError(
                f'sample_rate {sample_rate}, window_s {window_s} and hop_s {hop_s} must be '
                f'positive and max_chunk_s {max_chunk_s} not negative',
                'fix the audio windowing parameters')
        self.sample_rate = int(sample_rate)
        self.window_length = int(round(window_s * sample_rate))
        self.hop_length = int(round(hop_s * sample_rate))
        if self.window_length < 1 or self.hop_length < 1:
            raise BadInputError(
                f'window_s {window_s} or hop_s {hop_s} is shorter than one sample at '
                f'{sample_rate} Hz', 'use longer windows and hops')
        self.max_chunk_s = float(max_chunk_s)
        self.max_chunk_length = int(round(max_chunk_s * sample_rate))  # 0: no limit
        self.tolerance_ns = min(self._span_ns(self.hop_length) // 2, MAX_DRIFT_TOLERANCE_NS)
        self.max_gap_ns = self._span_ns(self.window_length)
        self.resets = 0
        self.re_anchors = 0
        self.reset()

    def _span_ns(self, num_periods: int) -> int:
        """Return the duration of `num_periods` sample periods in ns, rounded to nearest."""
        return (num_periods * NS_PER_S + self.sample_rate // 2) // self.sample_rate

    def reset(self) -> None:
        """Forget the buffered samples and the clock; the next chunk starts a new stream."""
        self._buffer = np.zeros(0, np.float32)
        self._buffer_start = 0  # stream index of self._buffer[0]
        self._next_end = self.window_length  # stream index one past the next window's end
        self._anchor_ns: Optional[int] = None  # capture time of stream index 0
        self._last_observed_ns = 0
        self._last_chunk_ns = 0  # duration of the last chunk taken
        self._late_since_ns: Optional[int] = None  # arrival lateness seen since then
        self._least_late_ns = 0

    def time_of(self, index: int) -> int:
        """Return the capture time (ns) of stream sample `index` by the stream's clock."""
        if self._anchor_ns is None:
            raise ValueError('the stream has no clock before its first chunk')
        return self._anchor_ns + self._span_ns(index)

    def check_chunk_length(self, num_samples: int) -> None:
        """Raise BadInputError (chunk_too_long) for a chunk longer than max_chunk_s."""
        if self.max_chunk_length and num_samples > self.max_chunk_length:
            raise BadInputError(
                f'audio chunk of {num_samples} samples ({num_samples / self.sample_rate:.3g} '
                f's) is longer than max_chunk_s {self.max_chunk_s:g} s',
                'publish audio in short chunks (10-100 ms is usual), check sample_rate, or '
                'raise max_chunk_s', kind=CHUNK_TOO_LONG)

    def push(self, samples: np.ndarray, last_sample_time_ns: int,
             arrival: bool = False) -> List[Tuple[np.ndarray, int]]:
        """Add a chunk; return the (window samples, last-sample capture time ns) completed.

        `last_sample_time_ns` is the chunk's last sample's capture time from a stamp, or
        with `arrival` the time the chunk arrived.
        """
        try:
            samples = _check_samples(samples, 'audio chunk')
        except BadInputError:
            self._discontinuity()
            raise
        self.check_chunk_length(samples.size)
        observed_ns = int(last_sample_time_ns)
        chunk_ns = self._span_ns(samples.size)
        stream_end = self._buffer_start + self._buffer.size
        if self._anchor_ns is None:
            self._anchor_ns = observed_ns - self._span_ns(stream_end + samples.size - 1)
        else:
            drift_ns = observed_ns - self.time_of(stream_end + samples.size - 1)
            if arrival and drift_ns < -self.tolerance_ns:
                self._check_arrival_pace(samples.size, chunk_ns, observed_ns)
            if self._follow(drift_ns, observed_ns, arrival):  # a new stream from here
                self._anchor_ns = observed_ns - self._span_ns(samples.size - 1)
        self._last_observed_ns = observed_ns
        self._last_chunk_ns = chunk_ns
        buffer = np.concatenate((self._buffer, samples)) if self._buffer.size else samples
        stream_end = self._buffer_start + buffer.size  # stream index one past the chunk
        windows = []
        while self._next_end <= stream_end:
            start = self._next_end - self.window_length - self._buffer_start
            window = np.array(buffer[start:start + self.window_length], np.float32)
            windows.append((window, self.time_of(self._next_end - 1)))
            self._next_end += self.hop_length
        keep_from = max(0, self._next_end - self.window_length - self._buffer_start)
        keep_from = min(keep_from, buffer.size)
        self._buffer = np.array(buffer[keep_from:], np.float32)
        self._buffer_start += keep_from
        return windows

    def _check_arrival_pace(self, num_samples: int, chunk_ns: int, observed_ns: int) -> None:
        """Refuse an arriving chunk that holds more audio than time has passed for."""
        elapsed_ns = observed_ns - self._last_observed_ns
        if chunk_ns > elapsed_ns + max(self._last_chunk_ns, self.tolerance_ns):
            raise BadInputError(
                f'audio chunk of {num_samples} samples ({chunk_ns / NS_PER_S:.3g} s) arrived '
                f'{elapsed_ns / NS_PER_S:.3g} s after the previous one',
                'check sample_rate and channels (the audio comes faster than real time at '
                'these settings), or stamp the audio (AudioDataStamped)',
                kind=CHUNK_TOO_LONG)

    def _follow(self, drift_ns: int, observed_ns: int, arrival: bool) -> bool:
        """Correct the clock for a chunk `drift_ns` off it; return True for a new stream."""
        if abs(drift_ns) <= self.tolerance_ns:
            self._late_since_ns = None
            return False
        if drift_ns < 0:
            self._late_since_ns = None
            if not arrival:  # capture stamps went backwards: an overlap or a restart
                self._discontinuity()
                return True
            self._anchor_ns += drift_ns  # arrived earlier than the clock allows
            self.re_anchors += 1
            return False
        if arrival:
            if self._late_since_ns is None:
                self._late_since_ns, self._least_late_ns = observed_ns, drift_ns
                return False
            self._least_late_ns = min(self._least_late_ns, drift_ns)
            if observed_ns - self._late_since_ns < self.tolerance_ns:
                return False
            drift_ns = self._least_late_ns  # the lateness that lasted: audio was lost
            self._late_since_ns = None
        if drift_ns > self.max_gap_ns:
            self._discontinuity()
            return True
        self._anchor_ns += drift_ns
        self.re_anchors += 1
        return False

    def _discontinuity(self) -> None:
        if self._anchor_ns is not None or self._buffer.size:
            self.resets += 1
        self.reset()
