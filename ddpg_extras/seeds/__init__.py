"""The seed axis: many seeds trained together in one process (train_seeds.py uses it),
over one run's plumbing (ddpg_extras/run/):

- batched.py  many seeds' networks stacked, and the update for all of them at once
- axis.py     many seeds' replay buffers and OU noise, with the seed first
- cohort.py   train_seeds.py's plumbing: K seeds, each a run, masked once it has ended
"""
