"""The engine: building parts from a recipe, the compiled step, the loop, checkpoints."""
