"""Benchmarks (bench.py, batch_speed.py, pretrained.py). The baseline they measure
against, the deck's code as published, is ddpg_extras/baseline/deck_ddpg.py (study.py
--deck_loop runs it too)."""
