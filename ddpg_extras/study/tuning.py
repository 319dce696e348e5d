"""A tuning (study.py --tune, not in the deck): Optuna searches train.py's flags, each
trial one configuration whose seeds train together in one Ray task
(train_seeds.py), its saved actors scored as a study scores them. Optuna's study is
kept in the study folder (ddpg_extras/study/search.py), so a tuning stopped or killed goes
on from the trials it has; study.py then confirms the winner on fresh seeds.

Writes tuning.csv (every trial), history.png (the objective over trials),
importance.png (each flag's importance, by Optuna's own evaluator) and best.md."""
import argparse
import csv
import io
import math
import os
import re
import shlex
import warnings

from ddpg_extras.run.checks import fail
from ddpg_extras.run.files import atomic_write
from ddpg_extras.study.configs import STUDY_FLAGS, check_scoring, config_problem, trainer
from ddpg_extras.study.guard import inside
from ddpg_extras.study.search import (
    JOURNAL,
    NAME,
    base_params,
    flag_values,
    in_space,
    parse_dimension,
    pruner,
    quiet_optuna,
    repair_journal,
    storage,
    suggest,
    with_params,
)
from ddpg_extras.study.trials import run_trial


def add_flags(parser):
    """study.py's flags of a tuning."""
    from ddpg_extras.run.checks import non_negative_int, positive_int
    parser.add_argument('--tune', type=positive_int, default=None, metavar='N',
                        help='tune: N trials of an Optuna search over the --search flags, each '
                             'the first --config with its own values of them, on --seeds '
                             'trained together; then the best and every --config run as a '
                             'study on --confirm_seeds (docs/tuning.md)')
    parser.add_argument('--search', action='append', metavar='FLAG=SPACE',
                        help="a flag of train.py to tune, and where: log(a,b), uniform(a,b), "
                             "int(a,b) or [choice,...] ([on,off] for a switch), e.g. "
                             "'actor_lr=log(1e-4,1e-2)'; repeatable")
    parser.add_argument('--objective', choices=tuple(OBJECTIVES), default=None,
                        help="what a trial scores (default: score): score, the IQM of its "
                             "seeds' saved actors' scores (higher is better); episodes, the IQM "
                             "of their episodes to the goal (fewer is better; a miss counts "
                             "as its --max_iter_num)")
    parser.add_argument('--sampler', choices=('tpe', 'random'), default=None,
                        help="Optuna's sampler (default: tpe)")
    parser.add_argument('--sampler_seed', type=int, default=None,
                        help="the sampler's seed (default: 0)")
    parser.add_argument('--pruner', choices=('median', 'none'), default=None,
                        help="Optuna's median pruner on the trial's running 100-episode average "
                             "(the IQM over its seeds), or none (default: median)")
    parser.add_argument('--prune_startup', type=non_negative_int, default=None, metavar='N',
                        help='trials that complete before any is pruned (default: 5)')
    parser.add_argument('--prune_warmup', type=non_negative_int, default=None, metavar='E',
                        help='episodes a trial plays before it can be pruned; it is '
                             'checked then, and every 10 episodes after (default: a third of '
                             "the first --config's --max_iter_num)")
    parser.add_argument('--confirm_seeds', default=None, metavar='LIST',
                        help='the seeds of the confirmation, apart from --seeds (default: the '
                             'ten after the last of --seeds)')


# What a tuning keeps in its study.json, with the defaults of a new one
SETTINGS = (('tune', None), ('search', None), ('objective', 'score'), ('sampler', 'tpe'),
            ('sampler_seed', 0), ('pruner', 'median'), ('prune_startup', 5),
            ('prune_warmup', None), ('confirm_seeds', None))

OBJECTIVES = {  # (Optuna's direction, the sign of what a trial reports to the pruner)
    'score': ('maximize', 1),  # the IQM of the seeds' saved actors' scores
    'episodes': ('minimize', -1),  # the IQM of the seeds' episodes to the goal
}


def trial_name(number):
    """A trial's configuration name, and its folder in trials/."""
    return 'trial{:03d}'.format(number)


