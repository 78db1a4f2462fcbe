"""Re-exports for code written against ``lbi.estimator`` before the estimator moved to :mod:`lbi.pipeline.estimator`
(the README's API); new code imports from there."""

from .pipeline.estimate import Estimate
from .pipeline.estimator import Estimator, NoPersonFound

__all__ = ["Estimate", "Estimator", "NoPersonFound"]
