"""What others hand you: study folders, checkpoints, batches and actors, damaged or
crafted, give one clear line and change nothing; every printed command pastes as it
is; nothing the user has is replaced unasked. Real processes, files and signals."""
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys

import pytest
import torch
from test_resume_and_faults import only, wait_for

import train
from conftest import ROOT, assert_clean_error, run_script, script_env, start_script
from ddpg_extras.run.checks import quietly

QUICK_FLAGS = ['--max_iter_num', '1']


def spy_module(tmp_path):
    """A module that marks, in its own folder, that it was imported: (its folder, the
    mark). `--env_name ddpg_spy:Pendulum-v1` makes Gymnasium import it."""
    folder = tmp_path / 'spy'
    folder.mkdir()
    (folder / 'ddpg_spy.py').write_text(
        "import os\nopen(os.path.join(os.path.dirname(__file__), 'imported'), 'w').close()\n")
    return folder, folder / 'imported'


def run_with(path, script, *args, cwd=None):
    """run_script with `path` on PYTHONPATH, where the spy module is importable."""
    env = dict(script_env(), PYTHONPATH=str(path))
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *map(str, args)],
                          cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=600)


def folder_files(root):
    return sorted(os.path.relpath(os.path.join(where, name), root)
                  for where, _, names in os.walk(root) for name in names)


# --- a study folder made by someone else -------------------------------------------------

@pytest.mark.parametrize('study, fragment', [
    ({'configs': [['../../../victim', ['--max_iter_num', '1', '--goal_score', 'inf']]],
      'seeds': [1]}, "names a configuration '../../../victim', which is not a plain name"),
    ({'configs': [['..', []]], 'seeds': [1]}, "names a configuration '..'"),
    ({'configs': [['a', ['--tau', '7']]], 'seeds': [1]},
     'holds configuration a, whose flags the command line would refuse: argument --tau'),
    ({'configs': [['a', ['--seed', '3']]], 'seeds': [1]}, '--seed is set by the study'),
    ({'configs': [['a', []]], 'seeds': [1], 'score_episodes': 'many'},
     'holds settings that the command line would refuse: argument --score_episodes'),
    ({'configs': [['a', []]], 'seeds': [1], 'seeds_per_trial': 0},
     'holds settings that the command line would refuse'),
    ({'configs': [['a', []]], 'seeds': [1, 1]}, 'is damaged'),
    ({'configs': [['a', ['--load', '/anywhere/actor.pth']]], 'seeds': [1]},  # a prefix
     'holds configuration a, whose flags the command line would refuse: unrecognized '
     'arguments: --load /anywhere/actor.pth'),
    ({'configs': [['a', ['--load_model=/anywhere/actor.pth']]], 'seeds': [1]},
     '--load_model is set by the study'),
    ({'configs': [['a', []]], 'seeds': [1], 'score_episodes': None},
     'holds settings that the command line would refuse: it holds no value of '
     '--score_episodes'),
])
def test_a_crafted_study_json_gets_one_line_and_nothing_is_written(tmp_path, study, fragment):
    import study as driver  # in this process: the script's checks, without its start-up
    out = tmp_path / 'a' / 'b' / 'c' / 'study'
    out.mkdir(parents=True)
    (out / 'study.json').write_text(json.dumps(study))
    victim = tmp_path / 'victim' / 'seed1' / 'logs'
    victim.mkdir(parents=True)
    (victim / 'notes.txt').write_text('mine')
    with pytest.raises(SystemExit) as exit:
        driver.main(['--out', str(out)])
    line = str(exit.value.code)
    assert line.startswith('error: {}/study.json'.format(out)) and '\n' not in line
    assert fragment in line, line
    assert folder_files(tmp_path) == ['a/b/c/study/study.json', 'victim/seed1/logs/notes.txt']


def test_a_study_folder_that_leads_outside_gets_one_line_from_the_script(tmp_path):
    out = tmp_path / 'study'
    out.mkdir()
    (out / 'study.json').write_text(json.dumps({'configs': [['../victim', QUICK_FLAGS]],
                                                'seeds': [1]}))
    result = run_script('study.py', '--out', out)
    assert_clean_error(result, "names a configuration '../victim', which is not a plain name")
    assert folder_files(tmp_path) == ['study/study.json']


