"""A tuning's search (not in the deck): the search space of study.py --search, and
Optuna's study kept in the study folder, which the driver asks and tells and each
trial's worker reports its running average to, for the pruner.

A dimension is one of train.py's flags and where it may go:

    actor_lr=log(1e-4,1e-2)     log-uniform between the two (Optuna's suggest_float, log)
    sigma=uniform(0.1,0.4)      uniform between the two
    batch_size=int(32,256)      an integer between the two, both included
    hidden_size=[64,128,256]    one of the choices, each as the flag's value
    tanh_actor=[on,off]         a switch (a flag without a value): given, or not

Floats are rounded to three significant digits before they train, so that a trial's
flags read as they were run; to more where three would take a value out of its range
(0.9999 of uniform(0.9,0.9999) stays 0.9999, not 1)."""
import json
import math
import os
import re
import warnings
from typing import NamedTuple

from ddpg_extras.run.checks import fail
from ddpg_extras.run.files import atomic_write, first_free
from ddpg_extras.study.guard import inside

JOURNAL = 'optuna.journal'  # Optuna's own storage, in the study folder
NAME = 'tuning'  # the Optuna study's name in it
SWITCH = ('on', 'off')


class Dimension(NamedTuple):
    flag: str  # train.py's flag, without its dashes
    kind: str  # 'log', 'uniform', 'int' or 'choices'
    values: tuple  # (low, high), or the choices as texts
    text: str  # as --search gave it


SPACE = re.compile(r'(log|uniform|int)\(([^,()]+),([^,()]+)\)|\[([^\[\]]*)\]')


def parse_dimension(text, defaults):
    """A Dimension from FLAG=SPACE; defaults: train.py's flags and their defaults. Raises
    ValueError with what is wrong."""
    flag, equals, space = (part.strip() for part in text.partition('='))
    flag = flag[2:] if flag.startswith('--') else flag
    found = SPACE.fullmatch(space.replace(' ', ''))
    if not (equals and flag and found):
        raise ValueError('is not FLAG=log(a,b), uniform(a,b), int(a,b) or [choice,...]')
    if flag not in defaults:
        raise ValueError("--{} is not one of train.py's flags (python train.py --help)".format(
            flag))
    kind, low, high, choices = found.groups()
    switch = defaults[flag] is False  # store_true: on or off, never a value
    if choices is not None:
        values = tuple(choice for choice in choices.split(',') if choice)
        if len(values) < 2 or len(set(values)) < len(values):
            raise ValueError('needs two or more different choices')
        if switch and not set(values) <= set(SWITCH):
            raise ValueError('--{} is a switch: its choices are [on,off]'.format(flag))
        return Dimension(flag, 'choices', values, text)
    if switch:
        raise ValueError('--{} is a switch: search it as [on,off]'.format(flag))
    try:
        low, high = (int(low), int(high)) if kind == 'int' else (float(low), float(high))
    except ValueError:
        raise ValueError('{}(a,b) needs two {}'.format(
            kind, 'integers' if kind == 'int' else 'numbers')) from None
    if not low < high:
        raise ValueError('the range is empty: its first end must be below its second')
    if kind == 'log' and low <= 0:
        raise ValueError('log(a,b) needs 0 < a')
    return Dimension(flag, kind, (low, high), text)


def flag_values(dimension):
    """The values to check with train.py: both ends of a range, as they would be drawn,
    or every choice."""
    if dimension.kind == 'int':
        return [str(v) for v in dimension.values]
    if dimension.kind in ('log', 'uniform'):
        return [rounded(v, *dimension.values) for v in dimension.values]
    return list(dimension.values)


def rounded(value, low, high):
    """value (in [low, high]) as a text of three significant digits, or of more where
    fewer would lie outside [low, high]: a value drawn never leaves its range."""
    for digits in range(3, 17):
        text = '{:.{}g}'.format(value, digits)
        if low <= float(text) <= high:
            return text
    return repr(float(value))  # all its digits: the value itself


def suggest(trial, space):
    """{flag: value as its text} for an Optuna trial, from its sampler."""
    params = {}
    for d in space:
        if d.kind == 'choices':
            params[d.flag] = trial.suggest_categorical(d.flag, list(d.values))
        elif d.kind == 'int':
            params[d.flag] = str(trial.suggest_int(d.flag, *d.values))
        else:
            value = trial.suggest_float(d.flag, *d.values, log=d.kind == 'log')
            params[d.flag] = rounded(value, *d.values)
    return params


def with_params(flags, params, defaults):
    """A configuration's train.py flags with the searched ones set: each given once, a
    switch given (on) or left out (off)."""
    kept, skip = [], False
    for flag in flags:  # the configuration's own value of a searched flag goes
        name = flag[2:].split('=')[0] if flag.startswith('--') else None
        if skip:
            skip = False
        elif name in params:
            skip = defaults[name] is not False and '=' not in flag
        else:
            kept.append(flag)
    for flag, value in params.items():
        if defaults[flag] is False:
            kept += ['--' + flag] if value == 'on' else []
        else:
            kept += ['--' + flag, value]
    return kept


