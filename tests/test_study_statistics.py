"""A study's interval estimates (ddpg_extras/study/estimates.py, summary.py, figures.py) against
rliable's own functions, and a real small study's tables and figures."""
import csv
import json
import math
import re
import shutil

import imageio.v3 as iio
import numpy as np
import pytest

from conftest import run_script

rliable = pytest.importorskip('rliable', reason='pip install -r requirements/study.txt')
pytest.importorskip('ray', reason='pip install -r requirements/study.txt')
from rliable import library as rly  # noqa: E402
from rliable import metrics  # noqa: E402

from ddpg_extras.study import estimates, summary, verdicts  # noqa: E402

# Ten runs' scores with two outliers, where the IQM, the median and the mean differ
SKEWED = [-150.0, -160.0, -170.0, -200.0, -155.0, -148.0, -600.0, -152.0, -158.0, -149.0]


def reference(scores, func, reps=estimates.REPS):
    """rliable's get_interval_estimates, called as its README does. It resamples with
    NumPy's global generator, so that is what seeds it."""
    np.random.seed(0)
    points, intervals = rly.get_interval_estimates({'x': scores}, func, reps=reps)
    return points['x'], intervals['x']


def test_the_iqm_median_and_mean_and_their_intervals_are_rliables():
    found = estimates.aggregate(SKEWED)
    runs = np.array(SKEWED).reshape(-1, 1)
    points, intervals = reference(runs, lambda s: np.array(
        [metrics.aggregate_iqm(s), np.median(s), metrics.aggregate_mean(s)]))
    for i, name in enumerate(estimates.AGGREGATES):
        assert found[name] == pytest.approx((points[i], intervals[0, i], intervals[1, i]))
    assert found['IQM'][0] == pytest.approx(np.mean(sorted(SKEWED)[2:8]))  # the middle half
    assert found['median'][0] == -156.5 and found['mean'][0] == pytest.approx(-204.2)
    low, high = found['IQM'][1:]
    assert low < found['IQM'][0] < high and high - low > 1  # an interval, not a point


def test_the_probability_of_improvement_and_its_interval_are_rliables():
    x, y = SKEWED, [s - 5 for s in SKEWED[::-1]]
    point, low, high = estimates.improvement(x, y)
    runs_x, runs_y = np.array(x).reshape(-1, 1), np.array(y).reshape(-1, 1)
    assert point == pytest.approx(metrics.probability_of_improvement(runs_x, runs_y))
    points, intervals = reference((runs_x, runs_y), lambda a, b: np.array(
        [metrics.probability_of_improvement(a, b)]))
    assert (low, high) == pytest.approx(tuple(intervals[:, 0]))


@pytest.mark.slow
def test_separated_configurations_give_about_1_and_identical_ones_about_half():
    rng = np.random.default_rng(1)
    good, bad = rng.normal(-150, 5, 10), rng.normal(-300, 30, 10)
    point, low, high = estimates.improvement(good, bad)
    assert point == 1.0 and low > 0.9  # the interval is far from 0.5
    assert estimates.improvement(bad, good)[2] < 0.1
    point, low, high = estimates.improvement(good, good)
    assert point == 0.5 and low < 0.5 < high


def test_an_iqm_curve_is_the_iqm_of_each_point_with_runs_resampled_whole():
    curves = np.random.default_rng(2).normal(-500, 200, (10, 7)).cumsum(axis=1)
    iqm, low, high = estimates.iqm_curve(curves)
    assert iqm == pytest.approx([metrics.aggregate_iqm(curves[:, [i]]) for i in range(7)])
    points, intervals = reference(curves[:, None, :], lambda s: np.array(
        [metrics.aggregate_iqm(s[:, :, i]) for i in range(7)]), reps=500)
    found = estimates.interval(curves[:, None, :], lambda s: np.array(
        [metrics.aggregate_iqm(s[:, :, i]) for i in range(7)]), reps=500)
    assert found[1] == pytest.approx(intervals[0]) and found[2] == pytest.approx(intervals[1])


def test_a_performance_profile_is_rliables_score_distribution():
    taus = np.linspace(-620, -140, 25)
    fraction, low, high = estimates.profile(SKEWED, taus)
    assert fraction == pytest.approx([np.mean(np.array(SKEWED) > tau) for tau in taus])
    assert np.all(low <= fraction) and np.all(fraction <= high)


def test_the_intervals_are_the_same_each_time_and_leave_numpys_generator_alone():
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    first = estimates.aggregate(SKEWED)
    assert np.array_equal(np.random.get_state()[1], before)
    np.random.random(5)
    assert estimates.aggregate(SKEWED) == first


