"""Everything the deck does not have, one module per concern, so that model.py,
utils.py, train.py and test.py read like the slides:

- fast_update.py  the deck's update with hand-written gradients (train.py's default)
- checks.py       command-line checks: flag types, devices, writable folders, one-line errors
- environments.py making Gymnasium environments, noise scale, display detection
- files.py        atomic saving, safe loading of actors and checkpoints
- checkpoints.py  what a checkpoint holds, and resuming a run from it
- signals.py      Ctrl-C and SIGTERM: stop after the step and save
- writer.py       one TensorBoard folder per run, one event file per checkpoint
- instruments.py  the actor/ and train/ tags that show a collapse coming
- evaluation.py   noiseless evaluation during training
- progress.py     the progress bar, or plain lines in a log file
- agent.py        one seed's networks and optimizers, by the deck's names
- session.py      what a training process does once: flag checks, threads, Ctrl-C, the bar
- run.py          a training run's plumbing, one line at a time in train.py's loop
- video.py        test.py's recordings (MP4, GIF)
- estimates.py    interval estimates from rliable: IQM, probability of improvement, profiles
- summary.py      what a study concludes: its tables, statistics.csv, the lines in words
- figures.py      a study's figures (curves, profiles, improvement), and reading TensorBoard
- ownership.py    one driver per study folder: its lock, and taking over a dead one's
- cluster.py      Ray for a study: started here or joined, one line where it cannot be;
                  its trials stopped on Ctrl-C
- batched.py      many seeds' networks stacked, and the update for all of them at once
- seed_axis.py    many seeds' replay buffers and OU noise, with the seed first
- cohort.py       train_seeds.py's plumbing: K seeds, each a run, masked once it has ended
- search.py       a tuning's search space, and Optuna's storage, pruner and reports
"""
