"""A training run's plumbing (not in the deck), so that each of its concerns is one
line in train.py's loop: --load_model, checkpoints and resuming, divergence, the
TensorBoard log, the instruments, evaluation and the files a run leaves behind. What
the process does once (flag checks, Ctrl-C, the progress bar) is session.py's."""
import os
import sys
import time

import numpy as np
import torch

from ddpg_extras.run.checkpoints import capture, reached_goal, restore, warm_start
from ddpg_extras.run.checks import command, fail
from ddpg_extras.run.environments import make_env
from ddpg_extras.run.evaluation import evaluate
from ddpg_extras.run.files import (
    CHECKPOINT,
    Writes,
    read_json,
    save_actor,
    save_torch,
    save_weights,
    set_aside,
)
from ddpg_extras.run.instruments import Instruments, divergence, finite
from ddpg_extras.run.landscape import MEASURES, landscape_for
from ddpg_extras.run.writer import RunWriter, hyperparameters_table, make_run_name


class Run:
    """One run, one seed: train.py makes one, train_seeds.py one per seed. The process's
    own part (flag checks, threads, Ctrl-C, the progress bar) is the session's."""

    def __init__(self, args, session, loaded=None, in_cohort=False, run_name=None):
        """args: the run's flags, as resumed (checkpoints.load_model_flag); loaded: what
        --load_model named, (path, the loaded file, the checkpoint to resume or None).
        in_cohort: one of train_seeds.py's seeds, whose actor is always <run name>.pth
        (K seeds cannot all save model.pth), and whose cohort moves the progress bar.
        run_name: the name of a run that starts again from its first episode (a seed of
        a cohort stopped before its first checkpoint); its log so far is hidden."""
        self.args, self.session, self.device = args, session, session.device
        self.in_cohort, self.again = in_cohort, run_name
        self.load_path, self.loaded, self.resume = loaded or (None, None, None)
        self.signals = session.signals
        self.diverged = self.snapshot = self.result = None
        self.writer = self.env = self.eval_env = None
        self.losses, self.raw_actions = [], []  # this episode's, for the instruments
        self.writes = Writes()

    def warm_start(self, actor, env):
        """--load_model with an actor file: the new run's actor starts from it."""
        if self.loaded is not None and self.resume is None:
            warm_start(actor, self.load_path, self.loaded, self.args, env.spec.id)

    def start(self, env, agent, replay_buffer, ou_noise):
        """Resume the checkpoint, if one was given; open the log; start the session's
        progress bar and catch Ctrl-C. Returns the TensorBoard writer."""
        self.open(env, agent, replay_buffer, ou_noise)
        self.session.start(self.steps)
        self.signals.on_disk = self.on_disk  # for the last line of a second Ctrl-C
        return self.writer

    def open(self, env, agent, replay_buffer, ou_noise):
        """The run's own part of start(): its checkpoint resumed, its log opened."""
        args, self.env, self.env_name = self.args, env, env.spec.id
        self.agent, self.replay_buffer, self.ou_noise = agent, replay_buffer, ou_noise
        self.instruments = Instruments(env.action_space.low, env.action_space.high, args.seed)
        self.landscape = landscape_for(args, self.env_name, self.in_cohort)  # Pendulum's plane
        self.eval_env = make_env(self.env_name) if args.eval_interval else None
        self.scores, self.steps, seconds, self.start_episode = [], 0, 0.0, 0
        if self.resume:
            self.restore()
            seconds = self.resume['seconds']
        else:
            self.run_name = self.again or make_run_name(args.logdir, self.env_name, args.seed)
        self.run_dir = os.path.join(args.logdir, self.run_name)
        self.checkpoint_path = os.path.join(args.save_path, self.run_name + '.checkpoint.pth')
        self.last_checkpoint = (self.load_path, self.start_episode) if self.resume else None
        if (self.resume and os.path.exists(self.checkpoint_path)
                and not os.path.samefile(self.load_path, self.checkpoint_path)):
            # resumed from a copy: the run's own checkpoint may be further on; keep it
            print('the checkpoint {} is kept as {}'.format(self.checkpoint_path,
                                                          set_aside(self.checkpoint_path)))
        self.writer = RunWriter(self.run_dir, self.start_episode if self.resume or self.again
                                else None)
        if not self.resume:
            self.writer.add_text('hyperparameters', hyperparameters_table(args))
        print('TensorBoard logs: {}'.format(self.run_dir))
        self.start_time = time.time() - seconds

    def restore(self):
        agent, state, path = self.agent, self.resume, self.load_path
        try:
            restore(state, agent, self.replay_buffer, self.ou_noise, self.env,
                    self.instruments.probe_rng)
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            fail('{} does not fit the run it describes ({}); it is damaged: resume from '
                 'another checkpoint'.format(path, ' '.join(str(e).split())))
        if not finite(agent.actor, agent.critic):
            fail('{} holds inf or nan weights; resume from another checkpoint'.format(path))
        self.run_name, self.start_episode = state['run'], state['episode']
        self.steps, self.scores = state['steps'], list(state['scores'])
        print('resuming {} from {} after {} episodes ({} steps)'.format(
            self.run_name, path, self.start_episode, self.steps))

    def checkpoint(self, episode, steps):
        """The whole run before `episode`, as a checkpoint holds it."""
        return dict(capture(self.agent, self.replay_buffer, self.ou_noise, self.env,
                            self.instruments.probe_rng),
                    format=CHECKPOINT, args=dict(vars(self.args), env_name=self.env_name),
                    run=self.run_name, episode=episode, steps=steps,
                    scores=[float(x) for x in self.scores],
                    seconds=time.time() - self.start_time)

    def save_checkpoint(self, state):
        """Save a checkpoint of the run (False if it could not be written)."""
        if not self.writes.save('the checkpoint', self.checkpoint_path,
                                lambda: save_torch(state, self.checkpoint_path)):
            return False
        self.last_checkpoint = (self.checkpoint_path, state['episode'])
        return True

    def stop_at_start(self, episode, steps):
        """Between two episodes: keep the run in memory (a stop in the next episode
        saves this, and the resumed run plays that episode again, exactly as it would
        have gone), and save a checkpoint every --checkpoint_interval episodes. True
        if Ctrl-C asked the run to stop."""
        self.snapshot = self.checkpoint(episode, steps)
        if self.signals.received:
            return True
        if episode > self.start_episode and episode % self.args.checkpoint_interval == 0:
            self.writer.next_file()
            self.save_checkpoint(self.snapshot)
        return False

    def record_action(self, policy):
        self.raw_actions.append(policy)

    def record_losses(self, losses):
        self.losses.append(losses)
        self.diverged = divergence(losses)

    @property
    def stopping(self):
        """Ctrl-C, SIGTERM, or a loss of inf or nan: leave the episode now."""
        return bool(self.signals.received) or self.diverged is not None

    def stop_at_end(self, actor, critic):
        """After an episode: True where the run must stop, not log it: a stop, or
        weights of inf or nan."""
        if not (self.diverged or finite(actor, critic)):  # an update can leave nan behind
            self.diverged = 'the networks hold inf or nan'
        return self.stopping

    def log_episode(self, episode, score, score_avg, steps, losses=None, raw_actions=None):
        """Everything logged per episode besides the deck's log/score. losses and
        raw_actions: the episode's, where the caller kept them (train_seeds.py); else
        those that record_losses and record_action kept."""
        if raw_actions is None:
            losses, raw_actions = np.reshape(self.losses, (-1, 2)), torch.stack(self.raw_actions)
            self.losses, self.raw_actions = [], []
        self.scores.append(score)
        args, writer, agent = self.args, self.writer, self.agent
        writer.add_scalar('log/score_avg', float(score_avg), episode)
        writer.add_scalar('log/steps', steps, episode)  # the steps so far: curves over steps
        self.instruments.log(writer, episode, losses, raw_actions, agent[:4],
                             self.replay_buffer, args.batch_size, args.gamma)
        if args.eval_interval and (episode + 1) % args.eval_interval == 0:
            writer.add_scalar('test/score', evaluate(agent.actor, self.eval_env,
                                                     args.eval_episodes, args.seed + 1), episode)
        if self.landscape and (episode % self.landscape.interval == 0 or self.last(episode)):
            self.landscape.log(writer, episode, agent.actor, agent.critic)  # --landscape_interval
        if not self.in_cohort:
            self.session.progress.show('episode {} | {}'.format(episode, average_text(
                self.scores, self.args.goal_score)), steps)

    def last(self, episode):
        """Whether the episode just logged ends the run: its goal, or --max_iter_num."""
        return (reached_goal(self.scores[-100:], self.args.goal_score)
                or episode + 1 >= self.args.max_iter_num)

    def measures(self):
        """The last landscape's measures against the truth (landscape.MEASURES), for the
        run's result (None each where no landscape was drawn)."""
        measured = self.landscape and self.landscape.measured
        return measured or dict.fromkeys(MEASURES)

    def close(self):
        """The run's log and environments."""
        for thing in (self.writer, self.env, self.eval_env):
            if thing is not None:
                thing.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if not self.in_cohort and self.session.progress and not exc[0]:
            self.session.progress.end(self.ending())  # how the loop ended, left on screen
        self.close()

    def ending(self):
        """How the run's loop ended, in words: the progress line's last state."""
        episode, args = len(self.scores), self.args
        if self.diverged:
            return 'stopped: diverged in episode {} ({})'.format(episode, self.diverged)
        if self.signals.received:
            return 'stopped by {} in episode {}'.format(self.signals.name, episode)
        if reached_goal(self.scores[-100:], args.goal_score):
            return 'goal reached after {} episodes: {}'.format(
                episode, average_text(self.scores, args.goal_score))
        return 'ran its last episode, {} (--max_iter_num): {}'.format(
            episode, average_text(self.scores, args.goal_score))

    def finish(self, actor, episode, steps, recent_rewards):
        """After the loop: stop with one line if training diverged; save and exit 130 or
        143 after Ctrl-C or SIGTERM; else save the actor and the checkpoint and say
        where they are."""
        if self.diverged:  # not in the deck, which went on training on nan
            fail(self.divergence_line(episode, steps))
        with self.signals.held():  # a signal while saving: its line says what is on disk
            if self.signals.received:
                self.save_after_stop(episode)
            return self.save_at_end(actor, episode + 1, steps, recent_rewards)

    def divergence_line(self, episode, steps):
        """What went wrong, and what is kept, in one line."""
        kept = ('the last good checkpoint, {}, holds the run up to episode {}'.format(
            *self.last_checkpoint) if self.last_checkpoint
            else 'no checkpoint was saved before it')
        return ('training diverged in episode {} (step {}): {}; {}. The recipe in the README '
                '(When learning fails) keeps runs stable: --tanh_actor --gradient_clip_actor '
                '0.5 --gradient_clip_critic 1.0'.format(episode, steps, self.diverged, kept))

    def end(self, episode, steps, recent_rewards):
        """The end of a seed among many (train_seeds.py) in `episode`: after a divergence,
        its one line and nothing new saved; after Ctrl-C, its checkpoint as of the start
        of its episode; else its actor and its checkpoint. Keeps the seed's result."""
        seed = self.args.seed
        self.result = {'seed': seed, 'env_name': self.env_name, 'reached_goal': False,
                       'episodes': episode, 'steps': steps, 'score_avg': None, 'model': None,
                       'run_dir': self.run_dir, 'checkpoint': None, 'error': None,
                       'seconds': time.time() - self.start_time, 'stopped': False}
        if self.diverged:
            self.result['error'] = self.divergence_line(episode, steps)
            print('seed {}: error: {}'.format(seed, self.result['error']), file=sys.stderr)
            return
        if self.signals.received:
            self.result.update(stopped=True, episodes=self.snapshot['episode'],
                               steps=self.snapshot['steps'])
            if self.save_snapshot():
                self.result['checkpoint'] = self.checkpoint_path
            return
        result, kept, actor_saved, run_saved = self.save_run(
            self.agent.actor, episode + 1, steps, recent_rewards)
        self.result.update(result, model=result['model'] if actor_saved else None,
                           checkpoint=self.checkpoint_path if run_saved else None,
                           save_failed=not (actor_saved and run_saved))
        if kept:
            print('seed {}: the previous {} is kept as {}'.format(
                seed, os.path.basename(result['model']), kept))

    def save_after_stop(self, episode):
        print('stopped by {} in episode {}; TensorBoard logs: {}'.format(
            self.signals.name, episode, self.run_dir))
        if self.save_snapshot():
            print('saved the run up to episode {} (the interrupted episode runs again when it '
                  'resumes) to {}'.format(self.snapshot['episode'], self.checkpoint_path))
        if self.last_checkpoint:
            print('resume with: {}'.format(command('train.py',
                                                   load_model=self.last_checkpoint[0])))
        self.writes.end(self.on_disk(), self.signals.exit_status)
        raise SystemExit(self.signals.exit_status)

    def save_snapshot(self):
        """Save the run as of the start of its episode (after Ctrl-C)."""
        return self.save_checkpoint(self.snapshot)

    def on_disk(self):
        """What on disk holds the run, for the last line of a run that could not save."""
        if not self.last_checkpoint:
            return 'no checkpoint of this run is on disk'
        return 'the last checkpoint on disk holds episode {1}: {0}'.format(*self.last_checkpoint)

    def save_at_end(self, actor, episodes, steps, recent_rewards):
        minutes = (time.time() - self.start_time) / 60
        result, kept, actor_saved, run_saved = self.save_run(actor, episodes, steps,
                                                              recent_rewards)
        save = result['model']
        self.report(result['reached_goal'], episodes, steps, minutes, recent_rewards)
        if kept:
            print('the previous {} is kept as {}'.format(os.path.basename(save), kept))
        if actor_saved:
            print('saved the actor to {}; watch it with: {}'.format(
                save, command('test.py', load_model=save)))
        if run_saved:
            print('saved the run to {}; train on with: {} and a larger --max_iter_num or a '
                  'higher --goal_score'.format(
                      self.checkpoint_path,
                      command('train.py', load_model=self.checkpoint_path)))
        self.writes.end(self.on_disk())  # a failed save: its line is the last
        return result

    def actor_file(self, reached_goal):
        return self.run_name + '.pth' if self.in_cohort else actor_file(reached_goal,
                                                                         self.run_name)

    def save_run(self, actor, episodes, steps, recent_rewards):
        """Save the actor and the checkpoint at the end of the run. Returns (the run's
        result, where an older actor file was set aside, actor saved, run saved)."""
        run_saved = self.save_checkpoint(self.checkpoint(episodes, steps))
        info = actor_info(self.args, self.env_name, self.run_name, episodes, steps,
                          recent_rewards)
        save = os.path.join(self.args.save_path, self.actor_file(info['reached_goal']))
        kept = set_aside(save)  # an older file of that name is kept, never overwritten
        actor_saved = self.writes.save('the actor', save, lambda: save_actor(actor, save, info))
        return (dict(result(info, save, self.checkpoint_path, self.run_dir,
                            time.time() - self.start_time), scores=self.scores,
                     replay_buffer=self.replay_buffer, **self.measures()),
                kept, actor_saved, run_saved)

    def report(self, reached_goal, episodes, steps, minutes, recent_rewards):
        score_avg, goal = np.mean(recent_rewards), self.args.goal_score
        if reached_goal:  # the deck printed 'Recent rewards exceed -300. So end'
            print('goal reached after {} episodes ({} steps, {:.1f} min): the last 100 episodes '
                  'average {:.2f} > {:g}'.format(episodes, steps, minutes, score_avg, goal))
            return
        why = ('not above {:g}'.format(goal) if len(recent_rewards) == 100 else
               'and the goal ({:g}) needs 100 episodes'.format(goal))
        print('goal not reached: after {} episodes ({} steps, {:.1f} min) the last {} episodes '
              'average {:.2f}, {}; the final actor is saved apart, so no actor that reached '
              'the goal is replaced'.format(episodes, steps, minutes, len(recent_rewards),
                                             score_avg, why))


