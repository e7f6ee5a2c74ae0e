"""An evaluation world for complaint-surge detection that is not `dorpspomp simulate`'s.

The surge detector (`pipelines.processing.escalation`) was tuned on the simulator's world; graded on
that world alone it scores what it was tuned to score. This package is a second world,
written apart (it shares no code with `pipelines.simulate`): its own rhythms, time zones
and noise, real labelled posts as texts (`texts`), and episodes of seven shapes whose
ground truth is kept (`world`); `score` grades alerts against it. `python -m
pipelines.evalworld` writes it to files; `dorpspomp bench` runs it through the worker's
pure steps (`bench.evalsurges`).
"""
