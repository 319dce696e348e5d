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
from conftest import ROOT, assert_clean_error, run_script
from ddpg_extras.run import optimum
from ddpg_extras.run.evaluation import optimum_scores
from ddpg_extras.run.landscape import Landscape
from ddpg_extras.run.optimum import solve
from model import Actor, Critic


@pytest.fixture(scope='module')
def best():
    return optimum.optimum(0.99)  # the deck's --gamma, on the default grid (solved, or kept)


def greedy(best, observation):
    """mu*(s) for an observation: the optimum's greedy torque (one step of look-ahead)."""
    angle = np.arctan2(observation[1], observation[0])
    return best.greedy(np.array([angle]), np.array([observation[2]])).astype(np.float32)


def test_the_grid_holds_the_upright_state_at_rest_and_it_costs_nothing(best):
    assert 0.0 in best.angles and 0.0 in best.speeds
    i, j = list(best.angles).index(0.0), list(best.speeds).index(0.0)
    assert best.value[i, j] == pytest.approx(0, abs=1e-9) and best.policy[i, j] == 0


def test_the_optimums_policy_scores_near_the_best_on_starts_it_never_saw(best):
    # test.py's starts, in the real environment: over 1,000 of them it scores -136.63,
    # within 0.4 of a grid twice as fine (python benchmarks/optimum.py)
    scores = optimum_scores(best, list(range(20000, 20100)))
    assert scores == pytest.approx(optimum_scores(best, list(range(20000, 20100)), chunk=7))
    assert -145 <= np.mean(scores) <= -130


def rollouts(policy, seeds, gamma=0.99, steps=1000):
    """(the start states (angle, speed), the discounted returns) of a policy (torques of
    a batch of observations) in the real Pendulum-v1, from these reset seeds, `steps`
    steps long: 0.99^1000 < 5e-5 of what is left, less than 0.1."""
    envs = [gym.make('Pendulum-v1', max_episode_steps=steps) for _ in seeds]
    observations = np.array([env.reset(seed=seed)[0] for env, seed in zip(envs, seeds)])
    starts = np.array([env.unwrapped.state for env in envs])
    returns, discount = np.zeros(len(seeds)), 1.0
    for _ in range(steps):
        torques = policy(observations)
        for k, env in enumerate(envs):
            observations[k], reward, *_ = env.step(np.clip(torques[k:k + 1], -2, 2))
            returns[k] += discount * reward
        discount *= gamma
    return starts.T, returns


def test_v_star_is_the_discounted_return_of_its_own_rollouts(best):
    # V* is read between grid points, and it jumps at the edge of the states from which
    # full torque can still hold the pendulum up: there one start's return can differ by
    # 30. So the tolerance is stated on the whole: the mean return within 2% of the mean
    # V*, and half of the starts within 1.
    (angles, speeds), returns = rollouts(
        lambda o: best.greedy(np.arctan2(o[:, 1], o[:, 0]), o[:, 2]), range(30000, 30060))
    values = best.at(best.value, angles, speeds)
    assert abs(returns.mean() - values.mean()) <= 0.02 * abs(values.mean())
    assert np.median(np.abs(returns - values)) <= 1.0


def pretrained():
    from ddpg_extras.run.files import actor_bounds, actor_sizes, load_actor_weights
    path = os.path.join(ROOT, 'save_model', 'pretrained.pth')
    weights, _ = load_actor_weights(path, torch.load(path, weights_only=True))
    actor = Actor(*actor_sizes(weights), actor_bounds(weights))
    actor.load_state_dict(weights)
    return actor


