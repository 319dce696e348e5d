"""Everything the deck does not have, so that model.py, utils.py, train.py and test.py
read like the slides. Three floors, each a folder named for who uses it, over the
baseline; a floor imports only the floors below it:

- baseline/ the deck's code as published (deck_ddpg.py), which imports nothing of the
          project: benchmarks/ measures against it, and a study's --deck_loop trains it
- run/    one run's plumbing: train.py, test.py and plot.py use it
- seeds/  the seed axis, many seeds in one process: train_seeds.py uses it
- study/  the study layer, seeds x configurations on Ray, and tuning: study.py uses it
"""