def test_the_goal_fraction_has_an_interval_even_at_ten_of_ten():
    point, low, high = estimates.fraction(10, 10)
    assert point == 1.0 and high == pytest.approx(1.0) and 0.6 < low < 0.8  # Wilson: 0.72


def rows(config, scores, reached=True, episodes=150):
    return [{'config': config, 'seed': 500 + i, 'actor_score': score, 'score_avg': score - 50,
             'reached_goal': reached, 'episodes': episodes, 'model': 'm.pth', 'error': None}
            for i, score in enumerate(scores)]


def test_a_missing_or_damaged_score_is_reported_and_not_averaged_in():
    runs = rows('a', SKEWED)
    runs[3]['actor_score'] = None  # missing
    runs[6]['actor_score'] = float('nan')  # damaged
    runs[8]['actor_score'] = 'oops'
    statistics = summary.study_statistics([('a', [])], runs, {'a': (-300, 500)}, 'a')
    found, missing = statistics['a']
    kept = [s for i, s in enumerate(SKEWED) if i not in (3, 6, 8)]
    iqm = next(row for row in found['actor_score'] if row[2] == 'IQM')
    assert iqm[3:] == pytest.approx((*estimates.aggregate(kept)['IQM'], 7))
    assert missing == ['seed 503: no actor_score (its result.json lacks it)',
                       'seed 506: no actor_score (its result.json lacks it)',
                       'seed 508: no actor_score (its result.json lacks it)']
    text = summary.tables([('a', [])], statistics, {'a': (-300, 500)}, 'a',
                          {'protocol': '', 'values': {('a', 'actor_score'): kept}})
    assert 'Not averaged in: these runs have no score.' in text
    assert '- a seed 506: no actor_score' in text and '| a | default flags | 7 |' in text
    assert ', '.join('{:.1f}'.format(v) for v in sorted(kept, reverse=True)) + ' |' in text


def test_runs_short_of_the_goal_count_as_their_whole_budget():
    runs = rows('a', SKEWED[:6], episodes=120) + rows('a', SKEWED[6:], reached=False,
                                                      episodes=300)
    found, _ = summary.study_statistics([('a', [])], runs, {'a': (-300, 300)}, 'a')['a']
    fraction, episodes = found['goal']
    assert fraction[3:6] == pytest.approx(estimates.fraction(6, 10))
    assert episodes[3] == pytest.approx(metrics.aggregate_iqm(
        np.array([120] * 6 + [300] * 4).reshape(-1, 1)))


@pytest.mark.slow
def test_the_words_say_which_configuration_is_better_and_when_none_can_be_told():
    configs = [('base', []), ('better', ['--tau', '0.005']), ('same', [])]
    rng = np.random.default_rng(3)
    base = list(rng.normal(-200, 10, 10))
    runs = rows('base', base) + rows('better', list(rng.normal(-150, 5, 10))) + rows(
        'same', base)
    budgets = dict.fromkeys(['base', 'better', 'same'], (-300, 500))
    statistics = summary.study_statistics(configs, runs, budgets, 'base')
    words = verdicts.verdicts(statistics, 'base')
    difference = estimates.iqm_difference([r['actor_score'] for r in runs[10:20]], base)
    assert 30 < difference[1] < difference[0] < difference[2] < 70  # about 200 - 150
    assert words[0] == ('better against base: a run of better saves a better actor than a run '
                        'of base in 100% of pairings (95% interval 100% to 100%), so better is '
                        'better; the IQM of better is higher by {:.1f} ({:.1f} to {:.1f}).'
                        .format(*difference))
    assert re.fullmatch(r'same against base: a run of same saves a better actor than a run of '
                        r'base in 50% of pairings \(95% interval \d+% to \d+%\), an interval '
                        r'that holds 50%: these runs cannot tell which is better; the IQM '
                        r'difference, 0\.0 \(-\d+\.\d to \d+\.\d\), holds 0: these runs cannot '
                        r'say that either IQM is higher\. No number of seeds up to 1000 a side '
                        r"would decide it at 80% power \(a two-sided t-test at the 5% level, "
                        r"statsmodels' TTestIndPower, at the effect these runs show, Cohen's d "
                        r'0\.00\)\.', words[1])
    # with better as the baseline, the better one is named as better still
    statistics = summary.study_statistics(configs, runs, budgets, 'better')
    d, low, high = estimates.iqm_difference(base, [r['actor_score'] for r in runs[10:20]])
    assert verdicts.verdicts(statistics, 'better')[0] == (
        'base against better: a run of base saves a better actor than a run of better in 0% '
        'of pairings (95% interval 0% to 0%), so better is better; the IQM of better is higher '
        'by {:.1f} ({:.1f} to {:.1f}).'.format(-d, -high, -low))