def test_a_study_json_cannot_make_the_program_import_a_module(tmp_path):
    path, imported = spy_module(tmp_path)
    out = tmp_path / 'study'
    out.mkdir()
    config = ['a', ['--env_name', 'ddpg_spy:Pendulum-v1', '--max_iter_num', '1']]
    (out / 'study.json').write_text(json.dumps({'configs': [config], 'seeds': [500]}))
    result = run_with(path, 'study.py', '--out', out)
    assert_clean_error(result, '{}/study.json names --env_name ddpg_spy:Pendulum-v1, which '
                               "makes Gymnasium import the module 'ddpg_spy'".format(out),
                       'run it with its --config flags on the command line')
    assert not imported.exists()
    assert folder_files(out) == ['study.json']


def test_a_link_in_a_study_folder_never_leads_a_trial_outside_it(tmp_path):
    out, elsewhere = tmp_path / 'study', tmp_path / 'elsewhere'
    (out / 'trials' / 'a').mkdir(parents=True)
    elsewhere.mkdir()
    (elsewhere / 'keep.txt').write_text('mine')
    os.symlink(elsewhere, out / 'trials' / 'a' / 'seed500')  # the trial's folder
    (out / 'study.json').write_text(json.dumps({'configs': [['a', QUICK_FLAGS]], 'seeds': [500]}))
    result = run_script('study.py', '--out', out)
    assert_clean_error(result, '{} leads outside the study folder {} (a link, to {})'.format(
        out / 'trials' / 'a' / 'seed500', out, elsewhere), 'nothing was written')
    assert os.listdir(elsewhere) == ['keep.txt']



# --- checkpoints and actors made by someone else ------------------------------------------

@pytest.fixture(scope='session')
def a_run(made_once):
    """A finished run of 3 episodes, made once: its checkpoint, actor file and log."""
    def build(folder):
        result = train.main(['--max_iter_num', '3', '--goal_score', 'inf', '--save_path',
                             str(folder), '--logdir', str(folder / 'logs')])
        (folder / 'run.json').write_text(json.dumps(
            {key: result[key] for key in ('checkpoint', 'model', 'run_dir')}))
    return json.loads((made_once('a_run', build) / 'run.json').read_text())


def crafted_checkpoint(a_run, tmp_path, **changes):
    state = torch.load(a_run['checkpoint'], weights_only=True)
    args = changes.pop('args', {})
    state['args'].update(args)
    state.update(changes)
    path = tmp_path / 'crafted.checkpoint.pth'
    torch.save(state, path)
    return path


@pytest.mark.slow
def test_a_checkpoint_cannot_make_the_program_import_a_module(a_run, tmp_path):
    path, imported = spy_module(tmp_path)
    checkpoint = crafted_checkpoint(a_run, tmp_path, args={'env_name': 'ddpg_spy:Pendulum-v1'})
    where = ['--save_path', tmp_path / 'out', '--logdir', tmp_path / 'logs']
    for script, args in (('train.py', ['--max_iter_num', 4, *where]),
                         ('test.py', ['--no_render', '--episodes', 1])):
        result = run_with(path, script, '--load_model', checkpoint, *args)
        assert_clean_error(result, '{} names --env_name ddpg_spy:Pendulum-v1, which makes '
                                   "Gymnasium import the module 'ddpg_spy'".format(checkpoint),
                           '--env_name ddpg_spy:Pendulum-v1 if you trust it')
        assert not imported.exists()
    named = run_with(path, 'test.py', '--load_model', checkpoint, '--no_render', '--episodes', 1,
                     '--env_name', 'ddpg_spy:Pendulum-v1')  # the user names it: it is theirs
    assert named.returncode == 0, named.stderr
    assert imported.exists()


