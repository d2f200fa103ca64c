# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Audio to model input: sliding windows of a sample stream, and their log-mel features.

numpy and scipy only (no torch): the audio input node computes features without torch.

Log-mel features: periodic Hann window, power spectrum |rfft|^2, a mel filterbank on the
Slaney mel scale (linear below 1 kHz, logarithmic above) with Slaney area normalisation
(the defaults of librosa.filters.mel), then log(mel + 1e-6). No centering or padding:
a signal of n samples gives 1 + (n - n_fft) // hop_length frames, frame i covering samples
[i * hop_length, i * hop_length + n_fft).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import scipy.fft
import scipy.signal
import scipy.sparse

from blastnet_ros.core.input_errors import BadInputError

NS_PER_S = 1_000_000_000
LOG_OFFSET = 1e-6

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
                            'pass mono samples as a 1-D float32 numpy array')
    if samples.ndim != 1:
        raise BadInputError(f'{what} has shape {samples.shape}, not 1-D mono',
                            'mix down or de-interleave the channels to mono first')
    if samples.dtype.kind not in 'fiu':
        raise BadInputError(f'{what} has dtype {samples.dtype}', 'pass float32 samples')
    if samples.size == 0:
        raise BadInputError(f'{what} is empty', 'send audio chunks with at least one sample')
    samples = samples.astype(np.float32, copy=False)
    if not np.isfinite(samples).all():
        raise BadInputError(f'{what} contains NaN or Inf',
                            'check the microphone driver; samples must be finite')
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
        self._window = scipy.signal.get_window('hann', n_fft, fftbins=True).astype(np.float32)
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
    """Cut a stamped stream of mono chunks into windows of `window_s`, one every `hop_s`.

    push() takes a chunk and the capture time of its last sample; sample k of the chunk
    (of n) was captured at last_sample_time_ns - (n - 1 - k) * 1e9 / sample_rate. Each
    window is returned once, as soon as its last sample arrives, stamped with the capture
    time of that last sample. The first window of a stream ends window_s after its start;
    each next one hop_s later.

    The buffer is reset (and the next window is again a full window_s away) whenever a
    chunk does not continue the stream: its implied first-sample time is more than half a
    hop away from one sample period after the previous chunk's last sample. That catches
    gaps (dropped chunks), overlaps and stamps going backwards, and chunk sizes that do not
    fit the stamps at the declared sample rate. A rejected chunk (empty, NaN, Inf) raises
    BadInputError and resets too. So a window never spans a discontinuity.
    """

    def __init__(self, sample_rate: int, window_s: float, hop_s: float) -> None:
        if sample_rate <= 0 or window_s <= 0 or hop_s <= 0:
            raise BadInputError(
                f'sample_rate {sample_rate}, window_s {window_s} and hop_s {hop_s} must be '
                'positive', 'fix the audio windowing parameters')
        self.sample_rate = int(sample_rate)
        self.window_length = int(round(window_s * sample_rate))
        self.hop_length = int(round(hop_s * sample_rate))
        if self.window_length < 1 or self.hop_length < 1:
            raise BadInputError(
                f'window_s {window_s} or hop_s {hop_s} is shorter than one sample at '
                f'{sample_rate} Hz', 'use longer windows and hops')
        self._tolerance_ns = self._span_ns(self.hop_length) // 2
        self.resets = 0  # discontinuities seen (not counting the start of the stream)
        self.reset()

    def _span_ns(self, num_periods: int) -> int:
        """Return the duration of `num_periods` sample periods in ns, rounded to nearest."""
        return (num_periods * NS_PER_S + self.sample_rate // 2) // self.sample_rate

    def reset(self) -> None:
        """Forget the buffered samples; the next window ends window_s after the next chunk."""
        self._buffer = np.zeros(0, np.float32)
        self._buffer_start = 0  # stream index of self._buffer[0]
        self._next_end = self.window_length  # stream index one past the next window's end
        self._last_time_ns: Optional[int] = None  # capture time of the last buffered sample

    def push(self, samples: np.ndarray, last_sample_time_ns: int) -> List[Tuple[np.ndarray, int]]:
        """Add a chunk; return the (window samples, last-sample time ns) completed, in order."""
        try:
            samples = _check_samples(samples, 'audio chunk')
        except BadInputError:
            self._discontinuity()
            raise
        last_sample_time_ns = int(last_sample_time_ns)
        if self._last_time_ns is not None:
            first_time_ns = last_sample_time_ns - self._span_ns(samples.size - 1)
            expected_ns = self._last_time_ns + self._span_ns(1)
            if abs(first_time_ns - expected_ns) > self._tolerance_ns:
                self._discontinuity()
        self._last_time_ns = last_sample_time_ns
        buffer = np.concatenate((self._buffer, samples)) if self._buffer.size else samples
        stream_end = self._buffer_start + buffer.size  # stream index one past the chunk
        windows = []
        while self._next_end <= stream_end:
            start = self._next_end - self.window_length - self._buffer_start
            window = np.array(buffer[start:start + self.window_length], np.float32)
            stamp_ns = last_sample_time_ns - self._span_ns(stream_end - self._next_end)
            windows.append((window, stamp_ns))
            self._next_end += self.hop_length
        keep_from = max(0, self._next_end - self.window_length - self._buffer_start)
        keep_from = min(keep_from, buffer.size)
        self._buffer = np.array(buffer[keep_from:], np.float32)
        self._buffer_start += keep_from
        return windows

    def _discontinuity(self) -> None:
        if self._last_time_ns is not None or self._buffer.size:
            self.resets += 1
        self.reset()
