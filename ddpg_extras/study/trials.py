"""One trial of a seed study: a train.py run in folders of its own, resumed from its
last checkpoint when an earlier attempt was killed, its saved actor scored without
noise. study.py runs trials in Ray workers; here is all a worker does, and what the
study makes of the results (results.csv, the summary table)."""
import argparse
import contextlib
import csv
import glob
import importlib.util
import io
import os
import shutil
import statistics

import torch

from ddpg_extras.run.checkpoints import cohort_entries, is_whole, number, read_flags, run_ended
from ddpg_extras.run.checks import is_count, parse_flags, plain_name, quietly, seeds_name
from ddpg_extras.run.files import (
    SEEDS_CHECKPOINT,
    WriteFailed,
    Writes,
    atomic_write,
    first_free,
    is_checkpoint,
    read_model_file,
    read_whole_json,
    write_json,
)
from ddpg_extras.run.landscape import MEASURES
from ddpg_extras.run.training import ended_run
from ddpg_extras.study.guard import Outside, check_tree, inside, leads_outside
from ddpg_extras.study.search import Reporter

KEPT = ('env_name', 'reached_goal', 'episodes', 'steps', 'seconds', 'score_avg', 'model',
        'run_dir', 'error')
# On Pendulum, how far the final actor and critic are from the truth (a run's last
# landscape); kept where the run has them, and not asked of a trial's files written before
GAPS = MEASURES
# the project's folder: test.py scores the actors; Ray's workers import the project from it
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLUMNS = ('config', 'env_name', 'seed', 'reached_goal', 'episodes', 'steps', 'seconds',
           'score_avg', 'actor_score', 'actor_score_std', *GAPS, 'node', 'node_ip', 'attempts',
           'flags', 'run_dir', 'model', 'error')


# What a trial's result.json must hold, besides its configuration and seed, to count.
ROW_KEYS = ('reached_goal', 'episodes', 'score_avg', 'actor_score', 'error')


def is_text(value):
    return isinstance(value, str)


# Of what a trial's trained.json and result.json hold, what each value must be where it
# is given (None aside, but for reached_goal): read back from a file handed over, a row
# is used only where it is what a trial writes.
KINDS = {'reached_goal': lambda v: isinstance(v, bool), 'episodes': is_count, 'steps': is_count,
         'attempts': is_count, **dict.fromkeys(('seconds', 'score_avg', 'actor_score',
                                                'actor_score_std') + GAPS, number),
         **dict.fromkeys(('env_name', 'error', 'model', 'run_dir', 'flags', 'node',
                          'node_ip'), is_text)}


def well_typed(row):
    """Whether each value of a trial's row that KINDS names is of its kind."""
    return all(row.get(key) is None and key != 'reached_goal' or kind(row.get(key))
               for key, kind in KINDS.items())


def trial_dir(out, config, seed):
    return os.path.join(out, 'trials', config, 'seed{}'.format(seed))


def group_dir(out, config, seeds, together):
    """Where a trial trains: the seed's folder, or one folder for seeds trained together."""
    if not together:
        return trial_dir(out, config, seeds[0])
    return os.path.join(out, 'trials', config, 'seeds' + seeds_name(seeds))


def run_trial(out, config, flags, seeds, scoring=(100, 10000), deck_loop=False, together=False,
              tuning=None):
    """Train (or go on training) one configuration with one seed (train.py) or, together,
    with seeds (train_seeds.py); returns their rows of results.csv, each also
    written to its seed's result.json, each saved actor scored over the study's
    starts (scoring: episodes, first reset seed). A stop (Ctrl-C reaching the worker, SIGTERM)
    returns {'stopped': True} after the training saved its checkpoints; a file that could
    not be written, {'failed': the line that says which}. Only what the trial's files do
    not hold whole is done again. tuning: (trial number, pruner, sign) of a tuning's
    trial (study.py --tune), whose seeds report their running average to the pruner
    (ddpg_extras/study/search.py); a pruned one returns {'pruned': episodes, 'node': ...}."""
    folder = group_dir(out, config, seeds, together)
    try:
        escapes(out, config, seeds, together)  # (the driver checked the whole folder)
        os.makedirs(inside(out, folder), exist_ok=True)
        attempts = count_attempt(out, folder)
        trained_path = os.path.join(folder, 'trained.json')
        trained, _ = read_trained(folder, len(seeds))
        pruned_path = os.path.join(folder, 'pruned.json')
        pruned, _ = read_whole_json(pruned_path, is_pruned)
        if pruned:  # pruned by an attempt killed before the driver heard it
            return pruned
        if trained is None:  # else an attempt was killed while scoring
            report = Reporter(out, *tuning) if tuning else None
            trained = train_run(out, folder, flags, seeds, deck_loop, together, report)
            if trained is None:
                return {'stopped': True}
            if report and report.pruned:
                pruned = {'pruned': report.pruned, 'node': where()[0],
                          'seconds': max(t.get('seconds') or 0 for t in trained)}
                write_json(inside(out, pruned_path), pruned)
                return pruned
            write_json(inside(out, trained_path), trained)
        rows = []
        for seed, seed_trained in zip(seeds, in_folder(folder, trained)):
            row = seed_row(out, config, flags, seed, seed_trained, attempts, scoring)
            if row is None:
                return {'stopped': True}
            rows.append(row)
        return rows
    except Outside as e:  # a link planted since the driver looked
        return {'failed': e.line}
    except WriteFailed as e:  # the training's last line says which file, and why
        return {'failed': e.message.split('error: ', 1)[-1]}
    except OSError as e:
        return {'failed': 'could not write {}: {}'.format(e.filename or folder,
                                                          e.strerror or e)}


