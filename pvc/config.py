"""Daemon configuration: ``DIR/master`` and ``DIR/minion`` (YAML), loaded once into frozen objects.

Option names follow Salt where Salt has one (``interface``, ``ret_port``,
``auto_accept``, ``id``, ``master``, ``master_port``, ``master_finger``, ``root_dir``,
``timeout``). Paths that are not absolute are taken relative to the config directory, so a
whole test cluster can live in one temporary directory. Unknown or ill-typed options are a
one-line :class:`~pvc.errors.ConfigError`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pvc.errors import ConfigError
from pvc.typedconf import build

DEFAULT_CONFIG_DIR = "/etc/pvc"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


@dataclass(frozen=True)
class FenceSection:
    """How the primary fences a dead node (``cluster: fence:`` in the master config; a minion
    ignores it). ``bmc`` maps a node name to its BMC (``host``, ``user``, ``password_file`` — a
    0600 file on this master: the password is never in ZooKeeper nor on a command line —, and
    optionally ``port``, ``interface``, ``cipher``); a dead node without one is ``fence-failed``.
    When a node counts as dead (``fence_grace``), maintenance and ``failed_fence`` are cluster-wide
    settings in ZooKeeper (``pvc cluster status``)."""

    bmc: dict[str, Any] = field(default_factory=dict)
    confirm_timeout: float = 10.0  # seconds to get an explicit "off" reading, per attempt
    poll: float = 0.25             # seconds between power status readings
    retry_delay: float = 5.0       # first wait after a failed fence; doubled each time
    retry_max_delay: float = 60.0
    parallel: int = 2              # nodes fenced (and recovered) at a time
    recovery_parallel: int = 4     # VMs of one node started elsewhere at a time


@dataclass(frozen=True)
class ClusterSection:
    """Where the cluster state lives (``cluster:`` in the master and minion configs)."""

    zookeeper: str                 # "host:port,host:port,..."
    root: str = "/pvc"             # the znode under which the cluster tree lives
    session_timeout: float = 3.0   # seconds: how fast a dead master or node is noticed
    fence: FenceSection = field(default_factory=FenceSection)


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
    cluster: ClusterSection | None = None  # a hypervisor cluster: ZooKeeper state, primary, keepalive


@dataclass(frozen=True)
class MasterConfig(DaemonConfig):
    interface: str = "0.0.0.0"
    ret_port: int = 4506      # enrolment: strangers may only ask to authenticate, in small frames
    channel_port: int = 4507  # returns and events: only authenticated minions can connect (CURVE)
    auto_accept: bool = False
    timeout: float = 5.0
    job_cache: str = ""
    keep_jobs: float = 24.0  # hours
    nodegroups: dict[str, Any] = field(default_factory=dict)
    max_pending_keys: int = 1000
    auth_rate: float = 500.0
    peer_rate: float = 20000.0
    max_preauth_size: int = 4096     # bytes: largest frame a peer may send before it authenticates
    address_rate: float = 1000.0     # enrolment connections and auth requests per second per source address
    # heartbeats per second asked of the whole fleet: each minion beats every
    # max(heartbeat, minions / heartbeat_rate) seconds (see pvc.master.sessions). A heartbeat and
    # its pong cost ~0.15 ms of master CPU: 250/s is ~4% of a core at any fleet size, and leaves
    # fleets of up to 500 minions at the 2 s default; 10,000 minions beat every 40 s
    heartbeat_rate: float = 250.0
    # config dirs of this cluster's other masters on this host (relative: to this config dir):
    # the CLI uses the first running one when this master is not running
    fallback_masters: tuple[str, ...] = ()
    reactor: tuple[Any, ...] = ()    # rules: event tag glob -> actions, run by the primary (pvc.reactor.config)
    # Salt's option names: environment -> directories searched in order; relative to the config dir
    file_roots: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"base": ("/srv/salt",)})
    pillar_roots: dict[str, tuple[str, ...]] = field(default_factory=lambda: {"base": ("/srv/pillar",)})
    # the mine (pvc.master.mine): what minions send is kept on disk, at most this much per
    # minion and in all; an update past either is refused (the older data stays)
    mine_minion_max_bytes: int = 1024 * 1024
    mine_max_bytes: int = 64 * 1024 * 1024


@dataclass(frozen=True)
class MinionConfig(DaemonConfig):
    id: str = ""
    master: str | tuple[str, ...] = "127.0.0.1"  # one master, or a list: the minion serves each
    master_port: int = 4506
    channel_port: int = 0  # 0: use the port the master announces at auth
    # Salt's option: the local address the minion connects from (a host with several); with
    # ``pvc minion --swarm N``, identity n connects from this address + n, so a swarm looks like
    # N hosts to the master's per-address limits
    source_address: str = ""
    master_finger: str = ""
    grains: dict[str, Any] = field(default_factory=dict)
    acceptance_wait_time: float = 2.0
    pub_window: float = 120.0
    workers: int = 8                 # threads each job lane keeps
    max_workers: int = 64            # the general lane (cmd, test, ...) grows to this, then queues
    job_queue_size: int = 1024       # jobs waiting in a full lane; beyond it a job is refused at once
    cluster_workers: int = 4         # the cluster lane (virt, ceph, network, ...): user jobs never take it
    cluster_max_workers: int = 16
    job_timeout: float = 3600.0      # seconds a job may run (cmd.* have their own timeout=); 0: none
    kill_grace: float = 2.0          # seconds between SIGTERM and SIGKILL of a job's processes
    modules: dict[str, Any] = field(default_factory=dict)
    spool_max_bytes: int = 64 * 1024 * 1024  # unacked returns kept on disk, at most
    spool_max_age: float = 24.0              # hours an unacked return is kept
    spool_fsync: bool = False                # fsync each spooled return (power-loss safe, slower)
    beacons: dict[str, Any] = field(default_factory=dict)  # name -> periodic check (pvc.minion.beacons.config)
    # Salt's mine: name -> [args] or {mine_function: fun, ...kwargs}, run at start and every
    # mine_interval minutes, the results sent to the master(s) (pvc.modules.mine)
    mine_functions: dict[str, Any] = field(default_factory=dict)
    mine_interval: float = 60.0

    @property
    def masters(self) -> tuple[str, ...]:
        return (self.master,) if isinstance(self.master, str) else self.master


def _read_yaml(path: str) -> Mapping[str, Any]:
    import yaml

    try:
        with open(path) as fh:
            text = fh.read()
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


def _resolve_paths(cfg: Any, role: str, base: str) -> Any:  # cfg: a DaemonConfig subclass
    # os.path, not pathlib: the minion daemon does not otherwise import pathlib (~0.7 MiB)
    root = os.path.realpath(os.path.join(base, cfg.root_dir))
    defaults = {
        "pki_dir": os.path.join(root, "pki", role),
        "sock_dir": os.path.join(root, "run", role),
        "cachedir": os.path.join(root, "cache", role),
        "log_file": os.path.join(root, "log", role),
    }
    changes: dict[str, Any] = {"root_dir": root}
    for name, default in defaults.items():
        value = getattr(cfg, name)
        changes[name] = os.path.realpath(os.path.join(base, value)) if value else default
    if cfg.log_level not in LOG_LEVELS:
        raise ConfigError(f"{os.path.join(base, role)}: option 'log_level' must be one of {', '.join(LOG_LEVELS)}")
    return dataclasses.replace(cfg, **changes)


def load_master(config_dir: str | os.PathLike[str] = DEFAULT_CONFIG_DIR) -> MasterConfig:
    base = os.fspath(config_dir)
    where = os.path.join(base, "master")
    cfg = build(MasterConfig, _read_yaml(where), where=where)
    for port in ("ret_port", "channel_port"):
        if not 0 < getattr(cfg, port) < 65536:
            raise ConfigError(f"{where}: option '{port}' must be a TCP port (1-65535)")
    cfg = dataclasses.replace(cfg, file_roots=_roots(cfg.file_roots, base), pillar_roots=_roots(cfg.pillar_roots, base))
    return _resolve_paths(cfg, "master", base)


def _roots(envs: Mapping[str, tuple[str, ...]], base: str) -> dict[str, tuple[str, ...]]:
    """``file_roots``/``pillar_roots`` with each directory made absolute (relative to ``base``)."""
    return {env: tuple(os.path.realpath(os.path.join(base, d)) for d in dirs) for env, dirs in envs.items()}


def load_minion(config_dir: str | os.PathLike[str] = DEFAULT_CONFIG_DIR) -> MinionConfig:
    """Load the minion config; module sections live under ``modules:`` and are validated by
    each module's own config class when the registry is built (see ``module_config``)."""
    return minion_from_mapping(read_minion_file(config_dir), config_dir)


