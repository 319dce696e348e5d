"""train_seeds.py's plumbing (not in the deck): a cohort of K seeds, fixed for its whole
life. Each seed is a Run of its own (run.py: its log, checkpoints, instruments,
divergence check and files); the process's part is one Session (session.py). The
cohort keeps what changes at every step as arrays with the seed first (steps, scores,
which seeds are active), steps the seeds' environments, and keeps its checkpoint,
which names every seed's own. A seed that has ended is masked: it no longer steps,
updates, logs, saves or resets, and nothing is rebuilt."""
import argparse
import os
import time
from collections import deque

import numpy as np
import torch

from ddpg_extras.run.checkpoints import (
    RUN_CHECKPOINT,
    cohort_entries,
    reached_goal,
    read_flags,
    resume_checkpoint,
    resume_flags,
)
from ddpg_extras.run.checks import command, fail, parse_seeds, seeds_name
from ddpg_extras.run.files import (
    SEEDS_CHECKPOINT,
    Writes,
    first_free,
    is_checkpoint,
    load_model_file,
    model_path,
    save_torch,
)
from ddpg_extras.run.instruments import divergence
from ddpg_extras.run.session import Session
from ddpg_extras.run.training import Run, ended_run
from ddpg_extras.seeds.axis import SeedNoise

# What the cohort's checkpoint keeps of a seed that has ended, for a resumed cohort's end.
RESULT_KEYS = ('seed', 'env_name', 'reached_goal', 'episodes', 'steps', 'score_avg', 'model',
               'run_dir', 'checkpoint', 'error', 'seconds', 'stopped', 'save_failed')
REFUSED = (('seed', 'the seeds come from --seeds'),
           ('render', "K windows would not help; watch a seed's actor with test.py afterwards"),
           ('deck_update', "the batch has its own update, tested against train.py's "
                           "train_model; use train.py for it"))


