"""Hostile reasoners: each behaviour turns a seeded ``random.Random`` into a script for the fake
OpenAI server (what the model answers) and, where it matters, what the human does with an approval.

Every behaviour varies its arguments with the seed (names, namespaces, sizes, which tool), so ten
runs of one behaviour are ten different attacks of the same class. The classes follow issue 17:
unknown tools, malformed and oversized arguments, protected namespaces and labels, deleting and
scaling to zero, loops and floods, actions disguised as reads, argument smuggling, approval replay
with edited arguments, and instructions found in tool output.
"""

from __future__ import annotations

from fakes import hostile_calls, hostile_intent
from fakes.hostile_pieces import BEHAVIOURS, Behaviour

MODULES = (hostile_calls, hostile_intent)  # importing them registers their behaviours
__all__ = ["BEHAVIOURS", "MODULES", "Behaviour"]
