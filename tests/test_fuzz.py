"""Every reader of a file that can come from someone else, or be damaged, fuzzed with
Hypothesis: study.json, result.json, trained.json, pruned.json, results.csv, a
checkpoint's flags and names, an actor's .pth.json, an actor's weights, a line of
optuna.journal and the optimum's cache. Whatever the bytes, the reader returns what it
must, or ends in one line naming the file (a SystemExit with a message), never another
exception; and nothing outside the example's own folder changes.

Each example starts from a file as the program writes it, then damages it: garbage, a
copy cut short, JSON of another shape, a value replaced by any JSON value, a key
dropped. The examples Hypothesis found are kept below each test as @example. How many
run, and how to run more: docs/tests.md, "Fuzzing"."""
import argparse
import contextlib
import copy
import importlib.util
import io
import json
import os
import pathlib
import shutil
import tempfile

import numpy as np
import pytest
import torch

hypothesis = pytest.importorskip('hypothesis', reason='pip install -r requirements/dev.txt')
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import study as driver  # noqa: E402
import train  # noqa: E402
from ddpg_extras.run import optimum  # noqa: E402
from ddpg_extras.run.checkpoints import load_model_flag, warm_start  # noqa: E402
from ddpg_extras.run.checks import parse_flags  # noqa: E402
from ddpg_extras.run.files import ACTOR_KEYS, load_model_file, read_whole_json  # noqa: E402
from ddpg_extras.study import trials  # noqa: E402
from ddpg_extras.study.trials import ROOT  # noqa: E402
from model import Actor  # noqa: E402

spec = importlib.util.spec_from_file_location('watch', os.path.join(ROOT, 'test.py'))
watch = importlib.util.module_from_spec(spec)  # test.py (a module named test is Python's)
spec.loader.exec_module(watch)


def watched(path):
    """test.py on the model file at path: one noiseless episode, scores only."""
    with contextlib.redirect_stdout(io.StringIO()):
        return watch.main(['--load_model', str(path), '--no_render', '--episodes', '1'])

