"""免申即享 policy-matching engine.

Public API (the UI and other callers use only these):
    load_dictionary, load_library, load_policy_text, load_dataset,
    reference.evaluate, vectorized.match, Explainer, check_up, run_policy_tests
"""

from .data.datasets import Dataset, load_dataset
from .data.tags import TagDictionary, load_dictionary
from .errors import DataError, EngineError, ExpressionError, PolicyLoadError, Problem
from .explain import Explainer, check_up
from .ir import Policy, Status
from .library.loader import Library, load_library, load_policy_text
from .library.policytests import run_policy_tests

__all__ = [
    "DataError", "Dataset", "EngineError", "Explainer", "ExpressionError", "Library", "Policy",
    "PolicyLoadError", "Problem", "Status", "TagDictionary", "check_up", "load_dataset", "load_dictionary",
    "load_library", "load_policy_text", "run_policy_tests",
]
