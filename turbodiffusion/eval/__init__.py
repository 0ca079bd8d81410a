"""Evaluation of the built-in default model on the synthetic world: a frame analyser that reads a video back
into words (analyser.py) and the command that scores the pipelines on held-out prompts (synthetic.py)."""
