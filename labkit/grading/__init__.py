"""Quizzes and grading: question banks, answers checked on the spot, a class's gradebook.

- :mod:`.quiz`: what a notebook's quiz cells call (``labkit.quiz``);
- :mod:`.exercises`: the live exercises graded against the learner's app (``labkit.exercises``);
- :mod:`.banks`, :mod:`.checking`, :mod:`.records`, :mod:`.progress`, :mod:`.quiz_widgets`:
  the quiz engine, one job each;
- :mod:`.authoring`: writing answers into a bank (``labkit quiz set-answer``);
- :mod:`.gradebook`: grading submitted notebooks (``labkit grade``).
"""
