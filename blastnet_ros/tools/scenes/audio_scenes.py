# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Synthetic street sound: sirens, horns, engines and speech over background noise.

`AudioSceneSynth` lays out a timeline of foreground events (one at a time) separated by
stretches of background only, synthesises each sound from a small physical-ish model, and
mixes them over continuous street background at a random signal-to-noise ratio:

- siren: a swept tone with two overtones, wail (slow sweep) or yelp (fast sweep);
- horn: a stack of harmonics (one or two tones, slightly saturated), honked 1-3 times;
- engine: a low firing-frequency harmonic series, amplitude-modulated, with rumble noise;
- speech: glottal pulse trains with a falling pitch contour through vowel formant
  resonators, syllable envelopes, fricative bursts and pauses between words;
- background: pink noise plus low rumble with a slowly varying level.

The timeline and every sound come from generators seeded by (seed, what, index), so a run
is deterministic for a seed and a longer run starts with the same audio as a shorter one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
from scipy import signal

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.models.specs import MODEL_SPECS

AUDIO_LABELS: Tuple[str, ...] = MODEL_SPECS['sbcnn'].labels
BACKGROUND = 'background'
FOREGROUND_LABELS: Tuple[str, ...] = tuple(x for x in AUDIO_LABELS if x != BACKGROUND)

# (min, max) seconds of one event of each kind
EVENT_DURATION_S: Dict[str, Tuple[float, float]] = {
    'siren': (2.0, 4.0), 'horn': (0.6, 2.0), 'engine': (2.0, 4.0), 'speech': (1.5, 3.5)}
GAP_DURATION_S = (0.5, 2.0)
MAX_FOREGROUND_RMS = 0.18

# Paul Kellet's economy pink-noise filter (-3 dB/octave within 1 dB over the audio band).
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])

# Vowel formants (Hz): F1, F2, F3 (Peterson and Barney, adult averages)
_VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480),
           (570, 840, 2410), (660, 1720, 2410), (440, 1020, 2240))


@dataclass(frozen=True)
class AudioEvent:
    """A labelled stretch of the generated audio, in seconds from its start."""

    label: str
    start_s: float
    end_s: float

    def overlaps(self, start_s: float, end_s: float) -> bool:
        """Return True when the event covers part of [start_s, end_s)."""
        return self.start_s < end_s and start_s < self.end_s


def active_labels(events: Sequence[AudioEvent], start_s: float,
                  end_s: float) -> Tuple[str, ...]:
    """Return the labels of the events overlapping [start_s, end_s), in timeline order."""
    labels: List[str] = []
    for event in events:
        if event.overlaps(start_s, end_s) and event.label not in labels:
            labels.append(event.label)
    return tuple(labels)


def check_event_weights(weights: Mapping[str, float]) -> Dict[str, float]:
    """Return `weights` of foreground labels as floats; BadInputError naming any fault.

    Weights are relative (siren=2, horn=1: sirens twice as often as horns); 0 leaves a
    label out. At least one weight must be positive.
    """
    unknown = sorted(name for name in weights if name not in FOREGROUND_LABELS)
    if unknown:
        raise BadInputError(f"unknown sound event(s) {', '.join(unknown)}",
                            f"use some of: {', '.join(FOREGROUND_LABELS)}")
    checked: Dict[str, float] = {}
    for name, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or \
                not math.isfinite(value) or value < 0:
            raise BadInputError(f'weight {value!r} of sound event {name} is not a number >= 0',
                                'give a relative weight >= 0 (0 leaves the event out)')
        checked[name] = float(value)
    if not any(value > 0 for value in checked.values()):
        raise BadInputError('every sound event has weight 0',
                            'give at least one event a positive weight')
    return checked


