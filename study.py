"""Seed studies on Ray: configurations x seeds of train.py runs, on this machine or on
a Ray cluster (not in the deck).

    python study.py --seeds 500-509                                   # the defaults, 10 seeds
    python study.py --config "defaults=" --config "recipe=--tanh_actor --tau 0.005"
    python study.py --out studies/<folder>                            # finish a stopped study
    tensorboard --logdir studies/<folder>                             # every trial's curves

Each trial is `python train.py` with its own seed and folders, one thread, in a Ray
worker. Ray retries a trial whose worker or node dies; the trial then resumes from its
last checkpoint. A study stopped (Ctrl-C) or killed finishes when run again. It ends
with interval estimates of every configuration (rliable; ddpg_extras/study/summary.py).
"""
import argparse
import os
import sys
import time

from ddpg_extras.run.checks import (
    HelpFormatter,
    as_argv,
    command,
    fail,
    is_count,
    parse_seeds,
    positive_int,
    quietly,
)
from ddpg_extras.run.files import read_whole_json, write_json
from ddpg_extras.study import tuning
from ddpg_extras.study.cluster import check_address, import_ray, outcome, start_ray
from ddpg_extras.study.configs import budget, check_scoring, parse_configs, stored_configs, trainer
from ddpg_extras.study.guard import check_tree, inside
from ddpg_extras.study.ownership import FolderLock
from ddpg_extras.study.stops import (
    last_line,
    shut_down,
    stop_as_ctrl_c,
    stop_signals,
    stop_tasks,
)
from ddpg_extras.study.summary import write_report
from ddpg_extras.study.trials import (
    ROOT,
    finished,
    results_problem,
    run_trial,
    trial_notes,
    write_results,
)

parser = argparse.ArgumentParser(
    description='Run train.py over configurations x seeds on Ray, and summarise them.',
    formatter_class=HelpFormatter, allow_abbrev=False)  # a flag is its whole name
study = parser.add_argument_group('the study')
study.add_argument('--config', action='append', metavar='NAME=FLAGS',
                    help='a configuration: a name, =, then train.py flags (any but --seed, '
                         '--save_path, --logdir, --load_model, --render and --threads), and '
                         'this configuration\'s own --deck_loop or --seeds_per_trial K; '
                         'repeatable. '
                         'Default: one configuration, "defaults", of the default flags')
study.add_argument('--seeds', default=None, metavar='LIST',
                    help='seeds for every configuration: ranges and lists, e.g. 500-509 or '
                         '500,503,510-512 (default: 500-509)')
study.add_argument('--out', default=None, metavar='FOLDER',
                    help="the study's folder (default: studies/<configurations>_<date>-<time>); "
                         'an existing study folder finishes what it lacks')
study.add_argument('--deck_loop', action='store_true',
                    help="each trial runs the deck's loop as published "
                         "(ddpg_extras/baseline/deck_ddpg.py, with its bugs, no checkpoints) "
                         "instead of train.py: a baseline")
study.add_argument('--seeds_per_trial', type=positive_int, default=None, metavar='K',
                    help='seeds trained together in one process per trial (train_seeds.py): '
                         'more seeds per hour per core (docs/studies.md); results.csv keeps '
                         'one row per seed (default: 1, or the study\'s)')
study.add_argument('--score_episodes', type=positive_int, default=None,
                    help="noiseless episodes that score each trial's saved actor, every actor "
                         "from the same starts (default: 100, or the study's)")
study.add_argument('--score_seed', type=int, default=None,
                    help="the scoring episodes start from reset seeds SCORE_SEED, "
                         "SCORE_SEED + 1, ..., apart from every training seed (default: 10000, "
                         "or the study's)")
study.add_argument('--baseline', default=None, metavar='NAME',
                    help='the configuration the others are compared with (default: the first)')
study.add_argument('--x', choices=('episodes', 'steps'), default='episodes',
                    help="curves.png's x axis")
study.add_argument('--take_over', action='store_true',
                    help='take the study folder over from a driver on another host that is '
                         'gone (one on this host is detected when it dies); never while it runs')

cluster = parser.add_argument_group('where the trials run: Ray')
cluster.add_argument('--address', default=None,
                    help='an existing Ray cluster (host:port of its head, or auto); without '
                         'it, Ray starts on this machine for the study and stops at its end')
cluster.add_argument('--workers', type=positive_int, default=os.cpu_count(),
                    help='without --address: trials at a time on this machine')
