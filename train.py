"""Train DDPG on Pendulum: the deck's train.py on today's stack.

    python train.py                 # the deck's defaults, seed 500
    tensorboard --logdir logs       # watch the learning curve
"""
import argparse
import copy
import math
import os
import random
import signal
import sys
import time
from collections import deque

import numpy as np
import torch
import torch.optim as optim
from tensorboardX import SummaryWriter
from tqdm import tqdm

from model import Actor, Critic, backward, forward_saving, layer_parameters
from utils import (CHECKPOINT, OUNoise, actor_bounds, actor_sizes, adam_step, check_writable,
                   clip_grad_norm, fail, finite_float, float_not_nan, get_action,
                   half_open_unit_interval, hard_target_update, has_display, is_checkpoint,
                   load_actor_weights, load_model_file, make_env, model_path, noise_scale,
                   non_negative_float, positive_float, positive_int, save_actor, save_torch,
                   soft_target_update, unit_interval)

parser = argparse.ArgumentParser(
    description="Train DDPG (the 2019 deck's code on Gymnasium and PyTorch 2).",
    formatter_class=argparse.ArgumentDefaultsHelpFormatter)
parser.add_argument('--env_name', type=str, default="Pendulum-v1",
                    help='Gymnasium environment; the deck\'s Pendulum-v0 is mapped to Pendulum-v1')
parser.add_argument('--load_model', type=str, default=None,
                    help='a checkpoint (<run>.checkpoint.pth) to resume, or an actor file to '
                         'warm-start from; a bare name is looked up in --save_path')
parser.add_argument('--save_path', default='./save_model/',
                    help='folder for actors and checkpoints')
parser.add_argument('--render', action="store_true", default=False,
                    help='show the environment in a window while training (needs a display)')
parser.add_argument('--gamma', type=unit_interval, default=0.99, help='discount factor')
parser.add_argument('--hidden_size', type=positive_int, default=64,
                    help='units in each hidden layer')
parser.add_argument('--batch_size', type=positive_int, default=64, help='transitions per update')
parser.add_argument('--actor_lr', type=positive_float, default=1e-3,
                    help='Adam learning rate of the actor')
parser.add_argument('--critic_lr', type=positive_float, default=1e-3,
                    help='Adam learning rate of the critic')
parser.add_argument('--theta', type=non_negative_float, default=0.15,
                    help='OU noise: pull towards mu')
parser.add_argument('--mu', type=finite_float, default=0.0,
                    help="OU noise: long-run mean (in Pendulum's units; scaled to each action's "
                         "range elsewhere)")
parser.add_argument('--sigma', type=non_negative_float, default=0.2,
                    help="OU noise: scale of each step (in Pendulum's units; scaled to each "
                         "action's range elsewhere)")
parser.add_argument('--tau', type=half_open_unit_interval, default=0.001,
                    help='soft target update: target <- tau * online + (1 - tau) * target')
parser.add_argument('--max_iter_num', type=positive_int, default=1000, help='most episodes to run')
parser.add_argument('--log_interval', type=positive_int, default=10,
                    help='print a line every N episodes')
parser.add_argument('--goal_score', type=float_not_nan, default=-300,
                    help='stop and save once the last 100 episodes average above this')
parser.add_argument('--logdir', type=str, default='./logs',
                    help='tensorboardx logs directory (one sub-folder per run)')
parser.add_argument('--seed', type=int, default=500,
                    help='seeds random, NumPy, PyTorch and the environment (the deck used 500)')
parser.add_argument('--replay_buffer_size', type=positive_int, default=10000,
                    help='transitions kept in the first-in-first-out replay buffer')
parser.add_argument('--device', type=str, default='cpu',
                    help='where the networks train: cpu, or cuda (cuda:N) where PyTorch sees '
                         'a GPU; expect a GPU to pay only for a large --hidden_size')
parser.add_argument('--eval_interval', type=positive_int, default=None, metavar='K',
                    help='every K episodes, run --eval_episodes episodes without noise on an '
                         'environment of their own and log their mean as eval/score (off by '
                         'default, as in the deck)')
parser.add_argument('--eval_episodes', type=positive_int, default=10, metavar='M',
                    help='episodes per evaluation; each evaluation starts from the same '
                         'states, seeded by --seed + 1')
parser.add_argument('--checkpoint_interval', type=positive_int, default=50, metavar='N',
                    help='save a checkpoint to resume from every N episodes, and whenever the '
                         'run ends (Ctrl-C included)')

