"""States: SLS files (Salt's dialect: YAML + Jinja2) compiled to chunks, ordered, planned, applied.

Runs on the minion and never imports ``pvc.master``. The pipeline, one small module per step:

- :mod:`~pvc.states.render` -- SLS text -> high data: sandboxed Jinja2 (``do``, ``loopcontrols``,
  Salt's context, filters from :mod:`~pvc.states.filters` and ``import_yaml``-style tags from
  :mod:`~pvc.states.jinja_tags`), then ``yaml.safe_load``.
- :mod:`~pvc.states.compile` -- high data (with ``include``/``extend``/``names``/old list syntax)
  -> typed :class:`~pvc.states.chunks.Chunk` records with resolved requisites.
- :mod:`~pvc.states.order` -- Salt's run order (order key, then requisites depth first); cycles raise.
- :mod:`~pvc.states.engine` -- runs ordered chunks against a
  :class:`~pvc.states.registry.StateRegistry` with a :class:`~pvc.states.context.StateContext`;
  ``test=True`` is the same path with the apply step skipped (:meth:`StateContext.plan`).
- :mod:`~pvc.states.conditions` -- ``onlyif``/``unless``/``creates``, ``check_cmd``, ``retry``.
- :mod:`~pvc.states.functions` -- the state functions shipped (``file.*``, ``pkg.*``, ``user.*``,
  ``network.*``...), in an explicit registry.

The entry point is :func:`pvc.states.apply.apply_sls` (and ``show_sls``): it takes a
:class:`~pvc.states.tree.StateTree` (local ``file_roots``, or the master's file server through
:mod:`~pvc.states.fileclient`), the pillar, grains and an :class:`~pvc.states.caller.ExecCaller`
for the execution functions templates (``salt['mod.fun']``) and state functions call.

Example::

    inputs = StateInputs(tree=FileRoots(["/srv/salt"]), grains=grains, pillar=pillar, caller=caller)
    run = apply_sls(["base"], inputs, test=True)
    [r.result.result for r in run.results]     # [None, True, ...] -- None: would change, nothing touched
"""
