"""train_seeds.py's plumbing (not in the deck). Each seed is a run of its own: a
SeedRun is train.py's Run (its log, checkpoints, instruments, divergence check) less
what the batch does once for all seeds. The Batch does that: the flags, Ctrl-C, the
progress bar, the seeds' environments, and the batch's checkpoint, which names every
seed's own checkpoint."""
import argparse
import os
import sys
import time
from collections import deque

import gymnasium as gym
import numpy as np
import torch

from ddpg_extras.checkpoints import resume_checkpoint
from ddpg_extras.checks import (
    check_flags,
    check_writable,
    fail,
    given_flags,
    parse_seeds,
    seeds_name,
)
from ddpg_extras.environments import make_env
from ddpg_extras.files import Writes, is_checkpoint, load_model_file, model_path, save_torch
from ddpg_extras.progress import Progress
from ddpg_extras.run import Run, ended_run
from ddpg_extras.signals import StopSignals

# What marks train_seeds.py's checkpoint of a batch (and the version of its layout).
SEEDS_CHECKPOINT = "ddpg seeds checkpoint 1"
# What the batch's checkpoint keeps of a seed that has ended, for a resumed batch's end.
RESULT_KEYS = ('seed', 'env_name', 'reached_goal', 'episodes', 'steps', 'score_avg', 'model',
               'run_dir', 'checkpoint', 'error', 'seconds', 'stopped', 'save_failed')


class SeedRun(Run):
    """One seed of the batch: train.py's Run, with its actor saved as <run name>.pth
    (K actors cannot all be model.pth), and its episode under way kept here, where
    train.py keeps it in the loop's locals."""

    def __init__(self, batch, seed, load_path=None, loaded=None, resume=None):
        self.args = argparse.Namespace(**dict(vars(batch.args), seed=seed))
        self.device, self.signals = batch.device, batch.signals
        self.load_path, self.loaded, self.resume = load_path, loaded, resume
        self.diverged = self.snapshot = self.result = None
        self.writer = self.progress = self.env = self.eval_env = None
        self.writes = Writes()

    def open(self, *things):
        super().open(*things)
        self.episode, self.score = self.start_episode, 0
        self.recent_rewards = deque(self.scores[-100:], maxlen=100)

    def actor_file(self, reached_goal):
        return self.run_name + '.pth'

    def end(self):
        """The seed leaves the batch: after a divergence, its one line and nothing new
        saved; after Ctrl-C, its checkpoint as of the start of its episode; else its
        actor and its checkpoint. Keeps the seed's result for summary() and the study."""
        seed, episode, steps = self.args.seed, self.episode, self.steps
        self.result = {'seed': seed, 'env_name': self.env_name, 'reached_goal': False,
                       'episodes': episode, 'steps': steps, 'score_avg': None, 'model': None,
                       'run_dir': self.run_dir, 'checkpoint': None, 'error': None,
                       'seconds': time.time() - self.start_time, 'stopped': False}
        if self.diverged:
            self.result['error'] = self.divergence(episode, steps)
            print('seed {}: error: {}'.format(seed, self.result['error']), file=sys.stderr)
            return
        if self.signals.received:
            self.result.update(stopped=True, episodes=self.snapshot['episode'],
                               steps=self.snapshot['steps'])
            if self.save_snapshot():
                self.result['checkpoint'] = self.checkpoint_path
            return
        result, kept, actor_saved, run_saved = self.save_run(
            self.nets['actor'], episode + 1, steps, self.recent_rewards)
        self.result.update(result, model=result['model'] if actor_saved else None,
                           checkpoint=self.checkpoint_path if run_saved else None,
                           save_failed=not (actor_saved and run_saved))
        if kept:
            print('seed {}: the previous {} is kept as {}'.format(
                seed, os.path.basename(result['model']), kept))

    def close(self):
        for thing in (self.writer, self.env, self.eval_env):
            if thing is not None:
                thing.close()


def summary(result):
    """A seed's line at the end: episodes, steps, average, and its actor."""
    r = result
    if r['error'] or r['stopped']:
        return ('diverged in episode {}'.format(r['episodes']) if r['error'] else
                'stopped; its checkpoint holds {} episodes ({} steps)'.format(
                    r['episodes'], r['steps']))
    return '{} after {} episodes ({} steps): the last {} episodes average {:.2f}; actor {}'.format(
        'goal reached' if r['reached_goal'] else 'goal not reached', r['episodes'], r['steps'],
        min(100, r['episodes']), r['score_avg'], r['model'] or 'not saved')