def read_minion_file(config_dir: str | os.PathLike[str]) -> Mapping[str, Any]:
    return _read_yaml(os.path.join(config_dir, "minion"))


def minion_from_mapping(data: Mapping[str, Any], config_dir: str | os.PathLike[str]) -> MinionConfig:
    """Validate already-parsed minion options (from the YAML file, or handed over by the CLI
    to the lean daemon image, which does not import YAML)."""
    from pvc.errors import InvalidMinionId
    from pvc.ids import validate_minion_id

    base = os.fspath(config_dir)
    where = os.path.join(base, "minion")
    cfg = build(MinionConfig, data, where=where)
    if not cfg.masters or not all(cfg.masters):
        raise ConfigError(f"{where}: option 'master' must name at least one master")
    mid = cfg.id or os.uname().nodename
    try:
        validate_minion_id(mid)
    except InvalidMinionId as exc:
        raise ConfigError(f"{where}: option 'id': {exc}") from None
    if cfg.source_address:
        import ipaddress

        try:
            ipaddress.ip_address(cfg.source_address)
        except ValueError:
            raise ConfigError(f"{where}: option 'source_address' must be an IP address, "
                              f"not {cfg.source_address!r}") from None
    return _resolve_paths(dataclasses.replace(cfg, id=mid), "minion", base)


def tcp_endpoint(host: str, port: int, source: str = "") -> str:
    """A ZeroMQ TCP endpoint, connected from ``source`` (an IP address, any port) when given."""
    return f"tcp://{source}:0;{host}:{port}" if source else f"tcp://{host}:{port}"


# modules whose options Salt spells as top-level minion options: module -> {field: option}
TOP_LEVEL_OPTIONS: dict[str, dict[str, str]] = {"mine": {"functions": "mine_functions", "interval": "mine_interval"}}


def module_config(cfg: MinionConfig, module: str, cls: type | None) -> Any:
    """The typed config of one module, from the minion's ``modules.<name>`` section (or, for
    the modules of :data:`TOP_LEVEL_OPTIONS`, from Salt's top-level option names only)."""
    section = cfg.modules.get(module)
    if module in TOP_LEVEL_OPTIONS:
        options = TOP_LEVEL_OPTIONS[module]
        if section is not None:
            raise ConfigError(f"minion: modules.{module}: set the top-level options {', '.join(options.values())} instead")
        section = {name: getattr(cfg, option) for name, option in options.items()}
    if cls is None:
        if section:
            raise ConfigError(f"minion: modules.{module}: this module takes no options")
        return None
    return build(cls, section, where=f"minion: modules.{module}")