@pytest.mark.parametrize('changes, fragment', [
    ({'run': '../../outside'}, 'is an incomplete checkpoint'),
    ({'episode': '3'}, 'is an incomplete checkpoint'),
    ({'args': {'hidden_size': 'sixty-four'}},
     'holds flags that the command line would refuse: argument --hidden_size'),
    ({'args': {'tanh_actor': 'yes'}}, 'holds flags that the command line would refuse'),
])
def test_a_crafted_checkpoint_gets_one_line_and_writes_nothing(a_run, tmp_path, changes,
                                                               fragment):
    checkpoint = crafted_checkpoint(a_run, tmp_path, **changes)
    result = run_script('train.py', '--load_model', checkpoint, '--max_iter_num', 4,
                        '--logdir', tmp_path / 'logs')
    assert_clean_error(result, str(checkpoint), fragment)
    assert folder_files(tmp_path) == ['crafted.checkpoint.pth']
    assert not os.path.exists(tmp_path.parent / 'outside.checkpoint.pth')


@pytest.mark.parametrize('script', ['test.py', 'train.py', 'train_seeds.py'])
@pytest.mark.parametrize('text', ['{"env_name": "Pend', '[1, 2]', '{"env_name": 3}'])
def test_a_damaged_actor_json_gets_one_line(a_run, tmp_path, script, text):
    actor = tmp_path / 'a.pth'
    shutil.copy(a_run['model'], actor)
    (tmp_path / 'a.pth.json').write_text(text)
    args = (['--no_render'] if script == 'test.py' else
            ['--max_iter_num', 1, '--save_path', tmp_path / 'out', '--logdir', tmp_path / 'l'])
    result = run_script(script, '--load_model', actor, *args)
    assert_clean_error(result, '{}.json is damaged'.format(actor),
                       'move it away and give --env_name')
    if text.startswith('{"env_name": 3'):  # what writes it: train.py, not a study
        assert 'it does not hold what train.py writes there' in result.stderr


# --- one parser for every flag ------------------------------------------------------------

@pytest.mark.parametrize('script, argv, prefix', [
    ('train', ['--max_iter', '1'], '--max_iter'),
    ('train', ['--load', 'model.pth'], '--load'),
    ('train_seeds', ['--max_iter', '1'], '--max_iter'),
    ('study', ['--score_ep', '2'], '--score_ep'),
    ('study', ['--confirm', '600'], '--confirm'),
    ('plot', ['logs/run', '--land'], '--land'),
    ('test', ['--episode', '1'], '--episode'),
])
def test_no_script_takes_a_flag_by_a_prefix_of_its_name(script, argv, prefix):
    parser = load_script(script).parser
    said, problem = quietly(lambda: parser.parse_args(argv))
    assert problem is not None and problem.startswith('unrecognized arguments: ' + prefix)


@pytest.mark.parametrize('config, fragment', [
    ('a=--load /anywhere/actor.pth', 'unrecognized arguments: --load /anywhere/actor.pth'),
    ('a=--load_model=/anywhere/actor.pth', '--load_model is set by the study'),
    ('a=--seed=7', '--seed is set by the study'),
    ('a=--seeds_per 2', 'unrecognized arguments: --seeds_per 2'),
])
def test_a_configuration_is_read_by_train_pys_parser_and_refused_by_what_it_sets(
        tmp_path, config, fragment):
    import study as driver
    with pytest.raises(SystemExit) as refused:
        driver.main(['--config', config, '--out', str(tmp_path / 'study')])
    assert str(refused.value.code).startswith('error: --config a: ' + fragment)
    assert os.listdir(tmp_path) == []


def test_no_module_reads_argparses_private_attributes():
    found = []
    for path in glob.glob(os.path.join(ROOT, '**', '*.py'), recursive=True):
        if '.venv' not in path and 'tests' not in path.split(os.sep):
            text = open(path).read()
            found += [(path, name) for name in ('._actions', '._option_string_actions',
                                                '._optionals', '._positionals')
                      if name in text]
    assert found == []


