"""Training and evaluation of the text model: not in the worker's import path."""