# CI: a fixed number of examples, the same each run (derandomize); more, and new ones
# each run, with HYPOTHESIS_PROFILE=thorough.
settings.register_profile('ci', max_examples=40, derandomize=True, deadline=None,
                          database=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('thorough', max_examples=1000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get('HYPOTHESIS_PROFILE', 'ci'))

JSON = st.recursive(st.none() | st.booleans() | st.integers(-2 ** 63, 2 ** 64)
                    | st.floats() | st.text(max_size=12),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=8)


@st.composite
def damaged(draw, document):
    """document (what the program writes) damaged: a value anywhere replaced by any JSON
    value, or a key or item dropped, once or more."""
    document = copy.deepcopy(document)
    for _ in range(draw(st.integers(1, 3))):
        places = list(containers(document))
        if not places:
            return draw(JSON)
        container, key = draw(st.sampled_from(places))
        if draw(st.booleans()):
            container[key] = draw(JSON)
        else:
            del container[key]
    return document


def containers(value):
    """(container, key) of every value inside value."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(
        value, list) else ()
    for key, inner in list(items):
        yield value, key
        yield from containers(inner)


def json_bytes(document):
    """The bytes of a file the program writes as document, or of one damaged: garbage,
    a copy cut short, other JSON, the document damaged."""
    text = json.dumps(document).encode()
    return st.one_of(st.binary(max_size=64), st.integers(0, len(text)).map(lambda n: text[:n]),
                     JSON.map(lambda v: json.dumps(v).encode()),
                     damaged(document).map(lambda v: json.dumps(v).encode()))


@contextlib.contextmanager
def sandbox():
    """A folder of the example's own, the working folder meanwhile, beside a file that
    must not change; afterwards nothing else is beside it."""
    base = pathlib.Path(tempfile.mkdtemp())
    (base / 'outside.txt').write_text('mine')
    (base / 'sandbox').mkdir()
    here = os.getcwd()
    os.chdir(base / 'sandbox')
    try:
        yield base / 'sandbox'
    finally:
        os.chdir(here)
        assert sorted(os.listdir(base)) == ['outside.txt', 'sandbox']
        assert (base / 'outside.txt').read_text() == 'mine'
        shutil.rmtree(base)


def one_line(stop, *names):
    """A reader's end: one line, naming the file (one of names)."""
    line = stop.code
    assert isinstance(line, str) and line.startswith('error: ') and '\n' not in line, line
    assert any(str(name) in line for name in names), line


def refused_or(call, *names):
    """call()'s value, or None where it ended in one line naming one of names."""
    try:
        return call()
    except SystemExit as stop:
        one_line(stop, *names)
        return None


# --- a study's files --------------------------------------------------------------

STUDY = {'configs': [['a', ['--max_iter_num', '2', '--landscape_interval', '0']],
                     ['b', ['--tau', '0.005']]],
         'seeds': [500, 501], 'deck_loop': False, 'seeds_per_trial': 1, 'score_episodes': 2,
         'score_seed': 10000}
TUNING = dict(STUDY, configs=STUDY['configs'][:1], seeds_per_trial=10, tune=3,
              search=['tau=log(0.001,0.01)'], objective='score', sampler='tpe',
              sampler_seed=0, pruner='median', prune_startup=5, prune_warmup=7,
              confirm_seeds=[600, 601])


@given(st.one_of(json_bytes(STUDY), json_bytes(TUNING)))
@example(b'{"seeds": [500], "configs": [["a", ["--env_name", "x:Pendulum-v1"]]]}')
@example(b'{"seeds": [500], "configs": [["a", []]], "tune": 2, "search": [7]}')
@example(b'{"seeds": [500], "configs": [["a", []]], "tune": 2, "confirm_seeds": {}}')
@example(b'{"seeds": [500], "configs": [["a", []]], "score_episodes": 1e400}')
def test_study_json(data):
    with sandbox() as out:
        (out / 'study.json').write_bytes(data)
        args = driver.parser.parse_args(['--out', str(out)])
        found = refused_or(lambda: driver.open_study(args), out / 'study.json')
        if found:
            _, configs, seeds, kept = found
            assert all(isinstance(name, str) and all(isinstance(f, str) for f in flags)
                       for name, flags in configs) and seeds == json.loads(data)['seeds']
            assert isinstance(kept.score_episodes, int) and isinstance(kept.score_seed, int)


ROW = {'config': 'a', 'env_name': 'Pendulum-v1', 'seed': 500, 'reached_goal': False,
       'episodes': 2, 'steps': 400, 'seconds': 1.5, 'score_avg': -1400.5, 'actor_score': -1200.0,
       'actor_score_std': 30.0, 'actor_gap': 1.2, 'critic_bias': 100.0, 'critic_error': 100.0,
       'regret': 3.0, 'node': 'ab' * 28, 'node_ip': '127.0.0.1', 'attempts': 1,
       'flags': '--max_iter_num 2',
       'run_dir': 'trials/a/seed500/logs/run', 'model': 'trials/a/seed500/save_model/run.pth',
       'error': None}


@given(json_bytes(ROW))
@example(json.dumps(dict(ROW, episodes='2')).encode())
@example(json.dumps(dict(ROW, node=None, reached_goal=None)).encode())
@example(json.dumps(dict(ROW, model='../../elsewhere.pth')).encode())
def test_result_json(data):
    with sandbox() as out:
        (out / 'trials' / 'a' / 'seed500').mkdir(parents=True)
        (out / 'trials' / 'a' / 'seed500' / 'result.json').write_bytes(data)
        row, problem = trials.read_result(str(out), 'a', 500)
        assert (row is None) != (problem is None)
        if row:  # what the study does with a finished trial's row
            assert trials.well_typed(row) and driver.trial_line(row)
            trials.write_results(str(out), [row])


@given(st.one_of(json_bytes([{key: ROW[key] for key in trials.KEPT + trials.GAPS}]),
                 json_bytes({key: ROW[key] for key in trials.KEPT})))
@example(json.dumps([dict({key: ROW[key] for key in trials.KEPT}, model='/etc/x')]).encode())
def test_trained_json(data):
    with sandbox() as out:
        trained, problem = trials.read_trained(str(out), 1)
        assert problem == 'missing'
        (out / 'trained.json').write_bytes(data)
        trained, problem = trials.read_trained(str(out), 1)
        assert (trained is None) != (problem is None)
        if trained:
            assert len(trained) == 1 and trials.well_typed(trained[0])
            for t in trials.in_folder(str(out), trained):  # where the trial keeps them
                for key in ('model', 'run_dir'):
                    assert t[key] is None or os.path.dirname(os.path.dirname(t[key])) == str(out)


@given(st.one_of(json_bytes({'pruned': 20, 'node': 'ab' * 28, 'seconds': 3.5}),
                 st.binary(max_size=300).map(lambda b: b'config,seed\n' + b)))
def test_pruned_json_and_results_csv(data):
    with sandbox() as out:
        (out / 'pruned.json').write_bytes(data)
        (out / 'results.csv').write_bytes(data)
        pruned, _ = read_whole_json(str(out / 'pruned.json'), trials.is_pruned)
        if pruned:  # the driver's line for it
            assert '{} episodes'.format(pruned['pruned'])
        problem = trials.results_problem(str(out / 'results.csv'))
        assert problem is None or isinstance(problem, str)


# --- a tuning's journal -------------------------------------------------------------

@pytest.fixture(scope='module')
def journal(tmp_path_factory):
    """A tuning's optuna.journal as the driver writes it, without Ray: one complete
    trial, one failed, one complete, one under way. Returns (its lines, how to read it)."""
    import optuna

    from ddpg_extras.study import tuning
    from ddpg_extras.study.search import suggest, with_params
    out = tmp_path_factory.mktemp('tuning')
    args = argparse.Namespace(objective='score', sampler='random', sampler_seed=0,
                              pruner='none', prune_startup=5, prune_warmup=7, tune=4)
    base = ['--max_iter_num', '2', '--landscape_interval', '0']
    space, defaults = tuning.search_space(['tau=log(0.001,0.01)', 'tanh_actor=[on,off]'], base)
    study = tuning.open_search(str(out), base, space, args, defaults)
    for outcome in (-150.0, 'fail', -160.0, 'running'):
        trial = study.ask()
        params = suggest(trial, space)
        for key, value in (('params', params), ('flags', with_params(base, params, defaults)),
                           ('seeds', '500'), ('node', 'ab' * 28), ('seconds', 2.5)):
            trial.set_user_attr(key, value)
        if outcome == 'fail':
            trial.set_user_attr('error', 'seed 500: no saved actor')
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        elif outcome != 'running':
            study.tell(trial, outcome)

    class Journal:  # (Hypothesis prints it for an example that fails: briefly)
        lines = (out / 'optuna.journal').read_bytes().splitlines(keepends=True)

        def read(self, folder):
            found = tuning.open_search(folder, base, space, args, defaults)
            tuning.write_tuning(folder, found, space)
            if tuning.best(found) is not None:
                tuning.best_md(folder, found, args, 'Not confirmed yet.')
            return found

        def __repr__(self):
            return 'a journal of {} lines'.format(len(self.lines))
    return Journal()


@st.composite
def journals(draw, lines):
    """The journal with one line damaged, or cut short at any byte."""
    lines = list(lines)
    if draw(st.booleans()):
        data = b''.join(lines)
        return data[:draw(st.integers(0, len(data)))]
    k = draw(st.integers(0, len(lines) - 1))
    entry = json.loads(lines[k])
    lines[k] = draw(st.one_of(st.binary(max_size=40), damaged(entry).map(
        lambda v: json.dumps(v).encode()), JSON.map(lambda v: json.dumps(v).encode()))) + b'\n'
    return b''.join(lines)


@settings(max_examples=settings().max_examples // 2)  # each reads a tuning: 0.1-0.3 s
@given(st.data())
def test_a_line_of_the_journal(journal, data):
    damage = data.draw(journals(journal.lines))
    with sandbox() as out:
        (out / 'optuna.journal').write_bytes(damage)
        refused_or(lambda: journal.read(str(out)), out / 'optuna.journal')


# What Hypothesis found in the journal (each a traceback before), as the change it made
# to the first entry it fits: each must get one line naming the journal.
FOUND = {'an operation Optuna does not know': (8, lambda e: dict(e, op_code=99)),
         'a user attribute entry of two': (8, lambda e: dict(e, user_attr={'a': 1, 'b': 2})),
         'a tuning of no direction': (0, lambda e: dict(e, directions=[])),
         'a complete trial with no objective': (6, lambda e: dict(e, values=[None])),
         'a value drawn of null': (5, lambda e: dict(e, param_value_internal=None))}


@pytest.mark.parametrize('found', FOUND)
def test_the_journal_damage_hypothesis_found(journal, found):
    op_code, change = FOUND[found]
    lines = list(journal.lines)
    k = next(k for k, line in enumerate(lines) if json.loads(line)['op_code'] == op_code
             and json.loads(line).get('values', [0]) is not None)  # (6: a trial's end)
    lines[k] = json.dumps(change(json.loads(lines[k]))).encode() + b'\n'
    with sandbox() as out:
        (out / 'optuna.journal').write_bytes(b''.join(lines))
        assert refused_or(lambda: journal.read(str(out)), out / 'optuna.journal') is None


# --- checkpoints and actors ---------------------------------------------------------

@pytest.fixture(scope='module')
def a_checkpoint(tmp_path_factory):
    """A checkpoint and an actor file of a run of one episode, as train.py saves them."""
    folder = tmp_path_factory.mktemp('run')
    result = train.main(['--max_iter_num', '1', '--landscape_interval', '0', '--save_path',
                         str(folder), '--logdir', str(folder / 'logs')])
    return (torch.load(result['checkpoint'], weights_only=True),
            torch.load(result['model'], weights_only=True))


@st.composite
def checkpoints(draw, state):
    """A checkpoint whose flags, run name, counts or scores are damaged."""
    state = dict(state)
    document = {key: state[key] for key in ('args', 'run', 'episode', 'steps', 'scores',
                                             'seconds')}
    state.update(draw(damaged(document)) if draw(st.booleans()) else dict(
        document, args=draw(damaged(state['args']))))
    return state


@given(st.data())
def test_a_checkpoints_flags_and_names(a_checkpoint, data):
    state = data.draw(checkpoints(a_checkpoint[0]))
    with sandbox() as out:
        path = out / 'run.checkpoint.pth'
        torch.save(state, path)
        args, given = parse_flags(train.parser, ['--load_model', str(path), '--save_path',
                                                 str(out), '--logdir', str(out / 'logs')])
        found = refused_or(lambda: load_model_flag(args, given, train.parser), path)
        if found:
            resumed, (_, _, checkpoint) = found
            assert checkpoint is None or isinstance(resumed.gamma, float)


TENSOR_KINDS = (torch.float32, torch.float64, torch.float16, torch.int64, torch.bool,
                torch.complex64)


@st.composite
def actor_weights(draw):
    """An actor's state_dict whose layers may not fit each other: any sizes, ranks and
    kinds of numbers, a bound or an extra key, inf or nan."""
    hidden, states, actions = (draw(st.integers(0, 5)) for _ in range(3))
    shapes = {'fc1.weight': (hidden, states), 'fc1.bias': (hidden,), 'fc2.weight': (hidden,
              hidden), 'fc2.bias': (hidden,), 'fc3.weight': (actions, hidden),
              'fc3.bias': (actions,), 'action_scale': (actions,), 'action_bias': (actions,)}
    keys = list(ACTOR_KEYS) + draw(st.sampled_from([[], ['action_scale', 'action_bias'],
                                                    ['action_scale']]))
    weights = {}
    for key in keys:
        shape = shapes[key]
        if draw(st.integers(0, 7)) == 0:  # one that does not fit
            shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
        kind = TENSOR_KINDS[0] if draw(st.booleans()) else draw(st.sampled_from(TENSOR_KINDS))
        weights[key] = torch.ones(shape).to(kind) * draw(st.sampled_from([0.5, np.inf, np.nan]
                                                                         + [0.1] * 5))
    if draw(st.integers(0, 7)) == 0:
        weights[draw(st.sampled_from(['fc4.weight', 'x', 'fc1.weight']))] = draw(st.sampled_from(
            [torch.zeros(2), 3, 'text']))
    return weights


@given(actor_weights())
@example({'fc1.weight': torch.ones(64, 3), 'fc1.bias': torch.ones(64),
          'fc2.weight': torch.ones(32, 64), 'fc2.bias': torch.ones(32),
          'fc3.weight': torch.ones(1, 64), 'fc3.bias': torch.ones(1)})  # the issue's
@example({'fc1.weight': torch.ones(64, 3), 'fc1.bias': torch.ones(64),
          'fc2.weight': torch.ones(64), 'fc2.bias': torch.ones(64),
          'fc3.weight': torch.ones(1, 64), 'fc3.bias': torch.ones(1)})
def test_an_actors_weights(weights):
    from ddpg_extras.run.pictures import networks
    with sandbox() as out:
        path = out / 'actor.pth'
        torch.save(weights, path)
        state = load_model_file(str(path))

        def warm():  # train.py --load_model with an actor file
            args = argparse.Namespace(hidden_size=64, tanh_actor=False)
            warm_start(Actor(3, 1, 64), str(path), state, args, 'Pendulum-v1')

        for use in (lambda: watched(path), warm, lambda: networks(str(path), state)):
            refused_or(use, path)  # test.py, train.py, plot.py --landscape


@given(json_bytes({'env_name': 'Pendulum-v1', 'episodes': 153, 'reached_goal': True}))
@example(b'{"env_name": "Pendulum-v1\\nthis"}')
@example(b'{"env_name": " "}')
def test_an_actors_json(a_checkpoint, data):
    with sandbox() as out:
        path = out / 'actor.pth'
        torch.save(a_checkpoint[1], path)
        (out / 'actor.pth.json').write_bytes(data)

        refused_or(lambda: watched(path), out / 'actor.pth.json')  # the environment it names


# --- the optimum's cache ------------------------------------------------------------

GRID = (11, 9, 3)


@st.composite
def caches(draw):
    """The bytes of an optimum's cache file: as solve() makes it but damaged (a value
    nan, an array of another shape or kind, the grid shifted, a key missing), cut
    short, or garbage."""
    angles, speeds, _ = optimum.axes(GRID)
    arrays = {'angles': angles, 'speeds': speeds, 'value': -np.ones(GRID[:2]),
              'policy': np.zeros(GRID[:2])}
    for key in list(arrays):
        change = draw(st.integers(0, 12))
        if change == 1:
            arrays[key] = arrays[key].astype(draw(st.sampled_from([np.float32, np.int64,
                                                                   np.complex128, str])))
        elif change == 2:
            arrays[key] = np.ones(tuple(draw(st.lists(st.integers(0, 12), max_size=3))))
        elif change == 3:
            arrays[key] = arrays[key].copy()
            arrays[key].flat[draw(st.integers(0, arrays[key].size - 1))] = np.nan
        elif change == 4:
            arrays[key] = arrays[key] + 1e-9
        elif change == 5:
            del arrays[key]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    data = buffer.getvalue()
    return draw(st.one_of(st.just(data), st.integers(0, len(data)).map(lambda n: data[:n]),
                          st.binary(max_size=64)))


@given(caches())
def test_the_optimums_cache(data):
    with sandbox() as out:
        path = out / 'cache.npz'
        path.write_bytes(data)
        found = optimum.read_cache(str(path), 0.99, GRID)
        if found is not None:  # as solve() makes it
            angles, speeds, _ = optimum.axes(GRID)
            assert np.array_equal(found.angles, angles) and np.array_equal(found.speeds, speeds)
            assert found.value.shape == found.policy.shape == GRID[:2]
            assert np.isfinite(found.value).all() and np.isfinite(found.policy).all()


# --- a tuning's draws ---------------------------------------------------------------

@given(st.floats(1e-6, 1e6), st.floats(0, 1), st.floats(1e-9, 1))
@example(0.9, 1.0, 0.0999)  # uniform(0.9,0.9999): 0.9999 is '0.9999', not '1'
@example(0.1234, 0.5, 0.0002)  # three digits would leave the range at both ends
def test_a_drawn_value_never_leaves_its_range_by_rounding(low, where, width):
    from ddpg_extras.study.search import rounded
    high = low * (1 + width)
    for value in (low, high, low + where * (high - low)):
        value = min(max(value, low), high)
        text = rounded(value, low, high)
        assert low <= float(text) <= high and len(text) <= 24
