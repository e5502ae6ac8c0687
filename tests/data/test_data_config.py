"""Data configs: defaults equal the shipped YAML; bad values name the key and the allowed range."""

from __future__ import annotations

from pathlib import Path

import pytest

from rram_lsm.data import (
    AudioBinning,
    BinningConfig,
    DataConfig,
    DigitsDVSConfig,
    ImageBinning,
    SpokenDigitsConfig,
    load_data_config,
)
from rram_lsm.errors import ConfigError, InputError

REPO = Path(__file__).resolve().parents[2]


def test_shipped_yaml_equals_defaults():
    cfg = load_data_config(REPO / "configs" / "data" / "default.yaml")
    assert cfg == DataConfig()
    assert cfg.binning.image.n_time_bins == 50 and cfg.binning.image.crop == 16
    assert cfg.binning.audio.n_time_bins == 129 and cfg.binning.audio.n_channels == 64
    assert cfg.label_map == "paper"
    assert cfg.pairing.seen_classes == (1, 2, 3, 4, 5, 6, 7)


def test_out_of_range_names_key_and_range():
    with pytest.raises(ConfigError, match=r"key 'crop': Input should be less than or equal to 34"):
        ImageBinning(crop=40)
    with pytest.raises(ConfigError, match=r"key 'polarity': Input should be 0 or 1"):
        ImageBinning(polarity=2)
    with pytest.raises(ConfigError, match=r"key 'scheme': Input should be 'paper' or 'fixed'"):
        AudioBinning(scheme="log")
    with pytest.raises(ConfigError, match=r"rate_wpm: espeak accepts 80..450"):
        SpokenDigitsConfig(rate_wpm=(50, 100))
    with pytest.raises(ConfigError, match=r"scale_range: lower bound"):
        DigitsDVSConfig(scale_range=(1.2, 0.9))
    assert issubclass(ConfigError, InputError)


def test_yaml_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("binning:\n  image:\n    n_time_bins: 0\n  audio:\n    colour: red\n")
    with pytest.raises(ConfigError) as err:
        load_data_config(bad)
    msg = str(err.value)
    assert msg.startswith(f"{bad}: invalid data config")
    assert "key 'binning.image.n_time_bins': Input should be greater than or equal to 1" in msg
    assert "key 'binning.audio.colour': unknown key" in msg
    (tmp_path / "nested.yaml").write_text("data:\n  label_map: tonic\n")
    assert load_data_config(tmp_path / "nested.yaml").label_map == "tonic"
    (tmp_path / "broken.yaml").write_text("binning: [\n")
    with pytest.raises(ConfigError, match="broken.yaml: not valid YAML"):
        load_data_config(tmp_path / "broken.yaml")
    with pytest.raises(ConfigError, match="config file not found"):
        load_data_config(tmp_path / "absent.yaml")


def test_digest_tracks_values():
    assert BinningConfig().image.digest() == ImageBinning().digest()
    assert ImageBinning(polarity=1).digest() != ImageBinning().digest()


def test_microsecond_keys_are_usec_and_old_names_still_load(tmp_path):
    with pytest.warns(DeprecationWarning, match=r"'bin_us' \(now 'bin_usec'\)"):
        old = ImageBinning(bin_us=20_000, t_start_us=5)
    assert old == ImageBinning(bin_usec=20_000, t_start_usec=5)
    with pytest.warns(DeprecationWarning, match="base_bin_usec"):
        assert AudioBinning(base_bin_us=2_000).base_bin_usec == 2_000
    with pytest.warns(DeprecationWarning, match="refractory_usec"):
        assert DigitsDVSConfig(refractory_us=500).refractory_usec == 500
    legacy = tmp_path / "legacy.yaml"
    legacy.write_text("binning:\n  image: {bin_us: 7000}\n  audio: {bin_us: 9000}\n"
                      "builtin:\n  digits_dvs: {saccade_us: 90000, step_us: 1000}\n")
    with pytest.warns(DeprecationWarning, match="_usec"):
        cfg = load_data_config(legacy)
    assert cfg.binning.image.bin_usec == 7000 and cfg.binning.audio.bin_usec == 9000
    assert cfg.builtin.digits_dvs.saccade_usec == 90_000 and cfg.builtin.digits_dvs.step_usec == 1000
    with pytest.raises(ConfigError, match="give only 'bin_usec'"):
        ImageBinning(bin_us=1, bin_usec=2)
    assert not hasattr(ImageBinning(), "bin_us")


def test_manifest_written_with_old_key_names_still_matches():
    from rram_lsm.data.builtin import _requested, manifest_matches
    from rram_lsm.data.config import BuiltinConfig

    cfg = BuiltinConfig()
    manifest = _requested("digits-dvs", cfg)
    old = {k.replace("_usec", "_us"): v for k, v in manifest["config"].items()}
    assert old != manifest["config"]
    assert manifest_matches({**manifest, "config": old}, "digits-dvs", cfg)
    assert not manifest_matches({**manifest, "config": {**old, "step_us": 1}}, "digits-dvs", cfg)


def test_frame_shape_is_what_the_binning_produces():
    from rram_lsm.data.config import frame_shape, frame_steps

    cfg = DataConfig()
    assert frame_shape(cfg.binning, "image") == (50, 256)
    assert frame_shape(cfg.binning, "audio") == (129, 64)
    b = BinningConfig(image=ImageBinning(n_time_bins=12, crop=10),
                      audio=AudioBinning(n_time_bins=30, n_channels=8))
    assert frame_shape(b, "image") == (12, 100) and frame_steps(b, "audio") == 30
    with pytest.raises(ConfigError, match="modality"):
        frame_steps(b, "video")
