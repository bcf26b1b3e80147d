"""Side-by-side benchmarks of sora_nb against the emulator over loopback.

``python -m bench`` runs them all (``python -m bench startup batch`` runs some, ``--quick``
shrinks every one of them for a smoke test) and writes ``bench/results/latest.json`` and
``docs/benchmarks.md``. Every comparison runs its two sides alternately in the same run and
reports medians and ratios. Nothing here is a test: the test suite holds no timed assertions.
"""
