"""How fine the optimum's grid must be: for each grid of angles x speeds, the time to
solve V* for the deck's discount (no cache), and the mean score of its greedy policy
(one step of look-ahead) in the real Pendulum-v1 over the 1,000 starts of
`python test.py --seed 20000 --episodes 1000`.

    python benchmarks/optimum.py                        # 100x101 to 600x601
    python benchmarks/optimum.py --grids 400x401x21,800x801x21

A grid is fine enough where a finer one's policy scores little better; the landscapes
and test.py use ddpg_extras/run/optimum.py's GRID.
"""
import argparse
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from ddpg_extras.run.evaluation import optimum_scores  # noqa: E402
from ddpg_extras.run.optimum import GRID, solve  # noqa: E402


def grids(text):
    try:
        found = [tuple(int(n) for n in grid.split('x')) for grid in text.split(',')]
    except ValueError:
        found = []
    if not found or any(len(g) != 3 or min(g) < 3 for g in found):
        raise argparse.ArgumentTypeError(
            '{!r} is not a list of grids ANGLESxSPEEDSxTORQUES, e.g. 400x401x21'.format(text))
    return found


parser = argparse.ArgumentParser(description=__doc__.split('\n')[0], allow_abbrev=False)
parser.add_argument('--grids', type=grids, default=grids(
    '100x101x21,200x201x21,300x301x21,400x401x21,600x601x21'), metavar='AxSxT,...',
    help='the grids to compare (an even number of angles puts the upright state on the grid)')
parser.add_argument('--gamma', type=float, default=0.99, help='the discount')
parser.add_argument('--seed', type=int, default=20000, help='the first reset seed')
parser.add_argument('--episodes', type=int, default=1000, help='the starts')

if __name__ == '__main__':
    args = parser.parse_args()
    seeds = list(range(args.seed, args.seed + args.episodes))
    print('the optimum for gamma {:g}, its greedy policy over reset seeds {}-{}:'.format(
        args.gamma, seeds[0], seeds[-1]))
    for grid in args.grids:
        start = time.perf_counter()
        best = solve(args.gamma, grid)
        seconds = time.perf_counter() - start
        scores = optimum_scores(best, seeds)
        print('  {}x{}x{}{}: solved in {:.1f} s; scores {:.2f} (standard error {:.2f})'.format(
            *grid, ' (GRID)' if grid == GRID else '', seconds, np.mean(scores),
            np.std(scores) / np.sqrt(len(scores))), flush=True)
