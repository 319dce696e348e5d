"""Train DDPG on many seeds at once, in one process (not in the deck): train.py's loop
with a seed axis, for seed studies.

    python train_seeds.py --seeds 500-509     # ten seeds of the deck's DDPG, together
    tensorboard --logdir logs                 # one run folder per seed

Each seed is the run `python train.py --seed S` would make: its own networks, Adam, OU
noise, replay buffer and environment, made and seeded as train.py makes them, its own
run folder and checkpoint. What the seeds share is each operation: their networks,
buffers and noise are stacked with the seed first, so one batched update serves all
of them (ddpg_extras/seeds/batched.py). The K seeds stay together for the cohort's whole
life; a seed that has ended is masked (ddpg_extras/seeds/cohort.py). To read the deck, read
train.py.
"""
import argparse

import numpy as np
import torch

import train
from ddpg_extras.run.checks import parse_flags
from ddpg_extras.run.environments import make_env, noise_scale
from ddpg_extras.seeds.axis import SeedBuffers, SeedStreams
from ddpg_extras.seeds.batched import SeedNets
from ddpg_extras.seeds.cohort import REFUSED, Cohort
from utils import OUNoise


def make_parser():
    """train.py's flags as they are there (those a cohort refuses hidden), and --seeds."""
    parser = train.make_parser('train_seeds.py', "Train DDPG on many seeds at once: train.py's "
                               "flags, and --seeds.", refused=[flag for flag, _ in REFUSED],
                               helps={'load_model': "a batch's checkpoint (<name>.seeds.pth) to "
                                                    'resume, or an actor file to warm-start '
                                                    "every seed's actor from; a bare name is "
                                                    'looked up in --save_path',
                                      'landscape_interval': "every K episodes and at the end, "
                                      "draw each seed's landscapes in TensorBoard (truth/), as "
                                      'train.py does; 0: never (default: 0, as 16 seeds would '
                                      'spend several times what one run spends on them)'})
    parser.add_argument('--seeds', default=argparse.SUPPRESS, metavar='LIST',
                        help='the seeds, trained together: ranges and lists, e.g. 500-509 or '
                             '500,503,510-512 (500-509 unless given; when resuming, the '
                             "batch's)")
    return parser


parser = make_parser()


def main(argv=None, report=None):
    """report: study.py --tune's trials only (ddpg_extras/seeds/cohort.py, Cohort.prune)."""
    args, given = parse_flags(parser, argv)
    cohort = Cohort(args, given, parser, report)  # flag checks, --seeds, --load_model
    args = cohort.args  # the flags as resumed, where a cohort's checkpoint was loaded
    if not cohort.runs:  # a resumed cohort whose seeds had all ended
        return cohort.finish()
    envs, agents = [], []
    for run in cohort.runs:  # each seed's environment and networks, as train.py makes them
        env = make_env(args.env_name)
        torch.manual_seed(run.args.seed)
        env.action_space.seed(run.args.seed)
        agents.append(train.make_agent(run.args, env, cohort.device, run.warm_start))
        envs.append(env)
    seeds, env = [run.args.seed for run in cohort.runs], envs[0]
    state_size, action_size = env.observation_space.shape[0], env.action_space.shape[0]
    scale = noise_scale(env.action_space)
    # train.py's OUNoise with a row per seed, each seed's draws from its own stream
    ou_noise = OUNoise((len(seeds), action_size), args.theta, args.mu * scale,
                       args.sigma * scale, SeedStreams(seeds))
    replay_buffer = SeedBuffers(seeds, args.replay_buffer_size, state_size, action_size,
                                cohort.device)  # K buffers, one array
    cohort.open(envs, agents, replay_buffer, ou_noise)  # checkpoints resumed, logs opened
    nets = SeedNets(agents)  # every seed's networks stacked once, for one update for all
    low, high = env.action_space.low, env.action_space.high

    with cohort:  # however the loop ends: the logs, the progress bar and Ctrl-C are closed
        states = cohort.start(nets)  # every seed's first episode
        while cohort.active.any():
            cohort.steps += cohort.active

            policies = nets.act(states)  # every seed's actor(state), in one call
            actions = policies.cpu().numpy() + ou_noise.sample()  # utils.get_action, K seeds

            next_states, rewards, terminated, truncated = cohort.step(np.clip(actions, low,
                                                                              high))
            masks = np.where(terminated, 0, 1)  # as train.py: cut only at a real end

            replay_buffer.append((states, actions, rewards, next_states, masks), cohort.active)

            states = next_states
            cohort.scores += rewards

            updating = cohort.active & (cohort.steps > args.batch_size)  # as train.py
            losses = np.zeros((len(seeds), 2))
            if updating.any():
                mini_batch = replay_buffer.sample(args.batch_size, updating)
                losses = nets.train_model(mini_batch, args.gamma, args.gradient_clip_actor,
                                          args.gradient_clip_critic, updating)
                nets.soft_target_update(args.tau)
            cohort.record(policies, losses, updating)  # a loss of inf or nan: the seed stops

            states = cohort.end_episodes(terminated | truncated, states)  # and next ones
    return cohort.finish()


if __name__ == '__main__':
    try:
        results = main()
    except KeyboardInterrupt:  # Ctrl-C before training started: there is nothing to save
        raise SystemExit(130) from None
    if any(result['error'] for result in results):
        raise SystemExit(1)  # each has said what went wrong, in its seed's line
