"""The study layer: configurations x seeds on Ray, their statistics, and tuning
(study.py uses it), over train.py and train_seeds.py:

- configs.py    a study's configurations (NAME=FLAGS) and their checks
- trials.py     one trial: a run in its own folders, resumed, its actor scored
- tuning.py     a tuning (study.py --tune): Optuna's ask, run and tell, and its outputs
- search.py     a tuning's search space, and Optuna's storage, pruner and reports
- estimates.py  interval estimates from rliable: IQM, probability of improvement, profiles;
                the seeds a side for 80% power (statsmodels)
- summary.py    what a study concludes: its tables, statistics.csv
- verdicts.py   the lines in words, claiming no more than the intervals hold
- landscapes.py the runs' numbers against the truth, at one episode for all
- figures.py    a study's figures (curves, profiles, improvement)
- ownership.py  one driver per study folder: its lock, and taking over a dead one's
- guard.py      the one guard every write of the study layer goes through: never outside
- stops.py      a driver stopped by a signal at any phase: its last line, its status
- cluster.py    Ray for a study: started here or joined
"""