def open_search(out, base_flags, space, args, defaults):
    """Optuna's study in the folder: loaded, or made with the configuration's own
    values as its first trial."""
    import optuna
    quiet_optuna()
    prune, journal = pruner(pruning(args)), os.path.join(out, JOURNAL)
    entries = repair_journal(out)  # a cut-short last line set aside, before anything is added
    if not entries and os.path.isdir(os.path.join(out, 'trials')):
        fail('{} is {}, and {} holds trials whose flags only it records; nothing was '
             'changed. Restore it from a copy, or tune again with a new --out'.format(
                 journal, 'missing' if not os.path.exists(journal) else 'empty',
                 os.path.join(out, 'trials')))
    damaged = ('{} does not read back ({}); nothing was changed. Restore it from a copy, or '
               'tune again with a new --out')
    try:  # Optuna replays every entry here: one that does not fit raises any kind of error
        store = storage(out)
    except Exception as e:  # (AssertionError, KeyError, ValueError, TypeError, ...)
        fail(damaged.format(journal, ' '.join('{}: {}'.format(type(e).__name__, e).split())))
    try:
        study = optuna.load_study(study_name=NAME, storage=store, pruner=prune)
    except KeyError:  # a new tuning
        if entries:  # entries, yet no tuning in them
            fail('{} holds no tuning; nothing was changed. Restore it from a copy, or tune '
                 'again with a new --out'.format(journal))
        import train
        study = optuna.create_study(study_name=NAME, storage=store, pruner=prune,
                                    direction=OBJECTIVES[args.objective][0])
        study.enqueue_trial(base_params(space, vars(train.parser.parse_args(base_flags)),
                                        defaults))
    if [d.name.lower() for d in study.directions] != [OBJECTIVES[args.objective][0]]:
        fail(damaged.format(journal, 'its tuning does not {} one objective'.format(
            OBJECTIVES[args.objective][0])))
    Sampler = optuna.samplers.TPESampler if args.sampler == 'tpe' else optuna.samplers.RandomSampler
    options = dict(constant_liar=True) if args.sampler == 'tpe' else {}  # trials in parallel
    # a resumed tuning's sampler is seeded afresh, lest it draw its first trials again
    study.sampler = Sampler(seed=args.sampler_seed + asked(study), **options)
    check_trials(out, study, base_flags, space, defaults)
    return study


def check_trials(out, study, base_flags, space, defaults):
    """The flags of the trials that train again (running), are confirmed (complete) or
    that the sampler learns from (those and the pruned), read back from the journal,
    checked before Ray starts. A trial that a killed driver asked for but never gave
    flags to never trained: it is failed."""
    from optuna.trial import Trial, TrialState
    for trial in study.get_trials(deepcopy=False, states=(
            TrialState.RUNNING, TrialState.COMPLETE, TrialState.PRUNED)):
        if trial.state == TrialState.RUNNING and not {'params', 'flags', 'seeds'} <= set(
                trial.user_attrs):
            live = Trial(study, trial._trial_id)
            live.set_user_attr('error', 'never started: the driver stopped before it gave '
                                        'the trial its flags')
            study.tell(live, state=TrialState.FAIL)
            continue
        trial_flags(out, trial, base_flags, space, defaults)
        values = trial.values
        if trial.state == TrialState.COMPLETE and not (
                isinstance(values, list) and len(values) == 1
                and isinstance(values[0], float) and math.isfinite(values[0])):
            fail('{} holds {}, complete, whose objective is {!r}, not one number; it is '
                 'damaged. Restore it from a copy, or tune again with a new --out'.format(
                     os.path.join(out, JOURNAL), trial_name(trial.number), values))


def pruning(args):
    return None if args.pruner == 'none' else (args.prune_startup, args.prune_warmup)


