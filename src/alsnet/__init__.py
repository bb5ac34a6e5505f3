"""alsnet: open research platform of an ALS hub-and-spoke network."""

from __future__ import annotations

from alsnet.cohort import Cohort
from alsnet.exceptions import AlsnetError, DataValidationError

__version__ = "0.1.0"
__all__ = ["AlsnetError", "Cohort", "DataValidationError", "__version__"]