def base_params(space, args, defaults):
    """The configuration's own values of the searched flags (args: its flags parsed,
    as a dict) that lie in the space: its first trial, so that the search starts there."""
    params = {}
    for d in space:
        value = args[d.flag]
        if d.kind == 'choices':
            text = ('on' if value else 'off') if defaults[d.flag] is False else str(value)
            if text in d.values:
                params[d.flag] = text
        elif value is not None and d.values[0] <= value <= d.values[1]:
            params[d.flag] = value
    return params


def in_space(dimension, text, drawn):
    """Whether a trial's value of a flag (its text, as suggest gives it) lies in the
    dimension, and is what the sampler drew (drawn): a value read back from the
    journal, checked before it trains or the sampler learns from it."""
    d = dimension
    if not isinstance(text, str):
        return False
    if d.kind == 'choices':
        return text in d.values and drawn == text
    try:
        value = int(text) if d.kind == 'int' else float(text)
    except ValueError:
        return False
    low, high = d.values
    if d.kind == 'int':
        return str(value) == text and low <= value <= high and drawn == value
    return (math.isfinite(value) and rounded(value, low, high) == text and low <= value <= high
            and isinstance(drawn, float) and low <= drawn <= high
            and rounded(drawn, low, high) == text)


def repair_journal(out):
    """Before a tuning appends to its journal: a last line cut short (a write stopped by
    a kill or a full disk) or one that is not an entry is set aside in a file beside it,
    and the journal cut back to its whole entries, in one line; Optuna would skip it, and
    the next entry appended behind it would be lost with it. A line before the last that
    is not an entry gets one line, and nothing changes. Returns the whole entries."""
    path = os.path.join(out, JOURNAL)
    try:
        with open(path, 'rb') as f:
            data = f.read()
    except FileNotFoundError:
        return 0
    whole, tail = data.split(b'\n')[:-1], data.split(b'\n')[-1]
    if not tail and whole and not is_entry(whole[-1]):
        tail = whole.pop() + b'\n'
    for number, line in enumerate(whole, 1):
        if not is_entry(line):
            fail('{} does not read back (line {} is not an entry of Optuna\'s journal); nothing '
                 'was changed. Restore it from a copy, or tune again with a new --out'.format(
                     path, number))
    if tail:
        kept = first_free(path + '.damaged', (path + '.damaged.{}').format)
        atomic_write(inside(out, kept), lambda f: f.write(tail))
        os.truncate(inside(out, path), len(data) - len(tail))
        print('{} ended in {}; it is kept in {}, and the tuning goes on from the {} whole '
              'entries before it'.format(path, 'a line that is not an entry' if
                                         tail.endswith(b'\n') else 'an entry cut short (a '
                                         'write stopped by a kill or a full disk)', kept,
                                         len(whole)), flush=True)
    return len(whole)


def is_entry(line):
    """Whether a line of the journal is an entry: a JSON object with an operation code."""
    try:
        entry = json.loads(line)
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        return False
    return isinstance(entry, dict) and isinstance(entry.get('op_code'), int)


def storage(out):
    """Optuna's journal storage in the study folder (a file, locked while written, that
    survives a kill -9: a line cut short is not read)."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    path = os.path.abspath(os.path.join(out, JOURNAL))  # its lock, a link, points at it
    inside(out, path + '.lock')  # Optuna makes it, a link to the journal, while it writes
    return JournalStorage(JournalFileBackend(inside(out, path)))


def pruner(settings):
    """Optuna's median pruner, from (startup trials, warm-up episodes), or none. It
    looks at the warm-up's last episode, then every 10th: at every episode, the
    noise of one episode's score would prune good trials too."""
    import optuna
    if settings is None:
        return optuna.pruners.NopPruner()
    startup, warmup = settings
    return optuna.pruners.MedianPruner(n_startup_trials=startup, n_warmup_steps=warmup,
                                       interval_steps=10)


def quiet_optuna():
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings('ignore', category=optuna.exceptions.ExperimentalWarning)


class Reporter:
    """In a trial's worker: report(episodes, averages) reports the IQM of the seeds'
    running 100-episode averages after each episode all of them have played (negated
    where fewer episodes are better), and returns True where the pruner prunes the
    trial; then pruned holds the episodes it had played."""

    def __init__(self, out, number, prune, sign):
        import optuna
        quiet_optuna()
        store = storage(out)
        study_id = store.get_study_id_from_name(NAME)
        study = optuna.load_study(study_name=NAME, storage=store, pruner=pruner(prune))
        # the trial the driver asked; Optuna's Trial for it, in this process
        self.trial = optuna.trial.Trial(study, store.get_trial_id_from_study_id_trial_number(
            study_id, number))
        self.sign, self.pruned = sign, None

    def __call__(self, episodes, averages):
        from ddpg_extras.study.estimates import iqm_value
        with warnings.catch_warnings():  # a retried attempt reports its episodes again
            warnings.simplefilter('ignore')
            self.trial.report(self.sign * iqm_value(averages), episodes)
        if self.trial.should_prune():
            self.pruned = episodes
        return self.pruned is not None
