"""One guard for every write of the study layer: a link planted anywhere in a study
folder or a tuning handed over (to a file, a folder, or nothing) is refused in one line
naming it, before anything is written, and nothing outside the folder changes. The
paths are every path that a real study and a real tuning wrote."""
import hashlib
import os
import shutil

import pytest
from test_study_faults import copy_of, finished_study  # noqa: F401 (a fixture)
from test_tuning import tuned  # noqa: F401 (a fixture)

from conftest import assert_clean_error, run_script_after
from ddpg_extras.study.guard import Outside, check_tree, inside

pytest.importorskip('ray', reason='pip install -r requirements/study.txt')
pytest.importorskip('optuna', reason='pip install -r requirements/study.txt')

NO_RAY = ('import ray\ndef forbidden(*args, **kwargs):\n    raise RuntimeError("this test '
          'forbids starting Ray")\nray.init = forbidden')


def written(folder):
    """Every path in a folder, files and folders, relative to it."""
    found = []
    for where, folders, files in os.walk(folder):
        found += [os.path.relpath(os.path.join(where, name), folder) for name in folders + files]
    return sorted(found)


def snapshot(folder):
    """What a folder holds, each file by its bytes' digest."""
    return {path: hashlib.sha256(open(os.path.join(folder, path), 'rb').read()).hexdigest()
            if os.path.isfile(os.path.join(folder, path)) else None
            for path in written(folder)}


def outside_things(root):
    """A file, a folder and a path to nothing, outside every study folder."""
    (root / 'elsewhere').mkdir()
    (root / 'elsewhere' / 'keep.txt').write_text('mine')
    (root / 'notes.txt').write_text('my notes\n')
    return {'file': root / 'notes.txt', 'folder': root / 'elsewhere', 'nothing': root / 'none'}


@pytest.mark.slow
@pytest.mark.parametrize('made', ['study', 'tuning'])
def test_a_link_at_any_path_a_study_or_a_tuning_writes_is_refused_before_anything(
        made, finished_study, tuned, tmp_path):  # noqa: F811
    import study as driver  # in this process: its checks, before Ray or a lock
    paths = written(finished_study if made == 'study' else tuned[0])
    assert len(paths) > 30 and 'trials' in paths
    targets = outside_things(tmp_path)
    before = snapshot(tmp_path)
    for n, path in enumerate(paths):
        for kind, target in targets.items():
            out = tmp_path / 'handed' / '{}-{}'.format(n, kind)
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, out / path)
            with pytest.raises(SystemExit) as refused:
                driver.main(['--out', str(out)])
            line = str(refused.value.code)
            assert line == 'error: ' + Outside(out / path, out, target).line, (path, kind)
            assert written(out) == sorted(
                [path] + [os.path.relpath(p, out) for p in (out / path).parents
                          if out in p.parents]), (path, kind)  # nothing was added
    shutil.rmtree(tmp_path / 'handed')
    assert snapshot(tmp_path) == before and not targets['nothing'].exists()


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['file', 'nothing'])
def test_a_linked_journal_is_refused_and_the_file_it_points_at_is_untouched(
        kind, tmp_path, tuned):  # noqa: F811
    out = copy_of(tuned[0], tmp_path)
    target = outside_things(tmp_path)[kind]
    before = snapshot(tmp_path / 'elsewhere'), target.exists() and target.read_bytes()
    os.remove(out / 'optuna.journal')
    os.symlink(target, out / 'optuna.journal')
    result = run_script_after(NO_RAY, 'study.py', '--out', out)
    assert_clean_error(result, '{}/optuna.journal leads outside the study folder {}'.format(
        out, out), 'nothing was written')
    assert (snapshot(tmp_path / 'elsewhere'), target.exists() and target.read_bytes()) == before


@pytest.mark.slow
@pytest.mark.parametrize('planted', ['confirm', 'trials/trial000'])
def test_a_tuning_with_a_linked_folder_is_refused_before_ray_starts(
        planted, tmp_path, tuned):  # noqa: F811
    out = copy_of(tuned[0], tmp_path)
    elsewhere = outside_things(tmp_path)['folder']
    shutil.rmtree(out / planted)
    os.symlink(elsewhere, out / planted)
    before, inside_before = snapshot(elsewhere), snapshot(out)
    result = run_script_after(NO_RAY, 'study.py', '--out', out)
    assert_clean_error(result, '{}/{} leads outside the study folder {} (a link, to {})'.format(
        out, planted, out, elsewhere))
    assert snapshot(elsewhere) == before and snapshot(out) == inside_before


@pytest.mark.slow
def test_a_trial_folder_linked_outside_in_a_new_tuning_is_refused_before_ray(tmp_path):
    out = tmp_path / 'tune'
    (out / 'trials').mkdir(parents=True)
    elsewhere = outside_things(tmp_path)['folder']
    os.symlink(elsewhere, out / 'trials' / 'trial000')
    result = run_script_after(NO_RAY, 'study.py', '--tune', 2, '--search',
                              'tau=log(0.001,0.01)', '--seeds', 500, '--out', out)
    assert_clean_error(result, '{}/trials/trial000 leads outside the study folder'.format(out))
    assert os.listdir(elsewhere) == ['keep.txt'] and written(out) == ['trials',
                                                                      'trials/trial000']


def test_the_guard_follows_every_link_of_a_path_at_every_level(tmp_path):
    out, elsewhere = tmp_path / 'study', tmp_path / 'elsewhere'
    (out / 'trials' / 'real').mkdir(parents=True)
    elsewhere.mkdir()
    os.symlink(elsewhere, out / 'trials' / 'away')  # a folder in the middle of the path
    os.symlink(tmp_path / 'nowhere', out / 'dangling')  # points at nothing yet
    os.symlink(out / 'dangling', out / 'chain')  # a link to that link
    os.symlink(out / 'loop2', out / 'loop1')
    os.symlink(out / 'loop1', out / 'loop2')
    os.symlink(out / 'trials' / 'real', out / 'within')  # a link that stays inside
    for path in ('trials/away/seed500/result.json', 'dangling', 'chain', 'chain/x'):
        with pytest.raises(Outside) as refused:
            inside(out, out / path)
        assert str(refused.value.code).startswith('error: {} leads outside the study folder {}'
                                                  .format(out / path, out))
    for path in ('trials/real/a.json', 'within/a.json', 'new/folder/file', 'loop1'):
        assert inside(out, out / path) == out / path
    with pytest.raises(Outside):
        check_tree(out)  # the first of them, whichever os.walk meets first
    for link in ('trials/away', 'dangling', 'chain'):
        os.remove(out / link)
    assert check_tree(out) is None
