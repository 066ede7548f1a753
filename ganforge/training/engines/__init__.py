"""The engines a run can train on, one package each: the compiled step and the distribution.

A recipe's ``backend`` picks one here and nowhere else (as Keras' ``model.py`` picks its
``Trainer`` class by backend); everything above this package talks to the engine it gets
through the same names.
"""
