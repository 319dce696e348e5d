"""What DDPG learns, drawn over Pendulum's state plane: the optimum against the real
environment, the pictures and gaps in TensorBoard (changing nothing of the run), and
plot.py's pictures of a saved model and of a run."""
import glob
import io
import os

import gymnasium as gym
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import train
from conftest import assert_clean_error, run_script
from ddpg_extras.run import optimum
from ddpg_extras.run.landscape import Landscape
from ddpg_extras.run.optimum import solve
from model import Actor, Critic


@pytest.fixture(scope='module')
def best():
    return solve(0.99)  # the deck's --gamma, on the default grid


def greedy(best, observation):
    """mu*(s), read off the grid between its points, for an observation."""
    angle = np.arctan2(observation[1], observation[0])
    return np.array([best.at(best.policy, angle, observation[2])], dtype=np.float32)


def test_the_optimums_policy_scores_near_the_best_on_starts_it_never_saw(best):
    # About -138 is the best achievable (value iteration, 3,000 random starts)
    env, scores = gym.make('Pendulum-v1'), []
    for i in range(100):
        observation, _ = env.reset(seed=20000 + i)
        done, score = False, 0.0
        while not done:
            observation, reward, terminated, truncated, _ = env.step(greedy(best, observation))
            done, score = terminated or truncated, score + reward
        scores.append(score)
    assert -145 <= np.mean(scores) <= -135


def test_v_star_is_the_discounted_return_of_its_own_rollouts(best):
    # In the real environment, 600 steps (0.99^600 < 0.003 of what is left). V* is read
    # between grid points, and it jumps at the edge of the states from which full torque
    # can still hold the pendulum up: there one start's return can differ by 30. So the
    # tolerance is stated on the whole: the mean return within 2% of the mean V*, and
    # half of the starts within 1.
    env = gym.make('Pendulum-v1', max_episode_steps=600)
    returns, values = [], []
    for i in range(60):
        observation, _ = env.reset(seed=30000 + i)
        values.append(best.at(best.value, np.arctan2(observation[1], observation[0]),
                              observation[2]))
        total, discount, done = 0.0, 1.0, False
        while not done:
            observation, reward, terminated, truncated, _ = env.step(greedy(best, observation))
            total, discount = total + discount * reward, discount * 0.99
            done = terminated or truncated
        returns.append(total)
    returns, values = np.array(returns), np.array(values)
    assert abs(returns.mean() - values.mean()) <= 0.02 * abs(values.mean())
    assert np.median(np.abs(returns - values)) <= 1.0
    assert best.value.max() <= 0 and best.value.max() > -1  # upright at rest costs nothing


