"""Run folders and what is made from them: names and locks, checkpoints, loading a trained
generator, sampling and exporting it, and the HTML report."""
