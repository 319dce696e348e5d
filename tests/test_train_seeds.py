"""train_seeds.py: K seeds in one process, each the same algorithm as a single run,
each independent of the others, each a run of its own (files, goal, divergence,
Ctrl-C and resuming)."""
import contextlib
import copy
import glob
import io
import json
import os
import re
import signal
import types

import numpy as np
import pytest
import torch
import torch.optim as optim
from test_resume_and_faults import load, logged, wait_for

import train
import train_seeds
from conftest import assert_clean_error, run_script, start_script
from ddpg_extras.run.agent import Agent
from ddpg_extras.run.checkpoints import capture
from ddpg_extras.seeds.axis import SeedBuffers, SeedStreams
from ddpg_extras.seeds.batched import SeedNets
from model import Actor, Critic
from utils import ReplayBuffer, soft_target_update

GAMMA, TAU = 0.99, 0.01
NETS = ('actor', 'critic', 'target_actor', 'target_critic')


def make_seed(seed, bounds=None):
    """One seed's networks and optimizers, as train.py makes them."""
    torch.manual_seed(seed)
    actor, target_actor = Actor(3, 1, 64, bounds), Actor(3, 1, 64, bounds)
    critic, target_critic = Critic(3, 1, 64), Critic(3, 1, 64)
    return Agent(actor, critic, target_actor, target_critic,
                 optim.Adam(actor.parameters(), lr=1e-3, fused=True),
                 optim.Adam(critic.parameters(), lr=1e-3, fused=True))


def batches(step, seeds):
    """A different mini-batch for every seed, (K, B, ...)."""
    g = torch.Generator().manual_seed(step)
    return (torch.randn(seeds, 64, 3, generator=g), 2 * torch.randn(seeds, 64, 1, generator=g),
            -16 * torch.rand(seeds, 64, generator=g), torch.randn(seeds, 64, 3, generator=g),
            (torch.rand(seeds, 64, generator=g) > 0.2).float())


def deck_update(agent, mini_batch, clip):
    losses = train.train_model(*agent, mini_batch, GAMMA, clip, clip)
    soft_target_update(*agent[:4], TAU)
    return losses


@pytest.mark.parametrize('bounds', [None, (np.array([-2.0]), np.array([2.0]))],
                         ids=["the deck's linear actor", 'a tanh actor'])
@pytest.mark.parametrize('clip', [None, 0.5], ids=['unclipped', 'clipped'])
def test_the_batched_update_is_the_decks_train_model_seed_by_seed(bounds, clip):
    seeds = [make_seed(s, bounds) for s in range(3)]
    reference = [make_seed(s, bounds) for s in range(3)]
    nets = SeedNets(seeds)
    for step in range(20):  # Adam's state and the soft update are part of the comparison
        mini_batch = batches(step, 3)
        losses = nets.train_model(mini_batch, GAMMA, clip, clip)
        nets.soft_target_update(TAU)
        for i, seed in enumerate(reference):
            deck_losses = deck_update(seed, tuple(x[i] for x in mini_batch), clip)
            for mine, theirs in zip(losses[i], deck_losses):
                assert abs(mine - theirs) <= 1e-6 * max(1.0, abs(theirs))
    for seed, ref in zip(seeds, reference):  # the seed's own modules hold the result
        for name in NETS:
            for mine, theirs in zip(getattr(seed, name).parameters(),
                                    getattr(ref, name).parameters()):
                torch.testing.assert_close(mine, theirs, atol=1e-6, rtol=0)
        assert seed.critic_optimizer.state_dict()['state'][0]['step'] == 20