def escapes(out, config, seeds, together):
    """Outside where a path the trial writes (its folders, their files, what lies below
    them) would lead outside the study folder through a link."""
    folder = group_dir(out, config, seeds, together)
    for path in (os.path.join(out, 'trials'), os.path.dirname(folder)):
        if os.path.lexists(path):
            inside(out, path)
    for path in [folder] + [trial_dir(out, config, seed) for seed in seeds]:
        check_tree(out, path)


def is_pruned(pruned):
    """Whether a trial's pruned.json holds what a pruned trial writes there."""
    return (isinstance(pruned, dict) and is_count(pruned.get('pruned'))
            and isinstance(pruned.get('node', ''), str)
            and (pruned.get('seconds') is None or number(pruned['seconds'])))


def read_trained(folder, n):
    """(what the trial's training reached, one dict per seed, or None; what is wrong
    with its trained.json)."""
    def valid(trained):  # file names of the trial's own (in_folder)
        return (isinstance(trained, list) and len(trained) == n
                and all(isinstance(t, dict) and set(KEPT) <= set(t) and well_typed(t)
                        for t in trained)
                and all(t[key] is None or plain_name(os.path.basename(t[key]))
                        for t in trained for key in ('model', 'run_dir')))
    trained, problem = read_whole_json(os.path.join(folder, 'trained.json'),
                                       lambda t: valid([t] if isinstance(t, dict) else t))
    if isinstance(trained, dict):  # written by an earlier version, for one seed
        trained = [trained]
    return trained, problem


def in_folder(folder, trained):
    """What each seed's training reached, its saved actor and log where the trial keeps
    them, in its folder's save_model/ and logs/: the study folder may have moved since
    trained.json was written, and nothing read from it leads elsewhere."""
    return [dict(t, model=t['model'] and os.path.join(folder, 'save_model',
                                                      os.path.basename(t['model'])),
                 run_dir=t['run_dir'] and os.path.join(folder, 'logs',
                                                       os.path.basename(t['run_dir'])))
            for t in trained]


def seed_row(out, config, flags, seed, trained, attempts, scoring):
    """One seed's row, its saved actor scored (None if a signal stopped the scoring)."""
    path = os.path.join(trial_dir(out, config, seed), 'result.json')
    row = finished(out, config, seed)
    if row:  # scored by an attempt killed before the others were
        return row
    actor_score = actor_score_std = None
    if trained.get('model'):  # none from a run that diverged
        try:
            actor_score, actor_score_std = score_actor(trained['model'], *scoring)
        except SystemExit:  # test.py stopped by the signal: score it next time
            return None
    node, node_ip = where()
    row = dict(trained, config=config, flags=' '.join(flags), seed=seed, node=node,
               node_ip=node_ip, attempts=attempts, actor_score=actor_score,
               actor_score_std=actor_score_std)
    for key in ('run_dir', 'model'):  # within the study folder, which may move
        row[key] = row.get(key) and os.path.relpath(row[key], out)
    os.makedirs(inside(out, os.path.dirname(path)), exist_ok=True)
    write_json(inside(out, path), row)
    return row


def count_attempt(out, folder):
    """Note this attempt in the trial's attempts file (one line each: the Ray node it
    runs on, and the process); returns how many there have been."""
    path = inside(out, os.path.join(folder, 'attempts'))
    try:
        with open(path, 'rb') as f:  # whatever it holds: only its lines are counted
            lines = f.read().decode(errors='replace').splitlines()
    except FileNotFoundError:
        lines = []
    lines.append('{} {}'.format(where()[0] or '-', os.getpid()))
    text = '\n'.join(lines) + '\n'
    atomic_write(path, lambda f: f.write(text.encode()))
    return len(lines)


