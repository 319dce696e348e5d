"""plot.py draws real TensorBoard logs of train.py into a PNG."""
import glob
import os

import matplotlib.image
import numpy as np
import pytest

import plot
import train
from conftest import assert_clean_error, run_script


@pytest.mark.slow
def test_plot_draws_the_runs_tags_into_a_png(tmp_path):
    runs = [train.main(['--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs'),
                        '--max_iter_num', '2', '--seed', seed])['run_dir'] for seed in ('1', '2')]
    out = tmp_path / 'curves.png'
    result = run_script('plot.py', *runs, '--labels', 'one', 'two', '--tags', 'log/score',
                        'policy/out_of_bounds', 'train/critic_grad_norm', '-o', out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'wrote {}\n'.format(out)
    image = matplotlib.image.imread(out)
    # three panels of 2.4 inches and a margin, at 100 dpi
    assert image.shape[:2] == (780, 800)
    assert image[..., :3].std() > 0.05  # something was drawn
    # the goal's line, as each run logged its --goal_score; none for inf
    assert plot.run_goals(runs) == [-300.0]
    fixed = train.main(['--save_path', str(tmp_path / 'fixed'), '--logdir', str(
        tmp_path / 'fixed'), '--max_iter_num', '1', '--goal_score', 'inf'])['run_dir']
    assert plot.run_goals([fixed]) == [] and plot.run_goals(runs + [fixed]) == [-300.0]


@pytest.mark.slow
def test_plot_errors_are_one_line(tmp_path):
    assert_clean_error(run_script('plot.py', tmp_path / 'nowhere'), 'no run folder at')
    run = train.main(['--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs'),
                      '--max_iter_num', '1'])['run_dir']
    assert_clean_error(run_script('plot.py', run, '--tags', 'log/scores'),
                       'has no tag log/scores', 'it has: log/score')
    assert_clean_error(run_script('plot.py', tmp_path), 'holds no TensorBoard scalars')


@pytest.mark.slow
def test_several_seeds_are_drawn_as_their_mean_and_a_band(tmp_path):
    runs = [train.main(['--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs'),
                        '--max_iter_num', str(n), '--seed', str(seed), '--batch_size', '1000000',
                        '--replay_buffer_size', '1000000'])
            for seed, n in ((1, 3), (2, 3), (3, 2))]
    curves = [plot.read_scalars(run['run_dir'], ['log/score'])['log/score'] for run in runs]
    episodes, mean, low, high = plot.mean_band(curves)
    scores = [run['scores'] for run in runs]
    assert episodes == [0, 1, 2]
    # float32 in the event files; the third episode only two runs reached
    np.testing.assert_allclose(mean, [np.mean([s[0] for s in scores]),
                                      np.mean([s[1] for s in scores]),
                                      np.mean([s[2] for s in scores[:2]])], rtol=1e-6)
    np.testing.assert_allclose(low, np.min([s[:2] for s in scores], axis=0).tolist()
                               + [min(s[2] for s in scores[:2])], rtol=1e-6)
    np.testing.assert_allclose(high, np.max([s[:2] for s in scores], axis=0).tolist()
                               + [max(s[2] for s in scores[:2])], rtol=1e-6)
    out = tmp_path / 'band.png'
    result = run_script('plot.py', *(run['run_dir'] for run in runs), '--mean', '--span', 1,
                        2, 'the deck reaches the goal here', '-o', out)
    assert result.returncode == 0, result.stderr
    assert matplotlib.image.imread(out).shape[:2] == (540, 800)
    bad = run_script('plot.py', runs[0]['run_dir'], '--span', 'one', 2, 'text')
    assert bad.returncode == 2 and '--span needs two episode numbers' in bad.stderr


@pytest.mark.slow
def test_without_o_the_figure_goes_beside_the_logs_it_reads(tmp_path):
    run = train.main(['--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs'),
                      '--max_iter_num', '1'])['run_dir']
    where = tmp_path / 'project'
    where.mkdir()
    result = run_script('plot.py', run, cwd=where)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'wrote {}/curves.png\n'.format(run)
    assert os.listdir(where) == []  # nothing where the command ran
    again = run_script('plot.py', *glob.glob(str(tmp_path / 'logs' / '*')), cwd=where)
    assert again.returncode == 0, again.stderr  # the figure is not taken for a run


@pytest.mark.slow
def test_a_figure_onto_a_folder_is_refused_before_drawing_and_onto_a_file_says_it_replaces(
        tmp_path):
    run = train.main(['--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs'),
                      '--max_iter_num', '1', '--landscape_interval', '0'])['run_dir']
    folder = tmp_path / 'adir.png'
    folder.mkdir()
    assert_clean_error(run_script('plot.py', run, '-o', folder),
                       '--output {} is a folder; give the figure a file name'.format(folder))
    assert os.listdir(folder) == []
    figure = tmp_path / 'figure.png'
    figure.write_bytes(b'an older figure')
    result = run_script('plot.py', run, '-o', figure)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'wrote {} (it replaces the figure that was there)\n'.format(figure)
    assert figure.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert 'A figure already there is replaced' in ' '.join(
        run_script('plot.py', '--help').stdout.split())