def test_a_seed_that_does_not_update_yet_stays_as_it_was_and_the_others_do_not_notice():
    # After resuming, a seed may still lack a batch while the others update.
    seeds, all_update = [make_seed(s) for s in range(3)], [make_seed(s) for s in range(3)]
    nets, reference = SeedNets(seeds), SeedNets(all_update)
    nets.train_model(batches(0, 3), GAMMA)
    reference.train_model(batches(0, 3), GAMMA)
    before = {name: [p.clone() for p in getattr(seeds[1], name).parameters()] for name in NETS}
    nets.train_model(batches(1, 3), GAMMA, updating=[True, False, True])
    reference.train_model(batches(1, 3), GAMMA)
    for name in ('actor', 'critic'):
        assert all(torch.equal(p, q) for p, q in zip(getattr(seeds[1], name).parameters(),
                                                      before[name]))
        assert getattr(seeds[1], name + '_optimizer').state_dict()['state'][0]['step'] == 1
        for i in (0, 2):
            assert all(torch.equal(p, q) for p, q in zip(
                getattr(seeds[i], name).parameters(), getattr(all_update[i], name).parameters()))
    # Then all three update, at step counts 2, 1 and 2: each seed by its own count.
    nets.train_model(batches(2, 3), GAMMA)
    reference.train_model(batches(2, 3), GAMMA)
    assert seeds[1].critic_optimizer.state_dict()['state'][0]['step'] == 2
    for i in (0, 2):
        assert all(torch.equal(p, q) for p, q in zip(seeds[i].critic.parameters(),
                                                      all_update[i].critic.parameters()))


def test_a_seeds_checkpoint_holds_its_own_slice_only():
    # The seed's tensors are views of the stacks; its checkpoint must not carry them all.
    seeds = [make_seed(s) for s in range(4)]
    SeedNets(seeds).train_model(batches(0, 4), GAMMA)
    noise = types.SimpleNamespace(rng=np.random.RandomState(0), X=np.zeros(1))
    env = types.SimpleNamespace(unwrapped=types.SimpleNamespace(np_random=np.random.default_rng()),
                                action_space=types.SimpleNamespace(np_random=np.random.default_rng()))
    buffer = types.SimpleNamespace(state_dict=lambda: {})
    state = capture(seeds[2], buffer, noise, env, np.random.default_rng())
    tensors = [t for name in NETS for t in state[name].values()]
    tensors += [t for name in ('actor_optimizer', 'critic_optimizer')
                for s in state[name]['state'].values() for t in s.values()]
    assert all(t.untyped_storage().nbytes() == t.numel() * t.element_size() for t in tensors)
    assert torch.equal(state['critic']['fc2.weight'], seeds[2].critic.fc2.weight)


def test_each_seeds_files_hold_that_seed_alone_at_k_16(tmp_path):
    # A seed's actor is saved from its views of the stacks: alone, it is train.py's size.
    single = quiet(train.main, ['--max_iter_num', '1', '--save_path', str(tmp_path / 'one'),
                                '--logdir', str(tmp_path / 'l')])
    results = quiet(train_seeds.main, ['--seeds', '500-515', '--max_iter_num', '1',
                                       '--save_path', str(tmp_path / 'k16'), '--logdir',
                                       str(tmp_path / 'l')])
    actor_size = os.path.getsize(single['model'])
    checkpoint_size = os.path.getsize(single['checkpoint'])
    for result in results:
        assert os.path.getsize(result['model']) == actor_size
        assert abs(os.path.getsize(result['checkpoint']) - checkpoint_size) < 1000
        weights = torch.load(result['model'], weights_only=True)  # alone, as the deck loads
        actor = Actor(3, 1, 64)
        actor.load_state_dict(weights)
    batch = glob.glob(str(tmp_path / 'k16' / '*.seeds.pth'))[0]
    assert os.path.getsize(batch) < 20_000  # the seeds' names and ends, no weights


