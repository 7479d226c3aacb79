"""``make bench``: speed, memory and size of the shipped runtime, the add-on and the CLI on this machine.

    python -m thunder_train.bench --out bench.json [--quick] [--only generation,keyframes]

A benchmark, not a test: it reports numbers (medians over repeated runs after a warm-up) against the
product targets and never fails on noise; a part whose dependency is missing reports "n/a: reason".
Modules: ``common`` (timing, probes, machine info), ``runtime_bench`` (generation and stages),
``reference`` (many-step DDPM vs the shipped few-step sampler), ``probes`` (fresh-process and Blender
measurements), ``suite`` (the parts in order), ``report`` (the table).
"""
