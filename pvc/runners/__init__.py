"""Runners: master-side orchestration on ZooKeeper, reaching nodes only through jobs (pvc.client).

- :mod:`~pvc.runners.registry` — the explicit registry (``pvc runner NAME``, ``sys.doc``)
- :mod:`~pvc.runners.context` — :class:`RunnerContext`, every runner's first parameter
- :mod:`~pvc.runners.placement` — pure target selection (selectors, node limit, no overcommit)
- :mod:`~pvc.runners.vms` — ``vm.*``: define, list, info, power, migrate/unmigrate/move, remove
- :mod:`~pvc.runners.nodes` — ``node.flush``/``node.ready``: plan, submit, follow
- :mod:`~pvc.runners.flush` — carries a flush/ready request out, step by step in ZooKeeper
- :mod:`~pvc.runners.tree` — the runners' znodes: node requests, observed VM state
- :mod:`~pvc.runners.statesync` — libvirt events on the bus -> observed VM state
- :mod:`~pvc.runners.coordinator` — election + services on the primary (child of ``pvc master``)

Nothing here imports pvc.minion or an adapter (``tests/runners/test_layering.py``).
"""