def _fade(n: int, sample_rate: int, attack_s: float, release_s: float) -> np.ndarray:
    envelope = np.ones(n)
    attack = min(n // 2, max(1, int(attack_s * sample_rate)))
    release = min(n // 2, max(1, int(release_s * sample_rate)))
    envelope[:attack] = np.linspace(0.0, 1.0, attack)
    envelope[n - release:] = np.minimum(envelope[n - release:], np.linspace(1.0, 0.0, release))
    return envelope


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if samples.size else 0.0


def _foreground_gain(sound: np.ndarray, background_rms: float, snr_db: float) -> float:
    """Return the gain putting `sound` snr_db over the background (at most MAX_FOREGROUND_RMS)."""
    target = min(background_rms * 10 ** (snr_db / 20), MAX_FOREGROUND_RMS)
    return target / max(_rms(sound), 1e-9)


def _soft_limit(samples: np.ndarray, knee: float = 0.9) -> np.ndarray:
    """Return samples limited to (-1, 1), unchanged below `knee` (sample by sample)."""
    magnitude = np.abs(samples)
    over = magnitude > knee
    if np.any(over):
        samples = samples.copy()
        samples[over] = np.sign(samples[over]) * (
            knee + (1 - knee) * np.tanh((magnitude[over] - knee) / (1 - knee)))
    return samples


def synth_siren(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Return `n` samples of an emergency siren: a tone swept up and down (wail or yelp)."""
    t = np.arange(n) / sample_rate
    low = rng.uniform(550.0, 800.0)
    high = low + rng.uniform(450.0, 800.0)
    if rng.random() < 0.5:   # wail: slow sinusoidal sweep
        period = rng.uniform(1.5, 3.5)
        sweep = 0.5 - 0.5 * np.cos(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    else:                    # yelp: fast rising sawtooth-like sweep
        period = rng.uniform(0.22, 0.4)
        phase = (t / period + rng.random()) % 1.0
        sweep = np.minimum(phase / 0.85, (1.0 - phase) / 0.15)
    frequency = low + (high - low) * sweep
    phase = 2 * np.pi * np.cumsum(frequency) / sample_rate
    tone = np.sin(phase) + 0.35 * np.sin(2 * phase) + 0.18 * np.sin(3 * phase)
    approach = np.linspace(rng.uniform(0.4, 1.0), rng.uniform(0.4, 1.0), n)
    return tone * approach * _fade(n, sample_rate, 0.05, 0.08)


def synth_horn(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Return `n` samples of a car horn: 1-3 honks of a saturated harmonic stack."""
    t = np.arange(n) / sample_rate
    f0 = rng.uniform(330.0, 520.0)
    tones = [f0] + ([f0 * rng.uniform(1.2, 1.3)] if rng.random() < 0.6 else [])
    stack = np.zeros(n)
    for base in tones:
        for k in range(1, 13):
            if base * k >= 0.45 * sample_rate:
                break
            stack += np.sin(2 * np.pi * base * k * t + rng.uniform(0, 2 * np.pi)) / k ** 0.8
    stack = np.tanh(1.5 * stack / np.max(np.abs(stack)))
    gate = np.zeros(n)
    honks = int(rng.integers(1, 4))
    slot = n // honks
    for k in range(honks):
        length = int(slot * rng.uniform(0.55, 0.9))
        start = k * slot + int((slot - length) * rng.random() * 0.5)
        gate[start:start + length] = _fade(length, sample_rate, 0.01, 0.03)
    return stack * gate


def synth_engine(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Return `n` samples of an engine: firing harmonics, amplitude-modulated, plus rumble."""
    t = np.arange(n) / sample_rate
    base = rng.uniform(28.0, 75.0)
    firing = base * (1.0 + 0.25 * np.sin(2 * np.pi * t / rng.uniform(1.5, 4.0)
                                         + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(firing) / sample_rate
    tone = np.zeros(n)
    for k in range(1, 9):
        tone += np.sin(k * phase + rng.uniform(0, 2 * np.pi)) / k
    modulation = 1.0 + rng.uniform(0.2, 0.5) * np.sin(0.5 * phase)
    b, a = signal.butter(2, rng.uniform(200.0, 400.0), fs=sample_rate)
    rumble = signal.lfilter(b, a, rng.normal(0.0, 1.0, n))
    rumble *= 0.6 * _rms(tone) / max(_rms(rumble), 1e-9)
    return (tone + rumble) * modulation * _fade(n, sample_rate, 0.3, 0.3)


def _resonator(frequency: float, bandwidth: float,
               sample_rate: int) -> Tuple[np.ndarray, np.ndarray]:
    radius = math.exp(-math.pi * bandwidth / sample_rate)
    theta = 2 * math.pi * frequency / sample_rate
    return np.array([1.0 - radius]), np.array([1.0, -2 * radius * math.cos(theta), radius ** 2])


def synth_speech(n: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Return `n` samples of speech-like sound: formant-filtered pulses in syllables."""
    out = np.zeros(n)
    f0 = rng.uniform(95.0, 230.0)
    position = int(rng.uniform(0.0, 0.08) * sample_rate)
    syllables_left = int(rng.integers(2, 5))
    nyquist_guard = 0.45 * sample_rate
    while position < n:
        length = int(rng.uniform(0.12, 0.3) * sample_rate)
        length = min(length, n - position)
        if length < int(0.04 * sample_rate):
            break
        t = np.arange(length) / sample_rate
        pitch = f0 * (1.0 + rng.uniform(-0.1, 0.15)) * (1.0 - 0.25 * t / max(t[-1], 1e-6))
        pitch *= 1.0 + 0.01 * rng.normal(size=length).cumsum() / np.sqrt(length)
        cycles = np.cumsum(pitch) / sample_rate
        pulses = np.diff(np.floor(cycles), prepend=0.0)
        b, a = signal.butter(1, 900.0, fs=sample_rate)
        glottal = signal.lfilter(b, a, pulses)
        vowel = _VOWELS[int(rng.integers(len(_VOWELS)))]
        voiced = np.zeros(length)
        for k, formant in enumerate(vowel):
            formant *= rng.uniform(0.92, 1.08)
            if formant >= nyquist_guard:
                continue
            fb, fa = _resonator(formant, 60.0 + 40.0 * k, sample_rate)
            voiced += signal.lfilter(fb, fa, glottal) * (1.0, 0.6, 0.3)[k]
        envelope = np.sin(np.pi * np.arange(length) / length) ** 0.6
        syllable = voiced * envelope / max(_rms(voiced), 1e-9)
        if rng.random() < 0.6:  # a fricative onset
            burst = int(rng.uniform(0.02, 0.06) * sample_rate)
            burst = min(burst, length)
            hb, ha = signal.butter(2, min(rng.uniform(2500.0, 5000.0), nyquist_guard * 0.9),
                                   btype='highpass', fs=sample_rate)
            noise = signal.lfilter(hb, ha, rng.normal(0.0, 1.0, burst))
            syllable[:burst] += 0.5 * noise * np.hanning(burst)
        out[position:position + length] += syllable
        position += length
        syllables_left -= 1
        if syllables_left == 0:  # end of a word
            position += int(rng.uniform(0.1, 0.25) * sample_rate)
            syllables_left = int(rng.integers(2, 5))
        else:
            position += int(rng.uniform(0.02, 0.07) * sample_rate)
    return out * _fade(n, sample_rate, 0.01, 0.05)


SYNTHS: Dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    'siren': synth_siren, 'horn': synth_horn, 'engine': synth_engine, 'speech': synth_speech}


class AudioSceneSynth:
    """Generate a deterministic street soundtrack with its labelled timeline.

    Foreground events are drawn from `labels`, each equally likely; `event_weights`
    ({label: relative weight}, labels left out weigh 0) replaces `labels` with a mix.
    """

    def __init__(self, sample_rate: int = 16000, seed: int = 0, *,
                 labels: Sequence[str] = FOREGROUND_LABELS,
                 snr_db: Tuple[float, float] = (6.0, 24.0),
                 event_weights: Optional[Mapping[str, float]] = None) -> None:
        if sample_rate < 8000:
            raise BadInputError(f'sample rate {sample_rate} Hz is too low',
                                'use 8000 Hz or more (16000 is what the models expect)')
        weights: Optional[Tuple[float, ...]] = None
        if event_weights is not None:  # the event mix replaces `labels`
            checked = check_event_weights(event_weights)
            labels = tuple(x for x in FOREGROUND_LABELS if checked.get(x, 0.0) > 0)
            if len({checked[x] for x in labels}) > 1:
                total = sum(checked[x] for x in labels)
                weights = tuple(checked[x] / total for x in labels)
        unknown = [x for x in labels if x not in FOREGROUND_LABELS]
        if unknown or not labels:
            raise BadInputError(f'unknown or missing foreground labels {list(unknown)}',
                                f'use some of: {", ".join(FOREGROUND_LABELS)}')
        if seed < 0:
            raise BadInputError(f'seed {seed} is negative', 'use a seed >= 0')
        self.sample_rate = int(sample_rate)
        self.seed = int(seed)
        self.labels = tuple(labels)
        # None: every label equally likely (the draw that equal weights give, too)
        self.label_weights = weights
        self.snr_db = snr_db
        rng = np.random.default_rng((self.seed, 0))
        self.background_rms = float(rng.uniform(0.01, 0.04))

    def timeline(self, duration_s: float) -> List[AudioEvent]:
        """Return the events covering [0, duration_s): foreground ones and background gaps."""
        return [event for event, _, _ in self._plan(duration_s)]

    def _plan(self, duration_s: float) -> List[Tuple[AudioEvent, int, int]]:
        """Return (event clipped to duration_s, first sample, unclipped length in samples).

        Times are whole samples, so events tile the timeline exactly.
        """
        rate = self.sample_rate
        total = int(round(duration_s * rate))
        rng = np.random.default_rng((self.seed, 1))
        plan: List[Tuple[AudioEvent, int, int]] = []
        now = int(round(rng.uniform(0.2, 1.0) * rate))
        plan.append((AudioEvent(BACKGROUND, 0.0, min(now, total) / rate), 0, now))
        while now < total:
            if self.label_weights is None:
                label = self.labels[int(rng.integers(len(self.labels)))]
            else:
                label = self.labels[int(rng.choice(len(self.labels), p=self.label_weights))]
            length = int(round(rng.uniform(*EVENT_DURATION_S[label]) * rate))
            end = now + length
            plan.append((AudioEvent(label, now / rate, min(end, total) / rate), now, length))
            gap = int(round(rng.uniform(*GAP_DURATION_S) * rate))
            if end < total:
                plan.append((AudioEvent(BACKGROUND, end / rate, min(end + gap, total) / rate),
                             end, gap))
            now = end + gap
        return plan

    def background(self, num_samples: int) -> np.ndarray:
        """Return `num_samples` of background: pink noise and rumble, slowly varying level."""
        block = self.sample_rate
        blocks = [np.random.default_rng((self.seed, 3, k)).normal(0.0, 1.0, (2, block))
                  for k in range(-(-num_samples // block))]
        white = np.concatenate(blocks, axis=1)[:, :num_samples] if blocks else np.zeros((2, 0))
        pink = signal.lfilter(_PINK_B, _PINK_A, white[0])
        b, a = signal.butter(2, 120.0, fs=self.sample_rate)
        rumble = signal.lfilter(b, a, white[1])
        mix = pink / 0.12 + 0.8 * rumble / 0.11  # both about unit RMS
        rng = np.random.default_rng((self.seed, 4))
        t = np.arange(num_samples) / self.sample_rate
        level = 1.0 + 0.3 * np.sin(2 * np.pi * t / rng.uniform(3.0, 9.0) + rng.uniform(0, 6))
        return mix * level * self.background_rms / 1.28

    def generate(self, duration_s: float) -> Tuple[np.ndarray, List[AudioEvent]]:
        """Return (int16 mono samples, events) of `duration_s` seconds of street sound."""
        if not (duration_s > 0 and math.isfinite(duration_s)):
            raise BadInputError(f'audio duration {duration_s} s is not positive',
                                'ask for a duration > 0')
        num_samples = int(round(duration_s * self.sample_rate))
        plan = self._plan(duration_s)
        mix = self.background(num_samples)
        foreground = [x for x in plan if x[0].label != BACKGROUND]
        for index, (event, start, length) in enumerate(foreground):
            rng = np.random.default_rng((self.seed, 2, index))
            sound = SYNTHS[event.label](length, self.sample_rate, rng)
            sound *= _foreground_gain(sound, self.background_rms, rng.uniform(*self.snr_db))
            end = min(start + length, num_samples)
            mix[start:end] += sound[:end - start]
        return np.round(_soft_limit(mix) * 32767.0).astype(np.int16), [x[0] for x in plan]


def render_clip(label: str, duration_s: float, sample_rate: int, rng: np.random.Generator,
                snr_db: Tuple[float, float] = (3.0, 24.0)) -> np.ndarray:
    """Return a float32 clip in [-1, 1] of one `label` sound over background (training)."""
    if label not in AUDIO_LABELS:
        raise BadInputError(f"unknown audio label '{label}'",
                            f'use one of: {", ".join(AUDIO_LABELS)}')
    n = int(round(duration_s * sample_rate))
    synth = AudioSceneSynth(sample_rate, int(rng.integers(1 << 31)))
    clip = synth.background(n)
    if label != BACKGROUND:
        sound = SYNTHS[label](n, sample_rate, rng)
        clip += sound * _foreground_gain(sound, synth.background_rms, rng.uniform(*snr_db))
    return _soft_limit(clip).astype(np.float32)
