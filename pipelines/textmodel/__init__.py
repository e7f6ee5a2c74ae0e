"""The complaint and sentiment model trained on real labelled posts.

The runtime is :mod:`.tokens` and :mod:`.scorer` plus the model file in
``data/``; :mod:`.tooling` trains and measures it and is never imported by
the worker. ``README.md`` beside this file says which labelled sets it was
trained on and how.
"""