@pytest.mark.parametrize('which', ['trained', 'untrained'])
def test_v_mu_is_the_actors_discounted_return_in_the_real_environment(which):
    # V^mu, by policy evaluation on the landscapes' grid, against the actor's own returns
    # in Gymnasium from 60 starts. V^mu is read between grid points, and it jumps where
    # the actor's episodes swing once more or once less: for an untrained actor, whose
    # swinging is near chaos, often. So the tolerance is on the whole, relative to the
    # size of the values (about 125 trained, 600 untrained): the mean V^mu within 3% of
    # the mean return, and half of the starts within 2% of it. (Seen: 1.4% and 0.1%;
    # 0.02% and 0.8%.)
    torch.manual_seed(3)
    actor = pretrained() if which == 'trained' else Actor(3, 1, 64)
    landscape = Landscape(0.99)
    value = landscape.value(actor)

    def policy(observations):
        with torch.inference_mode():
            return actor(torch.as_tensor(observations, dtype=torch.float32)).numpy()[:, 0]
    (angles, speeds), returns = rollouts(policy, range(40000, 40060))
    weights, index = optimum.corners(*value.shape, angles, speeds)
    estimates = (weights * value.ravel()[index]).sum(0)
    size = abs(returns.mean())
    assert abs(estimates.mean() - returns.mean()) <= 0.03 * size
    assert np.median(np.abs(estimates - returns)) <= 0.02 * size


class Greedy(torch.nn.Module):
    """The optimum's policy as solved (its grid's torques, read between its points) as an
    actor network (observations in, torques out)."""

    def __init__(self, best):
        super().__init__()
        self.best, self.unused = best, torch.nn.Parameter(torch.zeros(1))

    def forward(self, observations):
        o = observations.numpy().astype(float)
        return torch.as_tensor(self.best.at(self.best.policy, np.arctan2(o[:, 1], o[:, 0]),
                                            o[:, 2])[:, None], dtype=torch.float32)


def test_the_optimum_has_no_regret_and_an_actor_that_always_pushes_has_much(best):
    landscape = Landscape(0.99)
    mu, _ = landscape.learned(Greedy(best))
    measures = landscape.measures(mu, None, landscape.value(Greedy(best)))
    assert abs(measures['regret']) < 0.5 and measures['actor_gap'] < 0.01
    assert measures['critic_bias'] is None and measures['critic_error'] is None
    push = Actor(3, 1, 64)
    for layer in (push.fc1, push.fc2, push.fc3):
        torch.nn.init.zeros_(layer.weight)
    torch.nn.init.constant_(push.fc3.bias, 5.0)  # +2 N m, clipped, from every state
    mu, _ = landscape.learned(push)
    assert (mu == 2).all()
    assert landscape.measures(mu, None, landscape.value(push))['regret'] > 100


def constant_critic(value):
    """A Critic network that gives every state and action the same value."""
    critic = Critic(3, 1, 64)
    torch.nn.init.zeros_(critic.fc3.weight)
    torch.nn.init.constant_(critic.fc3.bias, value)
    return critic


def test_a_critic_that_overestimates_has_a_positive_bias_and_one_below_a_negative(tmp_path):
    from ddpg_extras.run.writer import RunWriter
    actor, landscape = pretrained(), Landscape(0.99)
    v_mu = landscape.value(actor)
    logged = {}
    for name, value in (('over', 10.0), ('under', float(v_mu.min()) - 10)):  # V^mu <= 0
        writer = RunWriter(str(tmp_path / name))
        landscape.log(writer, 0, actor, constant_critic(value))
        writer.writer.close()
        events = EventAccumulator(str(tmp_path / name))
        events.Reload()
        logged[name] = {tag: events.Scalars('truth/' + tag)[0].value
                        for tag in ('critic_bias', 'critic_error')}
        assert logged[name]['critic_bias'] == pytest.approx(value - v_mu.mean(), abs=1e-3)
    assert logged['over']['critic_bias'] > 10 and logged['under']['critic_bias'] < -10
    assert logged['over']['critic_error'] == pytest.approx(logged['over']['critic_bias'])
    assert logged['under']['critic_error'] == pytest.approx(-logged['under']['critic_bias'])