cluster.add_argument('--retries', type=int, default=3,
                    help='times Ray retries a trial whose worker or node died')

tuning.add_flags(parser.add_argument_group(
    'tuning: an Optuna search of a configuration\'s flags (--tune N)'))

def open_study(args):
    """(out, configs, seeds, the study's flags): a new study folder, or an existing one
    given the same configurations and seeds (or none, to finish it as it was). The
    flags are args with the study's settings, a new namespace. Nothing is made or
    changed: a new study's study.json is written once its folder is owned."""
    out = args.out
    study = read_study(out) if out else None
    if isinstance(args.confirm_seeds, str):  # as given
        args = argparse.Namespace(**dict(vars(args), confirm_seeds=parse_seeds(
            args.confirm_seeds)))
    if study is None:
        configs, seeds = parse_configs(args.config), parse_seeds(default_seeds(args))
        if args.tune is None:
            tuning.refuse_flags(args, 'is for a tuning: add --tune N and --search')
        elif args.deck_loop or any(trainer(flags)[1] for _, flags in configs):
            fail("--tune searches train.py's flags, trained by train_seeds.py: drop "
                 '--deck_loop')
        elif args.seeds_per_trial is None:  # the confirmation's seeds, ten at a time
            args = argparse.Namespace(**dict(vars(args), seeds_per_trial=10))
        args = argparse.Namespace(**dict(vars(args), **{
            flag: default if getattr(args, flag) is None else getattr(args, flag)
            for flag, default in settings(args.tune)}))
        for _, flags in configs:  # a deck's loop of seeds together is refused
            trainer(flags, args)
        if args.tune:
            args = tuning.check(args, configs, seeds)
        out = out or os.path.join('studies', '{}{}_{}'.format(
            'tuning-' if args.tune else '', '-'.join(name for name, _ in configs)[:60],
            time.strftime('%Y%m%d-%H%M%S')))
        return out, configs, check_scoring(args, configs, seeds), args
    path = os.path.join(out, 'study.json')
    kept = stored_settings(path, study)  # checked as if typed
    given = None
    if args.config is not None or args.seeds is not None:
        given = parse_configs(args.config), parse_seeds(default_seeds(args))
    configs = stored_configs(path, study['configs'], given and given[0])
    if args.deck_loop and not kept['deck_loop']:
        fail('{} is a study of train.py, not of the deck\'s loop; drop --deck_loop, or '
             'choose a new --out'.format(out))
    if not kept['tune']:
        tuning.refuse_flags(args, 'is for a tuning, and {} is a study; drop it, or choose a '
                                  'new --out'.format(out))
    else:
        tuning.import_optuna()
    for flag, _ in settings(kept['tune']):  # a study keeps how it trains and scores
        if getattr(args, flag) not in (None, kept[flag]):
            fail('{} is a study with --{} {}; drop --{}, or choose a new --out'.format(
                out, flag, kept[flag], flag))
    if given is not None and given != (configs, study['seeds']):
        fail('{} is a study of other configurations or seeds ({}; seeds {}); run it with '
             'the same ones, or none, or choose a new --out'.format(
                 out, ', '.join(name for name, _ in configs), seeds_text(study['seeds'])))
    args = argparse.Namespace(**dict(vars(args), **kept))
    return out, configs, check_scoring(args, configs, study['seeds']), args


def stored_settings(path, study):
    """What a study's study.json (path) keeps of how it trains and scores, with the
    defaults of what it lacks, each checked by study.py's parser as if typed; one line
    naming the file where the command line would refuse one."""
    kept = dict({flag: study.get(flag, default) for flag, default in
                 settings(study.get('tune'))}, deck_loop=study.get('deck_loop', False),
                tune=study.get('tune'))
    search, confirm = kept.pop('search', None), kept.pop('confirm_seeds', None)
    argv = as_argv(parser, kept)
    if search is not None:  # texts, or a flag without its value: refused
        argv += (['--search={}'.format(text) for text in search] if isinstance(search, list)
                 and all(isinstance(text, str) for text in search) else ['--search'])
    if confirm is not None:
        argv.append('--confirm_seeds={}'.format(','.join(map(str, confirm)) if isinstance(
            confirm, list) else confirm))
    parsed, problem = quietly(lambda: parser.parse_args(argv))
    if not problem and confirm is not None:
        confirm, problem = quietly(lambda: parse_seeds(parsed.confirm_seeds))
    unset = [] if problem else [flag for flag in kept
                                if flag != 'tune' and getattr(parsed, flag) is None]
    if unset:  # null where a study keeps a value
        problem = 'it holds no value of --{}'.format(unset[0])
    if problem:
        fail('{} holds settings that the command line would refuse: {}; nothing was changed. '
             'Restore it from a copy, or choose a new --out'.format(path, problem))
    kept = {flag: getattr(parsed, flag) for flag in kept}
    if study.get('tune'):
        kept.update(search=search, confirm_seeds=confirm)
    return kept


