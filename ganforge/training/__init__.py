"""Training: assembling a run from its recipe, the compiled step, the Trainer's loop, sinks, signals."""