def quiet(function, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return function(*args)


def batch_run(tmp_path, seeds, *flags, tag='batch'):
    where = ['--save_path', tmp_path / tag, '--logdir', tmp_path / (tag + '_logs')]
    return quiet(train_seeds.main, ['--seeds', seeds, *map(str, flags), *map(str, where)])


def seed_state(results, seed):
    return load(next(r['checkpoint'] for r in results if r['seed'] == seed))


def same_run(a, b):
    return a['scores'] == b['scores'] and all(
        torch.equal(a[name][k], b[name][k]) for name in NETS for k in a[name]) and all(
        torch.equal(x, y) for x, y in zip(a['critic_optimizer']['state'][3].values(),
                                          b['critic_optimizer']['state'][3].values()))


@pytest.mark.slow
def test_a_seed_is_the_same_bit_for_bit_whichever_seeds_share_its_batch(tmp_path):
    # Alone, with one seed, with two, and ninth of ten (where a stacked Adam step once
    # rounded the critic's last bias differently, from the 14th update on).
    alone = seed_state(batch_run(tmp_path, '500', '--max_iter_num', 3, tag='a'), 500)
    for seeds in ('500,501', '502,500,503', '501-508,500,509'):
        others = seed_state(batch_run(tmp_path, seeds, '--max_iter_num', 3, tag=seeds), 500)
        assert same_run(alone, others), seeds


def test_a_seed_matches_its_single_train_py_run_to_rounding(tmp_path):
    # The same algorithm: the 50 updates of episode 0 (a batch of 150: from step 151)
    # agree to rounding. The two then drift apart, as any two float32 orderings of the
    # same sums do, and Adam hastens it: where a gradient is near zero, a rounding-sized
    # difference in it becomes a difference of a learning rate's size in the step. On an
    # AVX-512 Xeon that came by update 136 (the actors 1e-2 apart); on other CPUs later.
    flags = ['--max_iter_num', 1, '--batch_size', 150]
    single = quiet(train.main, [*map(str, flags), '--save_path', str(tmp_path / 's'),
                                '--logdir', str(tmp_path / 'sl')])
    single = load(single['checkpoint'])
    seed = seed_state(batch_run(tmp_path, '500,501', *flags), 500)
    assert abs(seed['scores'][0] - single['scores'][0]) < 1e-4
    for name in NETS:
        for k in seed[name]:
            torch.testing.assert_close(seed[name][k], single[name][k], atol=1e-6, rtol=0)


@pytest.mark.slow
def test_ctrl_c_saves_every_seed_and_load_model_resumes_them_bit_for_bit(tmp_path):
    flags = ['--seeds', '500,501', '--max_iter_num', 8, '--log_interval', 1]
    whole = batch_run(tmp_path, '500,501', '--max_iter_num', 8, tag='whole')
    where = ['--save_path', tmp_path / 'b', '--logdir', tmp_path / 'b_logs']
    first = start_script('train_seeds.py', *flags, *where)
    wait_for(first, 'seed 501 | 3 episode |')
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    assert 'Traceback' not in err and 'stopped by SIGINT' in out
    batch = re.search(r'resume with: python train_seeds\.py --load_model (\S+)', out).group(1)

    second = run_script('train_seeds.py', '--load_model', batch, '--max_iter_num', 8, *where)
    assert second.returncode == 0, second.stderr
    assert '2 seeds: 0 reached the goal' in second.stdout
    for seed in (500, 501):
        resumed = load(only_one(tmp_path / 'b' / '*seed{}_*.checkpoint.pth'.format(seed)))
        assert resumed['episode'] == 8 and same_run(resumed, seed_state(whole, seed))
        steps, _ = logged(only_one(tmp_path / 'b_logs' / '*seed{}_*'.format(seed)))
        assert steps == list(range(8))  # one run folder per seed, each episode logged once


@pytest.mark.slow
def test_the_printed_resume_command_alone_resumes_the_batch_as_it_was(tmp_path):
    # Started with flags of its own; resumed with nothing but the command it printed:
    # each seed ends where the uninterrupted batch ended, not at the default's goal, and
    # trains with its own --tau, not the default's.
    flags = ['--max_iter_num', 6, '--goal_score', 'inf', '--checkpoint_interval', 2,
             '--tau', 0.01]
    whole = batch_run(tmp_path, '500,501', *flags, tag='whole')
    first = start_script('train_seeds.py', '--seeds', '500,501', *flags, '--log_interval', 1,
                         '--save_path', tmp_path / 'b', '--logdir', tmp_path / 'b_logs')
    wait_for(first, 'seed 501 | 2 episode |')
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    command = re.search(r'resume with: (python train_seeds\.py --load_model \S+)$', out,
                        re.M).group(1)
    second = run_script(*command.split()[1:])
    assert second.returncode == 0, second.stderr
    assert re.search(r'^seed 500 \| 5 episode \|', second.stdout, re.M)  # --log_interval 1
    for seed in (500, 501):
        assert 'seed {}: goal not reached after 6 episodes'.format(seed) in second.stdout
        resumed = load(only_one(tmp_path / 'b' / '*seed{}_*.checkpoint.pth'.format(seed)))
        assert resumed['episode'] == 6 and same_run(resumed, seed_state(whole, seed))
    # Once more: every seed has ended, so nothing trains, and the batch's results come back.
    again = run_script(*command.split()[1:])
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-4:] == second.stdout.splitlines()[-4:]


