"""Contract rows of the post-training part (see tests/contract.py)."""

import torch
from contract import Case

from nnfaq.post_training.contrastive import clip_loss
from nnfaq.post_training.distillation import distillation_loss
from nnfaq.post_training.preference import dpo_loss, grpo_advantages

POSITIVE = "(0, inf)"
LOGPS = ["policy_chosen_logps", "policy_rejected_logps", "ref_chosen_logps", "ref_rejected_logps"]

CASES = [
    Case(
        distillation_loss,
        lambda: {"student_logits": torch.randn(3, 5), "teacher_logits": torch.randn(3, 5), "temperature": 2.0,
                 "reduction": "batchmean"},
        tensor=["student_logits", "teacher_logits"],
        number={"temperature": POSITIVE},
        choice=["reduction"],
    ),
    Case(
        clip_loss,
        lambda: {"image_embeds": torch.randn(4, 3), "text_embeds": torch.randn(4, 3), "temperature": 0.07},
        tensor=["image_embeds", "text_embeds"],
        number={"temperature": POSITIVE},
    ),
    Case(
        dpo_loss,
        lambda: {**{name: torch.randn(4) - 10 for name in LOGPS}, "beta": 0.1},
        tensor=LOGPS,
        number={"beta": POSITIVE},
    ),
    Case(
        grpo_advantages,
        lambda: {"rewards": torch.rand(2, 4), "eps": 1e-4},
        tensor=["rewards"],
        number={"eps": "[0, inf)"},
    ),
]  # fmt: skip