def test_the_optimum_is_kept_by_discount_and_grid_and_a_damaged_copy_is_solved_again(
        tmp_path, monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    grid = (31, 31, 5)  # small: seconds
    first = optimum.optimum(0.9, grid)
    path = optimum.cache_path(0.9, grid)
    assert os.path.dirname(path) == str(tmp_path / 'ddpg-deck') and os.path.exists(path)
    assert optimum.cache_path(0.95, grid) != path and optimum.cache_path(0.9, (31, 31, 7)) != path
    again = optimum.optimum(0.9, grid)  # read back whole, the same
    assert np.array_equal(again.value, first.value) and np.array_equal(again.policy, first.policy)
    whole = open(path, 'rb').read()
    angles = np.linspace(-np.pi, np.pi, 31, endpoint=False)
    for damaged in (b'not an npz', whole[:len(whole) // 2],  # garbage; a copy cut short
                    arrays(angles=np.zeros((3, 4))),  # angles of the wrong shape
                    arrays(angles=np.full(31, np.nan)),  # nan angles
                    arrays(value=np.full((31, 31), 'text')),  # text values
                    npy(first.value)):  # a .npy at the cache's path
        with open(path, 'wb') as f:
            f.write(damaged(first) if callable(damaged) else damaged)
        mended = optimum.optimum(0.9, grid)
        assert np.array_equal(mended.value, first.value)  # solved again, and kept anew
        assert np.array_equal(mended.angles, angles)
        assert np.array_equal(optimum.optimum(0.9, grid).value, first.value)


def arrays(**changes):
    """An optimum's cache file, from one (found), with some of its arrays changed."""
    def made(found):
        data = io.BytesIO()
        np.savez(data, **dict({'angles': found.angles, 'speeds': found.speeds,
                               'value': found.value, 'policy': found.policy}, **changes))
        return data.getvalue()
    return made


def npy(array):
    data = io.BytesIO()
    np.save(data, array)
    return data.getvalue()


def test_the_cache_folder_is_xdg_cache_home_only_where_it_is_an_absolute_path(monkeypatch):
    monkeypatch.setenv('XDG_CACHE_HOME', 'relative/cache')  # the XDG specification: ignored
    assert optimum.cache_path(0.99).startswith(os.path.expanduser('~/.cache/ddpg-deck/'))
    monkeypatch.setenv('XDG_CACHE_HOME', '/somewhere/cache')
    assert optimum.cache_path(0.99).startswith('/somewhere/cache/ddpg-deck/')


def test_value_iteration_stops_after_its_rounds_where_it_does_not_settle(monkeypatch):
    with pytest.raises(ValueError, match='did not settle within 5 rounds at gamma 1'):
        solve(1.0, (11, 11, 3), rounds=5)
    monkeypatch.setattr(optimum, 'ROUNDS', 20)
    with pytest.raises(SystemExit) as refused:  # at gamma 1, each round falls by about 0.14
        optimum.optimum(1.0, (11, 11, 3))
    assert str(refused.value.code).startswith('error: the optimum for --gamma 1: value '
                                              'iteration did not settle within 20 rounds')


@pytest.mark.parametrize('script', ['train.py', 'train_seeds.py'])
def test_gamma_1_trains_without_landscapes_and_is_refused_with_them(tmp_path, script):
    flags = ['--gamma', '1', '--max_iter_num', '1', '--save_path', str(tmp_path), '--logdir',
             str(tmp_path)]
    if script == 'train.py':  # by default on Pendulum: refused at once, with what to do
        refused = run_script(script, *flags, timeout=120)
        assert refused.returncode == 2 and 'Traceback' not in refused.stderr
        assert refused.stderr.strip().splitlines()[-1] == (
            'train.py: error: --gamma 1: the landscapes (--landscape_interval, on by default '
            "on Pendulum) measure the critic against the optimum's discounted value, which "
            'value iteration solves in seconds up to --gamma 0.999, and never at 1; give '
            '--landscape_interval 0 to train without them, or a --gamma of at most 0.999')
        assert train.main(flags + ['--landscape_interval', '0'])['episodes'] == 1
    else:  # train_seeds.py draws none unless asked
        import train_seeds
        assert [r['episodes'] for r in train_seeds.main(flags + ['--seeds', '500-501'])] == [
            1, 1]


def run(tmp_path, tag, *flags):
    return train.main(['--max_iter_num', '3', '--save_path', str(tmp_path / tag), '--logdir',
                       str(tmp_path / tag / 'logs'), *map(str, flags)])


def test_the_pictures_change_nothing_of_the_run(tmp_path):
    drawn, plain = run(tmp_path, 'drawn', '--landscape_interval', 1), run(
        tmp_path, 'plain', '--landscape_interval', 0)
    assert drawn['scores'] == plain['scores']
    a, b = (torch.load(r['checkpoint'], weights_only=True) for r in (drawn, plain))
    for name in ('actor', 'critic', 'target_actor', 'target_critic', 'replay_buffer'):
        assert all(torch.equal(torch.as_tensor(v), torch.as_tensor(b[name][k]))
                   for k, v in a[name].items() if k != 'rng'), name


def test_tensorboard_gets_the_pictures_and_the_gaps_of_the_networks_it_trained(tmp_path):
    result = run(tmp_path, 'run', '--landscape_interval', 2)  # episodes 0 and 2 (the last)
    events = EventAccumulator(result['run_dir'], size_guidance={'images': 0})
    events.Reload()
    assert {'truth/actor', 'truth/critic'} <= set(events.Tags()['images'])
    for tag in ('truth/actor', 'truth/critic'):
        images = events.Images(tag)
        assert [image.step for image in images] == [0, 2]
        assert images[0].width > 2 * 101 and images[0].height > 101
    gaps = {tag: [e.value for e in events.Scalars('truth/' + tag)] for tag in ('actor_gap',
                                                                               'critic_gap')}
    state = torch.load(result['checkpoint'], weights_only=True)  # the networks at the end
    actor, critic = Actor(3, 1, 64), Critic(3, 1, 64)
    actor.load_state_dict(state['actor'])
    critic.load_state_dict(state['critic'])
    landscape = Landscape(0.99)
    expected = landscape.gaps(*landscape.learned(actor, critic))
    for tag in ('actor_gap', 'critic_gap'):
        assert gaps[tag][-1] == pytest.approx(expected[tag], rel=1e-5)
        assert result[tag] == pytest.approx(expected[tag], rel=1e-5)  # the run's result too
    assert len(gaps['actor_gap']) == 2


def test_by_default_pendulum_is_drawn_and_other_environments_are_not(tmp_path):
    pendulum = run(tmp_path, 'pendulum')  # every 20 episodes: episode 0, and the last
    events = EventAccumulator(pendulum['run_dir'])
    events.Reload()
    assert [e.step for e in events.Scalars('truth/critic_gap')] == [0, 2]
    car = train.main(['--env_name', 'MountainCarContinuous-v0', '--max_iter_num', '1',
                      '--save_path', str(tmp_path / 'car'), '--logdir',
                      str(tmp_path / 'car' / 'logs')])
    events = EventAccumulator(car['run_dir'])
    events.Reload()
    assert not [tag for tag in events.Tags()['scalars'] if tag.startswith('truth/')]
    assert car['critic_gap'] is None


def test_train_seeds_draws_each_seeds_landscapes_only_when_asked(tmp_path):
    import train_seeds

    def truth_steps(tag, *flags):
        train_seeds.main(['--seeds', '500-501', '--max_iter_num', '2', '--save_path',
                          str(tmp_path / tag), '--logdir', str(tmp_path / tag / 'logs'), *flags])
        steps = []
        for run_dir in sorted(glob.glob(str(tmp_path / tag / 'logs' / '*'))):
            events = EventAccumulator(run_dir)
            events.Reload()
            scalars = events.Tags()['scalars']
            steps.append([e.step for e in events.Scalars('truth/critic_gap')]
                         if 'truth/critic_gap' in scalars else [])
        return steps
    assert truth_steps('default') == [[], []]  # 16 seeds' pictures would slow the batch
    assert truth_steps('asked', '--landscape_interval', '1') == [[0, 1], [0, 1]]


@pytest.mark.parametrize('flags, fragment', [
    (['--landscape_interval', -1], 'argument --landscape_interval: -1 is not a whole number >= 0'),
    (['--env_name', 'MountainCarContinuous-v0', '--landscape_interval', 5],
     '--landscape_interval 5: the landscapes are drawn for Pendulum alone'),
    (['--gamma', '0.9995', '--landscape_interval', 5], '--gamma 0.9995: the landscapes'),
])
def test_a_landscape_that_cannot_be_drawn_is_refused_before_training(tmp_path, flags, fragment):
    result = run_script('train.py', *flags, '--save_path', tmp_path, '--logdir', tmp_path,
                        timeout=120)
    assert result.returncode == 2 and fragment in result.stderr and 'Traceback' not in result.stderr
    assert os.listdir(tmp_path) == []


def png(path):
    from PIL import Image
    with Image.open(path) as image:
        assert image.format == 'PNG' and image.width > 500 and image.height > 250
        pixels = np.asarray(image.convert('RGB'))
    assert pixels.std() > 20  # drawn on
    return pixels.shape


@pytest.mark.slow
def test_plot_draws_a_checkpoint_an_actor_file_and_a_run(tmp_path):
    result = run(tmp_path, 'run', '--landscape_interval', 1)
    for model in (result['checkpoint'], result['model']):
        shown = run_script('plot.py', model, '--landscape')
        assert shown.returncode == 0, shown.stderr
        written = os.path.splitext(model)[0] + '.landscape.png'
        assert shown.stdout == 'wrote {}\n'.format(written)
    two = png(os.path.splitext(result['model'])[0] + '.landscape.png')
    four = png(os.path.splitext(result['checkpoint'])[0] + '.landscape.png')
    assert four[0] > 1.5 * two[0]  # the critic's row too
    shown = run_script('plot.py', result['run_dir'], '--landscape')
    assert shown.returncode == 0, shown.stderr
    png(os.path.join(result['run_dir'], 'landscape.png'))


def test_plot_refuses_the_landscape_of_a_discount_whose_optimum_cannot_be_solved(tmp_path):
    import plot
    result = train.main(['--gamma', '1', '--landscape_interval', '0', '--max_iter_num', '1',
                         '--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs')])
    with pytest.raises(SystemExit) as refused:  # plot.py's main, in this process
        plot.main([result['checkpoint'], '--landscape'])
    assert str(refused.value.code) == (
        'error: {} was trained with --gamma 1; its landscapes are drawn beside the optimum '
        'for that discount, which is solved for a --gamma of at most 0.999; plot.py draws its '
        'curves without --landscape'.format(result['checkpoint']))
    assert not glob.glob(str(tmp_path / '*.png'))


@pytest.mark.slow
def test_plot_refuses_a_model_that_is_not_pendulums_in_one_line(tmp_path):
    car = train.main(['--env_name', 'MountainCarContinuous-v0', '--max_iter_num', '1',
                      '--save_path', str(tmp_path), '--logdir', str(tmp_path / 'logs')])
    assert_clean_error(run_script('plot.py', car['model'], '--landscape'),
                       'is a model of MountainCarContinuous-v0, with 2 observations and 1 '
                       'actions; the landscapes are drawn for Pendulum-v1 alone')
    assert_clean_error(run_script('plot.py', car['run_dir'], '--landscape'),
                       'holds no landscapes: train on Pendulum')
    assert not glob.glob(str(tmp_path / '*.png'))
