"""Train DDPG on Pendulum: the deck's train.py on today's stack.

    python train.py                 # the deck's defaults, seed 500
    tensorboard --logdir logs       # watch the learning curve

The deck's slides "Hyperparameter", "Train model" and "Main loop", in that order.
What the deck does not have lives in ddpg_extras/, one line at a time here.
"""
import argparse
import random
from collections import deque

import numpy as np
import torch
import torch.optim as optim

from ddpg_extras.run.agent import Agent
from ddpg_extras.run.checkpoints import load_model_flag, reached_goal
from ddpg_extras.run.checks import (
    HelpFormatter,
    finite_float,
    float_not_nan,
    half_open_unit_interval,
    non_negative_float,
    non_negative_int,
    parse_flags,
    positive_float,
    positive_int,
    unit_interval,
)
from ddpg_extras.run.environments import make_env, noise_scale
from ddpg_extras.run.fast_update import act, fast_train_model
from ddpg_extras.run.session import Session
from ddpg_extras.run.training import Run
from model import Actor, Critic
from utils import OUNoise, ReplayBuffer, get_action, hard_target_update, soft_target_update


def make_parser(prog=None, description=None, refused=(), helps=None):
    """train.py's flags. train_seeds.py makes its parser here too: prog and description
    its own, the flags in refused (that a batch refuses) hidden from its help, and helps
    ({flag: text}) where a flag means something else there."""
    parser = argparse.ArgumentParser(
        prog, description=description or
        "Train DDPG (the 2019 deck's code on Gymnasium and PyTorch 2).",
        formatter_class=HelpFormatter, allow_abbrev=False)  # --load is not --load_model

    def shown(flag, text):
        return argparse.SUPPRESS if flag in refused else (helps or {}).get(flag, text)

    parser.add_argument('--env_name', type=str, default="Pendulum-v1",
                        help="Gymnasium environment; the deck's Pendulum-v0 is mapped to "
                             "Pendulum-v1")
    parser.add_argument('--load_model', type=str, default=None,
                        help=shown('load_model', 'a checkpoint (<run>.checkpoint.pth) to resume, '
                                                 'or an actor file to warm-start from; a bare '
                                                 'name is looked up in --save_path'))
    parser.add_argument('--save_path', default='./save_model/',
                        help='folder for actors and checkpoints')
    parser.add_argument('--render', action="store_true", default=False,
                        help=shown('render', 'show the environment in a window while training '
                                             '(needs a display)'))
    parser.add_argument('--gamma', type=unit_interval, default=0.99,
                        help='discount factor')
    parser.add_argument('--hidden_size', type=positive_int, default=64,
                        help='units in each hidden layer')
    parser.add_argument('--batch_size', type=positive_int, default=64,
                        help='transitions per update')
    parser.add_argument('--actor_lr', type=positive_float, default=1e-3,
                        help='Adam learning rate of the actor')
    parser.add_argument('--critic_lr', type=positive_float, default=1e-3,
                        help='Adam learning rate of the critic')
    parser.add_argument('--theta', type=non_negative_float, default=0.15,
                        help='OU noise: pull towards mu')
    parser.add_argument('--mu', type=finite_float, default=0.0,
                        help="OU noise: long-run mean (in Pendulum's units; scaled to each "
                             "action's range elsewhere)")
    parser.add_argument('--sigma', type=non_negative_float, default=0.2,
                        help="OU noise: scale of each step (in Pendulum's units; scaled to each "
                             "action's range elsewhere)")
    parser.add_argument('--tau', type=half_open_unit_interval, default=0.001,
                        help='soft target update: target <- tau * online + (1 - tau) * target')
    parser.add_argument('--max_iter_num', type=positive_int, default=1000,
                        help='most episodes to run')
    parser.add_argument('--log_interval', type=positive_int, default=10,
                        help='print a line every N episodes')
    parser.add_argument('--goal_score', type=float_not_nan, default=-300,
                        help='stop and save once the last 100 episodes average above this')
    parser.add_argument('--logdir', type=str, default='./logs',
                        help='tensorboardx logs directory (one sub-folder per run)')

    # Not in the deck: reproducibility, bigger buffers, GPUs, evaluation, checkpoints.
    parser.add_argument('--seed', type=int, default=500,
                        help=shown('seed', 'seeds random, NumPy, PyTorch and the environment (the '
                                           'deck used 500)'))
    parser.add_argument('--replay_buffer_size', type=positive_int, default=10000,
                        help='transitions kept in the first-in-first-out replay buffer')
    parser.add_argument('--device', type=str, default='cpu',
                        help='where the networks train: cpu, or cuda (cuda:N) where PyTorch sees a'
                             ' GPU; expect a GPU to pay only for a large --hidden_size')
    parser.add_argument('--threads', type=positive_int, default=None, metavar='N',
                        help='threads PyTorch splits each operation over (default: one, measured '
                             'fastest per core for these small networks; see docs/speed.md)')
    parser.add_argument('--eval_interval', type=positive_int, default=None, metavar='K',
                        help='every K episodes, run --eval_episodes episodes without noise on an '
                             'environment of their own and log their mean as test/score (off by '
                             'default, as in the deck)')
    parser.add_argument('--eval_episodes', type=positive_int, default=10, metavar='M',
                        help='episodes per evaluation; each evaluation starts from the same '
                             'states, seeded by --seed + 1')
    parser.add_argument('--checkpoint_interval', type=positive_int, default=50, metavar='N',
                        help='save a checkpoint to resume from every N episodes, and whenever the '
                             'run ends (Ctrl-C included)')
    parser.add_argument('--landscape_interval', type=non_negative_int, default=None, metavar='K',
                        help=shown('landscape_interval', "every K episodes and at the end, draw "
                                   "the actor's and the critic's landscapes over the state plane "
                                   'beside the optimum, with how far each is from it, in '
                                   'TensorBoard (truth/); 0: never (default: 20 on Pendulum, '
                                   'whose state is a plane; 0 elsewhere)'))

    # Stabilizers (not in the deck): all off by default, so the deck's algorithm runs unchanged.
    parser.add_argument('--gradient_clip_actor', type=positive_float, default=None, metavar='NORM',
                        help="clip the actor's gradient to this norm before each step (the deck's "
                             "authors later used 0.5); use when train/actor_grad_norm spikes")
    parser.add_argument('--gradient_clip_critic', type=positive_float, default=None, metavar='NORM',
                        help="clip the critic's gradient to this norm before each step (the deck's"
                             " authors later used 1.0); use when train/critic_grad_norm or the "
                             "critic loss spikes")
    parser.add_argument('--tanh_actor', action='store_true', default=False,
                        help="bound the actor's output with tanh, scaled to the action bounds; use"
                             " when policy/out_of_bounds climbs above 0 (the linear actor drifts "
                             "past the bounds, where the critic cannot tell actions apart)")
    parser.add_argument('--deck_update', action='store_true', default=False,
                        help=shown('deck_update', "train with train_model, the deck's update "
                                                  "in autograd as train.py writes it, instead "
                                                  "of the same update with hand-written "
                                                  "gradients (2.3x slower; for reading, or "
                                                  "for trying a change to train_model)"))
    return parser


