"""Everything the deck does not have, so that model.py, utils.py, train.py and test.py
read like the slides. Three floors, each a folder named for who uses it; a floor
imports only the floors below it:

- run/    one run's plumbing: train.py, test.py and plot.py use it
- seeds/  the seed axis, many seeds in one process: train_seeds.py uses it
- study/  the study layer, seeds x configurations on Ray, and tuning: study.py uses it
"""
