"""The README and the pages under docs/: every link resolves, to a file of the
repository and, after a #, to a heading of that file; nothing points outside it."""
import argparse
import glob
import os
import re

import pytest

from conftest import ROOT, run_script

PAGES = ['README.md'] + sorted(os.path.relpath(p, ROOT)
                               for p in glob.glob(os.path.join(ROOT, 'docs', '*.md')))
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')


def anchors(path):
    """GitHub's anchor for each heading: lower case, punctuation dropped, spaces to -."""
    with open(path, encoding='utf-8') as f:
        headings = re.findall(r'^#+ (.+)$', f.read(), re.M)
    return {re.sub(r'[^\w\- ]', '', h.strip().lower()).replace(' ', '-') for h in headings}


@pytest.mark.parametrize('page', PAGES)
def test_every_link_resolves(page):
    with open(os.path.join(ROOT, page), encoding='utf-8') as f:
        links = LINK.findall(f.read())
    assert links, 'no links found: the pattern is wrong'
    for link in links:
        if link.startswith(('http://', 'https://')):
            continue
        target, _, anchor = link.partition('#')
        path = os.path.normpath(os.path.join(ROOT, os.path.dirname(page), target)
                                if target else os.path.join(ROOT, page))
        assert path.startswith(ROOT + os.sep), '{} leaves the repository: {}'.format(page, link)
        assert os.path.exists(path), '{} links to a missing file: {}'.format(page, link)
        if anchor:
            assert anchor in anchors(path), '{} links to a missing heading: {}'.format(page, link)


@pytest.mark.parametrize('page', PAGES)
def test_no_page_points_outside_the_repository(page):
    with open(os.path.join(ROOT, page), encoding='utf-8') as f:
        text = f.read()
    # the team's notes beside the repository, which its users do not have
    assert not re.search(r'\.\./shared|FACTS\.md', text)


def test_the_readme_is_a_front_page():
    assert os.path.getsize(os.path.join(ROOT, 'README.md')) < 12_000
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        text = f.read()
    for page in PAGES[1:]:  # every page under docs/ is reachable from it
        assert '({})'.format(page) in text, page


def test_the_test_command_in_the_readme_is_the_one_ci_runs():
    with open(os.path.join(ROOT, 'README.md'), encoding='utf-8') as f:
        readme = f.read()
    with open(os.path.join(ROOT, '.ci', 'run'), encoding='utf-8') as f:
        ci = f.read()
    command = re.search(r'^python3 -m venv .*python -m pytest$', readme, re.M).group(0)
    assert command in ci


SCRIPTS = ['train.py', 'test.py', 'train_seeds.py', 'study.py', 'plot.py']


def option_helps(text):
    """{option: its help, on one line} of a --help screen."""
    helps, option = {}, None
    for line in text.split('options:', 1)[1].splitlines():
        found = re.match(r'  (-\w( \w+)?, )?(--\w+)', line)
        if found:
            option = found.group(3)
            helps[option] = line[found.end():]
        elif option:
            helps[option] += ' ' + line.strip()
    return {option: ' '.join(text.split()) for option, text in helps.items()}


@pytest.mark.parametrize('script', SCRIPTS)
def test_every_help_screen_reads_right(script):
    shown = run_script(script, '--help')
    assert shown.returncode == 0, shown.stderr
    helps = option_helps(shown.stdout)
    assert len(helps) > 3
    description = ' '.join(shown.stdout.split('\n\n')[1].split())
    assert description.endswith('.') and ',.' not in description, description  # a sentence
    for option, text in helps.items():
        assert text.count('(default') <= 1, (option, text)  # never twice
        assert '(default: None)' not in text and '(default: False)' not in text, option
        assert ' below' not in text and ' above,' not in text, (option, text)  # no code here


def test_study_help_groups_its_flags_the_study_ray_and_tuning():
    shown = run_script('study.py', '--help').stdout
    groups = re.split(r'^(\S.*):$', shown, flags=re.M)[1:]
    sections = dict(zip(groups[::2], groups[1::2]))
    assert list(sections) == ['options', 'the study', 'where the trials run: Ray',
                              "tuning: an Optuna search of a configuration's flags (--tune N)"]
    flags = {name: re.findall(r'^  (--\w+)', text, re.M) for name, text in sections.items()}
    assert {'--config', '--seeds', '--out', '--baseline'} <= set(flags['the study'])
    assert flags['where the trials run: Ray'] == ['--address', '--workers', '--retries']
    assert flags["tuning: an Optuna search of a configuration's flags (--tune N)"][:2] == [
        '--tune', '--search']


@pytest.mark.slow
def test_the_defaults_a_help_screen_names_are_the_real_ones():
    import study
    from ddpg_extras.study import tuning
    helps = option_helps(run_script('study.py', '--help').stdout)
    for flag, default in study.SETTINGS + tuning.SETTINGS:
        if default is not None:
            assert '(default: {}'.format(default) in helps['--' + flag], flag
    seeds = option_helps(run_script('train_seeds.py', '--help').stdout)
    assert '.seeds.pth' in seeds['--load_model'] and '--seed' not in seeds  # its own, refused
    import train
    for option, text in option_helps(run_script('train.py', '--help').stdout).items():
        default = train.parser.get_default(option[2:])
        if not (default is None or default is False or default == argparse.SUPPRESS):
            assert '(default: {})'.format(default) in text, option
