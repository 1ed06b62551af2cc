"""Keeping the Chinese course in step with the English one: ``labkit translate``.

A maintainer's tools, not a notebook's (docs/translating.md has the workflow):

- :mod:`.sources`   what there is to translate: markdown cells, and the ``_()``/``say()``
  sentences of labkit's modules and the notebooks' code cells;
- :mod:`.catalogs`  the .po catalogs, refreshed from those sources (``extract``): new
  entries empty, changed ones fuzzy (stale) with their old translation kept;
- :mod:`.build`     ``notebooks/zh/*.ipynb`` from the English notebooks and their catalogs;
- :mod:`.checks`    what is missing, stale, or breaks a placeholder or the glossary; stats;
- :mod:`.lab`       JupyterLab's own interface in the course's language, per launch;
- :mod:`.commands`  the ``labkit translate`` command group.

The runtime half, what a learner's kernel uses, is :mod:`labkit.messages` and
:mod:`labkit.language`; it needs none of this package.
"""
