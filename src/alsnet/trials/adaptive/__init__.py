"""Adaptive multi-arm trials with a binary outcome, simulated the way adaptr does (vectorised).

- :class:`AdaptiveDesign`, :class:`AdaptiveScenario` — validated designs (YAML with
  ``kind: adaptive-binary``; shipped example ``adaptr-readme``).
- :func:`simulate_adaptive`, :class:`AdaptiveResult` — operating characteristics with Monte
  Carlo SEs, on the local or Ray backend.
- :func:`best_and_equivalence`, :func:`draw_estimates` — Pr(best) and Pr(all equivalent) for
  independent Beta posteriors by quadrature, and adaptr's draw-based estimates emulated
  exactly in distribution.
- :func:`reallocate` — response-adaptive allocation with floors and caps.
"""

from __future__ import annotations

from alsnet.trials.adaptive.design import ADAPTIVE_KIND, AdaptiveDesign, AdaptiveScenario
from alsnet.trials.adaptive.engine import AdaptiveResult, reallocate, simulate_adaptive
from alsnet.trials.adaptive.probs import best_and_equivalence, draw_estimates

__all__ = [
    "ADAPTIVE_KIND",
    "AdaptiveDesign",
    "AdaptiveResult",
    "AdaptiveScenario",
    "best_and_equivalence",
    "draw_estimates",
    "reallocate",
    "simulate_adaptive",
]
