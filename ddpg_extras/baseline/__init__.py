"""The deck's code as published (deck_ddpg.py): the baseline that benchmarks/bench.py
measures the project against and that a study's --deck_loop trains. It imports nothing
of the project, so both reach it downward."""
