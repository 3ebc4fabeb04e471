"""Post-training and modern losses

The losses beyond classification that distillation, contrastive pre-training and preference tuning
use: knowledge distillation, InfoNCE and CLIP, DPO and GRPO.
"""

#: The part's topics, in the order the site and the CLI show them.
TOPICS = ("distillation", "contrastive", "preference")
