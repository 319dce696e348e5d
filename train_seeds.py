"""Train DDPG on many seeds at once, in one process (not in the deck): train.py's loop
written for K seeds, for seed studies.

    python train_seeds.py --seeds 500-509     # ten seeds of the deck's DDPG, together
    tensorboard --logdir logs                 # one run folder per seed

Each seed is the run `python train.py --seed S` would make: its own networks, Adam, OU
noise, replay buffer and environment, seeded as train.py seeds them, its own run folder
and checkpoint. What the seeds share is each operation: their networks are stacked, so
that one batched update serves all of them (ddpg_extras/batched.py). To read the deck,
read train.py.
"""
import argparse
import copy

import numpy as np
import torch
import torch.optim as optim

import train
from ddpg_extras.batched import SeedNets, sample_batches
from ddpg_extras.environments import noise_scale
from ddpg_extras.seeds import Batch
from model import Actor, Critic
from utils import OUNoise, ReplayBuffer, hard_target_update

parser = copy.deepcopy(train.parser)  # train.py's flags as they are there, and --seeds
parser.prog = 'train_seeds.py'
parser.description = "Train DDPG on many seeds at once: train.py's flags, and --seeds."
for action in parser._actions:  # flags that a batch refuses (ddpg_extras/seeds.py says why)
    if action.dest in ('seed', 'render', 'deck_update'):
        action.help = argparse.SUPPRESS
parser.add_argument('--seeds', default=argparse.SUPPRESS, metavar='LIST',
                    help='the seeds, trained together: ranges and lists, e.g. 500-509 or '
                         '500,503,510-512 (500-509 unless given; when resuming, the batch\'s)')


def make_seed(run, env):
    """One seed's networks, optimizers, noise and replay buffer, made as train.py's
    main makes them for --seed S, with NumPy's generator for the noise its own."""
    args = run.args
    noise_rng = np.random.RandomState(args.seed)  # train.py: np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    env.action_space.seed(args.seed)
    state_size, action_size = env.observation_space.shape[0], env.action_space.shape[0]

    bounds = (env.action_space.low, env.action_space.high) if args.tanh_actor else None
    actor = Actor(state_size, action_size, args.hidden_size, bounds)
    target_actor = Actor(state_size, action_size, args.hidden_size, bounds)
    critic = Critic(state_size, action_size, args.hidden_size)
    target_critic = Critic(state_size, action_size, args.hidden_size)
    run.warm_start(actor, env)
    for net in (actor, target_actor, critic, target_critic):
        net.to(run.device)
    actor_optimizer = optim.Adam(actor.parameters(), lr=args.actor_lr, fused=True)
    critic_optimizer = optim.Adam(critic.parameters(), lr=args.critic_lr, fused=True)

    hard_target_update(actor, critic, target_actor, target_critic)
    scale = noise_scale(env.action_space)
    ou_noise = OUNoise(action_size, args.theta, args.mu * scale, args.sigma * scale, noise_rng)
    replay_buffer = ReplayBuffer(args.replay_buffer_size, state_size, action_size, args.seed,
                                 run.device)
    run.open(env, actor, critic, target_actor, target_critic, actor_optimizer,
             critic_optimizer, replay_buffer, ou_noise)  # resumes a checkpoint, opens the log


def main(argv=None):
    args = parser.parse_args(argv)
    batch = Batch(parser, args, argv)  # flag checks, --seeds and --load_model, up front
    if not batch.runs:  # a resumed batch whose seeds had all ended
        return batch.finish()
    for run, env in zip(batch.runs, batch.make_envs()):  # one environment per seed
        make_seed(run, env)
    nets = SeedNets(batch.runs)  # every seed's networks stacked, for one update for all
    low, high = batch.envs[0].action_space.low, batch.envs[0].action_space.high

    with batch:  # however the loop ends: the logs, the progress bar and Ctrl-C are closed
        states = batch.begin_episodes(batch.runs)  # every seed's first episode
        while batch.runs:
            runs = batch.runs
            for run in runs:
                run.steps += 1

            policies = nets.act(states)  # every seed's actor(state), in one call
            # utils.get_action for every seed: its policy plus its own OU noise
            actions = policies.cpu().numpy() + np.stack([run.ou_noise.sample() for run in runs])
            for run, policy in zip(runs, policies):
                run.record_action(policy)

            # The envs step together; each seed's transition goes to its own buffer
            next_states, rewards, terminated, truncated, _ = batch.step(np.clip(actions, low,
                                                                               high))
            for i, run in enumerate(runs):
                mask = 0 if terminated[i] else 1  # as train.py: cut only at a real end
                run.replay_buffer.append((states[i], actions[i], rewards[i], next_states[i],
                                          mask))
                run.score += rewards[i]
            states = next_states

            updating = [run.steps > args.batch_size for run in runs]  # as train.py, per seed
            if any(updating):
                mini_batch = sample_batches([run.replay_buffer for run in runs],
                                            args.batch_size, updating)
                losses = nets.train_model(mini_batch, args.gamma, args.gradient_clip_actor,
                                          args.gradient_clip_critic, updating)
                nets.soft_target_update(args.tau)
                for run, seed_losses, update in zip(runs, losses.tolist(), updating):
                    if update:
                        run.record_losses(seed_losses)  # a loss of inf or nan: the seed stops

            done = terminated | truncated
            for i, run in enumerate(runs):
                if done[i]:
                    run.recent_rewards.append(run.score)
            ended = [run for i, run in enumerate(runs) if done[i] or run.stopping]
            leaving = [run for run in ended if not episode_end(run, args, batch)]
            states = batch.next_episodes(ended, leaving, states, nets)
    return batch.finish()


def episode_end(run, args, batch):
    """train.py's end of an episode, for one seed: False where the seed leaves the batch
    (its goal, its last episode, a divergence, Ctrl-C)."""
    if not run.episode_ended(run.nets['actor'], run.nets['critic']):  # or inf/nan weights
        return False
    score_avg = np.mean(run.recent_rewards)
    run.writer.add_scalar('log/score', float(run.score), run.episode)
    run.log_episode(run.episode, run.score, score_avg, run.steps)
    batch.episode_logged(score_avg)
    if run.episode % args.log_interval == 0:
        batch.print('seed {} | {} episode | score_avg: {:.2f}'.format(run.args.seed, run.episode,
                                                                    score_avg))
    if len(run.recent_rewards) == run.recent_rewards.maxlen and score_avg > args.goal_score:
        return False
    return run.episode + 1 < args.max_iter_num


if __name__ == '__main__':
    try:
        results = main()
    except KeyboardInterrupt:  # Ctrl-C before training started: there is nothing to save
        raise SystemExit(130) from None
    if any(result['error'] for result in results):
        raise SystemExit(1)  # each has said what went wrong, in its seed's line