class Cohort:
    def __init__(self, args, given, parser, report=None):
        """Check the flags, --seeds and --load_model before anything is made, and say
        what is wrong in one line. report: a tuning's trial (study.py --tune) is told
        the seeds' running averages, and may prune the cohort (see prune)."""
        for flag, why in REFUSED:
            if flag in given:
                fail('--{} is not for train_seeds.py: {}'.format(flag, why))
        self.path, self.entries, self.writes = None, {}, Writes()
        self.report = report
        seeds = parse_seeds(args.seeds) if 'seeds' in given else None  # '' is refused
        if args.load_model:
            args, loads = self.load(args, given, seeds, parser)
        else:
            loads = [(seed, None, None) for seed in seeds or range(500, 510)]  # 500-509
        self.args = args
        self.session = Session(args, parser.error, True)  # the flags as resumed, if resumed
        self.device = self.session.device
        self.runs = [Run(argparse.Namespace(**dict(vars(args), seed=seed)), self.session,
                         loaded, in_cohort=True, run_name=run_name)
                     for seed, loaded, run_name in loads]

    def load(self, args, given, seeds, parser):
        """--load_model: a cohort's checkpoint resumes its seeds (and seeds, if given on
        the command line, must be those); an actor file warm-starts every seed's actor.
        Returns (the flags as resumed, [(seed, what --load_model gives it, a run name to
        reuse)] for each seed to train); a seed whose checkpoint shows its run has ended
        is ended. A seed that had saved no checkpoint starts again under its run name."""
        path = model_path(args.load_model, args.save_path)
        loaded = load_model_file(path)
        if is_checkpoint(loaded):
            fail('{} is the checkpoint of one run; resume it with: {}'.format(
                path, command('train.py', load_model=path)))
        if not (isinstance(loaded, dict) and loaded.get('format') == SEEDS_CHECKPOINT):
            return args, [(seed, (path, loaded, None), None) for seed in seeds or range(500, 510)]
        entries = cohort_entries(path, loaded)
        cohort_seeds = [entry['seed'] for entry in entries]
        if seeds is not None and seeds != cohort_seeds:
            fail('{} is a batch of seeds {}; drop --seeds to resume it'.format(
                path, ','.join(map(str, cohort_seeds))))
        self.path, loads = path, []
        resumed = argparse.Namespace(**dict(vars(resume_flags(
            args, given, read_flags(path, loaded['args'], parser, given), path)), seed=None))
        for entry in entries:
            self.entries[entry['seed']] = entry
            if entry['ended'] not in (None, 'stopped'):
                continue
            seed_path = os.path.join(os.path.dirname(path), entry['checkpoint'])
            if not os.path.exists(seed_path) and entry.get('saved') is False:
                print('seed {} had saved no checkpoint when the batch stopped: it starts again '
                      'from its first episode'.format(entry['seed']))
                loads.append((entry['seed'], None, entry['checkpoint'][:-len(RUN_CHECKPOINT)]))
                continue
            if not os.path.exists(seed_path):
                fail("{} resumes seed {} from its own checkpoint, {}, which is not in {}: "
                     "a batch's checkpoint resumes its seeds from their checkpoints beside "
                     'it; put them back beside it'.format(path, entry['seed'],
                                                          entry['checkpoint'],
                                                          os.path.dirname(path) or '.'))
            state = load_model_file(seed_path)
            seed_args, ended = resume_checkpoint(
                argparse.Namespace(**dict(vars(resumed), load_model=seed_path)), given,
                seed_path, state, parser)
            resumed = argparse.Namespace(**dict(vars(seed_args), seed=None,
                                                load_model=args.load_model))
            if ended:  # its end was cut short before the cohort's checkpoint said so
                self.ended_before(entry, seed_path, state, seed_args)
            else:
                loads.append((entry['seed'], (seed_path, state, state), None))
        return resumed, loads

    def ended_before(self, entry, path, state, args):
        """A seed whose checkpoint holds its whole run: its result, as its end made it."""
        result = ended_run(path, state, args, self.writes, apart=True)
        entry.update(ended='goal' if result['reached_goal'] else 'episodes', result=dict(
            {key: result.get(key) for key in RESULT_KEYS}, seed=entry['seed'], stopped=False,
            save_failed=result['model'] is None))

    def open(self, envs, agents, replay_buffer, ou_noise):
        """Each seed's checkpoint resumed (if any) and its log opened. replay_buffer and
        ou_noise: the cohort's, with the seed first (seed_axis.py)."""
        self.envs, self.agents = envs, agents
        self.replay_buffer, self.ou_noise = replay_buffer, ou_noise
        for i, (run, env, agent) in enumerate(zip(self.runs, envs, agents)):
            run.open(env, agent, replay_buffer.buffers[i], SeedNoise(ou_noise, i))
        replay_buffer.loaded()
        K = len(self.runs)
        self.active, self.diverged = np.ones(K, bool), np.zeros(K, bool)
        self.steps = np.array([run.steps for run in self.runs])
        self.episode = np.array([run.start_episode for run in self.runs])
        self.scores = np.zeros(K)
        self.recent_rewards = [deque(run.scores[-100:], maxlen=100) for run in self.runs]
        space = envs[0].observation_space
        self.states = np.zeros((K, space.shape[0]), space.dtype)
        # the actor's outputs and the losses, one row of K per step, back to the earliest
        # episode still under way: the instruments' record, written once per step
        self.policies, self.losses, self.updated = [], [], []
        self.first, self.begun = 0, np.zeros(K, int)  # the lists' first step; each episode's
        self.reported = min(len(run.scores) for run in self.runs)  # episodes told to report

    def start(self, nets):
        """Training begins: the cohort's checkpoint, the progress bar, Ctrl-C, and every
        seed's first episode. Returns the seeds' states."""
        self.nets, args = nets, self.args
        if self.path is None:
            name = os.path.join(args.save_path, '{}_seeds{}_{}'.format(
                self.runs[0].env_name, seeds_name([run.args.seed for run in self.runs]),
                time.strftime('%Y%m%d-%H%M%S')))
            self.path = first_free(name + '.seeds.pth', (name + '_{}.seeds.pth').format)
        self.save()
        self.session.start(self.total_steps())
        self.session.signals.on_disk = self.on_disk  # for the last line of a second Ctrl-C
        self.begin(np.flatnonzero(self.active))
        return self.states

    def total_steps(self):
        return int(self.steps.sum())

    def begin(self, seeds):
        """Start the next episode of each of seeds, as train.py does at the top of its
        loop (a snapshot, maybe a checkpoint; a new noise process; the env reset,
        seeded in episode 0)."""
        self.replay_buffer.sync(seeds)  # the snapshot holds the buffer
        unsaved = [i for i in seeds if self.runs[i].last_checkpoint is None]
        for i in seeds:
            run = self.runs[i]
            run.stop_at_start(int(self.episode[i]), int(self.steps[i]))  # Ctrl-C: next step
            self.states[i], _ = self.envs[i].reset(
                seed=run.args.seed if self.episode[i] == 0 else None)
        if any(self.runs[i].last_checkpoint for i in unsaved):  # a seed's first checkpoint
            self.save()  # the cohort's says that it has one
        self.ou_noise.X[seeds] = 0  # ou_noise.reset(), for these seeds
        self.scores[seeds] = 0
        self.begun[seeds] = len(self.policies) + self.first

    def step(self, actions):
        """The active seeds' environments step, one after another (faster here than a
        Gymnasium vector env); an ended seed's row is left as it was, with no reward."""
        if self.active.all():
            return tuple(map(np.array, zip(*(env.step(action)[:4]
                                             for env, action in zip(self.envs, actions)))))
        active = np.flatnonzero(self.active)
        out = [self.envs[i].step(actions[i])[:4] for i in active]
        next_states, rewards = self.states.copy(), np.zeros(len(self.runs))
        terminated, truncated = np.zeros(len(self.runs), bool), np.zeros(len(self.runs), bool)
        next_states[active], rewards[active], terminated[active], truncated[active] = map(
            np.array, zip(*out))
        return next_states, rewards, terminated, truncated

    def record(self, policies, losses, updating):
        """One step's actor outputs and losses, for the instruments; a seed whose loss is
        inf or nan is marked to stop."""
        self.policies.append(policies)
        self.losses.append(losses)
        self.updated.append(updating)
        bad = updating & ~np.isfinite(losses).all(1)
        for i in np.flatnonzero(bad):
            self.runs[i].diverged = divergence(losses[i])
            self.diverged[i] = True

    def end_episodes(self, done, next_states):
        """After a step: each active seed whose episode has ended (or who must stop)
        logs it, then begins its next or leaves. Returns the states to act on."""
        self.states = next_states
        ending = self.active & (done | self.diverged)
        if self.session.stopped:
            ending = self.active.copy()
        if not ending.any():
            return self.states
        ending = np.flatnonzero(ending)
        record = self.episode_record(ending)
        starting, leaving, remaining = [], [], self.active.sum()
        for i in ending:
            if done[i]:
                self.recent_rewards[i].append(self.scores[i])
            go_on = self.episode_end(i, *record(i))
            (starting if go_on else leaving).append(i)
        if self.report and starting and self.prune():  # those going on leave instead
            leaving, starting = sorted(leaving + starting), []
        for i in leaving:
            self.leave(i, len(leaving) < remaining)
        self.episode[starting] += 1
        self.begin(starting)
        self.forget()
        return self.states

    def episode_end(self, i, losses, raw_actions):
        """train.py's end of an episode, for seed i: False where the seed leaves (its
        goal, its last episode, a divergence, Ctrl-C)."""
        run, agent, args = self.runs[i], self.agents[i], self.args
        episode, score, recent = int(self.episode[i]), float(self.scores[i]), self.recent_rewards[i]
        if run.stop_at_end(agent.actor, agent.critic):  # or inf/nan weights
            return False
        score_avg = np.mean(recent)
        self.replay_buffer.sync([i])  # the instruments' probe reads it
        run.writer.add_scalar('log/score', score, episode)
        run.log_episode(episode, score, score_avg, int(self.steps[i]), losses, raw_actions)
        self.session.progress.show(self.progress_text(), self.total_steps())
        if episode % args.log_interval == 0:
            self.session.print('seed {} | {} episode | score_avg: {:.2f}'.format(
                run.args.seed, episode, score_avg))
        return not reached_goal(recent, args.goal_score) and episode + 1 < args.max_iter_num

    def prune(self):
        """Tell report each episode that every seed still training has now played, with
        every seed's running 100-episode average then (a seed that has ended: its
        last); True where report says the cohort is pruned."""
        played = min(len(self.runs[i].scores) for i in np.flatnonzero(self.active))
        for episodes in range(self.reported + 1, played + 1):
            self.reported = episodes
            if self.report(episodes, [np.mean(run.scores[:episodes][-100:])
                                      for run in self.runs if run.scores]):
                return True
        return False

    def episode_record(self, seeds):
        """record(i): seed i's episode as the instruments take it, (its updates' losses,
        (n, 2); the actor's outputs, (steps, A)), for each of seeds."""
        start = int(self.begun[seeds].min()) - self.first
        policies = torch.stack(self.policies[start:])
        losses, updated = np.stack(self.losses[start:]), np.stack(self.updated[start:])

        def record(i):
            since = self.begun[i] - self.first - start
            return losses[since:, i][updated[since:, i]], policies[since:, i]
        return record

    def forget(self):
        """Drop the steps before the earliest episode still under way."""
        if self.active.any():
            drop = int(self.begun[self.active].min()) - self.first
            del self.policies[:drop], self.losses[:drop], self.updated[:drop]
            self.first += drop

    def leave(self, i, say):
        """Seed i has ended: it saves what it must and is masked from now on."""
        run = self.runs[i]
        self.replay_buffer.sync([i])
        run.end(int(self.episode[i]), int(self.steps[i]), self.recent_rewards[i])
        run.close()
        self.entries[run.args.seed] = self.entry(run)
        if say:  # (the last ones are in the summary only)
            self.session.print('seed {} has ended: {}'.format(run.args.seed,
                                                             summary(run.result)))
        self.active[i] = False
        self.nets.freeze(i)
        self.save()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.session.progress and not exc[0]:
            self.session.progress.end(self.ending())  # how the cohort ended, left on screen
        for run in self.runs:
            run.close()
        self.session.close()

    def progress_text(self):
        """Where the cohort is, for the progress line."""
        averages = [np.mean(recent) for recent, active in zip(self.recent_rewards, self.active)
                    if active and recent]
        return '{}/{} seeds training, {} episodes | averages {:.0f} to {:.0f}, goal > {:g}'.format(
                   self.active.sum(), len(self.runs), sum(len(run.scores) for run in self.runs),
                   min(averages, default=np.nan), max(averages, default=np.nan),
                   self.args.goal_score)

    def ending(self):
        """How the cohort ended, in words: the progress line's last state."""
        if self.session.stopped:
            return 'stopped by {}: each seed saved its run'.format(self.session.signals.name)
        results = [run.result for run in self.runs if run.result]
        return '{} seeds ended: {} reached the goal, {} ran their last episode, {} diverged' \
            .format(len(results), sum(bool(r['reached_goal']) for r in results),
                    sum(not (r['reached_goal'] or r['error']) for r in results),
                    sum(bool(r['error']) for r in results))

    def entry(self, run):
        """The seed's line in the cohort's checkpoint: its checkpoint, and why it ended."""
        result = run.result and {key: run.result.get(key) for key in RESULT_KEYS}
        ended = None
        if result:
            ended = ('diverged' if result['error'] else 'stopped' if result['stopped'] else
                     'goal' if result['reached_goal'] else 'episodes')
        return {'seed': run.args.seed, 'checkpoint': os.path.basename(run.checkpoint_path),
                'ended': ended, 'result': result, 'saved': run.last_checkpoint is not None}

    def save(self):
        """The cohort's checkpoint: which seeds, where each one's checkpoint is, and
        which have ended; each seed's own checkpoint holds its run."""
        for run in self.runs:
            self.entries[run.args.seed] = self.entry(run)
        state = {'format': SEEDS_CHECKPOINT, 'args': dict(vars(self.args), seed=None),
                 'seeds': list(self.entries.values())}
        return self.writes.save('the batch checkpoint', self.path,
                                lambda: save_torch(state, self.path))

    def finish(self):
        """After every seed has ended: one line per seed; after Ctrl-C, the command that
        resumes them all, and exit 130 (143 for SIGTERM). Returns every seed's result,
        those that ended before a resumed session included. A file that could not be
        written ends it instead, with the line that says which."""
        for run in self.runs:
            self.entries[run.args.seed]['result'] = run.result
        if not self.runs:  # every seed had ended: the cohort's checkpoint says so now
            self.save()
        results = [entry['result'] for entry in self.entries.values()]
        signals = self.session.signals
        if signals.received:
            print('stopped by {}: each seed saved its run up to the start of its episode, '
                  'which runs again when it resumes'.format(signals.name))
        else:
            print('{} seeds: {} reached the goal'.format(
                len(results), sum(bool(r['reached_goal']) for r in results)))
        for result in results:
            print('seed {}: {}'.format(result['seed'], summary(result)))
        print("the batch's checkpoint: {}".format(self.path))
        if signals.received:
            print('resume with: {}'.format(command('train_seeds.py', load_model=self.path)))
        writes = Writes()  # the cohort's failed saves, and each seed's
        for each in [self] + self.runs:
            writes.failed.update(each.writes.failed)
        writes.end(self.on_disk(), signals.exit_status if signals.received else 1)
        if signals.received:
            raise SystemExit(signals.exit_status)
        return results

    def on_disk(self):
        """What on disk holds the cohort, for its last line when a save failed."""
        if os.path.exists(self.path):
            return ("the batch's checkpoint on disk, {}, resumes each seed from its last "
                    'checkpoint on disk: {}'.format(
                        self.path, command('train_seeds.py', load_model=self.path)))
        return ("no batch checkpoint is on disk; each seed's last checkpoint in {} resumes "
                'it alone: python train.py --load_model <it>'.format(self.args.save_path))


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
