"""Measuring generators: feature networks, running metrics, published weights. Below training, which
measures during a run; ``ganforge eval`` (offline) is ``ganforge.trained.evaluate``."""