def train_run(out, folder, flags, seeds, deck_loop=False, together=False, report=None):
    """train.main in this process (train_seeds.main for seeds together; with deck_loop,
    the deck's loop as published: ddpg_extras/baseline/deck_ddpg.py), its output in the
    trial's train.log: a list of what each seed reached, or None if it was stopped. It goes on
    from the trial's checkpoint where that reads back whole; a damaged one is kept
    aside, and the trial starts over. report: a tuning trial's (train_seeds.main's)."""
    if deck_loop:
        train_main = deck_loop_main
    elif together:
        from train_seeds import main as train_main
    else:
        from train import main as train_main
    save_path, logdir = os.path.join(folder, 'save_model'), os.path.join(folder, 'logs')
    # one thread per trial, whatever the default (trials fill the cores instead)
    argv = [*flags, '--seeds' if together else '--seed', ','.join(map(str, seeds)),
            '--save_path', save_path, '--logdir', logdir, '--threads', '1']
    with open(inside(out, os.path.join(folder, 'train.log')), 'a') as log, \
            contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        checkpoint, state, problem = trial_checkpoint(folder, together, flags)
        if problem:
            print('{}; the trial starts over, and keeps it as {}'.format(
                problem, set_aside_damaged(out, checkpoint)))
            checkpoint = None
        if checkpoint and not together and run_ended(state, state['args']['max_iter_num'],
                                                     state['args']['goal_score']):
            writes = Writes()  # its end was cut short: make it from the checkpoint
            result = ended_run(checkpoint, state, argparse.Namespace(**dict(
                state['args'], save_path=save_path, logdir=logdir)), writes)
            writes.end('the checkpoint {} holds the whole run'.format(checkpoint))
            return [kept(result)]
        if checkpoint:  # an earlier attempt was killed, or the study stopped: go on from there
            argv += ['--load_model', checkpoint]
        else:  # an attempt killed before its first checkpoint leaves only a partial log
            shutil.rmtree(inside(out, logdir), ignore_errors=True)
        try:
            results = train_main(argv, report) if report else train_main(argv)
        except KeyboardInterrupt:  # stopped before train.py caught the signal itself
            return None
        except WriteFailed:
            raise
        except SystemExit as e:  # a stop (130, 143), a divergence
            if e.code in (130, 143):
                return None
            error = e.code if isinstance(e.code, str) else (
                'training exited with status {}; see its train.log'.format(e.code))
            return [dict(dict.fromkeys(KEPT), reached_goal=False, error=error)] * len(seeds)
    if together:  # every seed's, those that ended before a stop included
        results = [next(r for r in results if r['seed'] == seed) for seed in seeds]
    return [kept(result) for result in (results if together else [results])]


def kept(result):
    """What trained.json keeps of a run's result."""
    return {key: result.get(key) for key in KEPT + GAPS}


def trial_checkpoint(folder, together, flags):
    """(path, state, problem) of the trial's checkpoint: train.py's, or for seeds
    together, train_seeds.py's batch file; problem says what is wrong where it does not
    read back whole (a batch file's seeds' checkpoints included), or where its flags are
    not what train.py takes with the trial's own (flags). (None, None, None) where there
    is none."""
    found = glob.glob(os.path.join(folder, 'save_model', '*.seeds.pth' if together
                                   else '*.checkpoint.pth'))
    if not found:
        return None, None, None
    path = found[0]
    try:
        state = read_model_file(path)
    except ValueError as e:
        return path, None, str(e).split(';')[0]
    import train
    given = parse_flags(train.parser, flags)[1]  # an --env_name module:Env, where they name it
    if together:
        return path, state, batch_problem(path, state, given)
    return path, state, run_problem(path, state, given)


def run_problem(path, state, given):
    """What is wrong with a run's checkpoint, or None."""
    if not (is_checkpoint(state) and is_whole(state)):
        return '{} is not a whole checkpoint'.format(path)
    import train
    return quietly(lambda: read_flags(path, state['args'], train.parser, given))[1]


def batch_problem(path, state, given):
    """What is wrong with a batch file, or its seeds' checkpoints, or None. A seed that
    had saved no checkpoint when the batch stopped lacks none: it starts again."""
    if not (isinstance(state, dict) and state.get('format') == SEEDS_CHECKPOINT):
        return '{} is not a whole batch checkpoint'.format(path)
    entries, problem = quietly(lambda: cohort_entries(path, state))
    if problem:
        return problem.split(' (')[0]
    for entry in entries:  # the seeds that resume from their own checkpoints
        seed_path = os.path.join(os.path.dirname(path), entry['checkpoint'])
        if entry['ended'] not in (None, 'stopped') or (
                entry.get('saved') is False and not os.path.exists(seed_path)):
            continue
        try:
            seed_state = read_model_file(seed_path)
        except ValueError as e:
            return str(e).split(';')[0]
        problem = run_problem(seed_path, seed_state, given)
        if problem:
            return problem
    return None