def run_search(ray, out, study, base_flags, seeds, space, args, defaults, slots):
    """Ask, run and tell trials of Optuna's study (open_search) until the tuning has
    args.tune of them, slots at a time; the trials a stopped or killed driver left
    running go on first, from their checkpoints. Returns (Optuna's study, [the signals]
    that stopped it, the first first, or [0] where a trial was stopped on its own: those
    go on when it is run again; [] if it ended)."""
    import optuna

    from ddpg_extras.study.cluster import outcome
    from ddpg_extras.study.stops import stop_signals, stop_tasks
    task = ray.remote(run_trial).options(num_cpus=1, max_retries=args.retries)
    running, refs = optuna.trial.TrialState.RUNNING, {}

    def submit(trial, flags):
        refs[task.remote(os.path.abspath(out), trial_name(trial.number), flags,
                         seeds, (args.score_episodes, args.score_seed), False, True,
                         (trial.number, pruning(args), OBJECTIVES[args.objective][1]))] = trial
    for frozen in study.get_trials(deepcopy=False, states=(running,)):  # read back: checked
        submit(optuna.trial.Trial(study, frozen._trial_id),
               trial_flags(out, frozen, base_flags, space, defaults))
    with stop_signals() as stopped:
        while not stopped:
            while len(refs) < slots and asked(study) < args.tune:
                trial = study.ask()
                params = suggest(trial, space)  # as they train: floats to 3 digits
                trial.set_user_attr('params', params)
                flags = with_params(base_flags, params, defaults)
                trial.set_user_attr('flags', flags)
                trial.set_user_attr('seeds', ','.join(map(str, seeds)))
                submit(trial, flags)
            if not refs:  # a trial stopped on its own (SIGTERM) is left running
                return study, [0] if any(t.state == running for t in study.get_trials(
                    deepcopy=False)) else []
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)  # Ctrl-C is seen
            for ref in ready:
                print(tell(study, refs.pop(ref), outcome(ray, ref), args), flush=True)
        stop_tasks(ray, list(refs), stopped)  # each saves its checkpoints; it stays running
    return study, list(stopped)


def trial_flags(out, trial, base_flags, space, defaults):
    """A trial's flags as the journal holds them, once they are the ones that the
    configuration (base_flags) and the trial's values, in the search space, give: read
    back from a file, they are checked before they train. One line naming it else."""
    params, flags = trial.user_attrs.get('params'), trial.user_attrs.get('flags')
    seeds, drawn = trial.user_attrs.get('seeds'), trial.params  # (what the sampler drew)
    if not (isinstance(params, dict) and set(params) == set(drawn) == {d.flag for d in space}
            and all(in_space(d, params[d.flag], drawn[d.flag]) for d in space)
            and flags == with_params(base_flags, params, defaults)
            and isinstance(seeds, str) and re.fullmatch(r'\d+(,\d+)*', seeds)):
        fail('{} holds {} with flags that the tuning\'s configuration and search space do '
             'not give; nothing was trained: it is damaged, or not made by this program. '
             'Restore it from a copy, or tune again with a new --out'.format(
                 os.path.join(out, JOURNAL), trial_name(trial.number)))
    return flags


def asked(study):
    """The tuning's trials so far, those under way included (not one only enqueued)."""
    import optuna
    return sum(t.state != optuna.trial.TrialState.WAITING
               for t in study.get_trials(deepcopy=False))


def searching(study, args):
    """Whether the search has trials to run: fewer than args.tune asked, or one left
    running by a driver that stopped (run_search goes on with it first)."""
    import optuna
    return asked(study) < args.tune or any(
        t.state == optuna.trial.TrialState.RUNNING for t in study.get_trials(deepcopy=False))


def tell(study, trial, result, args):
    """Tell Optuna how the trial ended (a stopped one stays running, to go on next
    time), and return its line."""
    from optuna.trial import TrialState
    head = '{} ({})'.format(trial_name(trial.number), ' '.join(
        '{}={}'.format(*item) for item in trial.user_attrs['params'].items()))
    if 'stopped' in result:
        return '{}: stopped; it goes on when the tuning is run again'.format(head)
    if 'pruned' in result:
        trial.set_user_attr('node', result.get('node') or '')
        trial.set_user_attr('seconds', result.get('seconds'))
        study.tell(trial, state=TrialState.PRUNED)
        return '{}: pruned after {} episodes'.format(head, result['pruned'])
    value, error = ((None, result['failed']) if 'failed' in result
                    else objective(result, args, trial.user_attrs['flags']))
    if result and isinstance(result, list):
        trial.set_user_attr('node', result[0].get('node') or '')
        trial.set_user_attr('seconds', max(row.get('seconds') or 0 for row in result))
    if error:
        trial.set_user_attr('error', error)
        study.tell(trial, state=TrialState.FAIL)
        return '{}: failed: {}'.format(head, error)
    study.tell(trial, value)
    return '{}: {} {:.1f}'.format(head, OBJECTIVE_WORDS[args.objective], value)


