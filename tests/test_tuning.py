"""study.py --tune: a real Optuna search on a real Ray, its trials real train_seeds.py
runs on Pendulum; what it writes, read back with Optuna's own reader; a hopeless
setting pruned; a killed tuning finished; bad input refused in one line."""
import csv
import json
import os
import re
import shutil
import signal

import pytest
from test_study import start_study, wait_until

from conftest import assert_clean_error, run_script, run_script_after

pytest.importorskip('ray', reason='pip install -r requirements/study.txt')
optuna = pytest.importorskip('optuna', reason='pip install -r requirements/study.txt')

# gamma 0 is hopeless on Pendulum: the critic sees only the step's reward, which the
# torque barely changes, so the actor never learns to swing up. log_interval changes
# nothing of the training: trials of gamma 0.99 train exactly as the first one.
SEARCH = ['--search', 'gamma=[0.99,0]', '--search', 'log_interval=int(1,10)']
BASE = ('base=--max_iter_num 21 --goal_score inf --tanh_actor --tau 0.01 --actor_lr 0.002 '
        '--critic_lr 0.003')  # learns within 20 episodes
SMALL = ['--seeds', 500, '--config', BASE, '--workers', 1, '--score_episodes', 2,
         '--confirm_seeds', 600, '--prune_startup', 1, '--prune_warmup', 20]


def tuning_csv(out):
    with open(os.path.join(out, 'tuning.csv'), newline='') as f:
        return list(csv.DictReader(f))