def deck_loop_main(argv):
    """main() for a trial of study.py --deck_loop: the deck's loop as published
    (ddpg_extras/baseline/deck_ddpg.py) with train.py's flags (the deck's, with --seed,
    --save_path and --logdir), and a result shaped like train.main's."""
    import train
    from ddpg_extras.baseline import deck_ddpg
    args = train.parser.parse_args(argv)
    torch.set_num_threads(args.threads or 1)
    os.makedirs(args.save_path, exist_ok=True)
    result = deck_ddpg.main(args, logdir=args.save_path, save_final=True)
    return dict(result, env_name=args.env_name, run_dir=None)  # log/score only: no curves


def set_aside_damaged(out, path):
    """Keep a damaged file under a name of its own (path.damaged, path.damaged.2, ...)."""
    kept_as = first_free(path + '.damaged', (path + '.damaged.{}').format)
    os.replace(inside(out, path), inside(out, kept_as))
    return kept_as


def score_actor(model, episodes, seed):
    """The saved actor's score (mean, standard deviation) over `episodes` episodes
    without noise from reset seeds seed, seed + 1, ..., as test.py reports it."""
    spec = importlib.util.spec_from_file_location('watch', os.path.join(ROOT, 'test.py'))
    watch = importlib.util.module_from_spec(spec)  # (a module named test would be Python's)
    spec.loader.exec_module(watch)
    with contextlib.redirect_stdout(open(os.devnull, 'w')):
        scores = watch.main(['--load_model', model, '--no_render', '--episodes', str(episodes),
                             '--seed', str(seed)])
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
    """The trial's row if it has finished (its result.json reads back whole), else None."""
    return read_result(out, config, seed)[0]


def read_result(out, config, seed):
    """(the trial's row or None, what is wrong with its result.json)."""
    return read_whole_json(
        os.path.join(trial_dir(out, config, seed), 'result.json'),
        lambda row: (isinstance(row, dict) and row.get('config') == config
                     and row.get('seed') == seed and set(ROW_KEYS) <= set(row)
                     and well_typed(row)
                     and all(row.get(key) is None
                             or not leads_outside(out, os.path.join(out, row[key]))
                             for key in ('model', 'run_dir'))))


def trial_notes(out, config, flags, seeds, together):
    """One line for a trial whose files are damaged: which, and what is done again."""
    folder = group_dir(out, config, seeds, together)
    problems = ['{} is {}'.format(os.path.join(trial_dir(out, config, seed), 'result.json'),
                                  problem) for seed in seeds
                for problem in [read_result(out, config, seed)[1]] if problem != 'missing']
    trained, problem = read_trained(folder, len(seeds))
    if trained is not None:
        redo = 'its saved actor is scored again'
    else:
        if problem != 'missing':
            problems.append('{} is {}'.format(os.path.join(folder, 'trained.json'), problem))
        checkpoint, state, damage = trial_checkpoint(folder, together, flags)
        if damage:
            problems.append(damage)
            redo = 'it starts over, and keeps the damaged file aside'
        elif checkpoint:
            redo = 'it goes on from its checkpoint {}'.format(checkpoint)
        else:
            redo = 'it starts over'
    if not problems:
        return None
    return '{} seed {}: {}; {}'.format(config, ','.join(map(str, seeds)),
                                       '; '.join(problems), redo)


def results_problem(path):
    """What keeps results.csv from parsing as a study writes it, or None (none too)."""
    try:
        with open(path, newline='') as f:
            table = list(csv.reader(f, strict=True))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        return str(e)
    if not table or not table[0] or table[0][0] != 'config':
        return 'no header line of columns, config first'
    for line_number, line in enumerate(table[1:], 2):
        if len(line) != len(table[0]):
            return 'line {} has {} fields, and the header {}'.format(line_number, len(line),
                                                                    len(table[0]))
    return None


def write_results(out, rows):
    """results.csv in the study folder out: one row per trial."""
    path = inside(out, os.path.join(out, 'results.csv'))
    text = io.StringIO()
    writer = csv.DictWriter(text, COLUMNS, extrasaction='ignore', lineterminator='\n')
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, lambda f: f.write(text.getvalue().encode()))
