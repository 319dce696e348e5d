"""One run's plumbing (train.py, test.py and plot.py use it); it imports nothing from
the seed axis or the study layer:

- fast_update.py  the deck's update with hand-written gradients (train.py's default)
- checks.py       command-line checks: flag types, devices, writable folders, one-line errors
- environments.py making Gymnasium environments, noise scale, display detection
- files.py        atomic saving, safe loading of actors and checkpoints
- checkpoints.py  what a checkpoint holds, and resuming a run from it
- signals.py      Ctrl-C, SIGTERM and SIGHUP: stop after the step and save
- writer.py       one TensorBoard folder per run, one event file per checkpoint; reading it back
- instruments.py  the policy/ and train/ tags that show a collapse coming
- evaluation.py   noiseless evaluation during training; the optimum's score on test.py's starts
- progress.py     the progress bar, or plain lines in a log file
- agent.py        one seed's networks and optimizers, by the deck's names
- session.py      what a training process does once: flag checks, threads, Ctrl-C, the bar
- training.py     a training run's plumbing (Run), one line at a time in train.py's loop
- video.py        test.py's recordings (MP4, GIF)
- optimum.py      Pendulum's optimum (V*, mu*) by value iteration, and its cache; V^mu
- landscape.py    the truth/ pictures and numbers in TensorBoard, and which runs draw them
- pictures.py     plot.py --landscape's figures of a saved model or a run
"""
