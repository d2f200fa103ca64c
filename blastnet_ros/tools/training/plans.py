# Copyright 2026 The blastnet_ros Authors
# SPDX-License-Identifier: Apache-2.0
"""How much each model trains in `blastnet train`: data, steps, budget share, start point.

Torch-free, so that `blastnet train --help` and the argument checks do not load torch.
"""

from __future__ import annotations

import dataclasses
from typing import Dict

from blastnet_ros.core.levels import base_model
from blastnet_ros.models.specs import DETECTION, model_spec

DETECTOR, SIGNS, SOUND = 'detector', 'signs', 'sound'
TRAINING_ORDER = ('sbcnn', 'sbcnn_car', 'sign_vgg', 'sign_resnet', 'tiny_yolo', 'yolo_car')


@dataclasses.dataclass(frozen=True)
class ModelPlan:
    """How much data and how many steps one model gets (sizes of the default run).

    budget_share: the share of the run's budget the model may take when it is not the
    last one trained (its own data included; scene frames shared with other models are
    not charged to it). init_from: a model of the same network whose weights it starts
    from. bfloat16: an image classifier's forward pass under CPU bfloat16 autocast (see
    tools/training/model_training.py).
    """

    train_samples: Dict[str, int]
    held_out_samples: Dict[str, int]
    steps: int
    batch_size: int
    learning_rate: float
    budget_share: float
    init_from: str = ''
    bfloat16: bool = False
    # `--levels`: steps of the sandwich-rule run that trains the levels into the full
    # model's weights (starting from them), at level_lr_share of learning_rate
    level_steps: int = 0
    level_lr_share: float = 0.5
    level_loss_weight: float = 1.0   # each level's loss beside the full network's


PLANS: Dict[str, ModelPlan] = {
    'sbcnn': ModelPlan({'clips': 3000, 'windows': 2000}, {'clips': 500, 'windows': 500},
                       steps=250, batch_size=64, learning_rate=3e-3, budget_share=0.12),
    'sign_vgg': ModelPlan({'patches': 6000, 'scene_frames': 4000},
                          {'patches': 800, 'scene_frames': 320},
                          steps=350, batch_size=64, learning_rate=2e-3, budget_share=0.16),
    'tiny_yolo': ModelPlan({'scene_frames': 4000}, {'scene_frames': 320},
                           steps=1800, batch_size=16, learning_rate=2e-3, budget_share=0.72),
    'sbcnn_car': ModelPlan({'clips': 3000, 'windows': 2000}, {'clips': 500, 'windows': 500},
                           steps=250, batch_size=64, learning_rate=3e-3, budget_share=0.05,
                           level_steps=250),
    'sign_resnet': ModelPlan({'patches': 6000, 'scene_frames': 4000},
                             {'patches': 800, 'scene_frames': 320},
                             steps=360, batch_size=64, learning_rate=3e-3, budget_share=0.45,
                             bfloat16=True, level_steps=160),
    'yolo_car': ModelPlan({'scene_frames': 2400}, {'scene_frames': 320},
                          steps=450, batch_size=16, learning_rate=1e-3, budget_share=0.5,
                          init_from='tiny_yolo', level_steps=260, level_lr_share=0.3,
                          level_loss_weight=0.5),
}


def model_role(name: str) -> str:
    """Return what model `name` does: DETECTOR, SIGNS (image classifier) or SOUND."""
    spec = model_spec(base_model(name))   # a level or a variant does what its model does
    if spec.kind == DETECTION:
        return DETECTOR
    return SIGNS if spec.input_encoding == 'rgb8' else SOUND


def scaled_plan(plan: ModelPlan, scale: float) -> ModelPlan:
    """Return `plan` with data and steps multiplied by `scale` (tests run tiny plans)."""
    if scale == 1.0:
        return plan

    def times(counts: Dict[str, int]) -> Dict[str, int]:
        return {key: max(8, int(round(value * scale))) for key, value in counts.items()}

    return dataclasses.replace(plan, train_samples=times(plan.train_samples),
                               held_out_samples=times(plan.held_out_samples),
                               steps=max(2, int(round(plan.steps * scale))),
                               level_steps=max(2, int(round(plan.level_steps * scale)))
                               if plan.level_steps else 0)