# Stabilizers: all off by default, so the deck's algorithm runs unchanged.
parser.add_argument('--gradient_clip_actor', type=positive_float, default=None, metavar='NORM',
                    help="clip the actor's gradient to this norm before each step (the deck's "
                         "authors later used 0.5); use when train/actor_grad_norm spikes")
parser.add_argument('--gradient_clip_critic', type=positive_float, default=None,
                    metavar='NORM',
                    help="clip the critic's gradient to this norm before each step (the deck's "
                         "authors later used 1.0); use when train/critic_grad_norm or the "
                         "critic loss spikes")
parser.add_argument('--tanh_actor', action='store_true', default=False,
                    help="bound the actor's output with tanh, scaled to the action bounds; use "
                         "when actor/out_of_bounds climbs above 0 (the linear actor drifts "
                         "past the bounds, where the critic cannot tell actions apart)")


class ReplayBuffer:
    """The deck's deque(maxlen=10000) of (state, action, reward, next_state, mask)
    tuples, as one preallocated float32 array used as a ring: first in, first out,
    and sampled uniformly without replacement, as random.sample did (by a seeded
    NumPy generator, three times faster for 64 of 10,000). Rows are built once
    instead of turning 64 tuples into tensors at every step."""

    def __init__(self, capacity, state_size, action_size, seed, device='cpu'):
        self.memory = np.zeros((capacity, 2 * state_size + action_size + 2), dtype=np.float32)
        self.state_size, self.action_size = state_size, action_size
        self.device = torch.device(device)
        self.index = self.size = 0
        self.rng = np.random.default_rng(seed)

    def __len__(self):
        return self.size

    def append(self, transition):  # the deck's line: replay_buffer.append((s, a, r, s', mask))
        state, action, reward, next_state, mask = transition
        S, A = self.state_size, self.action_size
        row = self.memory[self.index]
        row[:S], row[S:S + A], row[S + A] = state, action, reward
        row[S + A + 1:-1], row[-1] = next_state, mask
        self.index = (self.index + 1) % len(self.memory)  # overwrite the oldest when full
        self.size = min(self.size + 1, len(self.memory))

    def sample(self, batch_size, rng=None):
        """(states, actions, rewards, next_states, masks) as tensors on the device,
        drawn by the buffer's generator, or by rng where one is given."""
        rows = self.memory.take((rng or self.rng).choice(self.size, batch_size, replace=False), 0)
        if self.device.type != 'cpu':
            return self.split(torch.from_numpy(rows).to(self.device))  # one copy to the GPU
        # On the CPU, slicing in NumPy and sharing the memory costs a tenth of torch slicing.
        return tuple(map(torch.from_numpy, self.split(rows)))

    def split(self, rows):
        """(states, actions, rewards, next_states, masks) as views of rows (an array
        or a tensor)."""
        S, A = self.state_size, self.action_size
        return rows[:, :S], rows[:, S:S + A], rows[:, S + A], rows[:, S + A + 1:-1], rows[:, -1]

    def state_dict(self):
        """A copy of what the buffer holds, for a checkpoint."""
        return {'memory': torch.from_numpy(self.memory[:self.size].copy()), 'index': self.index,
                'rng': self.rng.bit_generator.state}

    def load_state_dict(self, state):
        rows = state['memory'].numpy()
        if rows.ndim != 2 or rows.shape[1] != self.memory.shape[1] or len(rows) > len(self.memory):
            raise ValueError('its replay buffer does not fit this one')
        self.memory[:len(rows)] = rows
        self.size, self.index = len(rows), state['index']
        self.rng.bit_generator.state = state['rng']


