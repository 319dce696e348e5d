"""A study's configurations (not in the deck): NAME=FLAGS, each checked as train.py
checks its flags, with its own choice of trainer (--deck_loop, --seeds_per_trial K);
and its seeds, apart from the starts that score its actors. study.py and a tuning
(ddpg_extras/study/tuning.py) check theirs here."""
import argparse
import re
import shlex

from ddpg_extras.run.checks import fail, parse_flags, positive_int, quietly
from ddpg_extras.run.environments import check_env_from_file

STUDY_FLAGS = ('seed', 'save_path', 'logdir', 'load_model', 'render', 'threads')


NAME = re.compile(r'(?!\.+$)[A-Za-z0-9_.-]+')  # a plain name: no folder in it, not . or ..


def parse_configs(texts):
    """[(name, [flags])] from NAME=FLAGS texts, each checked as train.py checks its flags."""
    configs = []
    for text in texts or ['defaults=']:
        name, equals, flags = text.partition('=')
        if not equals or not NAME.fullmatch(name):
            fail('--config {!r} is not NAME=FLAGS (a name of letters, digits, _ . -, then =, '
                 'then train.py flags), e.g. --config "recipe=--tau 0.005"'.format(text))
        if name in dict(configs):
            fail('--config {} is given twice; give each configuration its own name'.format(name))
        try:
            flags = shlex.split(flags)
        except ValueError as e:
            fail('--config {}: {}'.format(name, e))
        problem = check_config(trainer(flags)[0])
        if problem:
            fail('--config {}: {}'.format(name, problem))
        configs.append((name, flags))
    return configs


def stored_configs(path, stored, typed):
    """The configurations that a study's file (path) holds, each checked as --config is
    checked: a plain name, given once, and flags that train.py takes. An --env_name
    module:Env (which makes Gymnasium import the module) only where the command line's
    configurations (typed, or None) give the same one; one line naming the file else."""
    configs, typed = [], dict(typed or [])
    for name, flags in stored:
        if not (isinstance(name, str) and NAME.fullmatch(name)) or name in dict(configs):
            fail('{} names a configuration {!r}, which is not a plain name given once '
                 '(letters, digits, _ . -); nothing was changed: it is damaged, or not made '
                 'by this program'.format(path, name))
        if not (isinstance(flags, list) and all(isinstance(flag, str) for flag in flags)):
            fail('{} holds flags of configuration {} that are not a list of texts; nothing '
                 'was changed'.format(path, name))
        env_name = flag_value(flags, 'env_name')
        if env_name != flag_value(typed.get(name, []), 'env_name'):
            check_env_from_file(path, env_name, None, 'run it with its --config flags on the '
                                                      'command line, if you trust them')
        own, problem = quietly(lambda flags=flags: trainer(flags)[0])
        problem = problem or check_config(own)
        if problem:
            fail('{} holds configuration {}, whose flags the command line would refuse: {}; '
                 'nothing was changed'.format(path, name, problem))
        configs.append((name, flags))
    return configs


def flag_value(flags, flag):
    """The value of one of train.py's flags in a configuration's flags, as train.py
    would parse it, without checking the others (None where they do not parse)."""
    import train
    args, _ = quietly(lambda: train.parser.parse_known_args(flags)[0])
    return getattr(args, flag, None)


# A configuration's own choice of how its trials train, besides train.py's flags
TRAINER = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
TRAINER.add_argument('--deck_loop', action='store_true')
TRAINER.add_argument('--seeds_per_trial', type=positive_int)


def trainer(flags, args=None):
    """(train.py's flags, deck_loop, seeds per trial) of a configuration: its own
    --deck_loop and --seeds_per_trial K, else the study's (args)."""
    try:
        own, rest = TRAINER.parse_known_args(flags)
    except argparse.ArgumentError as e:
        fail('--config: {}'.format(e))
    if args is None:
        return rest, own.deck_loop, own.seeds_per_trial or 1
    deck_loop, k = own.deck_loop or args.deck_loop, own.seeds_per_trial or args.seeds_per_trial
    if deck_loop and k > 1:
        fail("--deck_loop runs the deck's own loop, one seed at a time; drop --seeds_per_trial")
    return rest, deck_loop, k


def check_config(flags):
    """What train.py would say of a configuration's flags, or None where it takes them;
    a flag that the study sets itself is refused as train.py's parser reads it (its
    name, however it is written), not as it is spelled."""
    import train
    given, problem = quietly(lambda: parse_flags(train.parser, flags)[1])
    for flag in STUDY_FLAGS if not problem else ():
        if flag in given:
            return ('--{} is set by the study for each trial (the seeds come from --seeds; '
                    'each trial runs one thread); drop it'.format(flag))
    return problem or config_problem(flags)


def config_problem(flags):
    """What train.py would say of these flags, or None where it takes them."""
    import train
    from ddpg_extras.run.environments import make_env
    from ddpg_extras.run.session import check_flags

    def check():
        args = train.parser.parse_args(flags)
        check_flags(args, train.parser.error)
        make_env(args.env_name).close()
    return quietly(check)[1]


def check_scoring(args, configs, seeds):
    """The seeds, once the scoring starts are apart from them and --baseline names a
    configuration."""
    starts = range(args.score_seed, args.score_seed + args.score_episodes)
    if set(seeds) & set(starts):
        fail('the scoring episodes start from reset seeds {}-{}, which holds training seed {}; '
             'give --score_seed a value apart from --seeds'.format(
                 starts[0], starts[-1], min(set(seeds) & set(starts))))
    if args.baseline is not None and args.baseline not in dict(configs):
        fail('--baseline {} is not a configuration of the study; give one of: {}'.format(
            args.baseline, ', '.join(name for name, _ in configs)))
    return seeds


def budget(flags):
    """(goal_score, max_iter_num) of a configuration's train.py flags."""
    import train
    args = train.parser.parse_args(trainer(flags)[0])
    return args.goal_score, args.max_iter_num
