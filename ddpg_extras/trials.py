"""One trial of a seed study: a train.py run in folders of its own, resumed from its
last checkpoint when an earlier attempt was killed, its saved actor scored without
noise. study.py runs trials in Ray workers; here is all a worker does, and what the
study makes of the results (results.csv, the summary table)."""
import contextlib
import csv
import glob
import importlib.util
import io
import os
import shutil
import statistics
import sys

from ddpg_extras.checks import seeds_name
from ddpg_extras.files import atomic_write, read_json, write_json

KEPT = ('env_name', 'reached_goal', 'episodes', 'steps', 'seconds', 'score_avg', 'model',
        'run_dir', 'error')
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = ('config', 'env_name', 'seed', 'reached_goal', 'episodes', 'steps', 'seconds',
           'score_avg', 'actor_score', 'actor_score_std', 'node', 'node_ip', 'attempts',
           'flags', 'run_dir', 'model', 'error')


def trial_dir(out, config, seed):
    return os.path.join(out, 'trials', config, 'seed{}'.format(seed))


def group_dir(out, config, seeds, together):
    """Where a trial trains: the seed's folder, or one folder for seeds trained together."""
    if not together:
        return trial_dir(out, config, seeds[0])
    return os.path.join(out, 'trials', config, 'seeds' + seeds_name(seeds))


def run_trial(out, config, flags, seeds, score_episodes=100, deck_loop=False, together=False):
    """Train (or go on training) one configuration with one seed (train.py) or, together,
    with seeds (train_seeds.py); returns their rows of results.csv, each also
    written to its seed's result.json. A stop (Ctrl-C reaching the worker, SIGTERM)
    returns {'stopped': True} after the training saved its checkpoints."""
    folder = group_dir(out, config, seeds, together)
    os.makedirs(folder, exist_ok=True)
    attempts = count_attempt(folder)
    trained_path = os.path.join(folder, 'trained.json')
    if not os.path.exists(trained_path):  # else an attempt was killed while scoring
        trained = train_run(folder, flags, seeds, deck_loop, together)
        if trained is None:
            return {'stopped': True}
        write_json(trained_path, trained)
    trained_seeds = read_json(trained_path)
    if isinstance(trained_seeds, dict):  # written by an earlier version, for one seed
        trained_seeds = [trained_seeds]
    rows = []
    for seed, trained in zip(seeds, trained_seeds):
        row = seed_row(out, config, flags, seed, trained, attempts, score_episodes)
        if row is None:
            return {'stopped': True}
        rows.append(row)
    return rows


def seed_row(out, config, flags, seed, trained, attempts, score_episodes):
    """One seed's row, its saved actor scored (None if a signal stopped the scoring)."""
    path = os.path.join(trial_dir(out, config, seed), 'result.json')
    if os.path.exists(path):  # scored by an attempt killed before the others were
        return read_json(path)
    actor_score = actor_score_std = None
    if trained.get('model'):  # none from a run that diverged, nor from the deck's short of its goal
        try:
            actor_score, actor_score_std = score_actor(trained['model'], score_episodes)
        except SystemExit:  # test.py stopped by the signal: score it next time
            return None
    node, node_ip = where()
    row = dict(trained, config=config, flags=' '.join(flags), seed=seed, node=node,
               node_ip=node_ip, attempts=attempts, actor_score=actor_score,
               actor_score_std=actor_score_std)
    for key in ('run_dir', 'model'):  # within the study folder, which may move
        row[key] = row.get(key) and os.path.relpath(row[key], out)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_json(path, row)
    return row


def count_attempt(folder):
    """Note this attempt in the trial's attempts file (one line each: the Ray node it
    runs on, and the process); returns how many there have been."""
    path = os.path.join(folder, 'attempts')
    lines = open(path).read().splitlines() if os.path.exists(path) else []
    lines.append('{} {}'.format(where()[0] or '-', os.getpid()))
    text = '\n'.join(lines) + '\n'
    atomic_write(path, lambda f: f.write(text.encode()))
    return len(lines)


