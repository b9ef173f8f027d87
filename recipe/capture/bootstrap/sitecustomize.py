"""recipe's bootstrap: a Python program started inside a recorded run is recorded too.

A recorded run (and only a recorded run) puts this directory first on PYTHONPATH and its
id in RECIPE_PARENT_RUN, so every interpreter it starts, directly or through a shell,
imports this file at start-up and no other interpreter ever does. It takes itself off
sys.path, runs the `sitecustomize` it shadows (if there is one), then lets
`recipe.capture.children.bootstrap` decide what this process is: a run of its own, a
worker of the parent run, or one of recipe's or multiprocessing's own helpers.
"""

# Any interpreter a recorded run starts reads this file, an old Python 2 included: no
# f-strings, no annotations, no `from __future__ import annotations` here.
import os
import sys


def _run_the_shadowed_sitecustomize():
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [entry for entry in sys.path if entry != here]
    ours = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401 - the next one on sys.path, as site would run it
    except ImportError as exc:
        if getattr(exc, "name", None) != "sitecustomize":
            raise  # site reports it ("Error in sitecustomize"), as without recipe
        # None found: put this module back, the import system expects it there.
        sys.modules["sitecustomize"] = ours


def _has_a_recipe_of_its_own():
    """A program whose directory holds another `recipe` module must import that one: once
    this file imported recipe's, its `import recipe` would get recipe's. (sys.path[0],
    the script's directory or the current one, is not on sys.path yet at this point.)"""
    if getattr(sys.flags, "safe_path", False):
        return False  # -P: no such directory goes on sys.path
    first = sys.argv[0] if sys.argv else ""
    directory = os.getcwd() if first in ("", "-c", "-m", "-") else \
        os.path.dirname(os.path.abspath(first))
    ours = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return directory != ours and (
        os.path.exists(os.path.join(directory, "recipe.py"))
        or os.path.exists(os.path.join(directory, "recipe", "__init__.py")))


def _hand_over():
    if sys.version_info < (3, 10) or _has_a_recipe_of_its_own():
        return  # the parent run lists this program among its commands
    try:
        from recipe.capture import children
    except ImportError:
        # An interpreter without recipe (another virtual environment): the parent run
        # lists this program among its commands. A multiprocessing worker, though, would
        # lose files of the run silently: say so.
        code = sys.orig_argv[-len(sys.argv)] if len(sys.orig_argv) >= len(sys.argv) else ""
        if "--multiprocessing-fork" in sys.argv or "multiprocessing.forkserver" in code:
            sys.stderr.write("recipe: warning: %s cannot import recipe: the files of this "
                             "worker (pid %d) are not recorded\n" % (sys.executable, os.getpid()))
        return
    children.bootstrap()


try:
    _run_the_shadowed_sitecustomize()
finally:
    _hand_over()
