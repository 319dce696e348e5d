"""A tuning's parts that need no Ray: the --search syntax, a trial's flags made from
its values, and the hook by which a trial's cohort reports its running average and is
pruned (train_seeds.py, real Pendulum seeds)."""
import numpy as np
import pytest

import train
import train_seeds
from ddpg_extras.run.writer import scalars
from ddpg_extras.study.search import parse_dimension, with_params

DEFAULTS = vars(train.parser.parse_args([]))


@pytest.mark.parametrize('text, kind, values', [
    ('actor_lr=log(1e-4,1e-2)', 'log', (1e-4, 1e-2)),
    ('--sigma = uniform(0.1, 0.4)', 'uniform', (0.1, 0.4)),
    ('batch_size=int(32,256)', 'int', (32, 256)),
    ('hidden_size=[64,128,256]', 'choices', ('64', '128', '256')),
    ('tanh_actor=[on,off]', 'choices', ('on', 'off')),
])
def test_each_kind_of_dimension_parses(text, kind, values):
    d = parse_dimension(text, DEFAULTS)
    assert (d.flag, d.kind, d.values) == (text.split('=')[0].strip(' -'), kind, values)


@pytest.mark.parametrize('text, why', [
    ('actor_lr', 'is not FLAG='), ('actor_lr=normal(0,1)', 'is not FLAG='),
    ('actor_lr=log(0,1)', 'needs 0 < a'), ('batch_size=int(1.5,8)', 'needs two integers'),
    ('hidden_size=[64]', 'two or more different choices'),
    ('hidden_size=[64,64]', 'two or more different choices'),
    ('tanh_actor=uniform(0,1)', 'search it as [on,off]'),
    ('no_such=[1,2]', "not one of train.py's flags"),
])
def test_a_malformed_dimension_says_what_is_wrong(text, why):
    with pytest.raises(ValueError, match=why.replace('[', r'\[')):
        parse_dimension(text, DEFAULTS)


def test_a_trials_flags_replace_the_configurations_own_values():
    base = ['--tau', '0.005', '--tanh_actor', '--batch_size=128', '--gamma', '0.9']
    flags = with_params(base, {'tau': '0.02', 'tanh_actor': 'off', 'batch_size': '64'}, DEFAULTS)
    assert flags == ['--gamma', '0.9', '--tau', '0.02', '--batch_size', '64']
    assert with_params([], {'tanh_actor': 'on'}, DEFAULTS) == ['--tanh_actor']
    args = train.parser.parse_args(flags)
    assert (args.tau, args.tanh_actor, args.batch_size, args.gamma) == (0.02, False, 64, 0.9)


def test_a_cohort_reports_each_episodes_running_average_and_stops_where_pruned(tmp_path):
    told = []

    def report(episodes, averages):
        told.append((episodes, averages))
        return episodes == 3  # pruned after its third episode

    flags = ['--seeds', '500-501', '--max_iter_num', '10', '--save_path', tmp_path / 'save',
             '--logdir', tmp_path / 'logs']
    results = train_seeds.main([str(f) for f in flags], report=report)
    assert [episodes for episodes, _ in told] == [1, 2, 3]
    assert [r['episodes'] for r in results] == [3, 3]  # every seed ended there, saved
    for i, result in enumerate(results):  # the averages are what each seed logged
        logged = scalars(result['run_dir'], {'log/score_avg'})['log/score_avg'][1]
        np.testing.assert_allclose([averages[i] for _, averages in told], logged, rtol=1e-6)
        assert result['model'] and not result['error']
