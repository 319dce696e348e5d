"""plot.py draws real TensorBoard logs of train.py into a PNG."""
import matplotlib.image

import train
from conftest import assert_clean_error, run_script


def test_plot_draws_the_runs_tags_into_a_png(tmp_path):
    runs = [train.main(['--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs'),
                        '--max_iter_num', '2', '--seed', seed])['run_dir'] for seed in ('1', '2')]
    out = tmp_path / 'curves.png'
    result = run_script('plot.py', *runs, '--labels', 'one', 'two', '--tags', 'log/score',
                        'actor/out_of_bounds', 'train/critic_grad_norm', '-o', out)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'wrote {}\n'.format(out)
    image = matplotlib.image.imread(out)
    # three panels of 2.4 inches and a margin, at 100 dpi
    assert image.shape[:2] == (780, 800)
    assert image[..., :3].std() > 0.05  # something was drawn


def test_plot_errors_are_one_line(tmp_path):
    assert_clean_error(run_script('plot.py', tmp_path / 'nowhere'), 'no run folder at')
    run = train.main(['--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs'),
                      '--max_iter_num', '1'])['run_dir']
    assert_clean_error(run_script('plot.py', run, '--tags', 'log/scores'),
                       'has no tag log/scores', 'it has: log/score')
    assert_clean_error(run_script('plot.py', tmp_path), 'holds no TensorBoard scalars')