def only_one(pattern):
    found = glob.glob(str(pattern))
    assert len(found) == 1, found
    return found[0]


def test_episodes_of_different_lengths_never_cross_a_boundary(tmp_path):
    # The landers crash at different times. At step 225 seed 505 ends its last episode
    # and leaves, while 518 begins its next and 500 flies on (this once crashed the
    # vector env, which a seed's leaving had made anew).
    pytest.importorskip('Box2D')
    results = batch_run(tmp_path, '500,505,518', '--env_name', 'LunarLanderContinuous-v3',
                        '--max_iter_num', 3)
    ends = []
    for result in results:
        memory = result['replay_buffer'].memory[:result['steps']]
        states, next_states, masks = memory[:, :8], memory[:, 11:-1], memory[:, -1]
        follows = (next_states[:-1] == states[1:]).all(axis=1)
        # A transition's next state is the next transition's state, except after a crash.
        assert np.array_equal(follows, masks[:-1] == 1)
        assert (masks == 0).sum() == 3
        assert not result['replay_buffer'].memory[result['steps']:].any()  # none after its end
        ends.append(list(np.flatnonzero(masks == 0) + 1))  # the steps that ended episodes
    lander, leaver, next_one = ends
    assert leaver[-1] in next_one[:-1] and leaver[-1] not in lander  # the case above
    assert leaver[-1] < lander[-1]


@pytest.mark.slow
def test_seeds_stopped_at_different_steps_resume_bit_for_bit(tmp_path):
    # Landers end their episodes at different steps, so a Ctrl-C saves each seed at a
    # step count (and an Adam step count) of its own; resumed, each goes on with its own
    # counts and ends as the uninterrupted batch did.
    pytest.importorskip('Box2D')
    flags = ['--env_name', 'LunarLanderContinuous-v3', '--max_iter_num', 4, '--goal_score',
             'inf', '--log_interval', 1]
    whole = batch_run(tmp_path, '500,505', *flags, tag='whole')
    first = start_script('train_seeds.py', '--seeds', '500,505', *flags, '--save_path',
                         tmp_path / 'b', '--logdir', tmp_path / 'b_logs')
    wait_for(first, 'seed 505 | 2 episode |')
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    stopped = [load(only_one(tmp_path / 'b' / '*seed{}_*.checkpoint.pth'.format(seed)))
               for seed in (500, 505)]
    assert stopped[0]['steps'] != stopped[1]['steps']
    command = re.search(r'resume with: (python train_seeds\.py --load_model \S+)$', out,
                        re.M).group(1)
    second = run_script(*command.split()[1:])
    assert second.returncode == 0, second.stderr
    for seed in (500, 505):
        resumed = load(only_one(tmp_path / 'b' / '*seed{}_*.checkpoint.pth'.format(seed)))
        assert resumed['episode'] == 4 and same_run(resumed, seed_state(whole, seed))


@pytest.mark.slow
def test_a_diverging_seed_stops_alone(tmp_path):
    result = run_script('train_seeds.py', '--seeds', '500-503', '--actor_lr', 1e5,
                        '--max_iter_num', 3, '--save_path', tmp_path, '--logdir', tmp_path / 'l')
    assert result.returncode == 1 and 'Traceback' not in result.stderr
    errors = result.stderr.strip().splitlines()
    assert errors and all(re.match(r'seed 50[0-3]: error: training diverged in episode 0 '
                                   r'\(step \d+\): the \w+ loss is', line) for line in errors)
    survivor = re.search(r'seed (\d+): goal not reached after 3 episodes', result.stdout)
    assert survivor and len(errors) < 4  # seed 500 survives this learning rate
    assert glob.glob(str(tmp_path / '*seed{}_*.pth'.format(survivor.group(1))))


