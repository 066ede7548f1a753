"""Measuring generators: feature networks, running metrics, and ``ganforge eval``."""