def train_run(folder, flags, seeds, deck_loop=False, together=False):
    """train.main in this process (train_seeds.main for seeds together; with deck_loop,
    the deck's loop as published: benchmarks/deck_ddpg.py), its output in the trial's
    train.log: a list of what each seed reached, or None if it was stopped."""
    if deck_loop:
        sys.path.insert(0, os.path.join(ROOT, 'benchmarks'))
        from deck_ddpg import study_main as train_main
    elif together:
        from train_seeds import main as train_main
    else:
        from train import main as train_main
    save_path, logdir = os.path.join(folder, 'save_model'), os.path.join(folder, 'logs')
    # one thread per trial, whatever the default (trials fill the cores instead)
    argv = [*flags, '--seeds' if together else '--seed', ','.join(map(str, seeds)),
            '--save_path', save_path, '--logdir', logdir, '--threads', '1']
    checkpoints = glob.glob(os.path.join(save_path, '*.seeds.pth' if together
                                         else '*.checkpoint.pth'))
    if checkpoints:  # an earlier attempt was killed, or the study stopped: go on from there
        argv += ['--load_model', checkpoints[0]]
    else:  # an attempt killed before its first checkpoint leaves only a partial log
        shutil.rmtree(logdir, ignore_errors=True)
    with open(os.path.join(folder, 'train.log'), 'a') as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            results = train_main(argv)
        except KeyboardInterrupt:  # stopped before train.py caught the signal itself
            return None
        except SystemExit as e:  # a stop (130, 143), a divergence, a failed save (1)
            if e.code in (130, 143):
                return None
            error = e.code if isinstance(e.code, str) else (
                'training exited with status {}; see its train.log'.format(e.code))
            return [{'reached_goal': False, 'error': error, 'model': None}] * len(seeds)
    if together:  # every seed's, those that ended before a stop included
        results = [next(r for r in results if r['seed'] == seed) for seed in seeds]
    return [{key: result.get(key) for key in KEPT} for result in
            (results if together else [results])]


def score_actor(model, episodes):
    """The saved actor's score (mean, standard deviation) over `episodes` episodes
    without noise, as test.py reports it."""
    spec = importlib.util.spec_from_file_location('watch', os.path.join(ROOT, 'test.py'))
    watch = importlib.util.module_from_spec(spec)  # (a module named test would be Python's)
    spec.loader.exec_module(watch)
    with contextlib.redirect_stdout(open(os.devnull, 'w')):
        scores = watch.main(['--load_model', model, '--no_render', '--episodes', str(episodes)])
    return statistics.fmean(scores), statistics.pstdev(scores)


def where():
    """(Ray node id, its IP address), or ('', '') outside Ray."""
    try:
        import ray
    except ImportError:
        return '', ''
    if not ray.is_initialized():
        return '', ''
    return ray.get_runtime_context().get_node_id(), ray.util.get_node_ip_address()


def finished(out, config, seed):
    """The trial's row if it has finished, else None."""
    path = os.path.join(trial_dir(out, config, seed), 'result.json')
    return read_json(path) if os.path.exists(path) else None


def write_results(path, rows):
    """results.csv: one row per trial."""
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda f: f.write(text.getvalue().encode()))


def summary_table(configs, rows):
    """Per configuration: reached/total, median and worst episodes to the goal, median
    seconds, and the saved actors' noiseless score (median; worst), over the trials
    that reached the goal."""
    lines = ['| configuration | flags | reached | median episodes | worst episodes | '
             'median seconds | saved actors, no noise (median; worst) |',
             '|---|---|---|---|---|---|---|']
    for name, flags in configs:
        runs = [row for row in rows if row['config'] == name]
        reached = [row for row in runs if row['reached_goal']]
        episodes = [row['episodes'] for row in reached]
        scores = [row['actor_score'] for row in reached]
        lines.append('| {} | {} | {}/{} | {} | {} | {} | {} |'.format(
            name, '`{}`'.format(' '.join(flags)) if flags else 'default flags',
            len(reached), len(runs),
            '{:.0f}'.format(statistics.median(episodes)) if reached else '-',
            max(episodes) if reached else '-',
            '{:.0f}'.format(statistics.median(row['seconds'] for row in reached))
            if reached else '-',
            '{:.0f}; {:.0f}'.format(statistics.median(scores), min(scores)) if reached else '-'))
    return '\n'.join(lines)

