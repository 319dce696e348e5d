"""test.py: loads a saved actor in either format, shows it (a real MP4 where there is
no display), reports mean ± std, and refuses bad input in one line."""
import os
import re
import shutil

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

from conftest import ROOT, assert_clean_error, in_a_window, run_script
from ddpg_extras.run.files import load_actor_weights, save_actor
from model import Actor


@pytest.fixture
def actor_file(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / 'model.pth'
    torch.save(Actor(3, 1, 64).state_dict(), path)  # the deck's format
    return path


def episode_scores(stdout):
    return [float(s) for s in re.findall(r'^\d+ episode \| score: (-?[\d.]+)$', stdout, re.M)]


@pytest.mark.slow
def test_without_a_display_it_records_a_real_mp4_and_reports_mean_and_std(tmp_path, actor_file):
    result = run_script('test.py', '--load_model', actor_file, '--episodes', 2, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert 'Traceback' not in result.stderr and 'XDG_RUNTIME_DIR' not in result.stderr
    scores = episode_scores(result.stdout)
    assert len(scores) == 2
    assert re.match(r'testing .*model\.pth on Pendulum-v1, 2 episodes; recording them to '
                    r'videos/model_\d{8}-\d{6}\.mp4 \(no window\)\n', result.stdout)
    summary = 'score: {:.2f} ± {:.2f} over 2 episodes'.format(np.mean(scores), np.std(scores))
    assert re.search(re.escape(summary) + r'; the optimum for gamma 0\.99 scores -?\d+\.\d\d on '
                     r'these starts$', result.stdout, re.M)
    video = re.search(r'^video: (videos/model_\d{8}-\d{6}\.mp4)$', result.stdout, re.M).group(1)
    reader = imageio.get_reader(tmp_path / video)
    frames = [frame for frame in reader]
    assert len(frames) == 2 * 201  # each reset, then 200 steps
    assert frames[0].shape == (500, 500, 3)
    # A pendulum is drawn and it moves: frames are neither blank nor all the same.
    assert frames[0].min() < 128 and frames[0].max() > 128
    assert np.abs(frames[0].astype(int) - frames[100].astype(int)).sum() > 0
    assert not list(tmp_path.glob('videos/*.part.mp4'))


@pytest.mark.slow
@pytest.mark.parametrize('name', ['swing.mp4', 'swing.gif'])
def test_record_writes_where_asked_in_the_format_its_name_gives(tmp_path, actor_file, name):
    target = tmp_path / 'out' / name
    result = run_script('test.py', '--load_model', actor_file, '--episodes', 1,
                        '--record', target)
    assert result.returncode == 0, result.stderr
    assert 'video: {}'.format(target) in result.stdout
    head = target.read_bytes()[:12]
    assert head[:6] == b'GIF89a' if name.endswith('.gif') else head[4:8] == b'ftyp'
    frames = imageio.mimread(target, memtest=False)
    assert frames[0].shape[:2] == (500, 500)
    assert np.abs(frames[0][..., :3].astype(int) - frames[-1][..., :3].astype(int)).sum() > 0
    assert sorted(os.listdir(target.parent)) == [name]  # no .part file left
    if name.endswith('.mp4'):
        assert len(frames) == 201
    else:  # Pillow merges identical frames; a README plays it in a loop, in real time
        from PIL import Image, ImageSequence
        gif = Image.open(target)
        assert gif.info['loop'] == 0
        seconds = sum(frame.info['duration'] for frame in ImageSequence.Iterator(gif)) / 1000
        assert 6.0 <= seconds <= 6.8  # 201 frames at Pendulum's 30 frames per second


def test_record_refuses_other_formats(tmp_path, actor_file):
    result = run_script('test.py', '--load_model', actor_file, '--record', tmp_path / 'a.avi')
    assert result.returncode == 2
    assert '--record needs a file name ending in .mp4 or .gif' in result.stderr


@pytest.mark.slow
def test_both_checkpoint_formats_round_trip_and_score_the_same(tmp_path, actor_file):
    weights = torch.load(actor_file, weights_only=True)
    actor = Actor(3, 1, 64)
    actor.load_state_dict(weights)
    torch.save(weights, tmp_path / 'model.pth.tar')  # the deck's later name
    save_actor(actor, str(tmp_path / 'own.pth'), {'env_name': 'Pendulum-v1'})  # ours
    torch.save({'actor': weights, 'episode': 3}, tmp_path / 'checkpoint.pth')
    loaded, info = load_actor_weights(str(tmp_path / 'own.pth'))
    assert info == {'env_name': 'Pendulum-v1'}
    for name, value in weights.items():
        torch.testing.assert_close(loaded[name], value, rtol=0, atol=0)

    runs = [run_script('test.py', '--load_model', path, '--episodes', 2, '--no_render')
            for path in (actor_file, tmp_path / 'model.pth.tar', tmp_path / 'own.pth',
                         tmp_path / 'checkpoint.pth')]
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    scores = [episode_scores(r.stdout) for r in runs]
    assert len(scores[0]) == 2 and all(s == scores[0] for s in scores)


@pytest.mark.slow
def test_episode_i_starts_from_reset_seed_seed_plus_i(actor_file):
    # a named set of starts: the scores of --seed 20 --episodes 3 are those of seeds 20, 21, 22
    three = run_script('test.py', '--load_model', actor_file, '--episodes', 3, '--no_render',
                       '--seed', 20)
    singles = [run_script('test.py', '--load_model', actor_file, '--episodes', 1, '--no_render',
                          '--seed', seed) for seed in (20, 21, 22)]
    scores = episode_scores(three.stdout)
    assert scores == [episode_scores(r.stdout)[0] for r in singles]
    assert len(set(scores)) == 3


@pytest.mark.slow
def test_noise_is_off_unless_asked(actor_file):
    plain = [run_script('test.py', '--load_model', actor_file, '--episodes', 1, '--no_render')
             for _ in range(2)]
    noisy = run_script('test.py', '--load_model', actor_file, '--episodes', 1, '--no_render',
                       '--noise', '--sigma', 1.0)
    assert episode_scores(plain[0].stdout) == episode_scores(plain[1].stdout)
    assert episode_scores(noisy.stdout) != episode_scores(plain[0].stdout)
    assert 'with OU noise' in noisy.stdout


def test_a_model_file_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'code_ran'

    class Payload:
        def __reduce__(self):
            return (os.mkdir, (str(marker),))
    path = tmp_path / 'evil.pth'
    torch.save({'fc1.weight': Payload()}, path)
    torch.load(path, weights_only=False)  # proof that this file runs code when unpickled
    assert marker.exists()
    os.rmdir(marker)

    result = run_script('test.py', '--load_model', path, '--no_render')
    assert_clean_error(result, 'refused to load', 'would run code')
    assert not marker.exists()


@pytest.mark.parametrize('make, flags, fragments', [
    (None, [], ['no model file at', 'python train.py']),
    ('text', [], ['cannot read', 'not a PyTorch model file']),
    ('short_text', [], ['cannot read', 'not a PyTorch model file']),
    ('truncated', [], ['cannot read', 'truncated']),
    ('not_actor', [], ['holds no actor weights', 'fc1.weight']),
    ('actor', ['--env_name', 'MountainCarContinuous-v0'],
     ['actor for 3 observations and 1 actions', 'MountainCarContinuous-v0 has 2 and 1']),
    ('json_other_env', [], ['was trained on MountainCarContinuous-v0, not Pendulum-v1']),
    ('actor', ['--hidden_size', 32], ['has hidden size 64, not 32']),
    ('actor', ['--env_name', 'NoSuchEnv-v0'], ['cannot make environment', 'NoSuchEnv-v0']),
    ('actor', ['--env_name', 'CartPole-v1'], ['CartPole-v1 has Discrete actions']),
])
def test_bad_input_gets_one_clear_line(tmp_path, make, flags, fragments):
    path = tmp_path / 'model.pth'
    torch.manual_seed(0)
    if make == 'text':
        path.write_text('hello, I am not a model\n')
    elif make == 'short_text':
        path.write_text('vm\n')
    elif make == 'truncated':
        torch.save(Actor(3, 1, 64).state_dict(), path)
        path.write_bytes(path.read_bytes()[:3000])
    elif make == 'not_actor':
        torch.save({'weights': torch.zeros(3)}, path)
    elif make == 'actor':
        torch.save(Actor(3, 1, 64).state_dict(), path)
    elif make == 'json_other_env':
        torch.save(Actor(3, 1, 64).state_dict(), path)
        (tmp_path / 'model.pth.json').write_text('{"env_name": "MountainCarContinuous-v0"}')
        flags = ['--env_name', 'Pendulum-v1']
    result = run_script('test.py', '--load_model', path, '--no_render', *flags)
    assert_clean_error(result, 'error: ', *fragments)


def test_a_bare_name_is_looked_up_in_save_model(tmp_path):
    result = run_script('test.py', '--no_render', cwd=tmp_path)
    assert_clean_error(result, 'no model file at save_model/model.pth')


def red_pixels(bgr):
    """Where the pendulum's red rod is on the screen."""
    return np.argwhere((bgr[..., 2] > 150) & (bgr[..., 1] < 120) & (bgr[..., 0] < 120))


@pytest.mark.slow
@pytest.mark.skipif(shutil.which('Xvfb') is None,
                    reason='needs Xvfb (Debian package xvfb; .ci/run installs it)')
def test_with_a_display_it_draws_the_pendulum_in_a_real_window(tmp_path):
    seen = set()  # where the rod's tip was, frame by frame, as the screen showed it

    def look(pixels):
        red = red_pixels(pixels)
        if len(red) > 200:
            seen.add(tuple(red.min(0) // 10))
    code, out, err = in_a_window(tmp_path, '--load_model', os.path.join(
        ROOT, 'save_model', 'pretrained.pth'), '--episodes', 1, look=look)
    assert code == 0, err
    assert 'video:' not in out  # a window, not a recording
    assert len(seen) >= 5, seen  # the pendulum was drawn, and it moved
