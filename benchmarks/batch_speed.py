"""bench.py batch: K seeds in one process (train_seeds.py) against the same K seeds as
single train.py runs one after another, and where the batched step's time goes."""
import contextlib
import io
import statistics
import tempfile
import time

import gymnasium as gym
import numpy as np
import torch

import train
import train_seeds
from ddpg_extras.run.agent import Agent
from ddpg_extras.seeds.axis import SeedBuffers
from ddpg_extras.seeds.batched import SeedNets
from model import Actor, Critic
from timing import per_step


def timed_main(main, argv):
    """main(argv) quietly in this process: (its result, seconds)."""
    folder = tempfile.mkdtemp(prefix='bench_batch_')
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = main([*argv, '--save_path', folder, '--logdir', folder])
    return result, time.perf_counter() - start


def batch(args):
    """Aggregate env steps per second for each K, medians of --repeats rounds; each
    round runs the largest K's seeds singly (K single runs are the first K of them),
    then each K together."""
    sizes = [int(k) for k in args.batch_sizes.split(',')]
    flags = ['--max_iter_num', str(args.batch_episodes), '--goal_score', 'inf',
             '--device', args.device]
    timed_main(train_seeds.main, ['--seeds', str(args.seed), '--max_iter_num', '1'])  # warm up
    singles, together = [], {k: [] for k in sizes}
    for repeat in range(args.repeats):
        singles.append([timed_main(train.main, ['--seed', str(args.seed + i), *flags])
                        for i in range(max(sizes))])
        for k in sizes:
            results, seconds = timed_main(train_seeds.main, [
                '--seeds', '{}-{}'.format(args.seed, args.seed + k - 1), *flags])
            together[k].append(sum(r['steps'] for r in results) / seconds)
        print('  round {}: single runs {:.0f} steps/s; {}'.format(
            repeat + 1, rate(singles[-1]), ', '.join('K={} {:.0f}'.format(k, together[k][-1])
                                                    for k in sizes)), flush=True)
    costs = update_costs(sizes, args.device)
    print('\n{} episodes of Pendulum per seed, --device {}, one thread; medians of {} rounds:'
          .format(args.batch_episodes, args.device, args.repeats))
    print('| K | K seeds together, steps/s | K single runs, steps/s | speed-up | per step of '
          'all K seeds: update, sampling, environments, the rest (us) |')
    print('|---|---|---|---|---|')
    for k in sizes:
        alone = statistics.median(rate(runs[:k]) for runs in singles)
        mine = statistics.median(together[k])
        update, sampling, environments = costs[k]
        print('| {} | {:.0f} | {:.0f} | {:.2f}x | {:.0f}, {:.0f}, {:.0f}, {:.0f} |'.format(
            k, mine, alone, mine / alone, update, sampling, environments,
            k * 1e6 / mine - update - sampling - environments))
    print('\n{} Pendulums, one step each: {:.0f} us one after another (as train_seeds.py '
          'steps them), {:.0f} us as a Gymnasium SyncVectorEnv'.format(
              max(sizes), *environment_costs(max(sizes))))


def rate(runs):
    """Steps per second of runs made one after another."""
    return sum(r['steps'] for r, _ in runs) / sum(seconds for _, seconds in runs)


def update_costs(sizes, device, hidden=64):
    """Per K: microseconds of one batched update with its soft update, of drawing the K
    mini-batches, and of stepping the K environments, each timed alone (full buffers,
    batch 64)."""
    return {k: update_cost(k, device, hidden) for k in sizes}


def update_cost(k, device, hidden):
    agents = []
    for seed in range(k):
        torch.manual_seed(seed)
        nets = [Actor(3, 1, hidden), Critic(3, 1, hidden), Actor(3, 1, hidden),
                Critic(3, 1, hidden)]
        for net in nets:
            net.to(device)
        agents.append(Agent(*nets, *(torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
                                     for net in nets[:2])))
    nets = SeedNets(agents)
    buffers = SeedBuffers(range(k), 10000, 3, 1, device)
    buffers.memory[:] = np.random.default_rng(0).standard_normal(buffers.memory.shape)
    buffers.size[:] = 10000
    everyone = np.ones(k, bool)
    mini_batch = buffers.sample(64, everyone)

    def update():
        nets.train_model(mini_batch, 0.99)
        nets.soft_target_update(0.001)
    envs = [gym.make('Pendulum-v1') for _ in range(k)]
    for seed, env in enumerate(envs):
        env.reset(seed=seed)
    actions = np.zeros((k, 1))
    return (per_step(update, 300), per_step(lambda: buffers.sample(64, everyone), 300),
            per_step(lambda: [env.step(a) for env, a in zip(envs, actions)], 300))


def environment_costs(k):
    """Microseconds of one step of k Pendulums: in a list, and in a SyncVectorEnv."""
    envs = [gym.make('Pendulum-v1') for _ in range(k)]
    vector = gym.vector.SyncVectorEnv([lambda env=env: env for env in envs],
                                      autoreset_mode=gym.vector.AutoresetMode.DISABLED)
    actions, rounds = np.zeros((k, 1)), {'list': [], 'vector': []}

    def episode(step):  # 199 steps: within an episode, which a vector env must not pass
        vector.reset(seed=0)
        start = time.perf_counter()
        for _ in range(199):
            step()
        return (time.perf_counter() - start) / 199 * 1e6
    for _ in range(5):
        rounds['list'].append(episode(lambda: [env.step(a) for env, a in zip(envs, actions)]))
        rounds['vector'].append(episode(lambda: vector.step(actions)))
    return statistics.median(rounds['list']), statistics.median(rounds['vector'])


def drift(args):
    """How close each seed in a batch stays to its single train.py run: per seed, the
    episodes' score differences, and the first episode where they differ by more
    than 1 (updates begin at step 65; episode e ends after 200 (e + 1) - 64)."""
    seeds = list(range(args.seed, args.seed + args.seeds))
    flags = ['--max_iter_num', str(args.batch_episodes), '--goal_score', 'inf']
    together, _ = timed_main(train_seeds.main, ['--seeds', '{}-{}'.format(
        seeds[0], seeds[-1]), *flags])
    print('| seed | episode 0: score difference | episodes 0-4: largest difference | first '
          'episode apart by more than 1 |')
    print('|---|---|---|---|')
    for result in together:
        single, _ = timed_main(train.main, ['--seed', str(result['seed']), *flags])
        differences = [abs(a - b) for a, b in zip(result['scores'], single['scores'])]
        apart = next((e for e, d in enumerate(differences) if d > 1), None)
        print('| {} | {:.1e} | {:.1e} | {} |'.format(result['seed'], differences[0],
                                                     max(differences[:5]), apart))