@torch.inference_mode()  # like no_grad, and skips autograd's dispatch entirely
def train_model(actor, critic, target_actor, target_critic,
                actor_optimizer, critic_optimizer, batch, gamma,
                gradient_clip_actor=None, gradient_clip_critic=None):
    """One DDPG update: the critic first, then the actor against the updated critic.
    batch = (states, actions, rewards, next_states, masks), float32 tensors shaped
    (B, S), (B, A), (B,), (B, S), (B,). Returns (critic_loss, actor_loss) as floats.
    gradient_clip_*: clip that network's gradient to this norm before its step.

    The deck's autograd lines are kept as comments. The gradients are computed by
    hand (model.backward) because autograd's bookkeeping costs more than the
    arithmetic for networks this small; tests/test_train_model.py holds the
    autograd form and checks that this one matches it."""
    # The deck converted a list of tuples here; the loop now hands over tensors.
    states, actions, rewards, next_states, masks = batch
    batch_size, state_size = states.shape

    # update critic
    # get Q-value: q_value = critic(states, actions)
    q_value, saved = forward_saving(critic, torch.cat([states, actions], 1))

    # get target: rewards + masks * gamma * target_critic(s', target_actor(s')),
    # a constant (the deck's target.detach()); shaped (B, 1) like q_value
    target_next_policy, _ = forward_saving(target_actor, next_states)
    target_next_q_value, _ = forward_saving(
        target_critic, torch.cat([next_states, target_next_policy], 1))
    target = torch.addcmul(rewards[:, None], masks[:, None], target_next_q_value, value=gamma)

    # critic_loss = MSELoss()(q_value, target); its gradient: 2 (q_value - target) / B
    error = q_value - target
    critic_loss = error.square().mean()
    backward(critic, saved, error.mul_(2 / batch_size))  # critic_loss.backward()
    if gradient_clip_critic:  # the deck authors' later revision
        clip_grad_norm(layer_parameters(critic), gradient_clip_critic)
    adam_step(critic_optimizer)

    # update actor: actor_loss = -critic(states, actor(states)).mean(), through the
    # critic that was just updated; its gradient reaches the actor via the action input
    policy, actor_saved = forward_saving(actor, states)
    q_value, saved = forward_saving(critic, torch.cat([states, policy], 1))
    actor_loss = -q_value.mean()
    grad_input = backward(critic, saved, torch.full_like(q_value, -1 / batch_size),
                          param_grads=False)
    backward(actor, actor_saved, grad_input[:, state_size:])  # actor_loss.backward()
    if gradient_clip_actor:
        clip_grad_norm(layer_parameters(actor), gradient_clip_actor)
    adam_step(actor_optimizer)

    return critic_loss.item(), actor_loss.item()


def diagnose(actor, critic, target_actor, target_critic, batch, gamma):
    """What shows a collapse coming, measured on one batch without changing anything:
    the spread of Q(s, mu(s)), and the gradient norms of the deck's two losses (before
    any clipping). Plain autograd, as the deck wrote the update; once an episode."""
    states, actions, rewards, next_states, masks = batch
    with torch.no_grad():
        target = rewards + masks * gamma * target_critic(
            next_states, target_actor(next_states)).squeeze(1)
    critic_loss = torch.nn.MSELoss()(critic(states, actions).squeeze(1), target)
    critic_grads = torch.autograd.grad(critic_loss, list(critic.parameters()))
    q_value = critic(states, actor(states))
    actor_grads = torch.autograd.grad(-q_value.mean(), list(actor.parameters()))
    # In float64: a float32 norm overflows to inf long before the gradients do.
    return {'train/q_value_std': q_value.std().item(),
            'train/critic_grad_norm': torch.nn.utils.get_total_norm(
                [g.double() for g in critic_grads]).item(),
            'train/actor_grad_norm': torch.nn.utils.get_total_norm(
                [g.double() for g in actor_grads]).item()}


def evaluate(actor, env, episodes, seed):
    """The mean score of the actor without noise, as test.py measures it: `episodes`
    episodes from the start states that `seed` gives, the same at every evaluation."""
    low, high = env.action_space.low, env.action_space.high
    device = next(actor.parameters()).device
    scores = []
    for episode in range(episodes):
        state, _ = env.reset(seed=seed if episode == 0 else None)
        done, score = False, 0.0
        while not done:
            with torch.inference_mode():
                action = actor(torch.as_tensor(state, dtype=torch.float32, device=device))
            state, reward, terminated, truncated, _ = env.step(
                np.clip(action.cpu().numpy(), low, high))
            done = terminated or truncated
            score += reward
        scores.append(score)
    return float(np.mean(scores))


def check_device(name):
    """torch.device(name), or one line saying why it cannot be used."""
    try:
        device = torch.device(name)
    except RuntimeError:
        parser.error('--device {!r} is not a device PyTorch knows; use cpu or cuda'.format(name))
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            fail('--device {}: this PyTorch sees no CUDA GPU (a CPU-only build, or no '
                 'driver); train with --device cpu'.format(name))
        if (device.index or 0) >= torch.cuda.device_count():
            fail('--device {}: there are only {} CUDA GPU(s), numbered from 0'
                 .format(name, torch.cuda.device_count()))
    elif device.type != 'cpu':
        fail('--device {}: only cpu and cuda are supported; use --device cpu'.format(name))
    return device


