"""Quizzes and grading: question banks, self-check feedback, and grading a class.

Learners (self-check mode, the default):

- :mod:`.quiz`: what a notebook's quiz cells call (``labkit.quiz``);
- :mod:`.exercises`: the live exercises graded against the learner's app (``labkit.exercises``);
- :mod:`.banks`, :mod:`.checking`, :mod:`.sheet`, :mod:`.records`, :mod:`.progress`,
  :mod:`.quiz_widgets`, :mod:`.cell_source`: the quiz engine, one job each.

Instructors (class mode, docs/instructor-grading.md):

- :mod:`.authoring`: hashing answers into a self-check bank (``labkit quiz set-answer``);
- :mod:`.key`: the instructor's answer key, kept outside the repository;
- :mod:`.release`: a class release of the banks, without answer material;
- :mod:`.assignment`: nbgrader source notebooks (``labkit nbgrader generate``);
- :mod:`.autograde`: re-runs in a fresh lab, and the hidden tests' checks;
  :mod:`.nbgrader_config`: nbgrader's side of it;
- :mod:`.gradebook`: grading submitted notebooks (``labkit grade``);
  :mod:`.summary`: what the class misunderstood.
"""
