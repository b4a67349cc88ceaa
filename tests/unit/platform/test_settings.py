from __future__ import annotations

from pathlib import Path

import pytest

from reelgate.platform.settings import SettingsError, load_settings


def test_defaults_and_ports(tmp_path: Path) -> None:
    settings = load_settings({"REELGATE_HOME": str(tmp_path)})
    assert settings.port_base == 8400
    assert [settings.port(p) for p in ("router", "blue", "green", "postgres", "valkey")] == [
        8400,
        8401,
        8402,
        8403,
        8404,
    ]
    assert settings.var == tmp_path.resolve() / "var"
    assert settings.queue == "transcode.blue"


def test_env_overrides_toml(tmp_path: Path) -> None:
    (tmp_path / "reelgate.toml").write_text('port_base = 9000\ncolor = "green"\nladder = [720, 360]\n')
    settings = load_settings(
        {
            "REELGATE_HOME": str(tmp_path),
            "REELGATE_PORT_BASE": "9100",
            "REELGATE_LADDER": "480,240",
            "REELGATE_ZAP_URL": "ignored",
        }
    )
    assert settings.port_base == 9100
    assert settings.color == "green"
    assert settings.ladder == [480, 240]
    assert settings.queue == "transcode.green"


def test_bad_settings_say_where(tmp_path: Path) -> None:
    (tmp_path / "reelgate.toml").write_text("port_base = [\n")
    with pytest.raises(SettingsError, match="reelgate.toml"):
        load_settings({"REELGATE_HOME": str(tmp_path)})
    (tmp_path / "reelgate.toml").write_text("prot_base = 1\n")
    with pytest.raises(SettingsError, match="prot_base"):
        load_settings({"REELGATE_HOME": str(tmp_path)})
    (tmp_path / "reelgate.toml").unlink()
    with pytest.raises(SettingsError, match="port_base"):
        load_settings({"REELGATE_HOME": str(tmp_path), "REELGATE_PORT_BASE": "eighty"})
    with pytest.raises(SettingsError, match=r"<= 19 - at `\$.transcode_nice`"):
        load_settings({"REELGATE_HOME": str(tmp_path), "REELGATE_TRANSCODE_NICE": "25"})
    assert load_settings({"REELGATE_HOME": str(tmp_path)}).transcode_nice == 10
    with pytest.raises(SettingsError, match="hls and mp4 are both off"):
        load_settings({"REELGATE_HOME": str(tmp_path), "REELGATE_HLS": "false", "REELGATE_MP4": "0"})