def make_run_name(logdir, env_name, seed):
    """One folder per run under --logdir, so `tensorboard --logdir logs` shows runs
    side by side instead of merging them into one curve; its checkpoint takes the
    same name."""
    name = '{}_seed{}_{}'.format(env_name, seed, time.strftime('%Y%m%d-%H%M%S'))
    run_name, n = name, 1
    while os.path.exists(os.path.join(logdir, run_name)):
        n += 1
        run_name = '{}_{}'.format(name, n)
    return run_name


def set_aside(path):
    """Move an existing actor file (and its .json) to model.1.pth, model.2.pth, ...
    so that saving a new one never loses the old one. Returns the new name."""
    if not os.path.exists(path):
        return None
    stem = path[:-len('.pth')] if path.endswith('.pth') else path
    n = 1
    while os.path.exists('{}.{}.pth'.format(stem, n)):
        n += 1
    kept = '{}.{}.pth'.format(stem, n)
    os.replace(path, kept)
    if os.path.exists(path + '.json'):
        os.replace(path + '.json', kept + '.json')
    return kept


# ---------------------------------------------------------------------------
# Checkpoints (not in the deck): all a run needs to go on exactly where it stopped.

# The flags that define a run. A resumed run keeps those of its checkpoint; the
# others (--max_iter_num, --goal_score, --device, ...) may change when it resumes.
RUN_FLAGS = ('env_name', 'seed', 'hidden_size', 'batch_size', 'replay_buffer_size', 'gamma',
             'actor_lr', 'critic_lr', 'theta', 'mu', 'sigma', 'tau', 'gradient_clip_actor',
             'gradient_clip_critic', 'tanh_actor')
CHECKPOINT_KEYS = ('args', 'run', 'episode', 'steps', 'scores', 'seconds', 'actor', 'critic',
                   'target_actor', 'target_critic', 'actor_optimizer', 'critic_optimizer',
                   'replay_buffer', 'ou_noise', 'rng')
UNSET = object()


def capture(nets, optimizers, replay_buffer, ou_noise, env, probe_rng):
    """Copies of all that changes while a run trains: the networks, the optimizers, the
    replay buffer, the OU noise and every random generator."""
    numpy_state = np.random.get_state(legacy=False)
    numpy_state['state']['key'] = numpy_state['state']['key'].tolist()  # for weights_only
    state = {name: {k: v.detach().to('cpu', copy=True) for k, v in net.state_dict().items()}
             for name, net in nets.items()}
    state.update((name, copy.deepcopy(optimizer.state_dict()))
                 for name, optimizer in optimizers.items())
    state.update(replay_buffer=replay_buffer.state_dict(), ou_noise=ou_noise.X.tolist(), rng={
        'random': random.getstate(), 'numpy': numpy_state, 'torch': torch.get_rng_state(),
        'env': env.unwrapped.np_random.bit_generator.state,
        'action_space': env.action_space.np_random.bit_generator.state,
        'probe': probe_rng.bit_generator.state})
    return state


def restore(state, nets, optimizers, replay_buffer, ou_noise, env, probe_rng):
    """Put back what capture() took."""
    for name, net in nets.items():
        net.load_state_dict(state[name])
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(state[name])
    replay_buffer.load_state_dict(state['replay_buffer'])
    ou_noise.X = np.array(state['ou_noise'], dtype=np.float64)
    rng = state['rng']
    random.setstate(rng['random'])
    numpy_state = copy.deepcopy(rng['numpy'])
    numpy_state['state']['key'] = np.array(numpy_state['state']['key'], dtype=np.uint32)
    np.random.set_state(numpy_state)
    torch.set_rng_state(rng['torch'])
    env.unwrapped.np_random.bit_generator.state = rng['env']
    env.action_space.np_random.bit_generator.state = rng['action_space']
    probe_rng.bit_generator.state = rng['probe']


def resume_flags(args, argv, checkpoint, path):
    """Take the flags that define the run from its checkpoint. One given on the command
    line with another value is refused: the run would no longer be the same run."""
    given = parser.parse_args(argv, argparse.Namespace(**dict.fromkeys(RUN_FLAGS, UNSET)))
    for flag in RUN_FLAGS:
        saved, value = checkpoint['args'][flag], getattr(given, flag)
        if value is not UNSET and value != saved:
            made = ('{} --{}'.format('with' if saved else 'without', flag)
                    if saved is None or isinstance(saved, bool)
                    else 'with --{} {}'.format(flag, saved))
            fail('{} is a run made {}; a resumed run keeps the flags it started with, so drop '
                 '--{}{}'.format(path, made, flag, '' if value is True else ' {}'.format(value)))
        setattr(args, flag, saved)


