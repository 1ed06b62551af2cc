"""What the class misunderstood: a per-question summary of a gradebook, and the score spread.

    labkit grade submissions/ --key KEY --summary summary.csv --plot scores.png

For each question: how many answered it, the share who earned full marks, the mean
points, and the most common wrong answer with how many gave it. Rows with an
error are left out (they are listed in the gradebook itself).
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from labkit.grading.banks import question
from labkit.grading.gradebook import GradeRow


@dataclass(frozen=True)
class QuestionSummary:
    """How the class did on one question."""

    question: str
    answered: int
    full_marks: int
    mean_points: float
    max_points: float
    common_wrong: str  # the most common answer short of full marks, "" if none
    common_wrong_count: int
    self_reported: int  # measured answers listed as self-reported: not graded, not counted

    @property
    def share_correct(self) -> float:
        return self.full_marks / self.answered if self.answered else 0.0


def _shown(response: object) -> str:
    return f"{response:g}" if isinstance(response, float) else str(response)


def summarize(rows: list[GradeRow]) -> list[QuestionSummary]:
    """One summary per question answered by any graded row, in question order."""
    graded = [r for r in rows if not r.error]
    qids = sorted({qid for r in graded for qid in r.points})
    found = []
    for qid in qids:
        top = float(question(qid)["points"])
        # a self-reported measured answer was not graded: it says nothing either way
        answered = [r for r in graded if qid in r.points and qid not in r.self_reported]
        reported = [r for r in graded if qid in r.self_reported]
        wrong = Counter(
            _shown(r.responses.get(qid)) for r in answered if r.points[qid] < top - 1e-9
        )
        common, count = wrong.most_common(1)[0] if wrong else ("", 0)
        found.append(
            QuestionSummary(
                question=qid,
                answered=len(answered),
                full_marks=sum(1 for r in answered if r.points[qid] >= top - 1e-9),
                mean_points=round(sum(r.points[qid] for r in answered) / max(1, len(answered)), 3),
                max_points=top,
                common_wrong=common,
                common_wrong_count=count,
                self_reported=len(reported),
            )
        )
    return found


def format_summary(summaries: list[QuestionSummary]) -> str:
    """The summary as a plain-text table, for a terminal or a report."""
    lines = [
        f"{'question':<9} {'answered':>8} {'correct':>8} {'mean':>9}  most common wrong answer",
    ]
    for s in summaries:
        wrong = f"{s.common_wrong} ({s.common_wrong_count}×)" if s.common_wrong else "-"
        if s.self_reported:
            wrong += f"; {s.self_reported} self-reported, not counted"
        lines.append(
            f"{s.question:<9} {s.answered:>8} {s.share_correct:>8.0%} "
            f"{f'{s.mean_points:.2f}/{s.max_points:g}':>9}  {wrong}"
        )
    return "\n".join(lines)


def write_summary_csv(summaries: list[QuestionSummary], out: Path) -> None:
    """The summary as CSV, one row per question."""
    with Path(out).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "question",
                "answered",
                "share_correct",
                "mean_points",
                "max_points",
                "most_common_wrong",
                "most_common_wrong_count",
                "self_reported",
            ]
        )
        for s in summaries:
            writer.writerow(
                [
                    s.question,
                    s.answered,
                    round(s.share_correct, 3),
                    s.mean_points,
                    s.max_points,
                    s.common_wrong,
                    s.common_wrong_count,
                    s.self_reported,
                ]
            )


def plot_scores(rows: list[GradeRow], out: Path) -> Path:
    """A histogram of the class's scores (percent of the maximum), one bar colour per
    assignment, saved as an image at ``out``."""
    import matplotlib

    matplotlib.use("Agg")  # a file, not a window: this runs from the command line
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    by_assignment: dict[str, list[float]] = {}
    for r in rows:
        if not r.error and r.max_score:
            by_assignment.setdefault(r.assignment, []).append(100 * r.raw_score / r.max_score)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bins = list(range(0, 101, 10))
    for assignment, scores in sorted(by_assignment.items()):
        ax.hist(scores, bins=bins, alpha=0.6, label=f"notebook {assignment} ({len(scores)})")
    ax.set_title("Score distribution")
    ax.set_xlabel("score (% of the maximum)")
    ax.set_ylabel("learners")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # learners come whole
    ax.set_xlim(0, 100)
    if by_assignment:
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return Path(out)
