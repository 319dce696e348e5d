"""One guard for every write of the study layer (not in the deck). A study folder may
come from someone else, and a link in it (a file, a folder, or one that points at
nothing yet) could make a write land outside it. So every file or folder that study.py,
a trial or a tuning creates, opens for writing, truncates, renames or deletes is first
put through inside(), which follows every link of its path, at every level, and
refuses a path that ends outside the study folder, in one line naming it, before
anything is written. check_tree() puts every path already in the folder through the
same test before a driver writes anything, so a link anywhere in a folder handed over
is refused before Ray starts; a trial does the same for its own folders."""
import os

LINE = ('{} leads outside the study folder {} (a link, to {}); nothing was written: a study '
        'writes only inside its folder. Remove the link, or copy what it leads to into the '
        'folder')


class Outside(SystemExit):
    """A path of the study layer that leads outside its folder: the driver ends with the
    line; a trial's worker returns it as the trial's failure."""

    def __init__(self, path, root, real):
        self.line = LINE.format(path, root, real)
        super().__init__('error: ' + self.line)


def inside(root, path):
    """path, once its real path (every link of it followed, a dangling one to where it
    points) lies inside the folder root; else Outside, and nothing is written."""
    base, real = os.path.realpath(root), os.path.realpath(path)
    if os.path.commonpath([base, real]) != base:
        raise Outside(path, root, real)
    return path


def leads_outside(root, path):
    """Whether path, its links followed, ends outside the folder root (a path read from
    a file, checked before it is used)."""
    base = os.path.realpath(root)
    return os.path.commonpath([base, os.path.realpath(path)]) != base


def check_tree(root, top=None):
    """Every path in the folder top (root itself by default), links not followed but
    each tested where it leads, through inside(root, path): Outside for the first that
    leads outside root. Reads only."""
    top = root if top is None else top
    if not os.path.lexists(top):
        return
    inside(root, top)
    for where, folders, files in os.walk(top):  # a linked folder is listed, not entered
        for name in folders + files:
            inside(root, os.path.join(where, name))