OBJECTIVE_WORDS = {'score': "IQM of the saved actors' scores",
                   'episodes': 'IQM of the episodes to the goal'}


def objective(rows, args, flags):
    """(the trial's objective, or None and why not) from its seeds' rows: the IQM over
    its seeds (rliable's) of the saved actor's score; or of the episodes to the goal,
    a seed that missed it counting as its whole --max_iter_num."""
    from ddpg_extras.study.estimates import iqm_value
    if args.objective == 'episodes':
        import train
        budget = train.parser.parse_args(flags).max_iter_num
        return iqm_value([row['episodes'] if row['reached_goal'] else budget
                          for row in rows]), None
    for row in rows:  # a seed without a score: the settings are not stable on it
        if row.get('actor_score') is None:
            return None, 'seed {}: {}'.format(row['seed'], row.get('error') or 'no saved actor')
    return iqm_value([row['actor_score'] for row in rows]), None


def attr(trial, key, kind, default):
    """A trial's attribute as the journal holds it, where it is of its kind (a failed or
    pruned trial's are read back, never checked: they do not train again)."""
    value = trial.user_attrs.get(key, default)
    return value if isinstance(value, kind) and not isinstance(value, bool) else default


def state(trial):
    """complete, pruned, failed or running."""
    return 'failed' if trial.state.name == 'FAIL' else trial.state.name.lower()


COLUMNS = ('trial', 'state', 'objective', 'pruned_after', 'flags', 'seeds', 'node',
           'seconds', 'error')


def write_tuning(out, study, space):
    """tuning.csv, history.png and importance.png; returns (the files written, each
    flag's importance, or why there is none)."""
    from optuna.visualization import matplotlib as plots

    from ddpg_extras.study.figures import save
    text = io.StringIO()
    writer = csv.writer(text, lineterminator='\n')
    writer.writerow(COLUMNS[:3] + tuple(d.flag for d in space) + COLUMNS[3:])
    for t in study.get_trials(deepcopy=False):
        steps, complete = sorted(t.intermediate_values), t.state.name == 'COMPLETE'
        writer.writerow([t.number, state(t), t.value if complete else '']
                        + [attr(t, 'params', dict, {}).get(d.flag, '') for d in space]
                        + [steps[-1] if t.state.name == 'PRUNED' and steps else '',
                           ' '.join(map(str, attr(t, 'flags', list, []))),
                           attr(t, 'seeds', str, ''), attr(t, 'node', str, '')[:8],
                           attr(t, 'seconds', (int, float), ''), attr(t, 'error', str, '')])
    written = [inside(out, os.path.join(out, 'tuning.csv'))]
    atomic_write(written[0], lambda f: f.write(text.getvalue().encode()))
    completed = [t for t in study.get_trials(deepcopy=False) if t.state.name == 'COMPLETE']
    if not completed:
        return written, 'no trial has completed'
    written.append(inside(out, os.path.join(out, 'history.png')))
    save(plots.plot_optimization_history(study).figure, written[-1])
    try:
        import optuna
        with warnings.catch_warnings():  # too few trials: all flags equally important
            warnings.simplefilter('ignore')
            importance = optuna.importance.get_param_importances(study)
            figure = plots.plot_param_importances(study).figure
    except (ValueError, RuntimeError) as e:  # none that differ
        return written, 'no importance: {}'.format(e)
    written.append(inside(out, os.path.join(out, 'importance.png')))
    save(figure, written[-1])
    return written, importance


def best(study):
    """The best complete trial, or None."""
    import optuna
    if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        return None
    return study.best_trial


def ended(study):
    import optuna
    return sum(t.state.is_finished() for t in study.get_trials(deepcopy=False)
               if t.state != optuna.trial.TrialState.WAITING)


def importance_text(importance):
    if isinstance(importance, str):
        return importance
    return ', '.join('--{} {:.2f}'.format(flag, value) for flag, value in importance.items())


def import_optuna():
    try:
        import optuna  # noqa: F401
    except ImportError:
        fail('Optuna is not installed, and --tune needs it; install it with: '
             'pip install -r requirements/study.txt')