def load_script(name):
    """A script's module: test.py by its path (a module named test is Python's)."""
    import importlib
    if name != 'test':
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location('watch', os.path.join(ROOT, 'test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_printed_command_keeps_a_value_that_starts_with_a_dash_with_its_flag():
    from ddpg_extras.run.checks import command
    printed = command('train.py', load_model='-runs/a.checkpoint.pth')
    assert printed == 'python train.py --load_model=-runs/a.checkpoint.pth'
    args = train.parser.parse_args(shlex.split(printed)[2:])
    assert args.load_model == '-runs/a.checkpoint.pth'


# --- an actor whose layers do not fit each other ------------------------------------------

MISFITS = {'fc2 of 32x64 after a 64-unit fc1': {'fc2.weight': torch.zeros(32, 64),
                                                 'fc2.bias': torch.zeros(32)},
           'a 1-D weight': {'fc2.weight': torch.zeros(64)}}


@pytest.mark.parametrize('misfit', MISFITS)
@pytest.mark.parametrize('script', ['test', 'plot', 'train'])
def test_an_actor_whose_layers_do_not_fit_gets_one_line(a_run, tmp_path, misfit, script):
    weights = dict(torch.load(a_run['model'], weights_only=True), **MISFITS[misfit])
    actor = tmp_path / 'actor.pth'
    torch.save(weights, actor)
    argv = {'test': ['--load_model', str(actor), '--no_render', '--episodes', '1'],
            'plot': [str(actor), '--landscape'],
            'train': ['--load_model', str(actor), '--max_iter_num', '1', '--save_path',
                      str(tmp_path / 'out'), '--logdir', str(tmp_path / 'logs')]}[script]
    with pytest.raises(SystemExit) as refused:  # the script's main, in this process
        load_script(script).main(argv)
    assert str(refused.value.code).startswith(
        'error: {} holds no actor that model.py can build'.format(actor))
    assert folder_files(tmp_path) == ['actor.pth']
    if script == 'test' and misfit == next(iter(MISFITS)):  # and as a command: one line
        assert_clean_error(run_script('test.py', '--load_model', actor, '--no_render'),
                           '{} holds no actor that model.py can build'.format(actor))


def test_an_actor_json_cannot_make_test_py_import_a_module(a_run, tmp_path):
    path, imported = spy_module(tmp_path)
    actor = tmp_path / 'a.pth'
    shutil.copy(a_run['model'], actor)
    (tmp_path / 'a.pth.json').write_text(json.dumps({'env_name': 'ddpg_spy:Pendulum-v1'}))
    result = run_with(path, 'test.py', '--load_model', actor, '--no_render', '--episodes', 1)
    assert_clean_error(result, "{}.json names --env_name ddpg_spy:Pendulum-v1".format(actor))
    assert not imported.exists()


# --- every printed command pastes as it is ------------------------------------------------

def through_a_shell(command, cwd):
    """Run a printed command as a user pastes it: through a real shell."""
    return subprocess.run(['bash', '-c', command.replace('python ', sys.executable + ' ', 1)],
                          cwd=cwd, env=script_env(), capture_output=True, text=True, timeout=600)


@pytest.mark.slow
@pytest.mark.parametrize('script, flags', [
    ('train.py', []),
    ('train_seeds.py', ['--seeds', '500-501']),
])
def test_every_printed_command_pastes_through_a_shell(tmp_path, script, flags):
    folder = tmp_path / 'my runs' / 'séance'
    where = ['--save_path', folder, '--logdir', folder / 'logs']
    first = start_script(script, *flags, '--max_iter_num', 3, '--log_interval', 1, *where)
    wait_for(first, '0 episode |')
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    command = re.search(r'^resume with: (python .*)$', out, re.M).group(1)
    resumed = through_a_shell(command, ROOT)  # as printed: no flag given again
    assert resumed.returncode == 0, resumed.stderr
    assert 'resuming' in resumed.stdout and "'" in command  # quoted
    if script == 'train.py':
        watch = re.search(r'watch it with: (python .*)$', resumed.stdout, re.M).group(1)
        train_on = re.search(r'train on with: (python .*) and a larger', resumed.stdout,
                             re.M).group(1)
        watched = through_a_shell(watch + ' --no_render --episodes 1', ROOT)
        assert watched.returncode == 0, watched.stderr
        more = through_a_shell(train_on + ' --max_iter_num 4', ROOT)
        assert more.returncode == 0 and 'resuming' in more.stdout, more.stderr


# --- a batch's checkpoint where it does not belong ----------------------------------------

@pytest.fixture(scope='session')
def stopped_batch(made_once):
    """A batch of seeds 500-501 stopped by Ctrl-C after its first episode, made once."""
    def build(folder):
        first = start_script('train_seeds.py', '--seeds', '500-501', '--max_iter_num', 3,
                             '--log_interval', 1, '--save_path', folder, '--logdir', folder / 'l')
        wait_for(first, '0 episode |')
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
        assert first.returncode == 130
    folder = made_once('stopped_batch', build)
    return folder, only(folder / '*.seeds.pth')


@pytest.mark.slow
def test_a_batch_checkpoint_away_from_its_seeds_says_what_is_missing_and_where(
        stopped_batch, tmp_path):
    folder, batch = stopped_batch
    moved = tmp_path / os.path.basename(batch)
    shutil.copy(batch, moved)
    result = run_script('train_seeds.py', '--load_model', moved)
    seed_checkpoint = os.path.basename(only(folder / '*seed500_*.checkpoint.pth'))
    assert_clean_error(result, '{} resumes seed 500 from its own checkpoint, {}, which is not '
                               'in {}'.format(moved, seed_checkpoint, tmp_path),
                       'put them back beside it')
    assert 'again' not in result.stderr  # never: start it again


@pytest.mark.slow
@pytest.mark.parametrize('script, fragment', [
    ('train.py', "is the checkpoint of a batch of seeds, made by train_seeds.py; resume it "
                 "with: python train_seeds.py --load_model"),
    ('test.py', "is train_seeds.py's checkpoint of a batch of seeds, which holds no actor"),
])
def test_a_batch_checkpoint_given_to_another_script_names_the_right_one(stopped_batch, script,
                                                                        fragment):
    folder, batch = stopped_batch
    result = run_script(script, '--load_model', batch, '--no_render' if script == 'test.py'
                        else '--max_iter_num=4')
    assert_clean_error(result, str(batch), fragment)


@pytest.mark.slow
def test_a_batch_killed_before_its_first_checkpoint_starts_its_seeds_again(tmp_path):
    flags = ['--seeds', '500-501', '--max_iter_num', 4, '--log_interval', 1]
    whole = run_script('train_seeds.py', *flags, '--save_path', tmp_path / 'a', '--logdir',
                       tmp_path / 'a_logs')
    assert whole.returncode == 0, whole.stderr
    first = start_script('train_seeds.py', *flags, '--save_path', tmp_path / 'b', '--logdir',
                         tmp_path / 'b_logs')
    wait_for(first, 'seed 501 | 1 episode |')  # before episode 50, its first checkpoint
    first.kill()
    first.communicate(timeout=60)
    assert not glob.glob(str(tmp_path / 'b' / '*.checkpoint.pth'))
    batch = only(tmp_path / 'b' / '*.seeds.pth')
    resumed = run_script('train_seeds.py', '--load_model', batch)
    assert resumed.returncode == 0, resumed.stderr
    assert ('seed 500 had saved no checkpoint when the batch stopped: it starts again from its '
            'first episode') in resumed.stdout
    from test_resume_and_faults import logged
    for seed in (500, 501):  # as the uninterrupted batch, each episode logged once
        a = torch.load(only(tmp_path / 'a' / '*seed{}_*.checkpoint.pth'.format(seed)),
                       weights_only=True)
        b = torch.load(only(tmp_path / 'b' / '*seed{}_*.checkpoint.pth'.format(seed)),
                       weights_only=True)
        assert a['scores'] == b['scores']
        assert all(torch.equal(v, b['actor'][k]) for k, v in a['actor'].items())
        assert logged(only(tmp_path / 'b_logs' / '*seed{}_*'.format(seed))) == logged(
            only(tmp_path / 'a_logs' / '*seed{}_*'.format(seed)))


# --- signals ------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize('script, flags', [
    ('train.py', []),
    ('train_seeds.py', ['--seeds', '500-501']),
])
def test_sighup_stops_and_saves_as_sigterm_does(tmp_path, script, flags):
    where = ['--save_path', tmp_path, '--logdir', tmp_path / 'logs']
    first = start_script(script, *flags, '--max_iter_num', 30, '--log_interval', 1, *where)
    wait_for(first, '1 episode |')
    first.send_signal(signal.SIGHUP)  # a closed terminal, a lost SSH session
    out, err = first.communicate(timeout=120)
    assert first.returncode == 129, err
    assert 'SIGHUP: stopping after this step to save a checkpoint' in out
    assert re.search(r'^resume with: python {} --load_model '.format(script), out, re.M)


