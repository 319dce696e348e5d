"""Benchmarks: the project's training loop against the deck's
(ddpg_extras/baseline/deck_ddpg.py) and Stable-Baselines3's DDPG, with the deck's
settings, on one CPU thread each.

    python benchmarks/bench.py speed            # env steps per second, and where they go
    python benchmarks/bench.py goal             # wall-clock to the deck's goal, one seed
    python benchmarks/bench.py seeds            # how many of 10 seeds reach the goal (study.py)
    python benchmarks/bench.py study            # Ray's start-up; trials per hour, 1 and 2 workers
    python benchmarks/bench.py threads          # train.py's wall and CPU time by --threads
    python benchmarks/bench.py batch            # K seeds in one process (train_seeds.py)
    python benchmarks/bench.py drift            # each seed of a batch against its single run
    python benchmarks/bench.py statistics       # a study's interval estimates and figures
    python benchmarks/bench.py coverage         # how often a 95% interval of n runs holds the IQM
    python benchmarks/bench.py landscape        # what the landscapes cost the default run

The machine's noise is handled by alternating the contenders, repeating, and
quoting medians and ratios measured in the same run.
"""
import argparse
import contextlib
import functools
import io
import os
import random
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, 'benchmarks')]

import numpy as np  # noqa: E402
import torch  # noqa: E402

import train  # noqa: E402
from ddpg_extras.baseline import deck_ddpg  # noqa: E402
from ddpg_extras.run import fast_update  # noqa: E402
from timing import per_step  # noqa: E402


def one_thread():
    torch.set_num_threads(1)


def run_project(seed, episodes=None, flags=()):
    """train.py as users run it, in this process; returns its result dict."""
    folder = tempfile.mkdtemp(prefix='bench_')
    argv = ['--seed', str(seed), '--save_path', folder, '--logdir', folder, *flags]
    if episodes:  # a speed run: a fixed number of episodes, the goal out of reach
        argv += ['--max_iter_num', str(episodes), '--goal_score', '1e9']
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = train.main(argv)
    result['seconds'] = time.perf_counter() - start
    return result


def run_deck(seed, episodes=None):
    budget = ['--max_iter_num', str(episodes), '--goal_score', '1e9'] if episodes else []
    return deck_ddpg.main(train.parser.parse_args(['--seed', str(seed), *budget]))


def run_sb3(seed, episodes):
    """Stable-Baselines3 DDPG with the deck's settings: 64x64 networks, batch 64,
    tau 0.001, OU noise (theta 0.15, sigma 0.2), one gradient step per env step."""
    import gymnasium as gym
    from stable_baselines3 import DDPG
    from stable_baselines3.common.noise import OrnsteinUhlenbeckActionNoise
    env = gym.make('Pendulum-v1')
    noise = OrnsteinUhlenbeckActionNoise(mean=np.zeros(1), sigma=0.2 * np.ones(1),
                                         theta=0.15, dt=1.0)
    model = DDPG('MlpPolicy', env, learning_rate=1e-3, buffer_size=10000, learning_starts=64,
                 batch_size=64, tau=0.001, gamma=0.99, train_freq=1, gradient_steps=1,
                 action_noise=noise, policy_kwargs={'net_arch': [64, 64]}, seed=seed,
                 device='cpu', verbose=0)
    start = time.perf_counter()
    model.learn(total_timesteps=episodes * 200)
    return {'steps': episodes * 200, 'seconds': time.perf_counter() - start}


def have_sb3():
    try:
        import stable_baselines3  # noqa: F401
        return True
    except ImportError:
        return False


