"""Reactors: event tag globs -> typed rules -> jobs, runners, state applies, notices.

The master config's ``reactor:`` lists rules (:mod:`.config`); the coordinator runs
:class:`~pvc.reactor.service.ReactorService` on the primary master only, which reads the local
master's event bus, asks :class:`~pvc.reactor.engine.Reactor` what to do (matching, loop
protection, sandboxed Jinja2 rendering in :mod:`.render`) and does it through the master's
client socket. Every action taken (or refused) is an event of its own,
``pvc/reactor/<rule>/<what>``, so ``pvc event listen pvc/reactor/`` shows what a reactor did.

The reactor reaches nodes only as a client of its master (``pvc.client``); runner actions go
through a callable the coordinator hands over, so this package imports no runner.
"""