@pytest.mark.slow
def test_a_second_ctrl_c_while_the_run_saves_ends_it_with_a_last_line(tmp_path):
    # The first Ctrl-C stops the run; the second comes while it saves its checkpoint, a
    # real SIGINT sent from inside that save.
    code = '\n'.join([
        'import os, runpy, signal, sys',
        'from ddpg_extras.run import files, training as run',
        'def save(obj, path):',
        '    if stopping:  # the save after Ctrl-C: a second Ctrl-C, now',
        '        os.kill(os.getpid(), signal.SIGINT)',
        '    files.save_torch(obj, path)',
        'stopping, after_stop = [], run.Run.save_after_stop',
        'def save_after_stop(self, episode):',
        '    stopping.append(episode)',
        '    return after_stop(self, episode)',
        'run.save_torch, run.Run.save_after_stop = save, save_after_stop',
        'sys.argv = ["train.py"] + sys.argv[1:]',
        'runpy.run_path("train.py", run_name="__main__")'])
    first = subprocess.Popen([sys.executable, '-c', code, '--max_iter_num', '30', '--log_interval',
                              '1', '--checkpoint_interval', '2', '--save_path', str(tmp_path),
                              '--logdir', str(tmp_path / 'logs')], cwd=ROOT, env=script_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(first, '3 episode |')
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert 'Traceback' not in err
    checkpoint = only(tmp_path / '*.checkpoint.pth')
    episode = torch.load(checkpoint, weights_only=True)['episode']  # whole: 2 or 4
    assert err.strip().splitlines()[-1] == (
        'SIGINT again: quitting without saving; the last checkpoint on disk holds episode {}: '
        '{}'.format(episode, checkpoint))
    assert not glob.glob(str(tmp_path / '*.tmp*'))


# --- recordings and figures ---------------------------------------------------------------

def test_a_recording_never_replaces_a_file(a_run, tmp_path):
    gif = tmp_path / 'swing.gif'
    gif.write_bytes(b'my own animation')
    result = run_script('test.py', '--load_model', a_run['model'], '--record', gif,
                        '--episodes', 1)
    assert_clean_error(result, '--record {}: that file is there already'.format(gif))
    assert gif.read_bytes() == b'my own animation'


@pytest.mark.slow
def test_a_stopped_recording_keeps_what_it_recorded_apart(a_run, tmp_path):
    gif = tmp_path / 'swing.gif'
    first = start_script('test.py', '--load_model', a_run['model'], '--record', gif,
                         '--episodes', 50)
    wait_for(first, '0 episode |')
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert not gif.exists()  # never a partial file under the finished one's name
    kept = re.search(r'^video: the (\d+) episode\(s\) recorded are kept as (.*)$', out, re.M)
    assert kept.group(2) == str(tmp_path / 'swing.part.gif')
    assert os.path.getsize(kept.group(2)) > 0


def test_plot_makes_the_folder_of_its_output(a_run, tmp_path):
    out = tmp_path / 'missing' / 'folder' / 'x.png'
    result = run_script('plot.py', a_run['run_dir'], '-o', out)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


@pytest.mark.slow
def test_sighup_to_a_study_driver_stops_it_as_ctrl_c_does(tmp_path):
    from test_study import LONG, SHORT, start_study, train_log, wait_until
    out = tmp_path / 'study'
    study = start_study('--config', 'a=' + LONG, '--seeds', 500, '--out', out, *SHORT)
    wait_until(lambda: '5 episode |' in train_log(out, 'a', 500), study)
    study.send_signal(signal.SIGHUP)  # the driver alone: its terminal closed
    stdout, stderr = study.communicate(timeout=120)
    assert study.returncode == 129, stderr
    assert 'Traceback' not in stderr and '*** SIG' not in stderr  # no crash dump
    assert 'SIGHUP: stopping the study; each running trial saves its checkpoint' in stdout
    assert stdout.strip().splitlines()[-1] == (
        '0 of 1 trials finished; finish the study with: python study.py --out {}'.format(out))
    assert 'stopped by SIGINT in episode' in train_log(out, 'a', 500)  # saved, as Ctrl-C
    again = run_script('study.py', '--out', out, *SHORT)
    assert again.returncode == 0, again.stderr
    assert '1 of 1 trials to run' in again.stdout