def average_text(scores, goal_score):
    """The running average and the goal, as the progress line says them."""
    return 'last {} average {:.1f}, goal > {:g}'.format(min(len(scores), 100),
                                                       np.mean(scores[-100:]), goal_score)


def actor_file(reached_goal, run_name):
    # The deck saved model.pth only at the goal. A run that misses it saves its actor
    # apart, so no actor that reached the goal is replaced by a worse one.
    return 'model.pth' if reached_goal else run_name + '.pth'


def actor_info(args, env_name, run_name, episodes, steps, recent_rewards):
    """What the .json beside a saved actor says of its run; the goal test is train.py's."""
    score_avg = float(np.mean(recent_rewards))
    return {'env_name': env_name, 'hidden_size': args.hidden_size, 'episodes': episodes,
            'steps': steps, 'score_avg': score_avg, 'goal_score': args.goal_score,
            'reached_goal': bool(reached_goal(recent_rewards, args.goal_score)),
            'seed': args.seed, 'run': run_name}


def result(info, model, checkpoint, run_dir, seconds):
    """What a run returns at its end (train.main's result)."""
    return {'reached_goal': info['reached_goal'], 'episodes': info['episodes'],
            'steps': info['steps'], 'score_avg': info['score_avg'], 'model': model,
            'checkpoint': checkpoint, 'run_dir': run_dir, 'seconds': seconds,
            'env_name': info['env_name']}


def ended_run(path, state, args, writes, apart=False):
    """The result of the run whose checkpoint (at path) shows that it has ended, as its
    end returned it. Where that end was cut short before the actor was saved, the
    actor is saved now, from the checkpoint, under the name it would have had (apart:
    <run name>.pth, as train_seeds.py names every seed's)."""
    info = actor_info(args, state['args']['env_name'], state['run'], state['episode'],
                      state['steps'], state['scores'][-100:])
    save = os.path.join(args.save_path, state['run'] + '.pth' if apart else
                        actor_file(info['reached_goal'], state['run']))
    try:
        saved = os.path.exists(save) and read_json(save + '.json') == info
    except (OSError, ValueError):  # none beside it, or a damaged one
        saved = False
    if not saved:
        kept = set_aside(save)
        if writes.save('the actor', save, lambda: save_weights(state['actor'], save, info)):
            print('saved the actor of the ended run {} to {}{}'.format(
                state['run'], save, '; the previous one is kept as {}'.format(kept)
                if kept else ''))
        else:
            save = None
    return result(info, save, path, os.path.join(args.logdir, state['run']), state['seconds'])
