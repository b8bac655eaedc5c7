"""Competence and inclination check (Potential-Check): content, branching and scoring, without Telegram."""

from dialogs.check.content import SKIP, CheckContent, ContentError, Question, load_content
from dialogs.check.scoring import FieldScore, Note, Profile, Reason, render_bar, score

__all__ = [
    "SKIP",
    "CheckContent",
    "ContentError",
    "FieldScore",
    "Note",
    "Profile",
    "Question",
    "Reason",
    "load_content",
    "render_bar",
    "score",
]