@pytest.mark.parametrize('flags, fragments', [
    (['--seed', '7'], ['--seed is not for train_seeds.py', '--seeds']),
    (['--render'], ['--render is not for train_seeds.py']),
    (['--deck_update'], ['--deck_update is not for train_seeds.py']),
    (['--seeds', '9-3'], ['--seeds', 'is not a list of seeds']),
    (['--seeds', '1,1'], ['names a seed twice']),
    (['--seeds', ''], ["--seeds '' is empty", '--seeds 500-509']),  # an unset variable, say
    (['--seeds', ' '], ["--seeds ' ' is empty"]),
])
def test_bad_input_gets_one_clear_line(tmp_path, flags, fragments):
    result = run_script('train_seeds.py', *flags, '--max_iter_num', 1, '--save_path', tmp_path,
                        '--logdir', tmp_path)
    assert_clean_error(result, *fragments)


def test_a_single_runs_checkpoint_is_refused_with_the_command_that_resumes_it(tmp_path):
    single = quiet(train.main, ['--max_iter_num', '1', '--save_path', str(tmp_path),
                                '--logdir', str(tmp_path / 'l')])
    result = run_script('train_seeds.py', '--load_model', single['checkpoint'],
                        '--save_path', tmp_path, '--logdir', tmp_path / 'l')
    assert_clean_error(result, 'the checkpoint of one run', 'python train.py --load_model')


@pytest.mark.slow
def test_each_seed_reaches_the_decks_goal_on_its_own_and_saves_its_actor(tmp_path):
    # The deck's defaults: each seed stops learning at its own goal while the others
    # go on (seeds 500-502: 157, 180 and 175 episodes); its actor is <run name>.pth.
    result = run_script('train_seeds.py', '--seeds', '500-502', '--save_path', tmp_path,
                        '--logdir', tmp_path / 'logs')
    assert result.returncode == 0, result.stderr
    assert '3 seeds: 3 reached the goal' in result.stdout
    ended = re.findall(r'seed (\d+) has ended: goal reached after (\d+) episodes', result.stdout)
    assert len(ended) == 2  # the third's line is the summary's
    episodes = {}
    for seed in (500, 501, 502):
        info = json.load(open(only_one(tmp_path / '*seed{}_*.pth.json'.format(seed))))
        assert info['reached_goal'] and info['score_avg'] > -300 and info['seed'] == seed
        episodes[seed] = info['episodes']
        steps, _ = logged(only_one(tmp_path / 'logs' / '*seed{}_*'.format(seed)))
        assert steps == list(range(info['episodes']))  # it stopped at its goal
    assert len(set(episodes.values())) == 3 and max(episodes.values()) < 300
    assert not glob.glob(str(tmp_path / 'model.pth'))
    batch = load(only_one(tmp_path / '*.seeds.pth'))
    assert [entry['ended'] for entry in batch['seeds']] == ['goal'] * 3


@pytest.mark.slow
def test_a_resumed_batch_reports_the_seeds_that_ended_before_it_stopped(tmp_path):
    # Seeds 501-503 diverge in episode 0 at this rate, and 500 goes on; a Ctrl-C later,
    # then --load_model: the resumed batch's results still hold all four seeds.
    where = ['--save_path', tmp_path, '--logdir', tmp_path / 'logs']
    first = start_script('train_seeds.py', '--seeds', '500-503', '--actor_lr', 1e5,
                         '--max_iter_num', 6, '--log_interval', 1, *where)
    wait_for(first, 'seed 500 | 2 episode |')
    first.send_signal(signal.SIGINT)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 130, err
    batch = re.search(r'resume with: python train_seeds\.py --load_model (\S+)', out).group(1)
    results = quiet(train_seeds.main, ['--load_model', batch, '--max_iter_num', '6',
                                       *map(str, where)])
    assert [r['seed'] for r in results] == [500, 501, 502, 503]
    assert results[0]['episodes'] == 6 and not results[0]['error']
    assert all(r['error'].startswith('training diverged in episode 0') for r in results[1:])