# What a study keeps in its study.json, with the defaults of a new one
SETTINGS = (('seeds_per_trial', 1), ('score_episodes', 100), ('score_seed', 10000))


def settings(tune):
    """What a study keeps, and a tuning (tune: its trials) besides (tuning.SETTINGS)."""
    return SETTINGS + (tuning.SETTINGS if tune else ())


def default_seeds(args):
    return '500-509' if args.seeds is None else args.seeds  # --seeds '' is refused


def read_study(out):
    """An existing study's study.json (None if there is none), or one line for a damaged
    study.json or a results.csv that does not parse. Reads only."""
    path = os.path.join(out, 'study.json')
    study, problem = read_whole_json(path, lambda s: (
        isinstance(s, dict) and isinstance(s.get('seeds'), list) and s['seeds']
        and all(is_count(seed) for seed in s['seeds']) and len(set(s['seeds'])) == len(s['seeds'])
        and isinstance(s.get('configs'), list)
        and all(isinstance(c, list) and len(c) == 2 for c in s['configs'])))
    if problem == 'missing':
        return None
    if problem:
        fail('{} is {}; nothing was changed. Restore it from a copy, or move it away and run '
             'the study\'s command again with its --config and --seeds: the trials that '
             'finished are kept'.format(path, problem))
    problem = results_problem(os.path.join(out, 'results.csv'))
    if problem:
        fail('{} does not parse ({}); nothing was changed. It is made anew from the trials\' '
             'result.json files: move it away and run the study again'.format(
                 os.path.join(out, 'results.csv'), problem))
    return study


def seeds_text(seeds):
    return ','.join(map(str, seeds))


def resume_command(out, *switches):
    return command('study.py', out=out, **dict.fromkeys(switches, True))


def run_trials(ray, out, todo, args, total):
    """Run the trials on Ray, one line for each as it finishes. Returns (the signals that
    stopped it, the first first, failed)."""
    from tqdm import tqdm
    task = ray.remote(run_trial).options(num_cpus=1, max_retries=args.retries)
    refs = {task.remote(os.path.abspath(out), name, flags, seeds,
                        (args.score_episodes, args.score_seed), deck_loop, k > 1): (name, seeds)
            for name, flags, seeds, deck_loop, k in todo}
    bar = tqdm(total=total, initial=total - sum(len(seeds) for _, _, seeds, _, _ in todo),
               unit='trial', file=sys.stdout, dynamic_ncols=True, disable=not sys.stdout.isatty())
    say = print if bar.disable else bar.write
    pending, failed = list(refs), []
    with stop_signals() as stopped:
        while pending and not stopped:
            # back in Python every second, so that a Ctrl-C is seen however Ray waits
            ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
            if not ready:
                continue
            name, seeds = refs[ready[0]]
            rows = outcome(ray, ready[0])
            if isinstance(rows, dict) and 'failed' in rows:  # a file unwritten; Ray gave up
                failed.append(rows['failed'])
                say('{} seed {}: {}'.format(name, seeds_text(seeds), rows['failed']))
                continue
            for row in rows if isinstance(rows, list) else []:  # not {'stopped': True}
                bar.update()
                say(trial_line(row))
        bar.close()
        if stopped:
            stop_tasks(ray, pending, stopped)
    return list(stopped), failed


def trial_line(row):
    outcome = ('goal after {} episodes'.format(row['episodes']) if row['reached_goal'] else
               row['error'] if row.get('error') else
               'no goal after {} episodes'.format(row['episodes']))
    return '{} seed {}: {} ({:.0f} s){}, node {}, attempt {}'.format(
        row['config'], row['seed'], outcome, row.get('seconds') or 0,
        '' if row['actor_score'] is None else ', saved actor {:.1f}'.format(row['actor_score']),
        (row.get('node') or '')[:8], row.get('attempts'))


