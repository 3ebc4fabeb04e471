"""Representations

What a network's hidden numbers mean: autoencoders and their latent spaces, embeddings, and
transferring learned features to a new task.
"""

#: The part's topics, in the order the site and the CLI show them.
TOPICS = ("autoencoders", "embeddings", "transfer")