def breakdown():
    """Cost of each part of one training step, each timed alone with a full buffer
    (10,000 transitions), for the project's code and the deck's."""
    import gymnasium as gym

    from ddpg_extras.run.fast_update import forward_saving
    from model import Actor, Critic
    from utils import OUNoise, get_action, soft_target_update
    env = gym.make('Pendulum-v1')
    state, _ = env.reset(seed=0)
    low, high = env.action_space.low, env.action_space.high
    rows = {}

    # the project
    torch.manual_seed(0)
    nets = [Actor(3, 1), Critic(3, 1), Actor(3, 1), Critic(3, 1)]
    optimizers = [torch.optim.Adam(net.parameters(), lr=1e-3, fused=True) for net in nets[:2]]
    noise = OUNoise(1, 0.15, 0.0, 0.2)
    buffer = train.ReplayBuffer(10000, 3, 1, seed=0)
    transition = (state, np.zeros(1), -1.0, state, 1)
    for _ in range(10000):
        buffer.append(transition)

    def act():  # as train.py acts
        with torch.inference_mode():
            policy, _ = forward_saving(nets[0], torch.as_tensor(state, dtype=torch.float32))
        return get_action(policy, noise)
    batch = buffer.sample(64)
    rows['acting'] = [per_step(act)]
    rows['env step'] = [per_step(lambda: env.step(np.clip(np.zeros(1), low, high)))]
    rows['buffer (store, sample, batch assembly)'] = [
        per_step(lambda: buffer.append(transition)) + per_step(lambda: buffer.sample(64))]
    critic_part, actor_part = split_update(
        lambda: fast_update.fast_train_model(*nets, *optimizers, batch, 0.99), optimizers[1])
    rows['critic update'], rows['actor update'] = [critic_part], [actor_part]
    rows['target update'] = [per_step(lambda: soft_target_update(*nets, 0.001))]

    # the deck
    args = train.parser.parse_args([])
    nets = [deck_ddpg.Actor(3, 1, args), deck_ddpg.Critic(3, 1, args),
            deck_ddpg.Actor(3, 1, args), deck_ddpg.Critic(3, 1, args)]
    optimizers = [torch.optim.Adam(net.parameters(), lr=1e-3) for net in nets[:2]]
    noise = deck_ddpg.OUNoise(1, 0.15, 0.0, 0.2)
    deck_state = np.reshape(state, [1, 3])
    deck_buffer = []
    for _ in range(10000):
        deck_buffer.append((deck_state, np.zeros((1, 1)), np.array([-1.0]), deck_state, 1))
    from collections import deque
    deck_buffer = deque(deck_buffer, maxlen=10000)
    mini_batch = random.sample(deck_buffer, 64)
    rows['acting'].append(per_step(lambda: deck_ddpg.get_action(
        nets[0](torch.Tensor(deck_state)), noise)))
    rows['env step'].append(per_step(lambda: env.step(np.zeros((1, 1)))))
    assembly, critic_part, actor_part = split_update(
        lambda: deck_ddpg.train_model(args, *nets, *optimizers, mini_batch), optimizers[1],
        first_critic_call=nets[1])
    rows['buffer (store, sample, batch assembly)'].append(
        per_step(lambda: deck_buffer.append(deck_buffer[0]))
        + per_step(lambda: random.sample(deck_buffer, 64)) + assembly)
    rows['critic update'].append(critic_part)
    rows['actor update'].append(actor_part)
    rows['target update'].append(per_step(lambda: deck_ddpg.soft_target_update(*nets, 0.001)))
    return rows


