"""The project's layers: every import points down (or sideways within a layer), and no
module imports itself round a circle. Read from the source, every import statement
(those inside functions too), so an import running upward fails here."""
import ast
import glob
import os

import pytest

from conftest import ROOT

# From the bottom up. A module may import its own layer and those below it. Each floor
# of ddpg_extras/ is a folder named for who uses it.
LAYERS = (
    ("the deck's definitions, and the deck's code as published",
     ('model', 'utils', 'ddpg_extras.baseline.*')),
    ("one run's plumbing", ('ddpg_extras', 'ddpg_extras.run.*')),
    ("the scripts of one run", ('train', 'test', 'plot')),
    ('the seed axis', ('ddpg_extras.seeds.*',)),
    ('many seeds in one process', ('train_seeds',)),
    ('the study layer', ('ddpg_extras.study.*',)),
    ('the studies', ('study',)),
    ('the benchmarks', ('benchmarks', 'benchmarks.bench', 'benchmarks.batch_speed',
                        'benchmarks.pretrained', 'benchmarks.timing', 'benchmarks.optimum')),
)
# The deck's own files, and what each may use of the project (what it must call).
DECK = {'model': set(), 'utils': set(), 'train': {'model', 'utils', 'ddpg_extras.run.*'},
        'test': {'model', 'utils', 'ddpg_extras.run.*'}}
# What a user finds at the top: the deck's four files, then the three scripts beyond it.
TOP = {'model.py', 'utils.py', 'train.py', 'test.py', 'train_seeds.py', 'study.py', 'plot.py'}


def modules():
    """{module name: path} of every module of the project (the tests aside)."""
    found = {}
    for path in glob.glob(os.path.join(ROOT, '*.py')):
        found[os.path.basename(path)[:-3]] = path
    for folder in ('ddpg_extras', 'benchmarks'):
        for path in glob.glob(os.path.join(ROOT, folder, '**', '*.py'), recursive=True):
            name = os.path.relpath(path, ROOT)[:-3].replace(os.sep, '.')
            found[name[:-len('.__init__')] if name.endswith('.__init__') else name] = path
    return found


def imports(path, known):
    """The project's modules that the module at path imports (`from package import
    module` imports the module, not the package's face). The benchmarks import each
    other by bare name (they run from their folder)."""
    found = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = ['{}.{}'.format(node.module, a.name) for a in node.names]
            names = [name for name in submodules if name in known] or [node.module]
        else:
            continue
        for name in names:
            for candidate in (name, 'benchmarks.' + name):
                if candidate in known:
                    found.add(candidate)
    return found


def graph():
    known = modules()
    return {name: imports(path, known) - {name} for name, path in known.items()}


def matches(name, patterns):
    return any(name == p or (p.endswith('.*') and (name.startswith(p[:-1]) or name == p[:-2]))
               for p in patterns)


def layer(name):
    found = [i for i, (_, patterns) in enumerate(LAYERS) if matches(name, patterns)]
    assert len(found) == 1, '{} belongs to no layer, or to two: add it to LAYERS'.format(name)
    return found[0]


def upward(edges):
    """Every import (importer, imported) that points to a layer above the importer's."""
    return sorted((a, b) for a, bs in edges.items() for b in bs if layer(b) > layer(a))


def circle(edges):
    """A list of modules that import each other round a circle, or None."""
    done, path = set(), []

    def visit(name):
        if name in path:
            return path[path.index(name):] + [name]
        if name in done:
            return None
        path.append(name)
        for other in sorted(edges.get(name, ())):
            found = visit(other)
            if found:
                return found
        path.pop()
        done.add(name)
        return None
    for name in sorted(edges):
        found = visit(name)
        if found:
            return found
    return None


def test_every_module_has_a_layer_and_imports_only_down():
    edges = graph()
    assert {'train', 'train_seeds', 'ddpg_extras.study.trials', 'ddpg_extras.run.training',
            'ddpg_extras.seeds.cohort', 'benchmarks.bench'} <= set(edges)
    assert upward(edges) == []


def test_the_run_plumbing_imports_nothing_from_the_seed_axis_or_the_study_layer():
    above = ('ddpg_extras.seeds.*', 'ddpg_extras.study.*', 'train_seeds', 'study')
    for name, imported in graph().items():
        if matches(name, ('ddpg_extras.run.*',)):
            assert not [other for other in imported if matches(other, above)], name
        if matches(name, ('ddpg_extras.seeds.*',)):
            assert not [o for o in imported if matches(o, ('ddpg_extras.study.*', 'study'))]


def test_the_top_level_is_the_deck_and_the_three_scripts_beyond_it():
    assert set(glob.glob('*.py', root_dir=ROOT)) == TOP
    assert not glob.glob('requirements-*.txt', root_dir=ROOT)


def test_nothing_of_ddpg_extras_imports_from_the_benchmarks():
    for name, imported in graph().items():
        if matches(name, ('ddpg_extras', 'ddpg_extras.*')):
            assert not [other for other in imported if other.startswith('benchmarks')], name


def test_the_multi_seed_code_stays_readable_in_one_sitting():
    # train_seeds.py and the seed axis it alone imports: under 900 lines (911 once)
    paths = ['train_seeds.py'] + glob.glob('ddpg_extras/seeds/*.py', root_dir=ROOT)
    assert sum(len(open(os.path.join(ROOT, path)).readlines()) for path in paths) < 900


def test_no_module_imports_round_a_circle():
    assert circle(graph()) is None


def test_the_decks_files_use_only_the_deck_and_what_they_must_call():
    edges = graph()
    for name, allowed in DECK.items():
        assert all(matches(other, allowed) for other in edges[name]), (name, edges[name])


@pytest.mark.parametrize('edges, upwards, round_a_circle', [
    ({'ddpg_extras.run.training': {'train'}, 'train': set()},
     [('ddpg_extras.run.training', 'train')], None),
    ({'benchmarks.bench': {'benchmarks.timing'}, 'benchmarks.timing': {'benchmarks.bench'}},
     [], ['benchmarks.bench', 'benchmarks.timing', 'benchmarks.bench']),
])
def test_the_checks_catch_an_upward_import_and_a_circle(edges, upwards, round_a_circle):
    assert upward(edges) == upwards and circle(edges) == round_a_circle