parser = make_parser()


def train_model(actor, critic, target_actor, target_critic,
                actor_optimizer, critic_optimizer, mini_batch, gamma,
                gradient_clip_actor=None, gradient_clip_critic=None):
    # The loop hands over tensors: the deck's np.array(mini_batch) fails on NumPy >= 1.24
    states, actions, rewards, next_states, masks = mini_batch

    # update critic
    criterion = torch.nn.MSELoss()

    # get Q-value
    q_value = critic(states, actions).squeeze(1)

    # get target
    target_next_policy = target_actor(next_states)
    target_next_q_value = target_critic(next_states, target_next_policy).squeeze(1)
    target = rewards + masks * gamma * target_next_q_value  # gamma: the deck read args.gamma

    critic_loss = criterion(q_value, target.detach())
    critic_optimizer.zero_grad()
    critic_loss.backward()
    if gradient_clip_critic:  # opt-in, from the deck authors' later revision
        torch.nn.utils.clip_grad_norm_(critic.parameters(), gradient_clip_critic)
    critic_optimizer.step()

    # update actor
    policy = actor(states)

    actor_loss = -critic(states, policy).mean()
    actor_optimizer.zero_grad()
    actor_loss.backward()
    if gradient_clip_actor:
        torch.nn.utils.clip_grad_norm_(actor.parameters(), gradient_clip_actor)
    actor_optimizer.step()

    return critic_loss.item(), actor_loss.item()  # for the train/ tags


def make_agent(args, env, device, warm_start=None):
    """The deck's four networks and two optimizers, the targets copied from the online
    networks, for one seed; train_seeds.py makes each of its seeds' here too."""
    state_size = env.observation_space.shape[0]
    action_size = env.action_space.shape[0]

    bounds = (env.action_space.low, env.action_space.high) if args.tanh_actor else None
    actor = Actor(state_size, action_size, args.hidden_size, bounds)
    target_actor = Actor(state_size, action_size, args.hidden_size, bounds)
    critic = Critic(state_size, action_size, args.hidden_size)
    target_critic = Critic(state_size, action_size, args.hidden_size)
    if warm_start:
        warm_start(actor, env)  # --load_model with an actor file
    for net in (actor, target_actor, critic, target_critic):
        net.to(device)  # --device: the deck ran on the CPU only

    # fused=True: one kernel for all of a network's parameters (same Adam, faster)
    actor_optimizer = optim.Adam(actor.parameters(), lr=args.actor_lr, fused=True)
    critic_optimizer = optim.Adam(critic.parameters(), lr=args.critic_lr, fused=True)

    hard_target_update(actor, critic, target_actor, target_critic)
    return Agent(actor, critic, target_actor, target_critic, actor_optimizer, critic_optimizer)


