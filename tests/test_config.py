import pytest

from pvc.config import load_master, load_minion
from pvc.errors import ConfigError


def test_defaults_and_relative_paths(tmp_path):
    (tmp_path / "master").write_text("root_dir: root\nauto_accept: true\n")
    cfg = load_master(tmp_path)
    assert cfg.ret_port == 4506 and cfg.channel_port == 4507 and cfg.auto_accept
    assert cfg.pki_dir == str(tmp_path / "root" / "pki" / "master")


@pytest.mark.parametrize("text, message", [
    ("chanel_port: 1\n", "option 'chanel_port' is unknown (did you mean 'channel_port'?)"),
    ("ret_port: abc\n", "option 'ret_port' must be an integer, got a string"),
    ("auto_accept: 1\n", "option 'auto_accept' must be a boolean"),
    ("ret_port: 70000\n", "must be a TCP port"),
    ("[1, 2]\n", "expected a mapping"),
    ("a: [\n", "is not valid YAML"),
])
def test_bad_master_options_are_one_line_errors(tmp_path, text, message):
    (tmp_path / "master").write_text(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        load_master(tmp_path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_master(tmp_path)


def test_minion_id_validated(tmp_path):
    (tmp_path / "minion").write_text("id: ../../etc/x\n")
    with pytest.raises(ConfigError, match="option 'id'"):
        load_minion(tmp_path)


def test_log_level_error_names_the_file(tmp_path):
    (tmp_path / "master").write_text("log_level: loud\n")
    with pytest.raises(ConfigError) as exc:
        load_master(tmp_path)
    assert str(exc.value).startswith(f"{tmp_path / 'master'}: option 'log_level' must be one of")
