"""Command-line checks: flag types with argparse's usage error, the device, writable
folders, and the one-line error that a user's mistake gets instead of a traceback."""
import argparse
import contextlib
import io
import math
import os
import re
import shlex
import sys
import tempfile

import torch


def fail(message):
    """Stop with one line on stderr and exit status 1: a user's mistake gets no traceback."""
    sys.stdout.flush()  # what the run printed comes first: this line is the last one
    raise SystemExit(f"error: {message}")


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's "(default: ...)" after each flag's help, but never twice (a help that
    says its default itself keeps its words), and never an empty one (None, False, []):
    a flag whose default is None says in its help what happens without it."""

    def _get_help_string(self, action):
        empty = action.default is None or action.default is False or action.default == []
        if '(default' in (action.help or '') or empty:
            return action.help
        return super()._get_help_string(action)


def command(script, **flags):
    """The command that runs script with these flags ({name: value}, in order; True: a
    switch), shell-quoted: it pastes as it is printed. A value that starts with a dash
    is joined to its flag (--load_model=-runs/a.pth), where argparse would take it for
    a flag of its own."""
    words = ['python', script]
    for name, value in flags.items():
        value = str(value)
        words += (['--' + name] if value == 'True' else ['--{}={}'.format(name, value)]
                  if value.startswith('-') else ['--' + name, value])
    return shlex.join(words)


def quietly(call):
    """(call(), None), or (None, the one line it would have said) where it stops with a
    usage error or fail()'s line; nothing is printed either way."""
    said = io.StringIO()
    try:
        with contextlib.redirect_stderr(said), contextlib.redirect_stdout(io.StringIO()):
            return call(), None
    except SystemExit as e:
        line = e.code if isinstance(e.code, str) else said.getvalue().strip().split('\n')[-1]
        return None, line.split('error: ', 1)[-1]


def as_argv(parser, flags):
    """flags ({flag: value}, as vars(args) holds them) as the command line that gives
    them, so that what a file holds is checked by the parser that checks what is typed.
    Every flag here is --NAME, stored under NAME, and a switch is one whose default is
    False. A flag the parser does not know is left out (a file of an older version); a
    switch with any value but True or False, or a value of the wrong type, is refused by
    the parser."""
    known = vars(parser.parse_args([]))  # every flag, and its default
    argv = []
    for flag, value in flags.items():
        if not isinstance(flag, str) or flag not in known or value is None:
            continue
        if known[flag] is False and isinstance(value, bool):
            argv += ['--' + flag] if value else []  # a switch, on or off
        else:  # --flag=value: a value that starts with a dash (-inf, -300) is no flag
            argv.append('--{}={}'.format(flag, value))
    return argv


def is_count(value):
    """Whether value is a whole number >= 0 (not a bool): a count read from a file."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def plain_name(name):
    """Whether name is a file name and no more: no folder in it, not . or .. (a name
    read from a file must not lead outside the folder it is joined to)."""
    return (isinstance(name, str) and name not in ('', '.', '..') and '/' not in name
            and '\\' not in name and '\0' not in name)


def parse_flags(parser, argv=None):
    """(args, given): the parsed flags, and {flag: value} of those given on the command
    line rather than defaulted. Worked out once, at a script's entry; args is never
    changed after (what a checkpoint or a study sets makes a new namespace)."""
    args = parser.parse_args(argv)
    unset = object()
    marked = parser.parse_args(argv, argparse.Namespace(**dict.fromkeys(vars(args), unset)))
    return args, {flag: value for flag, value in vars(marked).items() if value is not unset}


def _number(text, ok, what):
    """An argparse type: float(text) where ok(value), else argparse's usage error."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is not a number") from None
    if math.isnan(value) or not ok(value):
        raise argparse.ArgumentTypeError(f"{text} is not {what}")
    return value


def positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a positive whole number")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number >= 0")
    return value


def positive_float(text):
    return _number(text, lambda x: 0 < x < math.inf, "a positive number")


def non_negative_float(text):
    return _number(text, lambda x: 0 <= x < math.inf, "a number >= 0")


def unit_interval(text):  # gamma
    return _number(text, lambda x: 0 <= x <= 1, "in [0, 1]")


def half_open_unit_interval(text):  # tau
    return _number(text, lambda x: 0 < x <= 1, "in (0, 1]")


def finite_float(text):
    return _number(text, math.isfinite, "a finite number")


def float_not_nan(text):  # --goal_score inf: never stop early
    return _number(text, lambda x: True, "a number")


def check_writable(folder, flag):
    """Create folder if needed and write a file in it, now rather than after an hour
    of training; one line naming the flag if that fails."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        fail(f"cannot write to {flag} {folder}: {e.strerror or e}; "
             f"choose a folder you can write to with {flag}")


def check_device(usage_error, name):
    """torch.device(name), or one line saying why it cannot be used."""
    try:
        device = torch.device(name)
    except RuntimeError:
        usage_error('--device {!r} is not a device PyTorch knows; use cpu or cuda'.format(name))
    if device.type == 'cuda':
        if not torch.cuda.is_available():
            fail('--device {}: this PyTorch sees no CUDA GPU (a CPU-only build, or no '
                 'driver); train with --device cpu'.format(name))
        if (device.index or 0) >= torch.cuda.device_count():
            fail('--device {}: there are only {} CUDA GPU(s), numbered from 0'
                 .format(name, torch.cuda.device_count()))
    elif device.type != 'cpu':
        fail('--device {}: only cpu and cuda are supported; use --device cpu'.format(name))
    return device


def parse_seeds(text):
    """[500, 501, ...] from '500-509' or '500,503,510-512'."""
    if not text.strip():  # an unset shell variable, say: not a request for the default
        fail('--seeds {!r} is empty; give the seeds, e.g. --seeds 500-509 or '
             '--seeds 500,503,510-512'.format(text))
    seeds = []
    for part in text.split(','):
        found = re.fullmatch(r'\s*(\d+)\s*(?:-\s*(\d+)\s*)?', part)
        if not found or (found.group(2) and int(found.group(2)) < int(found.group(1))):
            fail('--seeds {!r} is not a list of seeds and ranges, e.g. 500-509 or '
                 '500,503,510-512'.format(text))
        first = int(found.group(1))
        seeds.extend(range(first, int(found.group(2) or first) + 1))
    if len(set(seeds)) != len(seeds):
        fail('--seeds {!r} names a seed twice'.format(text))
    return seeds


def seeds_name(seeds):
    """'500-509' for a range of seeds, '500_503_510' otherwise: for file names."""
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return '{}-{}'.format(seeds[0], seeds[-1])
    return '_'.join(map(str, seeds))