def test_the_optimum_is_kept_by_discount_and_grid_and_a_damaged_copy_is_solved_again(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path))
    grid = (31, 31, 5)  # small: seconds
    first = optimum.optimum(0.9, grid)
    path = optimum.cache_path(0.9, grid)
    assert capsys.readouterr().err == (  # a line while it solves, which takes seconds
        'solving the optimum for --gamma 0.9 on a 31x31 grid, once: a few seconds (kept in '
        '{})\n'.format(tmp_path / 'ddpg-deck'))
    assert os.path.dirname(path) == str(tmp_path / 'ddpg-deck') and os.path.exists(path)
    assert optimum.cache_path(0.95, grid) != path and optimum.cache_path(0.9, (31, 31, 7)) != path
    again = optimum.optimum(0.9, grid)  # read back whole, the same, without a word
    assert capsys.readouterr().err == ''
    assert np.array_equal(again.value, first.value) and np.array_equal(again.policy, first.policy)
    whole = open(path, 'rb').read()
    angles = optimum.axes(grid)[0]  # its own (-pi + k 2 pi / 31)
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
            'on Pendulum) measure the networks against discounted values that take '
            '1 / (1 - gamma) steps to compute: seconds up to --gamma 0.999, for ever at 1; '
            'give --landscape_interval 0 to train without them, or a --gamma of at most 0.999')
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


def test_tensorboard_gets_the_pictures_and_the_measures_of_the_networks_it_trained(tmp_path):
    result = run(tmp_path, 'run', '--landscape_interval', 2)  # episodes 0 and 2 (the last)
    events = EventAccumulator(result['run_dir'], size_guidance={'images': 0})
    events.Reload()
    for tag, panels in (('truth/actor', 2), ('truth/critic', 3), ('truth/regret', 1)):
        images = events.Images(tag)
        assert [image.step for image in images] == [0, 2]
        assert images[0].width > panels * 2 * 100 and images[0].height > 2 * 101
    tags = ('actor_gap', 'critic_bias', 'critic_error', 'regret')
    logged = {tag: [e.value for e in events.Scalars('truth/' + tag)] for tag in tags}
    state = torch.load(result['checkpoint'], weights_only=True)  # the networks at the end
    actor, critic = Actor(3, 1, 64), Critic(3, 1, 64)
    actor.load_state_dict(state['actor'])
    critic.load_state_dict(state['critic'])
    landscape = Landscape(0.99)
    mu, q = landscape.learned(actor, critic)
    expected = landscape.measures(mu, q, landscape.value(actor))
    for tag in tags:  # (V^mu logged from the last picture's, here from nothing: within 2e-3)
        assert logged[tag][-1] == pytest.approx(expected[tag], rel=1e-5, abs=2e-3)
        assert result[tag] == pytest.approx(expected[tag], rel=1e-5, abs=2e-3)  # the result's
        assert len(logged[tag]) == 2
    assert 'critic_gap' not in result  # retired: it measured Q against V*, not V^mu


def test_by_default_pendulum_is_drawn_and_other_environments_are_not(tmp_path):
    pendulum = run(tmp_path, 'pendulum')  # every 20 episodes: episode 0, and the last
    events = EventAccumulator(pendulum['run_dir'])
    events.Reload()
    assert [e.step for e in events.Scalars('truth/critic_bias')] == [0, 2]
    car = train.main(['--env_name', 'MountainCarContinuous-v0', '--max_iter_num', '1',
                      '--save_path', str(tmp_path / 'car'), '--logdir',
                      str(tmp_path / 'car' / 'logs')])
    events = EventAccumulator(car['run_dir'])
    events.Reload()
    assert not [tag for tag in events.Tags()['scalars'] if tag.startswith('truth/')]
    assert car['critic_bias'] is None and car['regret'] is None


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
            steps.append([e.step for e in events.Scalars('truth/regret')]
                         if 'truth/regret' in scalars else [])
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
    one = png(os.path.splitext(result['model'])[0] + '.landscape.png')
    two = png(os.path.splitext(result['checkpoint'])[0] + '.landscape.png')
    assert two[0] > 1.5 * one[0]  # the critic's row too
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