def split_update(update, critic_optimizer, first_critic_call=None, n=500):
    """Time one train_model call in parts: (batch assembly,) critic update, actor
    update. The critic's optimizer step ends the critic update (the project steps it
    through fast_update.adam_step, the deck through optimizer.step()); for the deck, its
    first critic forward ends the batch assembly that its train_model does first."""
    marks = []

    def mark(*_):
        marks.append(time.perf_counter())

    def adam_step(optimizer):
        original(optimizer)
        if optimizer is critic_optimizer:
            mark()
    original, fast_update.adam_step = fast_update.adam_step, adam_step
    handles = [critic_optimizer.register_step_post_hook(mark)]
    if first_critic_call is not None:
        handles.append(first_critic_call.register_forward_pre_hook(
            lambda *_: None if marks else mark()))
    parts = []
    try:
        for _ in range(n):
            marks.clear()
            start = time.perf_counter()
            update()
            end = time.perf_counter()
            parts.append(np.diff([start, *marks[:2], end]) * 1e6)
    finally:
        fast_update.adam_step = original
        for handle in handles:
            handle.remove()
    return list(np.median(parts[n // 10:], axis=0))


def speed(args):
    contenders = {'project': run_project}
    contenders.update((name, functools.partial(run_project, flags=flags.split()))
                      for name, _, flags in (c.partition('=') for c in args.config))
    contenders['deck'] = run_deck
    if have_sb3():
        contenders['sb3'] = run_sb3
    else:
        print('Stable-Baselines3 is not installed: pip install -r benchmarks/requirements.txt')
    episodes = args.steps // 200
    rates = {name: [] for name in contenders}
    for repeat in range(args.repeats):
        for name, run in contenders.items():
            result = run(args.seed, episodes)
            rates[name].append(result['steps'] / result['seconds'])
            print('  round {} {:8s} {:7.0f} steps/s'.format(repeat + 1, name, rates[name][-1]),
                  flush=True)
    median = {name: statistics.median(r) for name, r in rates.items()}
    print('\nenv steps per second, median of {} rounds of {} steps, one thread:'.format(
        args.repeats, episodes * 200))
    for name in contenders:
        print('  {:8s} {:7.0f}'.format(name, median[name]))
    for name in contenders:
        if name != 'project':
            print('  project / {}: {:.1f}x'.format(name, median['project'] / median[name]))
    print('\nwhere one training step goes (microseconds, each part timed alone):')
    print('  {:40s} {:>8s} {:>8s}'.format('', 'project', 'deck'))
    rows = breakdown()
    for name, (mine, deck) in rows.items():
        print('  {:40s} {:8.0f} {:8.0f}'.format(name, mine, deck))
    print('  {:40s} {:8.0f} {:8.0f}'.format('total', *np.sum(list(rows.values()), axis=0)))


def goal(args):
    print('wall-clock to the goal (100-episode mean > -300), seed {}, default flags:'.format(
        args.seed))
    contenders = [('project', run_project)] + [
        (name, functools.partial(run_project, flags=flags.split()))
        for name, _, flags in (c.partition('=') for c in args.config)] + [('deck', run_deck)]
    results = {}
    for name, run in contenders:
        results[name] = result = run(args.seed)
        print('  {:8s} {}: {} episodes, {} steps, {:.0f} s'.format(
            name, 'reached' if result['reached_goal'] else 'NOT reached', result['episodes'],
            result['steps'], result['seconds']), flush=True)
    for name, _ in contenders[:-1]:
        print('  {} / deck wall-clock: {:.2f} (the deck takes {:.1f}x as long)'.format(
            name, results[name]['seconds'] / results['deck']['seconds'],
            results['deck']['seconds'] / results[name]['seconds']))


def seeds(args):
    """Each configuration over the same seeds, as a study on this machine (study.py, on
    Ray): who reaches the goal, how fast, and how good the saved actor is without noise.
    The deck's loop runs as a study of its own, unless --no_deck."""
    import study
    folder = tempfile.mkdtemp(prefix='bench_seeds_')
    common = ['--seeds', '{}-{}'.format(args.seed, args.seed + args.seeds - 1),
              '--workers', str(args.jobs)]
    configs = ['--config', 'defaults=']
    for config in args.config + ([] if args.no_deck else ['deck=--deck_loop']):
        configs += ['--config', config]
    study.main(configs + common + ['--out', folder])


def statistics_time(args):
    """The time a study of --seeds seeds x 4 configurations spends on its statistics
    (ddpg_extras/study/summary.py) and its three figures, on scores and curves drawn at random
    in the shapes of Pendulum's (300 episodes per run)."""
    from types import SimpleNamespace

    from ddpg_extras.study import figures, summary
    rng = np.random.default_rng(0)
    names = ['c{}'.format(i) for i in range(4)]
    configs = [(name, []) for name in names]
    rows = [{'config': name, 'seed': seed, 'actor_score': float(rng.normal(-160 - 5 * i, 30)),
             'score_avg': float(rng.normal(-250, 40)), 'reached_goal': bool(rng.random() < 0.9),
             'episodes': int(rng.integers(100, 300)), 'model': 'm', 'error': None}
            for i, name in enumerate(names) for seed in range(args.seeds)]
    runs = {name: [{tag: (list(range(300)), list(np.cumsum(rng.normal(5, 40, 300)) - 1500))
                    for tag in summary.CURVE_TAGS} for _ in range(args.seeds)] for name in names}
    budgets = dict.fromkeys(names, (-300, 500))
    folder = tempfile.mkdtemp(prefix='bench_statistics_')
    times = {'statistics and tables': [], 'curves.png': [], 'profiles.png and improvement.png': []}
    for _ in range(args.repeats):
        start = time.perf_counter()
        found = summary.study_statistics(configs, rows, budgets, names[0])
        summary.tables(configs, found, budgets, names[0], '')
        times['statistics and tables'].append(time.perf_counter() - start)
        start = time.perf_counter()
        figures.curves_png(os.path.join(folder, 'curves.png'), runs, summary.CURVE_TAGS)
        times['curves.png'].append(time.perf_counter() - start)
        start = time.perf_counter()
        summary.write_report(folder, '', configs, rows, budgets, SimpleNamespace(
            baseline=None, score_episodes=100, score_seed=10000, x='episodes'))
        times['profiles.png and improvement.png'].append(
            time.perf_counter() - start - times['statistics and tables'][-1])
    print('{} seeds x 4 configurations, medians of {} rounds:'.format(args.seeds, args.repeats))
    for what, seconds in times.items():
        print('  {}: {:.1f} s'.format(what, statistics.median(seconds)))


def coverage(args):
    """How often the study's 95% interval of the IQM (estimates.interval, rliable's
    stratified bootstrap) holds the true IQM, by the number of runs n: studies drawn
    from a population shaped like DDPG's saved actors on Pendulum (most near -150, one
    in five failing far below). Why a study needs estimates.MIN_RUNS runs for one."""
    from scipy.stats import trim_mean

    from ddpg_extras.study import estimates
    rng = np.random.default_rng(args.seed)

    def draw(n):
        good = rng.random(n) < 0.8
        return np.where(good, rng.normal(-150, 10, n), rng.normal(-400, 150, n))
    truth = trim_mean(draw(1_000_000), 0.25)
    _, metrics = estimates.rliable()
    estimates.MIN_RUNS = 1  # every n gets its bootstrap here, to be measured
    print('{} studies per n, {} bootstrap draws each; the true IQM is {:.1f}'.format(
        args.studies, args.reps, truth))
    for n in (2, 3, 4, 5, 6, 8, 10):
        held = 0
        for _ in range(args.studies):
            _, low, high = estimates.interval(estimates.runs(draw(n)), lambda s: np.array(
                [metrics.aggregate_iqm(s)]), reps=args.reps)
            held += low[0] <= truth <= high[0]
        print('  n = {:2d}: the 95% interval holds it in {:.0%} of studies'.format(
            n, held / args.studies), flush=True)


def landscape_cost(args):
    """What the landscapes (every 20 episodes, by default on Pendulum) cost the default
    run: its wall time with them and with --landscape_interval 0, alternated, each run
    to the goal in a process of its own; and, once, solving the optimum without its
    cache (a new discount or machine)."""
    from ddpg_extras.run.optimum import solve
    start = time.perf_counter()
    solve(0.99)
    print('the optimum, solved (no cache): {:.2f} s'.format(time.perf_counter() - start))
    setup, per_log = one_landscape_log()
    print('set up once a run (the optimum from its cache, the frames): {:.2f} s; one log of '
          'the three pictures, V^mu and the four numbers: {:.1f} ms (the median of 20; the '
          'default run logs 9)'.format(setup, 1000 * per_log))
    timed('train.py', '--max_iter_num', 1, '--save_path', tempfile.mkdtemp(), '--logdir',
          tempfile.mkdtemp())  # the cache made, and the imports warm
    ratios, without = [], []
    for repeat in range(args.repeats):
        seconds = {}
        for interval in (20, 0):
            folder = tempfile.mkdtemp(prefix='bench_landscape_')
            seconds[interval] = timed('train.py', '--landscape_interval', interval,
                                      '--save_path', folder, '--logdir', folder)[0]
        ratios.append(seconds[20] / seconds[0])
        without.append(seconds[0])
        print('  round {}: {:.1f} s with the landscapes, {:.1f} s without: {:+.1%}'.format(
            repeat + 1, seconds[20], seconds[0], ratios[-1] - 1), flush=True)
    print('the default run with its landscapes takes {:+.1%} of its time without them '
          '(the median of {} rounds); the set-up and the 9 logs themselves, {:.1%}'.format(
              statistics.median(ratios) - 1, args.repeats,
              (setup + 9 * per_log) / statistics.median(without)))


def one_landscape_log():
    """(seconds to set up a run's Landscape, seconds that Landscape.log takes: the
    median of 20, V^mu from the last log's as in a run), in this process, for new
    networks and a real event file."""
    from ddpg_extras.run.landscape import Landscape
    from ddpg_extras.run.writer import RunWriter
    from model import Actor, Critic
    torch.set_num_threads(1)
    start = time.perf_counter()
    landscape = Landscape(0.99)
    setup = time.perf_counter() - start
    writer = RunWriter(tempfile.mkdtemp(prefix='bench_landscape_'))
    actor, critic = Actor(3, 1), Critic(3, 1)  # the deck's sizes
    seconds = []
    for episode in range(20):
        start = time.perf_counter()
        landscape.log(writer, episode, actor, critic)
        seconds.append(time.perf_counter() - start)
    writer.writer.close()
    return setup, statistics.median(seconds)


def timed(script, *args):
    """(wall, CPU) seconds of `python script args...` in a fresh process, as a user runs
    it: the threads are the script's own choice (no OMP_NUM_THREADS)."""
    import resource
    import subprocess
    env = {k: v for k, v in os.environ.items() if k != 'OMP_NUM_THREADS'}
    before, start = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, script), *map(str, args)], check=True,
                   stdout=subprocess.DEVNULL, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (time.perf_counter() - start, after.ru_utime + after.ru_stime
            - before.ru_utime - before.ru_stime)


def threads(args):
    """`python train.py` at 1, 2 and all cores' threads (--threads), for hidden sizes 64
    and 256: the whole process's wall and CPU time, alternating, medians of --repeats."""
    counts = sorted({1, 2, os.cpu_count()})
    runs = {}
    for repeat in range(args.repeats):
        for hidden in (64, 256):
            for n in counts:
                folder = tempfile.mkdtemp(prefix='bench_threads_')
                runs.setdefault((hidden, n), []).append(timed(
                    'train.py', '--hidden_size', hidden, '--threads', n, '--max_iter_num',
                    args.thread_episodes, '--goal_score', 'inf', '--save_path', folder,
                    '--logdir', folder))
                print('  round {} hidden {} threads {}: {:.1f} s wall, {:.1f} s CPU'.format(
                    repeat + 1, hidden, n, *runs[hidden, n][-1]), flush=True)
    print('\n`python train.py --max_iter_num {}` ({} steps), whole process, medians of {} '
          'rounds:'.format(args.thread_episodes, args.thread_episodes * 200, args.repeats))
    print('| hidden size | threads | wall s | CPU s | wall / 1 thread | CPU / 1 thread |')
    print('|---|---|---|---|---|---|')
    for (hidden, n), times in runs.items():
        wall, cpu = (statistics.median(t) for t in zip(*times))
        one_wall, one_cpu = (statistics.median(t) for t in zip(*runs[hidden, 1]))
        print('| {} | {} | {:.1f} | {:.1f} | {:.2f} | {:.2f} |'.format(
            hidden, n, wall, cpu, wall / one_wall, cpu / one_cpu))


def study_costs(args):
    """What a study on Ray costs on this machine: Ray's start-up against a single
    train.py run of the same trial, and trials per hour with 1 and with 2 workers."""
    episodes, trials = args.study_episodes, args.study_trials
    flags = '--max_iter_num {} --goal_score inf'.format(episodes)
    seeds = '{}-{}'.format(args.seed, args.seed + trials - 1)
    single, one_trial, per_hour = [], [], {1: [], 2: []}
    for repeat in range(args.repeats):
        folder = tempfile.mkdtemp(prefix='bench_study_')
        single.append(timed('train.py', *flags.split(), '--save_path', folder, '--logdir',
                            folder)[0])
        one_trial.append(timed('study.py', '--config', 'a=' + flags, '--seeds', args.seed,
                               '--workers', 1, '--score_episodes', 1, '--out',
                               os.path.join(folder, 'one'))[0])
        for workers in (1, 2):
            seconds = timed('study.py', '--config', 'a=' + flags, '--seeds', seeds, '--workers',
                            workers, '--score_episodes', 1, '--out',
                            os.path.join(folder, 'workers{}'.format(workers)))[0]
            per_hour[workers].append(trials * 3600 / seconds)
        print('  round {}: train.py {:.1f} s, the same trial as a study {:.1f} s; {} trials: '
              '{:.0f}/h with 1 worker, {:.0f}/h with 2'.format(
                  repeat + 1, single[-1], one_trial[-1], trials, per_hour[1][-1],
                  per_hour[2][-1]), flush=True)
    median = statistics.median
    print('\nmedians of {} rounds, trials of {} episodes of Pendulum:'.format(args.repeats,
                                                                          episodes))
    print('  one train.py run: {:.1f} s; the same trial through study.py: {:.1f} s; Ray\'s '
          'start-up and the scoring: {:.1f} s'.format(median(single), median(one_trial),
                                                     median(one_trial) - median(single)))
    print('  trials per hour: {:.0f} with 1 worker, {:.0f} with 2 workers ({:.2f}x)'.format(
        median(per_hour[1]), median(per_hour[2]), median(per_hour[2]) / median(per_hour[1])))


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0], allow_abbrev=False)
    parser.add_argument('mode', choices=['speed', 'goal', 'seeds', 'study', 'threads', 'batch',
                                         'drift', 'statistics', 'coverage', 'landscape'])
    parser.add_argument('--seed', type=int, default=500, help='the (first) seed')
    parser.add_argument('--steps', type=int, default=12000,
                        help='speed: env steps per round (the buffer fills at 10,000)')
    parser.add_argument('--repeats', type=int, default=3, help='speed: rounds per contender')
    parser.add_argument('--seeds', type=int, default=10, help='seeds, drift: how many seeds')
    parser.add_argument('--jobs', type=int, default=2, help='seeds: runs at a time')
    parser.add_argument('--config', action='append', default=[], metavar='NAME=FLAGS',
                        help='a configuration of train.py flags to run beside the defaults, e.g. '
                             '"recipe=--tanh_actor --tau 0.005" or "autograd=--deck_update" '
                             '(repeatable)')
    parser.add_argument('--thread_episodes', type=int, default=60,
                        help='threads: episodes per run')
    parser.add_argument('--study_episodes', type=int, default=50,
                        help='study: episodes per trial')
    parser.add_argument('--study_trials', type=int, default=8,
                        help='study: trials per study, for the trials per hour')
    parser.add_argument('--batch_sizes', default='1,2,4,8,16', metavar='K,K,...',
                        help='batch: the numbers of seeds to train together')
    parser.add_argument('--batch_episodes', type=int, default=20,
                        help='batch, drift: episodes per seed')
    parser.add_argument('--device', default='cpu', help='batch: where the networks train')
    parser.add_argument('--studies', type=int, default=400,
                        help='coverage: studies drawn for each number of runs')
    parser.add_argument('--reps', type=int, default=500,
                        help='coverage: bootstrap draws per interval')
    parser.add_argument('--no_deck', action='store_true',
                        help="seeds: leave out the deck's loop (the slowest)")
    args = parser.parse_args()
    one_thread()
    if args.mode in ('batch', 'drift'):
        from batch_speed import batch, drift
    else:
        batch = drift = None
    {'speed': speed, 'goal': goal, 'seeds': seeds, 'study': study_costs, 'threads': threads,
     'batch': batch, 'drift': drift, 'statistics': statistics_time,
     'coverage': coverage, 'landscape': landscape_cost}[args.mode](args)