def test_an_ended_seed_is_frozen_and_the_others_do_not_notice():
    # A seed that has ended (masked) keeps its weights, targets and Adam state exactly
    # as they were, however long the others go on; the others train as if it were not
    # there, bit for bit.
    seeds, alone = [make_seed(s) for s in range(3)], [make_seed(s) for s in (0, 2)]
    nets, reference = SeedNets(seeds), SeedNets(alone)
    for step in range(3):
        nets.train_model(batches(step, 3), GAMMA)
        nets.soft_target_update(TAU)
    before = [{k: v.clone() for k, v in net.state_dict().items()} for net in seeds[1][:4]]
    adam = [copy.deepcopy(o.state_dict()) for o in seeds[1][4:]]
    nets.freeze(1)
    for step in range(3, 8):
        nets.train_model(batches(step, 3), GAMMA, updating=[True, False, True])
        nets.soft_target_update(TAU)
    for net, kept in zip(seeds[1][:4], before):
        assert all(torch.equal(net.state_dict()[k], v) for k, v in kept.items())
    for optimizer, kept in zip(seeds[1][4:], adam):
        for mine, theirs in zip(optimizer.state_dict()['state'].values(), kept['state'].values()):
            assert all(torch.equal(mine[k], theirs[k]) for k in theirs)
    # the same seeds 0 and 2, trained alongside the frozen one and in a cohort of two
    for step in range(8):
        mini_batch = batches(step, 3)
        reference.train_model(tuple(x[[0, 2]] for x in mini_batch), GAMMA)
        reference.soft_target_update(TAU)
    for mine, theirs in zip((seeds[0], seeds[2]), alone):
        for a, b in zip(mine[:4], theirs[:4]):
            assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_each_seeds_noise_is_its_own_stream_drawn_ahead_in_blocks():
    # SeedStreams draws 5 steps at a time; each seed gets what RandomState(seed) gives
    # one step at a time, and its state (what its checkpoint keeps) is as if drawn so.
    streams, own = SeedStreams([500, 501, 502], block=5), [np.random.RandomState(s)
                                                          for s in (500, 501, 502)]
    for step in range(12):
        drawn = streams.randn(3, 2)
        assert np.array_equal(drawn, np.stack([rng.randn(2) for rng in own]))
        for i, rng in enumerate(own):
            mine, theirs = streams.state(i).get_state(), rng.get_state()
            assert np.array_equal(mine[1], theirs[1]) and mine[2:] == theirs[2:], step
    resumed = SeedStreams([1, 2, 3], block=5)  # restored before any draw, then drawn on
    for i, rng in enumerate(own):
        resumed.restore(i, rng.get_state())
    assert np.array_equal(resumed.randn(3, 2), np.stack([rng.randn(2) for rng in own]))


def test_the_stacked_buffers_are_each_seeds_own_replay_buffer():
    # Written once per step for the active seeds, sampled by each seed's own generator:
    # the same rows and draws as utils.ReplayBuffer, seed by seed; an inactive seed's
    # buffer is not written.
    stacked, own = SeedBuffers([7, 8], 5, 3, 1), [ReplayBuffer(5, 3, 1, s) for s in (7, 8)]
    rng = np.random.default_rng(0)
    for step in range(9):
        active = np.array([True, step < 4])
        transition = (rng.standard_normal((2, 3)), rng.standard_normal((2, 1)),
                      rng.standard_normal(2), rng.standard_normal((2, 3)), np.array([1, 0]))
        stacked.append(transition, active)
        for i in np.flatnonzero(active):
            own[i].append(tuple(x[i] for x in transition))
    stacked.sync([0, 1])
    for mine, theirs in zip(stacked.buffers, own):
        assert np.array_equal(mine.memory, theirs.memory)
        assert (mine.index, mine.size) == (theirs.index, theirs.size)
    drawn = stacked.sample(2, np.array([True, True]))
    for i, theirs in enumerate(own):
        for mine, expected in zip(drawn, theirs.sample(2)):
            assert torch.equal(mine[i], expected)
