# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""Real-dataset loaders on small fake datasets written as real files."""

import cv2
import numpy as np
import pytest
import scipy.io.wavfile

from blastnet_ros.core.input_errors import BadInputError
from blastnet_ros.tools.training import dataset_loaders as dl
from blastnet_ros.tools.scenes.audio_scenes import AUDIO_LABELS
from blastnet_ros.tools.scenes.road_scenes import OBJECT_LABELS, SIGN_CLASSES


def write_image(path, width=40, height=30, colour=(0, 0, 255)):
    """Write a BGR image of one colour (red by default) with a white square in the middle."""
    image = np.zeros((height, width, 3), np.uint8)
    image[:] = colour
    image[height // 3:2 * height // 3, width // 3:2 * width // 3] = 255
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


@pytest.fixture
def gtsrb(tmp_path):
    root = tmp_path / 'GTSRB'
    for index in range(3):
        write_image(root / '00014' / f'00000_0000{index}.ppm')   # stop
    write_image(root / '00001' / 'a.png')                       # speed_limit_30
    write_image(root / '00005' / 'b.png')                       # speed 80: not ours
    write_image(root / '00005' / 'c.png')
    write_image(root / 'yield' / 'd.jpg')                       # named by our label
    (root / '00014' / 'GT-00014.csv').write_text(
        'Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId\n'
        '00000_00000.ppm;40;30;10;5;30;25;14\n')
    return root


def test_gtsrb_folders_map_class_ids_and_labels_and_count_the_rest(gtsrb):
    loaded = dl.load_gtsrb_folder(gtsrb)
    data = loaded.data
    assert data.inputs.shape == (5, 32, 32, 3) and data.inputs.dtype == np.uint8
    assert sorted(SIGN_CLASSES[t] for t in data.targets) == [
        'speed_limit_30', 'stop', 'stop', 'stop', 'yield']
    assert loaded.files == 7 and loaded.skipped == (('00005', 2),)
    assert loaded.skipped_count == 2
    assert data.inputs[0, 16, 16].tolist() == [255, 255, 255]  # RGB, the white square
    assert data.inputs[0, 1, 1].tolist() == [255, 0, 0]  # red: BGR files read as RGB
    limited = dl.load_gtsrb_folder(gtsrb, limit_per_class=1).data
    assert sorted(SIGN_CLASSES[t] for t in limited.targets) == [
        'speed_limit_30', 'stop', 'yield']


def test_gtsrb_class_maps_from_a_dict_or_a_csv(gtsrb, tmp_path):
    loaded = dl.load_gtsrb_folder(gtsrb, {'5': 'no_entry', '00014': ''})
    labels = sorted(SIGN_CLASSES[t] for t in loaded.data.targets)
    assert labels == ['no_entry', 'no_entry', 'speed_limit_30', 'yield']
    assert loaded.skipped == (('00014', 3),)
    table = tmp_path / 'map.csv'
    table.write_text('class,label\n# a comment\n00005,turn_left\n')
    assert 'turn_left' in {SIGN_CLASSES[t] for t in
                           dl.load_gtsrb_folder(gtsrb, table).data.targets}
    table.write_text('00005,speed_limit_80\n')
    with pytest.raises(BadInputError) as caught:
        dl.load_gtsrb_folder(gtsrb, table)
    assert "map.csv' line 1 maps to unknown label 'speed_limit_80'" in caught.value.cause
    assert 'stop' in caught.value.fix
    table.write_text('00005\n')
    with pytest.raises(BadInputError, match='line 1 has 1 columns'):
        dl.load_gtsrb_folder(gtsrb, table)
    with pytest.raises(BadInputError, match="class map '.*nope.csv' not found"):
        dl.load_gtsrb_folder(gtsrb, tmp_path / 'nope.csv')


def test_gtsrb_bad_inputs_name_the_file_and_the_fix(gtsrb, tmp_path):
    with pytest.raises(BadInputError, match="GTSRB folder '.*missing' not found"):
        dl.load_gtsrb_folder(tmp_path / 'missing')
    (tmp_path / 'empty').mkdir()
    with pytest.raises(BadInputError, match='has no class folders'):
        dl.load_gtsrb_folder(tmp_path / 'empty')
    write_image(tmp_path / 'others' / '00005' / 'x.png')
    with pytest.raises(BadInputError) as caught:
        dl.load_gtsrb_folder(tmp_path / 'others')
    assert 'no images of our sign classes (class folders: 00005)' in caught.value.cause
    (gtsrb / '00014' / 'broken.png').write_bytes(b'not a png')
    with pytest.raises(BadInputError) as caught:
        dl.load_gtsrb_folder(gtsrb)
    assert 'broken.png' in caught.value.cause and 'cannot be read' in caught.value.cause


def write_wav(path, rate, samples):
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.wavfile.write(str(path), rate, samples)


@pytest.fixture
def urbansound(tmp_path):
    root = tmp_path / 'UrbanSound8K'

    def tone(rate, seconds):
        return 0.5 * np.sin(2 * np.pi * 700 * np.arange(int(rate * seconds)) / rate)

    stereo = np.stack([tone(44100, 2.5)] * 2, 1)
    write_wav(root / 'audio' / 'fold1' / 'siren.wav', 44100, (stereo * 32767).astype(np.int16))
    write_wav(root / 'audio' / 'fold1' / 'horn.wav', 22050,
              (tone(22050, 0.5) * 2 ** 31).astype(np.int32))  # 0.5 s, 32-bit
    write_wav(root / 'audio' / 'fold2' / 'engine.wav', 16000,
              (tone(16000, 1.5) * 0.5).astype(np.float32))
    write_wav(root / 'audio' / 'fold2' / 'music.wav', 8000,
              ((tone(8000, 1.0) + 1) * 127).astype(np.uint8))
    (root / 'metadata').mkdir()
    (root / 'metadata' / 'UrbanSound8K.csv').write_text(
        'slice_file_name,fsID,start,end,salience,fold,classID,class\n'
        'siren.wav,1,0,2.5,1,1,8,siren\n'
        'horn.wav,2,0,0.5,1,1,1,car_horn\n'
        'engine.wav,3,0,1.5,1,2,5,engine_idling\n'
        'music.wav,4,0,1,1,2,9,street_music\n')
    return root


def test_urbansound_clips_become_one_second_log_mel_windows(urbansound):
    loaded = dl.load_urbansound8k(urbansound)
    data = loaded.data
    # siren 2.5 s -> 2 windows; horn 0.5 s repeated to 1 s -> 1; engine 1.5 s -> 1
    assert data.inputs.shape == (4, 64, 97) and data.inputs.dtype == np.float32
    assert [AUDIO_LABELS[t] for t in data.targets] == ['siren', 'siren', 'horn', 'engine']
    assert loaded.files == 4 and loaded.skipped == (('street_music', 1),)
    assert np.isfinite(data.inputs).all()
    # the 700 Hz tone lands in the same mel band whatever the file's rate and format
    peaks = data.inputs.mean(axis=2).argmax(axis=1)
    assert len(set(peaks.tolist())) == 1
    only_fold2 = dl.load_urbansound8k(urbansound, folds=[2],
                                      class_map={'street_music': 'background'})
    assert [AUDIO_LABELS[t] for t in only_fold2.data.targets] == ['engine', 'background']
    assert dl.load_urbansound8k(urbansound, limit_per_class=1).data.inputs.shape[0] == 4


def test_read_wav_resamples_and_mixes_down(urbansound):
    samples = dl.read_wav(urbansound / 'audio' / 'fold1' / 'siren.wav')
    assert samples.dtype == np.float32 and samples.shape == (40000,)  # 2.5 s at 16 kHz
    assert 0.45 < np.abs(samples).max() <= 0.51
    assert dl.read_wav(urbansound / 'audio' / 'fold1' / 'horn.wav').shape == (8000,)


def test_urbansound_bad_inputs_name_the_file_and_the_fix(urbansound, tmp_path):
    table = urbansound / 'metadata' / 'UrbanSound8K.csv'
    with pytest.raises(BadInputError, match='metadata .* not found'):
        dl.load_urbansound8k(tmp_path)
    (urbansound / 'audio' / 'fold2' / 'engine.wav').unlink()
    with pytest.raises(BadInputError) as caught:
        dl.load_urbansound8k(urbansound)
    assert "fold2/engine.wav' not found" in caught.value.cause
    assert 'metadata CSV' in caught.value.fix
    (urbansound / 'audio' / 'fold2' / 'engine.wav').write_bytes(b'RIFF....garbage')
    with pytest.raises(BadInputError, match="engine.wav' is not a readable wav"):
        dl.load_urbansound8k(urbansound)
    with pytest.raises(BadInputError, match='lists no clips of our sound labels in folds'):
        dl.load_urbansound8k(urbansound, folds=[7])
    table.write_text('file,fold\nsiren.wav,1\n')
    with pytest.raises(BadInputError, match='lacks columns class, fold, slice_file_name'):
        dl.load_urbansound8k(urbansound)


@pytest.fixture
def yolo(tmp_path):
    root = tmp_path / 'yolo'
    write_image(root / 'images' / 'train' / 'a.jpg', 400, 200)
    write_image(root / 'images' / 'train' / 'b.png', 100, 100)
    write_image(root / 'images' / 'val' / 'c.png', 100, 100)
    labels = root / 'labels' / 'train'
    labels.mkdir(parents=True)
    (labels / 'a.txt').write_text('0 0.5 0.5 0.25 0.5\n2 0.1 0.1 0.1 0.1\n\n1 0.9 0.5 0.1 0.2\n')
    (root / 'labels' / 'val').mkdir()
    (root / 'labels' / 'val' / 'c.txt').write_text('1 0.5 0.5 0.2 0.2\n')
    (root / 'data.yaml').write_text(
        'path: .\ntrain: images/train\nval: images/val\n'
        "names: ['car', 'Traffic Light', 'dog']\n")
    return root


def test_yolo_labels_are_mapped_into_letterboxed_model_pixels(yolo):
    loaded = dl.load_yolo_dataset(yolo, split='train')
    data = loaded.data
    assert data.images.shape == (2, 192, 192, 3) and loaded.files == 2
    assert loaded.skipped == (('dog', 1),)
    # a.jpg is 400x200: scale 0.48, pad_y 48; car box 150..250 x 50..150 px
    np.testing.assert_allclose(data.boxes[0], [[72, 72, 120, 120], [163.2, 86.4, 182.4, 105.6]],
                               atol=1e-3)
    assert [OBJECT_LABELS[c] for c in data.classes[0]] == ['vehicle', 'traffic_light']
    assert data.boxes[1].shape == (0, 4)  # b.png has no label file: a negative image
    val = dl.load_yolo_dataset(yolo, split='val').data
    assert len(val) == 1 and OBJECT_LABELS[val.classes[0][0]] == 'traffic_light'
    everything = dl.load_yolo_dataset(yolo)  # no split: all of images/
    assert len(everything.data) == 3
    mapped = dl.load_yolo_dataset(yolo, {'dog': 'pedestrian', 'car': ''}, split='train')
    assert [OBJECT_LABELS[c] for c in mapped.data.classes[0]] == ['pedestrian', 'traffic_light']
    assert mapped.skipped == (('car', 1),)


@pytest.mark.parametrize('line, cause', [
    ('0 0.5 0.5 0.2', 'line 1 has 4 values'),
    ('0 0.5 0.5 0.2 0.2 0.3 0.3', 'line 1 has 7 values'),
    ('car 0.5 0.5 0.2 0.2', 'line 1 is not numbers'),
    ('7 0.5 0.5 0.2 0.2', 'line 1 has class 7, not in names (0..2)'),
    ('0 0.5 1.5 0.2 0.2', 'outside 0..1'),
    ('0 0.5 0.5 0 0.2', 'outside 0..1'),
])
def test_bad_yolo_label_lines_name_file_and_line(yolo, line, cause):
    (yolo / 'labels' / 'train' / 'a.txt').write_text(line + '\n')
    with pytest.raises(BadInputError) as caught:
        dl.load_yolo_dataset(yolo, split='train')
    assert 'labels/train/a.txt' in caught.value.cause and cause in caught.value.cause


def test_bad_yolo_datasets_name_what_is_missing(yolo, tmp_path):
    with pytest.raises(BadInputError, match="has no `test:` entry"):
        dl.load_yolo_dataset(yolo, split='test')
    (yolo / 'data.yaml').write_text('train: images/train\n')
    with pytest.raises(BadInputError, match='has no usable `names`'):
        dl.load_yolo_dataset(yolo, split='train')
    (yolo / 'data.yaml').write_text('names: [car]\ntrain: images/nowhere\n')
    with pytest.raises(BadInputError, match="image folder '.*nowhere' not found"):
        dl.load_yolo_dataset(yolo, split='train')
    (yolo / 'data.yaml').write_text('names: [car\n')
    with pytest.raises(BadInputError, match='is not valid YAML'):
        dl.load_yolo_dataset(yolo)
    (tmp_path / 'bare').mkdir()
    with pytest.raises(BadInputError, match='has no data.yaml'):
        dl.load_yolo_dataset(tmp_path / 'bare')