class Batch:
    """What train_seeds.py does once for all its seeds. runs: the seeds still training."""

    def __init__(self, parser, args, argv=None):
        """Check the flags, --seeds and --load_model before anything is made, and say
        what is wrong in one line."""
        self.args = args
        given = given_flags(parser, argv)
        for flag, why in (('seed', 'the seeds come from --seeds'),
                          ('render', 'K windows would not help; watch a seed\'s actor with '
                                     'test.py afterwards'),
                          ('deck_update', "the batch has its own update, tested against "
                                          "train.py's train_model; use train.py for it")):
            if flag in given:
                fail('--{} is not for train_seeds.py: {}'.format(flag, why))
        self.signals, self.path, self.entries = StopSignals(), None, {}
        self.envs = self.vector = self.progress = None
        self.writes = Writes()
        given = parse_seeds(args.seeds) if 'seeds' in given else None  # '' is refused
        seeds = given or list(range(500, 510))  # --seeds' default, 500-509
        loads = (self.load(parser, argv, seeds, given) if args.load_model else
                 [(seed, None, None, None) for seed in seeds])
        self.device = check_flags(parser, args)  # the flags as resumed, if resumed
        torch.set_num_threads(args.threads or 1)  # as train.py (docs/speed.md, "Threads")
        check_writable(args.save_path, '--save_path')
        check_writable(args.logdir, '--logdir')
        self.runs = [SeedRun(self, *load) for load in loads]
        self.all_runs = list(self.runs)

    def load(self, parser, argv, seeds, given):
        """--load_model: a batch's checkpoint resumes its seeds (and given, the seeds on
        the command line, must be those); an actor file warm-starts every seed's actor.
        Returns (seed, path, the loaded file, the checkpoint to resume) for each seed to
        train; a seed whose checkpoint shows its run has ended is ended."""
        args = self.args
        path = model_path(args.load_model, args.save_path)
        loaded = load_model_file(path)
        if is_checkpoint(loaded):
            fail('{} is the checkpoint of one run; resume it with: python train.py '
                 '--load_model {}'.format(path, path))
        if not (isinstance(loaded, dict) and loaded.get('format') == SEEDS_CHECKPOINT):
            return [(seed, path, loaded, None) for seed in seeds]
        batch_seeds = [entry['seed'] for entry in loaded['seeds']]
        if given is not None and given != batch_seeds:
            fail('{} is a batch of seeds {}; drop --seeds to resume it'.format(
                path, ','.join(map(str, batch_seeds))))
        self.path, loads = path, []
        for entry in loaded['seeds']:
            self.entries[entry['seed']] = entry
            if entry['ended'] not in (None, 'stopped'):
                continue
            seed_path = os.path.join(os.path.dirname(path), entry['checkpoint'])
            if not os.path.exists(seed_path):
                fail('{} names {}, which is not there (the batch was killed before the '
                     "seed's first checkpoint); start the batch again".format(path, seed_path))
            seed_args = argparse.Namespace(**dict(vars(args), load_model=seed_path))
            state = load_model_file(seed_path)
            ended = resume_checkpoint(parser, seed_args, argv, seed_path, state)
            vars(args).update(vars(seed_args), seed=None, load_model=args.load_model)
            if ended:  # its end was cut short before the batch's checkpoint said so
                self.ended_before(entry, seed_path, state, seed_args)
            else:
                loads.append((entry['seed'], seed_path, state, state))
        return loads

    def ended_before(self, entry, path, state, args):
        """A seed whose checkpoint holds its whole run: its result, as its end made it."""
        result = ended_run(path, state, args, self.writes, apart=True)
        entry.update(ended='goal' if result['reached_goal'] else 'episodes', result=dict(
            {key: result.get(key) for key in RESULT_KEYS}, seed=entry['seed'], stopped=False,
            save_failed=result['model'] is None))

    def make_envs(self):
        """One environment per seed, stepped together by a Gymnasium vector environment."""
        self.envs = [make_env(self.args.env_name) for _ in self.runs]
        self.vector = vectorize(self.envs)
        return self.envs

    def step(self, actions):
        return self.vector.step(actions)

    def __enter__(self):
        args, runs = self.args, self.runs
        if self.path is None:
            name = '{}_seeds{}_{}'.format(runs[0].env_name,
                                          seeds_name([run.args.seed for run in runs]),
                                          time.strftime('%Y%m%d-%H%M%S'))
            self.path, n = os.path.join(args.save_path, name + '.seeds.pth'), 1
            while os.path.exists(self.path):  # another batch of these seeds this second
                n += 1
                self.path = os.path.join(args.save_path, '{}_{}.seeds.pth'.format(name, n))
        self.save()
        self.progress = Progress(args.max_iter_num * len(runs),
                                 sum(run.start_episode for run in runs), self.total_steps())
        self.signals.install()
        return self

    def __exit__(self, *exc):
        for run in self.runs:
            run.close()
        if self.progress is not None:
            self.progress.close()
        self.signals.uninstall()

    def total_steps(self):
        return sum(run.steps for run in self.all_runs)

    def begin_episodes(self, runs):
        """Start the next episode of each of runs, as train.py does at the top of its
        loop (a snapshot, maybe a checkpoint; a new noise process; the env reset, seeded
        in episode 0); their new states. A seed asked to stop (Ctrl-C) leaves."""
        starting = np.array([run in runs for run in self.runs])
        seeds = [run.args.seed if run.episode == 0 else None for run in self.runs]
        for run in runs:
            run.begin_episode(run.episode, run.steps)
            run.ou_noise.reset()
            run.score = 0
        states, _ = self.vector.reset(seed=seeds, options={'reset_mask': starting})
        return states

    def next_episodes(self, ended, leaving, states, nets):
        """After a step: the seeds whose episode ended and who stay begin their next
        one; then the seeds in leaving leave the batch (saving what they must). Returns
        the states of the seeds that are left."""
        starting = [run for run in ended if run not in leaving]
        for run in starting:
            run.episode += 1
        if starting:  # first, while the vector env still holds every seed's last state
            new_states = self.begin_episodes(starting)
            for i, run in enumerate(self.runs):
                if run in starting:
                    states[i] = new_states[i]
        for run in leaving:
            run.end()
            run.close()
            self.entries[run.args.seed] = self.entry(run)
            if len(leaving) < len(self.runs):  # (the last ones are in the summary only)
                self.print('seed {} has ended: {}'.format(run.args.seed, summary(run.result)))
        if leaving:
            keep = [i for i, run in enumerate(self.runs) if run not in leaving]
            self.runs = [self.runs[i] for i in keep]
            states = states[keep]
            self.save()
            if self.runs:  # a new vector env of the rest; its next call is a step
                nets.stack(self.runs)
                self.envs = [self.envs[i] for i in keep]
                self.vector = vectorize(self.envs)
        return states

    def entry(self, run):
        """The seed's line in the batch's checkpoint: its checkpoint, and why it ended."""
        result = run.result and {key: run.result.get(key) for key in RESULT_KEYS}
        ended = None
        if result:
            ended = ('diverged' if result['error'] else 'stopped' if result['stopped'] else
                     'goal' if result['reached_goal'] else 'episodes')
        return {'seed': run.args.seed, 'checkpoint': os.path.basename(run.checkpoint_path),
                'ended': ended, 'result': result}

    def save(self):
        """The batch's checkpoint: which seeds, where each one's checkpoint is, and
        which have ended; each seed's own checkpoint holds its run."""
        for run in self.all_runs:
            self.entries.setdefault(run.args.seed, self.entry(run))
        state = {'format': SEEDS_CHECKPOINT, 'args': dict(vars(self.args), seed=None),
                 'seeds': list(self.entries.values())}
        return self.writes.save('the batch checkpoint', self.path,
                                lambda: save_torch(state, self.path))

    def episode_logged(self, score_avg):
        self.progress.update(score_avg, self.total_steps())

    def print(self, line):
        self.progress.print(line)

    def finish(self):
        """After every seed has ended: one line per seed; after Ctrl-C, the command that
        resumes them all, and exit 130 (143 for SIGTERM). Returns every seed's result,
        those that ended before a resumed session included. A file that could not be
        written ends it instead, with the line that says which."""
        for run in self.all_runs:
            self.entries[run.args.seed]['result'] = run.result
        if not self.all_runs:  # every seed had ended: the batch's checkpoint says so now
            self.save()
        results = [entry['result'] for entry in self.entries.values()]
        if self.signals.received:
            print('stopped by {}: each seed saved its run up to the start of its episode, '
                  'which runs again when it resumes'.format(self.signals.name))
        else:
            print('{} seeds: {} reached the goal'.format(
                len(results), sum(bool(r['reached_goal']) for r in results)))
        for result in results:
            print('seed {}: {}'.format(result['seed'], summary(result)))
        print("the batch's checkpoint: {}".format(self.path))
        if self.signals.received:
            print('resume with: python train_seeds.py --load_model {}'.format(self.path))
        writes = Writes()  # the batch's failed saves, and each seed's
        for each in [self] + self.all_runs:
            writes.failed.update(each.writes.failed)
        writes.end(self.on_disk(), self.signals.exit_status if self.signals.received else 1)
        if self.signals.received:
            raise SystemExit(self.signals.exit_status)
        return results

    def on_disk(self):
        """What on disk holds the batch, for its last line when a save failed."""
        if os.path.exists(self.path):
            return ("the batch's checkpoint on disk, {}, resumes each seed from its last "
                    'checkpoint on disk: python train_seeds.py --load_model {}'.format(
                        self.path, self.path))
        return ("no batch checkpoint is on disk; each seed's last checkpoint in {} resumes "
                'it alone: python train.py --load_model <it>'.format(self.args.save_path))


def vectorize(envs):
    """The seeds' environments as one Gymnasium vector environment. No autoreset: a seed
    whose episode ends begins its next one as train.py does, so no transition crosses
    an episode's end."""
    return gym.vector.SyncVectorEnv([lambda env=env: env for env in envs],
                                    autoreset_mode=gym.vector.AutoresetMode.DISABLED)