@pytest.mark.parametrize('p, difference, words', [
    # the study of the README before these words: "recipe beats defaults with probability
    # 0.76 (0.53-0.95); its IQM is 10.1 (-0.7 to 132.7) higher" claimed what the IQM
    # difference's interval, which holds 0, did not hold
    ((0.76, 0.53, 0.95), (10.1, -0.7, 132.7),
     'recipe against defaults: a run of recipe saves a better actor than a run of defaults '
     'in 76% of pairings (95% interval 53% to 95%), so recipe is better; the IQM difference, '
     '10.1 (-0.7 to 132.7), holds 0: these runs cannot say that either IQM is higher. About '
     "23 seeds a side would decide it at 80% power (a two-sided t-test at the 5% level, "
     "statsmodels' TTestIndPower, at the effect these runs show, Cohen's d 0.85)."),
    ((0.39, 0.13, 0.66), (-9.0, -48.2, -1.5),
     'recipe against defaults: a run of recipe saves a better actor than a run of defaults '
     'in 39% of pairings (95% interval 13% to 66%), an interval that holds 50%: these runs '
     'cannot tell which is better; the IQM of defaults is higher by 9.0 (1.5 to 48.2). About '
     "23 seeds a side would decide it at 80% power (a two-sided t-test at the 5% level, "
     "statsmodels' TTestIndPower, at the effect these runs show, Cohen's d 0.85)."),
    ((0.85, 0.65, 0.98), (19.1, 3.1, 58.2),
     'recipe against defaults: a run of recipe saves a better actor than a run of defaults '
     "in 85% of pairings (95% interval 65% to 98%), so recipe is better; the IQM of recipe is "
     'higher by 19.1 (3.1 to 58.2).'),  # both decided: no seeds to ask for
])
def test_each_claim_is_made_only_where_its_interval_leaves_out_no_difference(p, difference,
                                                                               words):
    assert verdicts.verdict('recipe', 'defaults', p, difference, (23, 0.85)) == words


def report(tmp_path, runs_a, runs_b):
    """summary.write_report of two configurations' rows: (its text, the files it wrote)."""
    from types import SimpleNamespace
    configs = [('a', []), ('b', ['--tau', '0.005'])]
    rows_ = rows('a', runs_a) + rows('b', runs_b)
    return summary.write_report(str(tmp_path), '# Study', configs, rows_, dict.fromkeys(
        'ab', (-300, 500)), SimpleNamespace(baseline=None, score_episodes=100,
                                            score_seed=10000, x='episodes'))


def test_too_few_runs_give_points_and_no_interval_or_verdict(tmp_path):
    # Two runs a side: a bootstrap would say "b beats a with probability 1.00 (1.00-1.00)"
    text, written = report(tmp_path, [-200.0, -210.0], [-150.0, -152.0])
    assert ' is better' not in text and 'higher by' not in text
    assert ('No interval and no comparison where a configuration has fewer than 5 scored '
            'runs (docs/studies.md): a has 2, b has 2; run 3 more seed(s) for them.') in text
    assert ('b against a: no interval and no comparison where a configuration has fewer '
            'than 5 scored runs (docs/studies.md): b has 2, a has 2; run 3 more seed(s) for '
            'them.') in text
    assert '| a | default flags | 2 | -205.0 | -205.0 | -205.0 |' in text  # points alone
    assert 'confidence intervals' not in text  # and no heading that promises them
    with open(tmp_path / 'statistics.csv') as f:
        table = list(csv.DictReader(f))
    assert table and all(row['low'] == row['high'] == '' for row in table
                         if row['statistic'] != 'fraction')  # Wilson's holds at any size
    p = next(r for r in table if r['statistic'] == 'probability of improvement')
    assert float(p['value']) == 1.0
    assert not (tmp_path / 'improvement.png').exists()
    png(tmp_path / 'profiles.png')


@pytest.mark.slow
def test_five_runs_a_side_give_intervals_and_a_verdict(tmp_path):
    text, written = report(tmp_path, [-200.0, -210.0, -205.0, -190.0, -220.0],
                           [-150.0, -152.0, -149.0, -155.0, -151.0])
    assert 'so b is better; the IQM of b is higher by' in text and 'No interval' not in text
    assert '| b | 1.00 (1.00 to 1.00) | 54.0 (42.7 to 64.7) | 2 |' in text
    assert '(95% confidence intervals):' in text
    png(tmp_path / 'improvement.png')