def journal(out):
    """The tuning's trials, as Optuna reads its own storage."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    storage = JournalStorage(JournalFileBackend(os.path.join(out, 'optuna.journal')))
    return optuna.load_study(study_name='tuning', storage=storage).get_trials()


@pytest.fixture(scope='session')
def tuned(made_once):
    """A small tuning, made once for the run: (its folder, what it printed)."""
    def build(folder):
        result = run_script('study.py', '--tune', 4, *SEARCH, *SMALL, '--out', folder / 'tune',
                            timeout=1800)  # 1 to 7 minutes in a full run; 15 on a busy machine
        assert result.returncode == 0, result.stdout + result.stderr
        (folder / 'stdout').write_text(result.stdout)
    folder = made_once('tuning', build)
    return folder / 'tune', (folder / 'stdout').read_text()


@pytest.mark.slow
def test_a_small_tuning_writes_every_file_and_its_trials_read_back_in_optuna(tuned):
    out, stdout = tuned
    for name in ('tuning.csv', 'best.md', 'history.png', 'importance.png', 'optuna.journal',
                 'confirm/summary.md', 'confirm/results.csv'):
        assert os.path.getsize(out / name) > 0, name
    for name in ('history.png', 'importance.png'):
        assert open(out / name, 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    rows, trials = tuning_csv(out), journal(out)
    assert [row['trial'] for row in rows] == ['0', '1', '2', '3']
    assert [row['state'] for row in rows] == [t.state.name.lower() for t in trials]
    assert rows[0]['gamma'] == '0.99'  # the first trial: the configuration's own values
    for row in rows:
        assert row['seeds'] == '500' and row['flags'].startswith(BASE[5:])
        assert '--gamma {}'.format(row['gamma']) in row['flags']
        if row['state'] == 'complete':  # the objective: its one seed's saved actor's score
            result = json.load(open(out / 'trials' / 'trial{:03d}'.format(int(row['trial']))
                                    / 'seed500' / 'result.json'))
            assert float(row['objective']) == pytest.approx(result['actor_score'])
    best = max((row for row in rows if row['state'] == 'complete'),
               key=lambda row: float(row['objective']))
    text = (out / 'best.md').read_text()
    assert 'python train.py {}'.format(best['flags']) in text
    assert '| tuned | ' in text and 'P(a run beats a run of base)' in text  # the confirmation
    assert 'A tuned configuration is only as good as this confirmation says' in text
    assert 'importance: --gamma' in stdout or 'importance: --log_interval' in stdout


@pytest.mark.slow
def test_a_hopeless_setting_is_pruned_with_the_episode_it_stopped_at(tuned):
    out, _ = tuned
    rows = tuning_csv(out)
    assert any(row['gamma'] == '0' for row in rows), 'the sampler drew no gamma of 0'
    for row in rows:
        number = int(row['trial'])
        if row['gamma'] == '0':
            assert (row['state'], row['pruned_after'], row['objective']) == ('pruned', '20', '')
            pruned = json.load(open(out / 'trials' / 'trial{:03d}'.format(number) / 'seeds500'
                                    / 'pruned.json'))
            assert pruned['pruned'] == 20
        else:  # trained exactly as the first trial: never below the median
            assert row['state'] == 'complete'


@pytest.mark.slow
def test_a_tuning_killed_and_run_again_has_each_trial_once(tmp_path):
    out = tmp_path / 'tune'
    flags = ['--tune', 3, '--search', 'tau=log(0.001,0.01)', '--seeds', 500, '--config',
             'base=--max_iter_num 15 --goal_score inf --checkpoint_interval 2 --log_interval 1',
             '--workers', 2, '--pruner', 'none', '--confirm_seeds', 600, '--score_episodes', 2,
             '--out', out]
    tuning = start_study(*flags)  # trials 0 and 1 at once
    logs = [out / 'trials' / 'trial00{}'.format(n) / 'seeds500' / 'train.log' for n in (0, 1)]
    workers = []
    for log in logs:  # each under way: trial 0 is held there until trial 1 is too
        wait_until(lambda log=log: log.exists() and '5 episode |' in log.read_text(), tuning,
                   300)
        workers.append(int((log.parent / 'attempts').read_text().split()[-1]))
        os.kill(workers[-1], signal.SIGSTOP)
    # kill -9, all at once: the driver and its process group, and each worker's own group
    # (Ray starts its workers in groups of their own: they would train on for seconds)
    for group in [tuning.pid] + [os.getpgid(worker) for worker in workers]:
        os.killpg(group, signal.SIGKILL)
    tuning.communicate(timeout=60)
    again = run_script('study.py', *flags)
    assert again.returncode == 0, again.stdout + again.stderr
    rows, trials = tuning_csv(out), journal(out)
    assert [row['trial'] for row in rows] == ['0', '1', '2']
    assert [t.state.name for t in trials] == ['COMPLETE'] * 3
    assert len({row['tau'] for row in rows}) == 3  # the resumed sampler draws anew
    for log in logs:  # each trial under way went on from its checkpoint, as itself
        assert 'resuming Pendulum-v1_seed500' in log.read_text()
        assert '14 episode |' not in log.read_text().split('resuming')[0]  # killed under way
        assert len((log.parent / 'attempts').read_text().splitlines()) == 2
    assert [again.stdout.count('trial00{} ('.format(n)) for n in (0, 1, 2)] == [1, 1, 1]


@pytest.mark.parametrize('flags, fragments', [
    (['--tune', 2, '--search', 'actor_lr=log(1e-4)'],
     ["--search 'actor_lr=log(1e-4)': is not FLAG=log(a,b)"]),
    (['--tune', 2, '--search', 'learning_rate=log(1e-4,1e-2)'],
     ["--learning_rate is not one of train.py's flags"]),
    (['--tune', 2, '--search', 'seed=int(1,9)'], ['--seed is set by the study']),
    (['--tune', 2, '--search', 'tau=uniform(0.5,2)'], ['train.py refuses --tau 2', '(0, 1]']),
    (['--tune', 2, '--search', 'tanh_actor=[yes,no]'], ['its choices are [on,off]']),
    (['--tune', 2, '--search', 'tau=log(0.01,0.001)'], ['the range is empty']),
    (['--tune', 2, '--search', 'gamma=uniform(0.9,1)'],  # the landscapes' optimum: no gamma 1
     ['train.py refuses --gamma 1', 'give --landscape_interval 0']),
    (['--tune', 2, '--search', 'tau=log(1e-3,1e-2)', '--search', 'tau=[0.1,0.2]'],
     ['--tau is searched twice']),
    (['--tune', 2], ['--tune 2 needs --search FLAG=SPACE']),
    (['--search', 'tau=log(1e-3,1e-2)'], ['--search is for a tuning: add --tune N']),
    (['--tune', 2, '--search', 'tau=log(1e-3,1e-2)', '--seeds', '500-502',
      '--confirm_seeds', '502-504'], ['--confirm_seeds holds tuning seed 502']),
    (['--tune', 2, '--search', 'tau=log(1e-3,1e-2)', '--deck_loop'], ['drop --deck_loop']),
])
def test_bad_input_gets_one_line_and_starts_nothing(tmp_path, flags, fragments):
    import study  # in this process: the same checks as the script's, without its start-up
    with pytest.raises(SystemExit) as exit:
        study.main([str(flag) for flag in flags] + ['--out', str(tmp_path / 'tune')])
    line = str(exit.value.code)
    assert line.startswith('error: ') and '\n' not in line
    for fragment in fragments:
        assert fragment in line, line
    assert not (tmp_path / 'tune').exists()


def test_a_bad_search_from_the_command_line_gets_one_line_and_no_traceback(tmp_path):
    result = run_script('study.py', '--tune', 2, '--search', 'tau=uniform(0.5,2)', '--out',
                        tmp_path / 'tune')
    assert_clean_error(result, "--search 'tau=uniform(0.5,2)': train.py refuses --tau 2")
    assert result.stdout == '' and not (tmp_path / 'tune').exists()


@pytest.mark.slow
def test_a_tuning_resumed_with_other_settings_is_refused(tuned, tmp_path):
    out, _ = tuned
    before = (out / 'tuning.csv').read_bytes()
    assert_clean_error(run_script('study.py', '--out', out, '--tune', 5),
                       'is a study with --tune 4; drop --tune')
    assert (out / 'tuning.csv').read_bytes() == before
    study = tmp_path / 'study'
    study.mkdir()
    (study / 'study.json').write_text(json.dumps({'configs': [['a', []]], 'seeds': [500]}))
    assert_clean_error(run_script('study.py', '--out', study, '--objective', 'episodes'),
                       '--objective is for a tuning, and {} is a study'.format(study))


@pytest.mark.slow
@pytest.mark.parametrize('damage, fragment', [
    ('cut', 'optuna.journal does not read back'),
    ('remove', 'optuna.journal is missing, and'),
])
def test_a_damaged_or_missing_journal_gets_one_line_and_nothing_changes(tuned, tmp_path,
                                                                       damage, fragment):
    import shutil

    from test_study_faults import folder_state
    out = tmp_path / 'tune'
    shutil.copytree(tuned[0], out)
    journal = out / 'optuna.journal'
    if damage == 'cut':  # a line in the middle cut short
        lines = journal.read_bytes().split(b'\n')
        journal.write_bytes(b'\n'.join(lines[:3] + [lines[3][:10]] + lines[4:]))
    else:
        journal.unlink()
    before = folder_state(out)
    result = run_script('study.py', '--out', out)
    assert_clean_error(result, fragment, 'nothing was changed', 'new --out')
    assert folder_state(out) == before


def test_without_optuna_one_line_names_the_requirements_file(tmp_path):
    result = run_script_after("import sys; sys.modules['optuna'] = None", 'study.py',
                              '--tune', 2, '--search', 'tau=log(1e-3,1e-2)', '--out',
                              tmp_path / 'tune')
    assert_clean_error(result, 'Optuna is not installed', 'pip install -r requirements/study.txt')
    assert not (tmp_path / 'tune').exists()


def study_without_ray(*args):
    """study.py args, where starting Ray fails (ray.init raises)."""
    return run_script_after(
        "import ray\ndef init(*args, **kwargs): raise RuntimeError('this test forbids "
        "starting Ray')\nray.init = init", 'study.py', *args)


def copy_of_tuning(tuned, tmp_path):
    out = tmp_path / 'tune'
    shutil.copytree(tuned[0], out)
    return out


@pytest.mark.slow
def test_flags_read_back_from_the_journal_are_checked_before_they_train(tuned, tmp_path):
    # Someone else's journal gives its trials an environment of their own (`this`, which
    # prints when imported): the confirmation would train the best trial's flags.
    out = copy_of_tuning(tuned, tmp_path)
    shutil.rmtree(out / 'confirm')
    lines = (out / 'optuna.journal').read_text().splitlines()
    for i, line in enumerate(lines):
        entry = json.loads(line)
        if entry['op_code'] == 8 and 'flags' in entry['user_attr']:
            entry['user_attr']['flags'] += ['--env_name', 'this:Pendulum-v1']
            lines[i] = json.dumps(entry, separators=(',', ':'))
    (out / 'optuna.journal').write_text('\n'.join(lines) + '\n')
    result = run_script('study.py', '--out', out)
    assert_clean_error(result, '{} holds trial00'.format(out / 'optuna.journal'),
                       "with flags that the tuning's configuration and search space do not "
                       'give; nothing was trained')
    assert not (out / 'confirm').exists()
    assert 'Zen of Python' not in result.stdout


@pytest.mark.slow
def test_a_damaged_last_journal_line_is_set_aside_and_the_tuning_goes_on(tuned, tmp_path):
    # A write cut short (a kill, a full disk), then a whole line that is no entry: each is
    # set aside before the tuning appends, and the trial it goes on with is not lost.
    out = copy_of_tuning(tuned, tmp_path)
    study = json.loads((out / 'study.json').read_text())
    for tune, tail, words in ((5, b'{"op_code":8,"worker_id":"x","trial_id":0,"user_at',
                               r'an entry cut short \(a write stopped by a kill or a full '
                               r'disk\)'),
                              (6, b'garbage\n', 'a line that is not an entry')):
        (out / 'study.json').write_text(json.dumps(dict(study, tune=tune)))  # a trial to go
        whole = (out / 'optuna.journal').read_bytes()
        with open(out / 'optuna.journal', 'ab') as f:
            f.write(tail)
        result = run_script('study.py', '--out', out)
        assert result.returncode == 0, result.stdout + result.stderr
        kept = out / ('optuna.journal.damaged' if tune == 5 else 'optuna.journal.damaged.2')
        assert re.search(r'^{} ended in {}; it is kept in {}, and the tuning goes on from the '
                         r'\d+ whole entries before it$'.format(
                             re.escape(str(out / 'optuna.journal')), words,
                             re.escape(str(kept))), result.stdout, re.M), result.stdout
        assert kept.read_bytes() == tail
        journal_now = (out / 'optuna.journal').read_bytes()
        assert journal_now.startswith(whole) and tail not in journal_now
        assert [t.number for t in journal(out)] == list(range(tune))  # no trial lost
        assert [row['trial'] for row in tuning_csv(out)] == [str(n) for n in range(tune)]
    again = study_without_ray('--out', out)  # after the repair: nothing to set aside, and
    assert again.returncode == 0, again.stdout + again.stderr  # nothing to run: no Ray
    assert 'ended in' not in again.stdout
    assert (out / 'optuna.journal').read_bytes() == journal_now


@pytest.mark.slow
def test_a_stopped_confirmation_names_the_command_that_finishes_the_tuning(tuned, tmp_path):
    out = copy_of_tuning(tuned, tmp_path)
    shutil.rmtree(out / 'confirm')  # the confirmation to run again
    tuning = start_study('--out', out, '--workers', 1)
    log = out / 'confirm' / 'trials' / 'base' / 'seeds600' / 'train.log'
    wait_until(lambda: log.exists() and '0 episode |' in log.read_text(), tuning, 300)
    tuning.send_signal(signal.SIGTERM)  # the driver alone, as `kill` sends it
    stdout, stderr = tuning.communicate(timeout=300)
    assert tuning.returncode == 143, stderr
    assert 'Traceback' not in stderr and 'SIGTERM received' not in stderr
    last = stdout.strip().splitlines()[-1]
    assert last.endswith('finish the tuning with: python study.py --out {}'.format(out)), last
    assert 'Not confirmed yet: python study.py --out {}.'.format(out) in (
        out / 'best.md').read_text()
    again = run_script(*last.split(': ')[-1].split()[1:])  # as printed
    assert again.returncode == 0, again.stdout + again.stderr
    assert 'Not confirmed yet' not in (out / 'best.md').read_text()
    assert '| tuned | ' in (out / 'best.md').read_text()
