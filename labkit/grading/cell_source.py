"""Write the widgets' answers into the submit cell's ``my_answers = {...}`` line.

Widget state is not part of a saved notebook, and a grader that re-executes the
notebook (nbgrader's autograde, ``labkit grade --execute``) sees only its source.
So when the submit cell takes an answer from the widgets, it also rewrites its own
``my_answers`` literal through IPython's ``set_next_input(..., replace=True)``, the
call JupyterLab and Notebook 7 honour by replacing the running cell's text. Without
a front end (a headless run) the request is simply ignored.
"""

from __future__ import annotations

import ast
import json

ANSWERS_NAME = "my_answers"


def with_answers(source: str, filled: dict[str, object]) -> str | None:
    """``source`` with ``filled`` written into its ``my_answers = {...}`` literal.

    None when the source has no such literal (a learner who built the dict another
    way keeps their cell as it is).
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == ANSWERS_NAME
            and isinstance(node.value, ast.Dict)
        ):
            literal = node.value
            break
    else:
        return None
    try:
        current = ast.literal_eval(literal)
    except ValueError:
        return None
    if not isinstance(current, dict):
        return None
    merged = {**current, **{k: v for k, v in filled.items() if k in current}}
    text = "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in merged.items()) + "}"
    lines = source.splitlines(keepends=True)
    start = sum(len(line) for line in lines[: literal.lineno - 1]) + _offset(
        lines[literal.lineno - 1], literal.col_offset
    )
    end = sum(len(line) for line in lines[: literal.end_lineno - 1]) + _offset(
        lines[literal.end_lineno - 1], literal.end_col_offset
    )
    return source[:start] + text + source[end:]


def _literal(value: object) -> str:
    """A Python literal in the notebooks' style: strings in double quotes."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else repr(value)


def _offset(line: str, byte_offset: int) -> int:
    """ast gives UTF-8 byte offsets; strings are indexed by character."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8"))


def fill_in_my_answers(filled: dict[str, object]) -> bool:
    """Ask the front end to rewrite the running cell with ``filled``; True if asked."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - outside IPython
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "set_next_input"):
        return False
    raw = shell.history_manager.input_hist_raw
    source = raw[-1] if raw else ""
    new = with_answers(source, filled)
    if new is None or new == source:
        return False
    shell.set_next_input(new, replace=True)
    return True
