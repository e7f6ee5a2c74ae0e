"""`dorpspomp bench`: the whole measurement of the pipeline on this machine, in one run.

Each phase lives in its own module; `bench.run` drives them in order
and writes `bench/results.json`.
"""
