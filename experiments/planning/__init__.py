"""How a transmission's streams are fitted into a budget: the one packing rule of the fixed
protections (:mod:`~experiments.planning.rule`) and the planner that maximises a
semantic objective's expected value (:mod:`~experiments.planning.planner`, the streams'
candidates :mod:`~experiments.planning.stream_candidates`,
:mod:`~experiments.planning.objective`) and what the sender knows of one image
(:mod:`~experiments.planning.sender`)."""

from experiments.planning.objective import DEFAULT_TOLERANCE, Objective
from experiments.planning.planner import (
    Prediction,
    brute_force,
    describe,
    plan_planned,
    predict,
    search,
)
from experiments.planning.rule import (
    PLANNED,
    Plan,
    first_fit,
    plan,
    plan_fixed,
)
from experiments.planning.sender import sender_values
from experiments.planning.stream_candidates import PROTECTIONS, REPEATS, Candidate, candidates

__all__ = [
    "DEFAULT_TOLERANCE",
    "PLANNED",
    "PROTECTIONS",
    "REPEATS",
    "Candidate",
    "Objective",
    "Plan",
    "Prediction",
    "brute_force",
    "candidates",
    "describe",
    "first_fit",
    "plan",
    "plan_fixed",
    "plan_planned",
    "predict",
    "search",
    "sender_values",
]
