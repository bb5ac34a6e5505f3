"""Adapters that run alsnet's federated algorithms on real federation engines.

* :mod:`alsnet.federated.engines.vantage6` - the summary, Kaplan-Meier, stratified Cox
  and mixed-model algorithms as a vantage6 (5.x) algorithm: ``central_*`` functions that
  create ``partial_*`` subtasks at the nodes. Needs ``vantage6-algorithm-tools`` 5.x
  (Python >= 3.13): ``pip install 'alsnet[vantage6]'``.
* :mod:`alsnet.federated.engines.flower` - federated training of the twin's prognostic
  score (:mod:`alsnet.federated.learning`) as a Flower ServerApp / ClientApp. Needs
  ``pip install 'alsnet[flower]'``.

The engines are optional: importing this package imports neither. Site-side work is done
by the engine-agnostic code (:class:`alsnet.federated.site.Site`,
:class:`alsnet.federated.learning.TrainingSite`), so every answer passes the node's
alsnet disclosure policy and is appended to its audit log whichever engine carries it.
See ``docs/federated-deployment.md``.
"""

from __future__ import annotations

__all__: list[str] = []