def saved(what, path, save):
    """save(), or, where it fails (a full disk, a lost folder), one line that says so and
    False: the old file stays as it was, and the run's state is still in memory."""
    try:
        save()
        return True
    except OSError as e:
        print('warning: could not write {} {}: {}'.format(what, path, e.strerror or e),
              file=sys.stderr, flush=True)
        return False


def open_writer(run_dir, purge_step=None):
    """A SummaryWriter on a new event file in run_dir. tensorboardX names its files by
    the second, so each part of a run gets a numbered suffix and never overwrites the
    one before."""
    os.makedirs(run_dir, exist_ok=True)
    part = sum(name.startswith('events.out.tfevents.') for name in os.listdir(run_dir)) + 1
    return SummaryWriter(run_dir, purge_step=purge_step,
                         filename_suffix='.part{:03d}'.format(part))


def finite(*nets):
    return all(bool(torch.isfinite(p).all()) for net in nets for p in layer_parameters(net))


def main(argv=None):
    args = parser.parse_args(argv)
    loaded = resume = None
    if args.load_model:  # the deck parsed --load_model but never used it
        load_path = model_path(args.load_model, args.save_path)
        loaded = load_model_file(load_path)
        if is_checkpoint(loaded):
            resume = loaded
            if not (all(key in resume for key in CHECKPOINT_KEYS)
                    and all(flag in resume['args'] for flag in RUN_FLAGS)):
                fail('{} is an incomplete checkpoint; resume from another one, or point '
                     '--load_model at a saved actor to warm-start from it'.format(load_path))
            resume_flags(args, argv, resume, load_path)
            if resume['episode'] >= args.max_iter_num:
                fail('{} has run {} episodes, and --max_iter_num is {}; pass a larger '
                     '--max_iter_num to train on'.format(load_path, resume['episode'],
                                                         args.max_iter_num))
    if args.replay_buffer_size < args.batch_size:
        parser.error('--replay_buffer_size ({}) must hold at least one batch (--batch_size {})'
                     .format(args.replay_buffer_size, args.batch_size))
    device = check_device(args.device)
    if args.render and not has_display():
        fail('--render needs a display and there is none; train without it, then '
             'watch the actor with: python test.py')
    check_writable(args.save_path, '--save_path')  # now, not after an hour of training
    check_writable(args.logdir, '--logdir')
    env = make_env(args.env_name, render_mode='human' if args.render else None)
    env_name = env.spec.id
    eval_env = make_env(env_name) if args.eval_interval else None
    # The deck seeded only the env and torch; random (replay sampling) and NumPy
    # (OU noise) are seeded too, so a seed gives the same run every time.
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    env.action_space.seed(args.seed)

    state_size = env.observation_space.shape[0]
    action_size = env.action_space.shape[0]
    print('state size:', state_size)
    print('action size:', action_size)

    bounds = (env.action_space.low, env.action_space.high) if args.tanh_actor else None
    actor = Actor(state_size, action_size, args.hidden_size, bounds)
    target_actor = Actor(state_size, action_size, args.hidden_size, bounds)
    critic = Critic(state_size, action_size, args.hidden_size)
    target_critic = Critic(state_size, action_size, args.hidden_size)

    if loaded is not None and resume is None:  # an actor file: warm-start the actor
        weights, _ = load_actor_weights(load_path, loaded)
        if actor_sizes(weights) != (state_size, action_size, args.hidden_size):
            fail('{} has (state, action, hidden) sizes {}, but {} with --hidden_size {} needs {}'
                 .format(load_path, actor_sizes(weights), env_name, args.hidden_size,
                         (state_size, action_size, args.hidden_size)))
        if (actor_bounds(weights) is not None) != args.tanh_actor:
            kind, fix = (("the deck's linear", 'drop') if args.tanh_actor
                         else ('a tanh-bounded', 'add'))
            fail('{} holds {} actor; {} --tanh_actor to warm-start from it'.format(
                load_path, kind, fix))
        actor.load_state_dict(weights)
        print('warm start: actor from {} (the critic starts fresh)'.format(load_path))
    for net in (actor, target_actor, critic, target_critic):
        net.to(device)  # not in the deck, which ran on the CPU only

    # fused=True: one kernel for all of a network's parameters (same Adam, faster)
    actor_optimizer = optim.Adam(actor.parameters(), lr=args.actor_lr, fused=True)
    critic_optimizer = optim.Adam(critic.parameters(), lr=args.critic_lr, fused=True)

    hard_target_update(actor, critic, target_actor, target_critic)
    # The deck's noise is in Pendulum's units; scaled to each action's range, the same
    # flags work for every environment (the scale is 1.0 on Pendulum).
    scale = noise_scale(env.action_space)
    ou_noise = OUNoise(action_size, args.theta, args.mu * scale, args.sigma * scale)

    replay_buffer = ReplayBuffer(args.replay_buffer_size, state_size, action_size, args.seed,
                                 device)
    probe_rng = np.random.default_rng([args.seed, 1])  # for diagnose(), apart from training
    nets = {'actor': actor, 'critic': critic, 'target_actor': target_actor,
            'target_critic': target_critic}
    optimizers = {'actor_optimizer': actor_optimizer, 'critic_optimizer': critic_optimizer}
    scores, steps, seconds, start_episode = [], 0, 0.0, 0
    if resume:
        try:
            restore(resume, nets, optimizers, replay_buffer, ou_noise, env, probe_rng)
        except (KeyError, RuntimeError, TypeError, ValueError) as e:
            fail('{} does not fit the run it describes ({}); it is damaged: resume from '
                 'another checkpoint'.format(load_path, ' '.join(str(e).split())))
        if not finite(actor, critic):
            fail('{} holds inf or nan weights; resume from another checkpoint'.format(load_path))
        run_name, start_episode = resume['run'], resume['episode']
        steps, scores, seconds = resume['steps'], list(resume['scores']), resume['seconds']
        print('resuming {} from {} after {} episodes ({} steps)'.format(
            run_name, load_path, start_episode, steps))
    else:
        run_name = make_run_name(args.logdir, env_name, args.seed)
    run_dir = os.path.join(args.logdir, run_name)
    checkpoint_path = os.path.join(args.save_path, run_name + '.checkpoint.pth')
    last_checkpoint = (load_path, start_episode) if resume else None
    if (resume and os.path.exists(checkpoint_path)
            and not os.path.samefile(load_path, checkpoint_path)):
        # resumed from a copy: the run's own checkpoint may be further on; keep it
        print('the checkpoint {} is kept as {}'.format(checkpoint_path,
                                                      set_aside(checkpoint_path)))

    # purge_step hides what a killed run logged after its last checkpoint, which the
    # resumed run logs again.
    writer = open_writer(run_dir, purge_step=start_episode if resume else None)
    if not resume:
        writer.add_text('hyperparameters', '|flag|value|\n|-|-|\n' + '\n'.join(
            '|{}|{}|'.format(k, v) for k, v in sorted(vars(args).items())))
    print('TensorBoard logs: {}'.format(run_dir))

    recent_rewards = deque(scores[-100:], maxlen=100)
    low, high = env.action_space.low, env.action_space.high
    start = time.time() - seconds
    # At a terminal, a progress bar (not in the deck); in a log file, plain lines.
    bar = tqdm(total=args.max_iter_num, initial=start_episode, unit='episode', file=sys.stdout,
               dynamic_ncols=True, disable=not sys.stdout.isatty())
    process_start, process_steps = time.time(), steps
    reached_goal = False
    diverged = snapshot = None
    stop = []  # the signal that asked the run to stop

    def checkpoint(episode):
        """The whole run before `episode`, as a checkpoint holds it."""
        return dict(capture(nets, optimizers, replay_buffer, ou_noise, env, probe_rng),
                    format=CHECKPOINT, args=dict(vars(args), env_name=env_name), run=run_name,
                    episode=episode, steps=steps, scores=[float(x) for x in scores],
                    seconds=time.time() - start)

    def save_checkpoint(state):
        return saved('the checkpoint', checkpoint_path, lambda: save_torch(state, checkpoint_path))

    def on_signal(signum, frame):
        name = signal.Signals(signum).name
        if stop:  # asked twice: quit now
            print('{} again: quitting without saving'.format(name), file=sys.stderr, flush=True)
            raise SystemExit(128 + signum)
        stop.append(signum)
        print('\n{}: stopping after this step to save a checkpoint (send it again to quit at '
              'once, without saving)'.format(name), flush=True)
    handlers = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    try:
        for episode in range(start_episode, args.max_iter_num):
            # The run as it stands between two episodes, kept in memory. A stop in the
            # next episode saves this, and the resumed run plays that episode again,
            # exactly as it would have gone.
            snapshot = checkpoint(episode)
            if stop:
                break
            if episode > start_episode and episode % args.checkpoint_interval == 0:
                # Only close() makes tensorboardX write out all it has queued: the log
                # must be on disk before the checkpoint that follows it is.
                writer.close()
                writer = open_writer(run_dir)
                if save_checkpoint(snapshot):
                    last_checkpoint = (checkpoint_path, episode)

            done = False
            score = 0
            losses = []
            raw_actions = []  # the actor's own outputs, for the actor/ instruments

            ou_noise.reset()  # Algorithm 1: a new random process every episode
            # Gymnasium seeds the environment through its first reset.
            state, _ = env.reset(seed=args.seed if episode == 0 else None)

            while not done:
                steps += 1

                # the deck's actor(torch.Tensor(state)), without autograd's bookkeeping
                # and nn.Module's call overhead (together half the cost of acting)
                with torch.inference_mode():
                    policy, _ = forward_saving(actor, torch.as_tensor(
                        state, dtype=torch.float32, device=device))
                action = get_action(policy, ou_noise)
                raw_actions.append(policy)

                # Clip only what the environment gets. The buffer keeps the unclipped
                # action: the linear actor can leave the bounds, and the critic must
                # see that such actions are worth no more than the bound itself
                # (storing clipped actions, a run climbed to -700, then collapsed).
                next_state, reward, terminated, truncated, _ = env.step(
                    np.clip(action, low, high))
                done = terminated or truncated

                # The deck used `mask = 0 if done`: that also cut the bootstrap at the
                # 200-step time limit, which is a truncation, not a terminal state.
                mask = 0 if terminated else 1

                replay_buffer.append((state, action, reward, next_state, mask))

                state = next_state
                score += reward

                if steps > args.batch_size:
                    mini_batch = replay_buffer.sample(args.batch_size)
                    losses.append(train_model(actor, critic, target_actor, target_critic,
                                              actor_optimizer, critic_optimizer,
                                              mini_batch, args.gamma,
                                              args.gradient_clip_actor,
                                              args.gradient_clip_critic))

                    soft_target_update(actor, critic, target_actor, target_critic, args.tau)

                    critic_loss, actor_loss = losses[-1]
                    if not math.isfinite(critic_loss + actor_loss):  # not in the deck
                        diverged = 'the {} loss is {}'.format(
                            *(('critic', critic_loss) if not math.isfinite(critic_loss)
                              else ('actor', actor_loss)))
                        break
                if stop:
                    break
            if not (diverged or finite(actor, critic)):  # an update can leave nan behind
                diverged = 'the networks hold inf or nan'
            if stop or diverged:
                break

            recent_rewards.append(score)
            scores.append(score)
            score_avg = np.mean(recent_rewards)

            # The deck logged one episode in log_interval; every episode is logged here.
            writer.add_scalar('log/score', float(score), episode)
            writer.add_scalar('log/score_avg', float(score_avg), episode)
            if losses:
                critic_loss, actor_loss = np.mean(losses, axis=0)
                writer.add_scalar('train/critic_loss', critic_loss, episode)
                writer.add_scalar('train/actor_loss', actor_loss, episode)
                # actor_loss is -mean Q(s, mu(s)) over the batch
                writer.add_scalar('train/q_value', -actor_loss, episode)
                # One more batch, from a generator of its own so the run stays the same.
                probe = replay_buffer.sample(args.batch_size, probe_rng)
                for tag, value in diagnose(actor, critic, target_actor, target_critic,
                                           probe, args.gamma).items():
                    writer.add_scalar(tag, value, episode)
            if args.eval_interval and (episode + 1) % args.eval_interval == 0:
                writer.add_scalar('eval/score', evaluate(actor, eval_env, args.eval_episodes,
                                                         args.seed + 1), episode)
            raw = torch.stack(raw_actions).cpu()
            writer.add_scalar('actor/action_mean', raw.mean().item(), episode)
            writer.add_scalar('actor/action_abs_max', raw.abs().max().item(), episode)
            writer.add_scalar('actor/out_of_bounds', ((raw < torch.from_numpy(low))
                                                      | (raw > torch.from_numpy(high)))
                              .float().mean().item(), episode)

            bar.set_postfix_str('score_avg {:.1f}, {:.0f} steps/s'.format(
                score_avg, (steps - process_steps) / (time.time() - process_start)),
                refresh=False)
            bar.update()
            if episode % args.log_interval == 0:
                line = '{} episode | score_avg: {:.2f}'.format(episode, score_avg)
                if bar.disable:
                    print(line, flush=True)
                else:
                    bar.write(line, file=sys.stdout)  # above the bar, not through it

            # The deck tested the mean of however many scores there were, so it could
            # stop before 100 episodes existed; the goal needs a full window here.
            if len(recent_rewards) == recent_rewards.maxlen and score_avg > args.goal_score:
                reached_goal = True
                break
    finally:
        bar.close()
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        writer.close()
        env.close()
        if eval_env:
            eval_env.close()

    if diverged:  # not in the deck, which went on training on nan
        kept = ('the last good checkpoint, {}, holds the run up to episode {}'.format(
            *last_checkpoint) if last_checkpoint else 'no checkpoint was saved before it')
        fail('training diverged in episode {} (step {}): {}; {}. The recipe in the README '
             '(When learning fails) keeps runs stable: --tanh_actor --gradient_clip_actor 0.5 '
             '--gradient_clip_critic 1.0'.format(episode, steps, diverged, kept))

    if stop:
        print('stopped by {} in episode {}; TensorBoard logs: {}'.format(
            signal.Signals(stop[0]).name, episode, run_dir))
        if save_checkpoint(snapshot):
            print('saved the run up to episode {} (the interrupted episode runs again when it '
                  'resumes) to {}'.format(snapshot['episode'], checkpoint_path))
            last_checkpoint = (checkpoint_path, snapshot['episode'])
        if last_checkpoint:
            print('resume with: python train.py --load_model {}'.format(last_checkpoint[0]))
        raise SystemExit(128 + stop[0])  # 130 for SIGINT, 143 for SIGTERM, as shells do

    episodes = episode + 1
    minutes = (time.time() - start) / 60
    run_saved = save_checkpoint(checkpoint(episodes))
    info = {'env_name': env_name, 'hidden_size': args.hidden_size, 'episodes': episodes,
            'steps': steps, 'score_avg': float(score_avg), 'goal_score': args.goal_score,
            'reached_goal': reached_goal, 'seed': args.seed, 'run': run_name}
    # The deck saved model.pth only at the goal. A run that misses it saves its actor
    # apart, so no actor that reached the goal is replaced by a worse one.
    save = os.path.join(args.save_path, 'model.pth' if reached_goal else run_name + '.pth')
    kept = set_aside(save)  # an older file of that name is kept, never overwritten
    actor_saved = saved('the actor', save, lambda: save_actor(actor, save, info))
    if reached_goal:
        print('goal reached after {} episodes ({} steps, {:.1f} min): the last 100 episodes '
              'average {:.2f} > {:g}'.format(episodes, steps, minutes, score_avg, args.goal_score))
    else:
        why = ('not above {:g}'.format(args.goal_score) if len(recent_rewards) == 100 else
               'and the goal ({:g}) needs 100 episodes'.format(args.goal_score))
        print('goal not reached: after {} episodes ({} steps, {:.1f} min) the last {} episodes '
              'average {:.2f}, {}; the final actor is saved apart, so no actor that reached '
              'the goal is replaced'.format(episodes, steps, minutes, len(recent_rewards),
                                             score_avg, why))
    if kept:
        print('the previous {} is kept as {}'.format(os.path.basename(save), kept))
    if actor_saved:
        print('saved the actor to {}; watch it with: python test.py --load_model {}'
              .format(save, save))
    if run_saved:
        print('saved the run to {}; train on with: python train.py --load_model {} and a '
              'larger --max_iter_num or a higher --goal_score'.format(checkpoint_path,
                                                                     checkpoint_path))
    if not (actor_saved and run_saved):
        raise SystemExit(1)  # each failed save has said why, in one line
    return {'reached_goal': reached_goal, 'episodes': episodes, 'steps': steps,
            'scores': scores, 'score_avg': float(score_avg), 'model': save,
            'checkpoint': checkpoint_path, 'run_dir': run_dir, 'replay_buffer': replay_buffer}


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C before training started: there is nothing to save
        sys.exit(130)