def main(argv=None):
    args, given = parse_flags(parser, argv)  # and which flags the command line gave
    args, loaded = load_model_flag(args, given, parser) if args.load_model else (args, None)
    session = Session(args, parser.error)  # flag checks, before anything is made
    run = Run(args, session, loaded)  # the run's log, checkpoints, instruments and files
    # render_mode='human' draws every step, as the deck's env.render() did
    env = make_env(args.env_name, render_mode='human' if args.render else None)
    # The deck seeded the env and torch; random and NumPy too, so a seed repeats a run
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    env.action_space.seed(args.seed)

    state_size = env.observation_space.shape[0]
    action_size = env.action_space.shape[0]
    print('state size:', state_size)
    print('action size:', action_size)

    agent = make_agent(args, env, session.device, run.warm_start)
    actor, critic, target_actor, target_critic, actor_optimizer, critic_optimizer = agent

    scale = noise_scale(env.action_space)  # the noise fits each action's range; 1.0 on Pendulum
    ou_noise = OUNoise(action_size, args.theta, args.mu * scale, args.sigma * scale)

    replay_buffer = ReplayBuffer(args.replay_buffer_size, state_size, action_size, args.seed,
                                 session.device)
    # a checkpoint to resume comes back here; one TensorBoard folder per run
    writer = run.start(env, agent, replay_buffer, ou_noise)
    recent_rewards = deque(run.scores[-100:], maxlen=100)
    steps = run.steps

    # The deck's train_model is the reference; the same update with hand-written
    # gradients runs by default, 2.3x as fast (tests/test_train_model.py: equal to 1e-6)
    update = train_model if args.deck_update else fast_train_model
    low, high = env.action_space.low, env.action_space.high
    with session, run:  # however the loop ends: the log, the progress bar and Ctrl-C close
        for episode in range(run.start_episode, args.max_iter_num):
            if run.stop_at_start(episode, steps):  # a checkpoint; True after Ctrl-C
                break
            done = False
            score = 0

            ou_noise.reset()  # Algorithm 1: a new random process every episode
            state, _ = env.reset(seed=args.seed if episode == 0 else None)  # env.seed(500)

            while not done:
                steps += 1

                policy = act(actor, state, run.device)  # actor(torch.Tensor(state)), faster
                action = get_action(policy, ou_noise)
                run.record_action(policy)

                # The env gets the clipped action, the buffer the action (docs/differences.md)
                next_state, reward, terminated, truncated, _ = env.step(np.clip(action, low, high))
                done = terminated or truncated

                mask = 0 if terminated else 1  # the deck's `if done` also cut at the time limit

                replay_buffer.append((state, action, reward, next_state, mask))

                state = next_state
                score += reward

                if steps > args.batch_size:
                    mini_batch = replay_buffer.sample(args.batch_size)

                    losses = update(actor, critic, target_actor, target_critic,
                                    actor_optimizer, critic_optimizer, mini_batch, args.gamma,
                                    args.gradient_clip_actor, args.gradient_clip_critic)

                    soft_target_update(actor, critic, target_actor, target_critic, args.tau)
                    run.record_losses(losses)  # a loss of inf or nan stops the run

                if done:
                    recent_rewards.append(score)
                if run.stopping:  # Ctrl-C, or a loss of inf or nan
                    break
            if run.stop_at_end(actor, critic):  # Ctrl-C, or losses or weights of inf or nan
                break

            score_avg = np.mean(recent_rewards)
            writer.add_scalar('log/score', float(score), episode)  # every episode, not 1 in 10
            run.log_episode(episode, score, score_avg, steps)  # the other tags, the bar
            if episode % args.log_interval == 0:
                session.print('{} episode | score_avg: {:.2f}'.format(episode, score_avg))

            if reached_goal(recent_rewards, args.goal_score):  # over a full window of 100
                break
    # saves model.pth at the goal (else <run>.pth) and the checkpoint; exits after Ctrl-C
    return run.finish(actor, episode, steps, recent_rewards)


if __name__ == '__main__':
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C before training started: there is nothing to save
        raise SystemExit(130) from None
