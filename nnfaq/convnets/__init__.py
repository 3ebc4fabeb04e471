"""Convolutional networks

What a convolution computes, the arithmetic of its output sizes, parameters and receptive fields,
and how networks down- and upsample.
"""

#: The part's topics, in the order the site and the CLI show them.
TOPICS = ("convolution", "conv_arithmetic", "resampling", "segmentation")