def write_outputs(out, configs, seeds, rows, total, args):
    """results.csv, and the interval estimates of the trials that have finished:
    statistics.csv, summary.md and the figures (ddpg_extras/study/summary.py); returns the
    summary's tables and the files written."""
    write_results(out, rows)
    header = '# Study {}\n\n{} of {} trials finished; seeds {}.'.format(
        os.path.basename(os.path.normpath(out)), len(rows), total, seeds_text(seeds))
    text, written = write_report(out, header, configs, rows, {
        name: budget(flags) for name, flags in configs}, args)
    return text, [os.path.join(out, 'results.csv')] + written


def main(argv=None):
    args = parser.parse_args(argv)
    if args.retries < 0:
        parser.error('--retries must be 0 or more')
    if args.out:  # a link in it that leads outside: one line, before anything is written
        check_tree(args.out)
    ray = import_ray()
    if args.address:
        check_address(args.address)
    out = open_study(args)[0]  # a mistake is refused here, before any folder is made
    if args.address:  # so is a cluster that will not take this driver
        start_ray(ray, args, ROOT)
    try:
        os.makedirs(inside(out, out), exist_ok=True)
    except OSError as e:
        fail('cannot make the study folder {}: {}'.format(out, e.strerror or e))
    try:
        with FolderLock(out, 'study.lock', resume_command(out, 'take_over'), args.take_over):
            # read again, now that this driver owns the folder
            out, configs, seeds, args = open_study(argparse.Namespace(**dict(vars(args),
                                                                             out=out)))
            if not os.path.exists(os.path.join(out, 'study.json')):
                write_study(out, configs, seeds, args)
            if args.tune:
                return run_tuning(ray, out, configs, seeds, args)
            return run_study(ray, out, configs, seeds, args)
    except KeyboardInterrupt as stop:  # while no trial ran: the lock let go, the last line
        last_line(stop, 'finish it with: ' + resume_command(out) if os.path.exists(
            os.path.join(out, 'study.json')) else 'nothing was trained')


def write_study(out, configs, seeds, args, root=None):
    """out/study.json; root: the study folder it lies in, where that is not out (a
    tuning's, for its confirmation)."""
    try:
        write_json(inside(root or out, os.path.join(out, 'study.json')), {
            'configs': configs, 'seeds': seeds, 'deck_loop': args.deck_loop,
            **{flag: getattr(args, flag) for flag, _ in settings(getattr(args, 'tune', None))}})
    except OSError as e:
        fail('could not write {}: {}; nothing was trained'.format(
            os.path.join(out, 'study.json'), e.strerror or e))


def run_tuning(ray, out, configs, seeds, args):
    """Run the trials of the search the tuning lacks, write what it found, then confirm
    the best against every configuration on fresh seeds."""
    base = trainer(configs[0][1], args)[0]
    space, defaults = tuning.search_space(args.search, base)
    print('tuning {}: {} trials of {} over {}; seeds {} together in each'.format(
        out, args.tune, args.sampler.upper(), ', '.join(d.text for d in space),
        seeds_text(seeds)), flush=True)
    study = tuning.open_search(out, base, space, args, defaults)  # a damaged one: one line
    stopped = []
    try:  # one Ray for the search and its confirmation; trials at a time: its cores
        if tuning.searching(study, args):  # (a finished one starts no Ray: it only writes)
            if not ray.is_initialized():
                start_ray(ray, args, ROOT)
            slots = max(1, int(ray.cluster_resources().get('CPU', 1)))
            study, stopped = tuning.run_search(ray, out, study, base, seeds, space, args,
                                               defaults, slots)
        if len(stopped) > 1:  # a second signal: quit at once, without the tables
            print('finish the tuning with: {}'.format(resume_command(out)))
            raise SystemExit(128 + stopped[1])
        written, importance = tuning.write_tuning(out, study, space)
        print('\nimportance: {}\nresults: {}'.format(tuning.importance_text(importance),
                                                     ', '.join(written)))
        if stopped:  # a signal, or a trial stopped on its own (SIGTERM to its worker)
            print('{} of {} trials ended; finish the tuning with: {}'.format(
                tuning.ended(study), args.tune, resume_command(out)))
            raise SystemExit(128 + stopped[0] if stopped[0] else 130)
        if tuning.best(study) is None:
            fail('no trial of the tuning completed (see {}); nothing to confirm'.format(
                written[0]))
        return confirm(ray, out, configs, study, args, base, space, defaults)
    finally:
        shut_down(ray)


