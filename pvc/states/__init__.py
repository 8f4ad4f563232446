"""States: SLS files (Salt's dialect: YAML + Jinja2) compiled to chunks, ordered, planned, applied.

Runs on the minion and never imports ``pvc.master``. The pipeline, one small module per step:

- :mod:`~pvc.states.render` -- SLS text -> high data: sandboxed Jinja2 (``do``, ``loopcontrols``,
  Salt's context and filters from :mod:`~pvc.states.filters`), then ``yaml.safe_load``.
- :mod:`~pvc.states.compile` -- high data (with ``include``/``extend``/``names``/old list syntax)
  -> typed :class:`~pvc.states.chunks.Chunk` records with resolved requisites.
- :mod:`~pvc.states.order` -- Salt's run order (order key, then requisites depth first); cycles raise.
- :mod:`~pvc.states.engine` -- runs ordered chunks against a
  :class:`~pvc.states.registry.StateRegistry` with a :class:`~pvc.states.context.StateContext`;
  ``test=True`` is the same path with the apply step skipped (:meth:`StateContext.plan`).
- :mod:`~pvc.states.functions` -- the state functions shipped (``file.*``, ``test.*``).

Example::

    high = {"motd": render_sls(text, sls="motd", ctx=RenderContext(grains=grains))}
    run = apply_chunks(order_chunks(compile_high(high)), default_registry(), StateContext(test=True))
    [r.result.result for r in run.results]     # [None] -- would change, nothing touched
"""
