"""nbgrader's side of class mode: autograde each submission in a fresh lab.

The ``nbgrader_config.py`` that ``labkit nbgrader generate`` writes says::

    from labkit.grading.nbgrader_config import configure
    configure(c, timeout=300)

This module imports nbgrader (the ``instructor`` extra); learners never need it.
"""

from __future__ import annotations

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.converters.autograde import Autograde
from nbgrader.preprocessors import ClearHiddenTests, Execute, GetGrades

from labkit.grading.autograde import FreshLabKernelManager

__all__ = ["LabExecute", "configure"]


class LabExecute(Execute):
    """nbgrader's Execute step, each submission in a kernel with a fresh LABKIT_HOME."""

    def __init__(self, *args, **kwargs):
        # nbgrader's own __init__ sets its kernel manager with setdefault: ours goes first
        kwargs.setdefault("kernel_manager_class", FreshLabKernelManager)
        super().__init__(*args, **kwargs)


def configure(c, timeout: int = 300) -> None:
    """Configure nbgrader (``c`` is the config object of ``nbgrader_config.py``):

    - autograde re-runs each submission in a fresh lab, ``timeout`` seconds per cell;
    - feedback leaves the hidden tests out, so returning grades does not hand the
      class the answer key.
    """
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    c.Autograde.autograde_preprocessors = [LabExecute if p is Execute else p for p in default]
    c.Execute.timeout = timeout
    c.GenerateFeedback.preprocessors = [ClearHiddenTests, GetGrades, CSSHTMLHeaderPreprocessor]