def best_md(out, study, args, confirmation):
    """best.md: the best trial as a train.py command, and what the confirmation says."""
    best = study.best_trial
    states = [state(t) for t in study.get_trials(deepcopy=False)]
    counts = ', '.join('{} {}'.format(states.count(s), s) for s in ('complete', 'pruned', 'failed')
                       if s in states)
    command = shlex.join(['python', 'train.py', *best.user_attrs['flags']])
    lines = ['# Tuning {}: the best of {} trials'.format(os.path.basename(
        os.path.normpath(out)), len(states)), '',
        '{} ({}); objective: the {} over seeds {}: **{:.1f}**.'.format(
            trial_name(best.number), counts, OBJECTIVE_WORDS[args.objective],
            best.user_attrs['seeds'], best.value), '',
        '| flag | value |', '|---|---|']
    lines += ['| --{} | {} |'.format(*item) for item in best.user_attrs['params'].items()]
    lines += ['', 'Train it:', '', '    ' + command, '',
              '## Confirmed on fresh seeds', '', confirmation, '',
              'A tuned configuration is only as good as this confirmation says. The search '
              'kept the best of {} estimates, each from {} seeds, so its own objective '
              'flatters it; the confirmation, on seeds the search never saw, is the one '
              'to quote.'.format(len(states), len(best.user_attrs['seeds'].split(',')))]
    atomic_write(inside(out, os.path.join(out, 'best.md')), lambda f: f.write(
        ('\n'.join(lines) + '\n').encode()))
    return command


def refuse_flags(args, why):
    for flag, _ in SETTINGS:
        if getattr(args, flag) is not None:
            fail('--{} {}'.format(flag, why))


def check(args, configs, seeds):
    """A new tuning's flags, in one line where one is wrong; returns the flags with the
    confirmation's seeds."""
    import_optuna()
    if not args.search:
        fail('--tune {} needs --search FLAG=SPACE, once for each flag to tune, e.g. --search '
             '"actor_lr=log(1e-4,1e-2)"'.format(args.tune))
    base = trainer(configs[0][1], args)[0]
    if 'tuned' in dict(configs):
        fail('--config tuned: the confirmation calls the tuned configuration so; name it '
             'otherwise')
    search_space(args.search, base)
    if args.prune_warmup is None:  # as rl-baselines3-zoo's: a third of the run
        import train
        args = argparse.Namespace(**dict(vars(args), prune_warmup=train.parser.parse_args(
            base).max_iter_num // 3))
    confirm = args.confirm_seeds or list(range(max(seeds) + 1, max(seeds) + 11))
    if set(confirm) & set(seeds):
        fail('--confirm_seeds holds tuning seed {}: the confirmation needs seeds the search '
             'never saw; give seeds apart from --seeds'.format(min(set(confirm) & set(seeds))))
    check_scoring(args, configs, confirm)
    return argparse.Namespace(**dict(vars(args), confirm_seeds=confirm))


def search_space(texts, base):
    """([Dimension] of --search, train.py's flags and defaults), each dimension checked:
    its flag train.py's and not the study's, searched once, and its ends (or choices)
    taken by train.py with the base configuration's flags (base)."""
    import train
    from ddpg_extras.seeds.cohort import REFUSED
    defaults, space = vars(train.parser.parse_args([])), []
    for text in texts:
        try:
            d = parse_dimension(text, defaults)
        except ValueError as e:
            fail('--search {!r}: {}'.format(text, e))
        if d.flag in STUDY_FLAGS + ('env_name',) or d.flag in dict(REFUSED):
            fail('--search {!r}: --{} is set by the study for every trial (its seeds come from '
                 '--seeds, its trials train one environment, in one thread, through '
                 'train_seeds.py); search another flag'.format(text, d.flag))
        if d.flag in [other.flag for other in space]:
            fail('--search {!r}: --{} is searched twice; give it once'.format(text, d.flag))
        for value in flag_values(d):
            problem = config_problem(with_params(base, {d.flag: value}, defaults))
            if problem:
                fail('--search {!r}: train.py refuses --{} {}: {}'.format(
                    text, d.flag, value, problem))
        space.append(d)
    return space, defaults
