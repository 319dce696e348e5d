"""Benchmarks (bench.py, batch_speed.py, pretrained.py) and the baseline they measure
against: deck_ddpg.py, the deck's code as published (study.py --deck_loop runs it too)."""