def confirm(ray, out, configs, study, args, base, space, defaults):
    """The best trial (tuned) and every configuration, as a study on the confirmation's
    seeds in out/confirm; best.md says what it found."""
    best = tuning.best(study)
    flags = tuning.trial_flags(out, best, base, space, defaults)  # read back: checked
    command = tuning.best_md(out, study, args, 'Not confirmed yet: {}.'.format(
        resume_command(out)))
    print('best: {}, {:.1f}: {}'.format(tuning.trial_name(best.number), best.value, command))
    confirm_out = inside(out, os.path.join(out, 'confirm'))
    configs = configs + [('tuned', flags)]
    confirm_args = argparse.Namespace(**dict(vars(args), tune=None))
    os.makedirs(confirm_out, exist_ok=True)
    if not os.path.exists(os.path.join(confirm_out, 'study.json')):
        write_study(confirm_out, configs, args.confirm_seeds, confirm_args, out)
    print('\nthe confirmation, on seeds the search never saw:', flush=True)
    # stopped, its last line gives the command that completes the tuning, best.md too
    rows = run_study(ray, confirm_out, configs, args.confirm_seeds, confirm_args, out)
    with open(os.path.join(confirm_out, 'summary.md')) as f:
        tuning.best_md(out, study, args, f.read().split('\n', 1)[1].strip())
    print('best.md: {}'.format(os.path.join(out, 'best.md')))
    return rows


def run_study(ray, out, configs, seeds, args, resume=None):
    """Run the trials that have not finished, then write the study's outputs. resume:
    the folder whose command finishes it, where that is not out (a tuning's, for its
    confirmation)."""
    trials = [(name, flags, seed) for name, flags in configs for seed in seeds]
    # (name, train.py's flags, seeds trained together in one process, deck's loop, their count)
    todo = [(name, flags, group, deck_loop, k) for name, config_flags in configs
            for flags, deck_loop, k in [trainer(config_flags, args)]
            for group in (seeds[i:i + k] for i in range(0, len(seeds), k))
            if not all(finished(out, name, seed) for seed in group)]
    print('study {}: {} configuration(s) x {} seed(s); {} of {} trials to run{}'.format(
        out, len(configs), len(seeds), sum(len(group) for _, _, group, _, _ in todo),
        len(trials),
        ', {} seeds together in each process'.format(args.seeds_per_trial)
        if args.seeds_per_trial > 1 else ''), flush=True)
    for name, flags, group, _, k in todo:  # what is damaged, and what is done again
        note = trial_notes(out, name, flags, group, k > 1)
        if note:
            print(note, flush=True)
    stopped, failed = [], []
    if todo:
        try:
            if not ray.is_initialized():
                start_ray(ray, args, ROOT)
            stopped, failed = run_trials(ray, out, todo, args, len(trials))
        finally:
            shut_down(ray)  # a Ray started here stops here, with all its processes
    rows = [row for row in (finished(out, name, seed) for name, _, seed in trials) if row]
    end = '{} of {} trials finished; finish the {} with: {}'.format(
        len(rows), len(trials), 'tuning' if resume else 'study', resume_command(resume or out))
    if len(stopped) > 1:  # a second signal: quit at once, without the tables
        print(end)
        raise SystemExit(128 + stopped[1])
    try:
        table, written = write_outputs(out, configs, seeds, rows, len(trials), args)
    except OSError as e:
        table, written = 'the tables were not written', []
        failed.append('could not write the study\'s outputs in {}: {}'.format(
            out, e.strerror or e))
    print('\n{}\nresults: {}; every trial\'s curves: tensorboard --logdir {}'.format(
        table, ', '.join(written) or 'none written', out))
    if stopped or failed:
        unwritten = [why for why in failed if why.startswith('could not write')]
        if unwritten:  # the last line says what could not be written
            fail('{}; {}'.format('; '.join(unwritten), end))
        print(end)
        raise SystemExit(128 + stopped[0] if stopped else 1)
    return rows


if __name__ == '__main__':
    stop_as_ctrl_c()  # SIGTERM and SIGHUP as Ctrl-C, at any moment (ddpg_extras/study/stops.py)
    try:
        main()
    except KeyboardInterrupt as stop:  # before the study's folder: nothing to save
        last_line(stop, "nothing was written")
