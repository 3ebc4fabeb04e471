"""Foundations

How a network computes and learns: backpropagation, activations and the gradients they pass back,
initialization, output layers and the losses they feed.
"""

#: The part's topics, in the order the site and the CLI show them.
TOPICS = (
    "backprop",
    "activations",
    "gradient_flow",
    "initialization",
    "output_layers",
    "classification_losses",
    "regression_losses",
    "xor",
    "tensors",
)
