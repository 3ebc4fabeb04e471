"""Attention and sequences

Attention from scratch, its variants, and how a transformer knows where each token is.
"""

#: The part's topics, in the order the site and the CLI show them.
TOPICS = ("attention", "attention_variants", "positional_encoding", "recurrent")
