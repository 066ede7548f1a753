"""The files of a run folder, as training writes them: names and locks (``folder``), checkpoints,
JSON-lines records. Below training; what reads a finished run is in ``ganforge.trained``."""
