"""Training

How a network is trained well: optimizers and learning rates, regularization, the train and eval
modes, residual connections, and choosing a network's size.
"""

#: The part's topics, in the order the site and the CLI show them.
TOPICS = (
    "optimizers",
    "regularization",
    "train_eval",
    "residual",
    "sizing",
    "normalization",
    "schedules",
    "adaptive",
    "batch_size",
    "debugging",
    "imbalance",
    "augmentation",
)
