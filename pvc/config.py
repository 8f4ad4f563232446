"""Daemon configuration: ``DIR/master`` and ``DIR/minion`` (YAML), loaded once into frozen objects.

Option names follow Salt where Salt has one (``interface``, ``publish_port``, ``ret_port``,
``auto_accept``, ``id``, ``master``, ``master_port``, ``master_finger``, ``root_dir``,
``timeout``). Paths that are not absolute are taken relative to the config directory, so a
whole test cluster can live in one temporary directory. Unknown or ill-typed options are a
one-line :class:`~pvc.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pvc.errors import ConfigError
from pvc.typedconf import build

DEFAULT_CONFIG_DIR = "/etc/pvc"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class DaemonConfig:
    """Options both daemons share: where their files live, logging, liveness, frame size."""

    root_dir: str = "/var/lib/pvc"
    pki_dir: str = ""
    sock_dir: str = ""
    cachedir: str = ""
    log_file: str = ""
    log_level: str = "info"
    heartbeat: float = 2.0
    max_message_size: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class MasterConfig(DaemonConfig):
    interface: str = "0.0.0.0"
    publish_port: int = 4505
    ret_port: int = 4506
    auto_accept: bool = False
    timeout: float = 5.0
    job_cache: str = ""
    keep_jobs: float = 24.0  # hours
    nodegroups: dict[str, Any] = field(default_factory=dict)
    max_pending_keys: int = 1000
    auth_rate: float = 500.0
    peer_rate: float = 20000.0


@dataclass(frozen=True)
class MinionConfig(DaemonConfig):
    id: str = ""
    master: str = "127.0.0.1"
    master_port: int = 4506
    publish_port: int = 0  # 0: use the port the master announces at auth
    master_finger: str = ""
    grains: dict[str, Any] = field(default_factory=dict)
    acceptance_wait_time: float = 2.0
    pub_window: float = 120.0
    workers: int = 8
    modules: dict[str, Any] = field(default_factory=dict)


def _read_yaml(path: Path) -> Mapping[str, Any]:
    import yaml

    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of options at the top level")
    return data


def _resolve_paths(cfg: Any, role: str, base: Path) -> Any:  # cfg: a DaemonConfig subclass
    root = Path(cfg.root_dir)
    if not root.is_absolute():
        root = (base / root).resolve()
    defaults = {
        "pki_dir": root / "pki" / role,
        "sock_dir": root / "run" / role,
        "cachedir": root / "cache" / role,
        "log_file": root / "log" / role,
    }
    changes: dict[str, Any] = {"root_dir": str(root)}
    for name, default in defaults.items():
        value = getattr(cfg, name)
        path = Path(value) if value else default
        changes[name] = str(path if path.is_absolute() else (base / path).resolve())
    if cfg.log_level not in LOG_LEVELS:
        raise ConfigError(f"{role}: option 'log_level' must be one of {', '.join(LOG_LEVELS)}")
    return dataclasses.replace(cfg, **changes)


def load_master(config_dir: str | os.PathLike[str] = DEFAULT_CONFIG_DIR) -> MasterConfig:
    base = Path(config_dir)
    cfg = build(MasterConfig, _read_yaml(base / "master"), where=str(base / "master"))
    for port in ("publish_port", "ret_port"):
        if not 0 < getattr(cfg, port) < 65536:
            raise ConfigError(f"{base / 'master'}: option '{port}' must be a TCP port (1-65535)")
    return _resolve_paths(cfg, "master", base)


def load_minion(config_dir: str | os.PathLike[str] = DEFAULT_CONFIG_DIR) -> MinionConfig:
    """Load the minion config; module sections live under ``modules:`` and are validated by
    each module's own config class when the registry is built (see ``module_config``)."""
    from pvc.errors import InvalidMinionId
    from pvc.ids import validate_minion_id

    base = Path(config_dir)
    where = str(base / "minion")
    cfg = build(MinionConfig, _read_yaml(base / "minion"), where=where)
    mid = cfg.id or socket.gethostname()
    try:
        validate_minion_id(mid)
    except InvalidMinionId as exc:
        raise ConfigError(f"{where}: option 'id': {exc}") from None
    return _resolve_paths(dataclasses.replace(cfg, id=mid), "minion", base)


def module_config(cfg: MinionConfig, module: str, cls: type | None) -> Any:
    """The typed config of one module, from the minion's ``modules.<name>`` section."""
    section = cfg.modules.get(module)
    if cls is None:
        if section:
            raise ConfigError(f"minion: modules.{module}: this module takes no options")
        return None
    return build(cls, section, where=f"minion: modules.{module}")