def png(path):
    image = iio.imread(path)
    assert image.ndim == 3 and image.shape[0] > 150 and image.shape[1] > 400
    assert np.ptp(image[..., :3]) > 100  # something is drawn on it


@pytest.mark.slow
def test_a_real_study_writes_its_statistics_and_figures(tmp_path):
    out = tmp_path / 'study'
    result = run_script('study.py', '--config', 'a=--max_iter_num 3', '--config',
                        'b=--max_iter_num 3 --tau 0.005 --seeds_per_trial 3', '--seeds',
                        '500-502', '--score_episodes', 3, '--x', 'steps', '--out', out)
    assert result.returncode == 0, result.stderr
    for name in ('curves.png', 'profiles.png'):
        png(out / name)
    assert not (out / 'improvement.png').exists()  # 3 runs a side: too few to compare
    with open(out / 'statistics.csv') as f:
        table = list(csv.DictReader(f))
    with open(out / 'results.csv') as f:
        scores = {(r['config'], r['seed']): float(r['actor_score']) for r in csv.DictReader(f)}
    iqm = {r['config']: r for r in table if (r['quantity'], r['statistic']) == (
        'actor_score', 'IQM')}
    for config in 'ab':  # 3 runs: rliable's IQM, and no interval
        expected = estimates.aggregate([scores[config, s] for s in ('500', '501', '502')])
        assert float(iqm[config]['value']) == pytest.approx(expected['IQM'][0])
        assert iqm[config]['low'] == '' and expected['IQM'][1:] == (None, None)
    assert 'b against a: no interval and no comparison' in result.stdout
    text = (out / 'summary.md').read_text()
    assert 'each the mean of 3 episodes from reset seeds 10000-10002' in text
    assert '| b | `--max_iter_num 3 --tau 0.005 --seeds_per_trial 3` | 3 |' in text
    # every saved actor was scored on the same starts, as test.py scores it
    model = json.loads((out / 'trials' / 'a' / 'seed501' / 'result.json').read_text())['model']
    watched = run_script('test.py', '--load_model', out / model, '--no_render', '--episodes', 3,
                         '--seed', 10000)
    mean = float(re.search(r'^score: (-?[\d.]+) ±', watched.stdout, re.M).group(1))
    assert mean == pytest.approx(scores['a', '501'], abs=0.01)
    again = run_script('study.py', '--out', out, '--score_episodes', 4)
    assert again.returncode == 1 and 'a study with --score_episodes 3' in again.stderr
    # a run's log deleted: the curves go on without it, and the summary says so
    run_dir = json.loads((out / 'trials' / 'a' / 'seed500' / 'result.json').read_text())['run_dir']
    shutil.rmtree(out / run_dir)
    again = run_script('study.py', '--out', out, '--x', 'steps')
    assert again.returncode == 0, again.stderr
    assert 'curves.png leaves out 1 run(s) whose logs lack log/score, log/score_avg, ' \
        'log/steps: {}'.format(out / run_dir) in (out / 'summary.md').read_text()
    png(out / 'curves.png')


@pytest.mark.slow
def test_a_fixed_budget_study_reads_as_one(tmp_path):
    out = tmp_path / 'study'
    result = run_script('study.py', '--config', 'a=--goal_score inf --max_iter_num 2',
                        '--seeds', '500-501', '--score_episodes', 2, '--out', out)
    assert result.returncode == 0, result.stderr
    assert ('A fixed budget, no goal (`--goal_score inf`): a (2 episodes). Each run is scored '
            'by the actor it ends with.') in result.stdout
    assert '**The goal**' not in result.stdout and 'nothing' not in result.stdout
    with open(out / 'results.csv') as f:
        assert all(math.isfinite(float(r['actor_score'])) for r in csv.DictReader(f))
    png(out / 'curves.png')
    png(out / 'profiles.png')
    assert not (out / 'improvement.png').exists()  # one configuration: nothing to compare


def test_one_failed_run_does_not_stretch_the_profiles_axis():
    from ddpg_extras.study import figures
    tight = np.array([-150.0, -148, -152, -149, -151, -147, -153, -150, -146, -900])
    assert figures.axis_start(tight) == pytest.approx(-157.0)  # Tukey's fence: -900 is off
    tail = np.array([-136.1, -138.6, -141.6, -142.5, -143.6, -144.7, -155.8, -193.6, -211.1,
                     -369.2])  # a real study's defaults: its tail stays, one failure is off
    assert -369.2 < figures.axis_start(tail) < -211.1
