"""Choose save_model/pretrained.pth from a finished study: the saved actor with the best
score on the study's own starts (its --score_seed, --score_episodes), then report it on
another, disjoint set of starts, so that the choice does not flatter the figure.

    python benchmarks/pretrained.py studies/<study> --seed 20000 --episodes 1000

Writes save_model/pretrained.pth (the actor's file as its run saved it) and its .json:
the run's own .json, plus how it was chosen and both scores.
"""
import argparse
import csv
import json
import os
import shlex
import statistics
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from ddpg_extras.run.checks import fail, seeds_name  # noqa: E402
from ddpg_extras.run.files import (  # noqa: E402
    atomic_write,
    read_whole_json,
    write_json,
)
from ddpg_extras.study.trials import results_problem, score_actor  # noqa: E402

parser = argparse.ArgumentParser(description=__doc__.split('\n')[0], allow_abbrev=False)
parser.add_argument('study', help='a finished study folder (study.py --out)')
parser.add_argument('--seed', type=int, default=20000, help='the first reset seed of the report')
parser.add_argument('--episodes', type=int, default=1000, help='episodes of the report')
parser.add_argument('--to', default=os.path.join(ROOT, 'save_model', 'pretrained.pth'),
                    help='where the chosen actor goes')


def main(argv=None):
    args = parser.parse_args(argv)
    study, problem = read_whole_json(os.path.join(args.study, 'study.json'), lambda s: (
        isinstance(s, dict) and {'configs', 'seeds', 'score_seed', 'score_episodes'} <= set(s)))
    if problem:
        fail('{}/study.json is {}: give the folder of a study made by study.py'.format(
            args.study, problem))
    problem = results_problem(os.path.join(args.study, 'results.csv'))
    if problem or not os.path.exists(os.path.join(args.study, 'results.csv')):
        fail('{}/results.csv does not read ({}): run python study.py --out {} to finish the '
             'study'.format(args.study, problem or 'missing', args.study))
    with open(os.path.join(args.study, 'results.csv')) as f:
        rows = [row for row in csv.DictReader(f) if row['actor_score']]
    if not rows:
        fail('{} has no scored actor'.format(args.study))
    starts = range(study['score_seed'], study['score_seed'] + study['score_episodes'])
    report = range(args.seed, args.seed + args.episodes)
    if set(starts) & set(report):
        fail('the report starts {}-{} overlap the study\'s, {}-{}: give --seed apart'.format(
            report[0], report[-1], starts[0], starts[-1]))
    best = max(rows, key=lambda row: float(row['actor_score']))
    model = os.path.join(args.study, best['model'])
    mean, std = score_actor(model, args.episodes, args.seed)
    with open(model, 'rb') as f:
        weights = f.read()
    atomic_write(args.to, lambda f: f.write(weights))  # whole or not at all
    with open(model + '.json') as f:
        info = json.load(f)
    scores = [float(row['actor_score']) for row in rows]
    write_json(args.to + '.json', dict(info, chosen_by={
        'study': os.path.basename(os.path.normpath(args.study)),
        'command': 'python study.py ' + ' '.join(
            '--config {}'.format(shlex.quote('{}={}'.format(name, ' '.join(flags))))
            for name, flags in study['configs']) + ' --seeds {} --score_episodes {} '
            '--score_seed {}'.format(seeds_name(study['seeds']).replace('_', ','),
                                     study['score_episodes'],
                                     study['score_seed']),
        'config': best['config'], 'seed': int(best['seed']),
        'chosen_on': {'reset_seeds': '{}-{}'.format(starts[0], starts[-1]),
                      'score': float(best['actor_score']),
                      'std': float(best['actor_score_std']),
                      'the_study_median': statistics.median(scores), 'actors': len(rows)},
        'reported_on': {'reset_seeds': '{}-{}'.format(report[0], report[-1]), 'score': mean,
                        'std': std, 'standard_error': std / args.episodes ** 0.5}}))
    print('chosen: {} seed {}, {:.1f} on reset seeds {}-{} (best of {}); reported: {:.1f} ± '
          '{:.1f} on reset seeds {}-{}; written to {}'.format(
              best['config'], best['seed'], float(best['actor_score']), starts[0], starts[-1],
              len(rows), mean, std, report[0], report[-1], args.to))


if __name__ == '__main__':
    main()
