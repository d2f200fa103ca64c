# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""audio_input: window the microphone stream and publish log-mel features per sound task.

Subscribes to `audio_topic` of type `audio_type` (std_msgs Int16MultiArray by default,
UInt8MultiArray as S16LE bytes, Float32MultiArray, audio_common_msgs AudioData /
AudioDataStamped where installed), cuts `window_s` windows every `hop_s`, computes log-mel
features and publishes /blastnet/input/<task> (sensor_msgs/Image 32FC1, n_mels rows x
frames columns) stamped with the capture time of the window's last sample.

Stamps come from the sample count, not from arrival: the stream's first chunk anchors
a sample clock (its header stamp is its first sample's capture time; a header-less
chunk's arrival on the node clock stands for its last sample's), and a window's stamp is
that clock's time for its last sample. A gap up to window_s re-anchors the clock and
keeps the buffered audio (no window is lost, no zeros are filled in); a longer gap, or
stamps going backwards, starts a new stream (models/audio_features.py has the rules).

A chunk longer than `max_chunk_s`, or one holding more audio than the time since the
previous chunk, is a bad input: counted, logged once, its samples not used. Header-less
chunks that come under use_sim_time before /clock are skipped (counted in /diagnostics).
"""

from __future__ import annotations

from typing import Optional, Sequence

from diagnostic_msgs.msg import DiagnosticArray, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.ros.rate_limiter import PeriodRateLimiter
from blastnet_ros.core.task import AUDIO
from blastnet_ros.core.units import NS_PER_S
from blastnet_ros.models.audio_features import (AudioWindower, DEFAULT_MAX_CHUNK_S,
                                                LogMelExtractor)
from blastnet_ros.models.specs import model_spec
from blastnet_ros.ros.audio_conversion import (audio_message_class, audio_msg_frame_count,
                                               audio_msg_stamp_ns, audio_msg_to_samples)
from blastnet_ros.ros.image_conversion import features_to_image_msg
from blastnet_ros.ros.node_support import (BadInputReporter, ClockWait, input_diagnostics,
                                           input_qos, ns_to_stamp, run_node, steady_timer,
                                           TopicTypeWatch)
from blastnet_ros.runtime.config_files import load_task_set


class AudioInputNode(Node):
    """Feed the sound tasks: log-mel features of sliding audio windows."""

    def __init__(self, **node_options) -> None:
        super().__init__('audio_input', **node_options)
        tasks_file = self.declare_parameter('tasks_file', '').value
        audio_topic = self.declare_parameter('audio_topic', 'audio').value
        self._audio_type = self.declare_parameter(
            'audio_type', 'std_msgs/msg/Int16MultiArray').value
        self._sample_rate = self.declare_parameter('sample_rate', 16000).value
        self._channels = self.declare_parameter('channels', 1).value
        window_s = self.declare_parameter('window_s', 1.0).value
        hop_s = self.declare_parameter('hop_s', 0.5).value
        n_mels = self.declare_parameter('n_mels', 64).value
        reliable = self.declare_parameter('reliable', True).value
        frame_id = self.declare_parameter('frame_id', 'microphone').value
        max_chunk_s = self.declare_parameter('max_chunk_s', DEFAULT_MAX_CHUNK_S).value
        message_class = audio_message_class(self._audio_type)
        if self._sample_rate <= 0 or self._channels <= 0 or window_s <= 0 or hop_s <= 0 \
                or not max_chunk_s > 0:
            raise BadInputError(
                f'sample_rate {self._sample_rate}, channels {self._channels}, window_s '
                f'{window_s}, hop_s {hop_s} and max_chunk_s {max_chunk_s} must all be '
                'positive', 'fix the parameters')
        self._tasks = load_task_set(tasks_file).tasks_from(AUDIO)
        for task in self._tasks:
            spec = model_spec(task.model)
            if spec.input_height != n_mels:
                raise BadInputError(
                    f"task '{task.name}' uses model {spec.name} with {spec.input_height} mel "
                    f'bands but n_mels is {n_mels}', f'set n_mels to {spec.input_height}')
        self._frame_id = frame_id
        self._windower = AudioWindower(self._sample_rate, window_s, hop_s, max_chunk_s)
        self._features = LogMelExtractor(sample_rate=self._sample_rate, n_mels=n_mels)
        frames = self._features.frames_for(round(window_s * self._sample_rate))
        for task in self._tasks:
            spec = model_spec(task.model)
            if frames < spec.min_input_width:
                raise BadInputError(
                    f"window_s {window_s:g} gives {frames} feature frames but task "
                    f"'{task.name}' ({spec.name}) needs at least {spec.min_input_width}",
                    'raise window_s (about 0.35 s or more at a 10 ms hop)')
        self._limiters = {task.name: PeriodRateLimiter(task.period_ns) for task in self._tasks}
        self._task_publishers = {
            task.name: self.create_publisher(Image, task.input_topic, input_qos(True, 2))
            for task in self._tasks}
        self._published = dict.fromkeys(self._task_publishers, 0)
        self._received = 0
        self._skipped_before_clock = 0
        self.bad_inputs = BadInputReporter(self)
        self._clock_wait = ClockWait(self)
        self.create_subscription(message_class, audio_topic, self._on_audio,
                                 input_qos(reliable, 50))
        self._type_watch = TopicTypeWatch(self, audio_topic, self._audio_type, 'audio_type',
                                          self.bad_inputs)
        self._diagnostics = self.create_publisher(DiagnosticArray, 'diagnostics', 10)
        steady_timer(self, 1.0, self._on_timer)
        self.get_logger().info(
            f'{audio_topic} ({self._audio_type}, {self._sample_rate} Hz, {self._channels} ch)'
            f' -> {window_s:g} s windows every {hop_s:g} s -> '
            + ', '.join(task.input_topic for task in self._tasks))

    @property
    def windower(self) -> AudioWindower:
        """Return the windower that cuts this node's stream (clock, resets, re-anchors)."""
        return self._windower

    def _on_audio(self, msg) -> None:
        self._received += 1
        first_ns = audio_msg_stamp_ns(msg)
        if first_ns is None and self._clock_wait.waiting:  # no clock to time arrivals by
            self._skipped_before_clock += 1
            return
        arrival_ns = self.get_clock().now().nanoseconds
        try:  # its length first: a huge chunk is refused before it is converted
            self._windower.check_chunk_length(
                audio_msg_frame_count(msg, self._audio_type, self._channels))
            samples = audio_msg_to_samples(msg, self._audio_type, self._channels)
            if first_ns is None:
                windows = self._windower.push(samples, arrival_ns, arrival=True)
            else:
                last_ns = first_ns + (len(samples) - 1) * NS_PER_S // self._sample_rate
                windows = self._windower.push(samples, last_ns)
            for window, stamp_ns in windows:
                due = [task for task in self._tasks if self._limiters[task.name].admit(stamp_ns)]
                if not due:
                    continue
                header = Header(frame_id=self._frame_id, stamp=ns_to_stamp(stamp_ns))
                image = features_to_image_msg(self._features(window), header)
                for task in due:
                    self._task_publishers[task.name].publish(image)
                    self._published[task.name] += 1
        except BadInputError as error:
            self.bad_inputs.report(error, 'audio message')

    def _on_timer(self) -> None:
        self._type_watch.check()
        array = input_diagnostics(self, self._received, self._published, self.bad_inputs)
        array.status[0].values += [
            KeyValue(key='stream resets', value=str(self._windower.resets)),
            KeyValue(key='stream re-anchors', value=str(self._windower.re_anchors)),
            KeyValue(key='skipped before /clock', value=str(self._skipped_before_clock))]
        self._diagnostics.publish(array)


def main(args: Optional[Sequence[str]] = None) -> None:
    """Run the audio_input node."""
    run_node(AudioInputNode, args)


if __name__ == '__main__':
    main()
