"""One home per LSM setting: the defaults table, the YAML loader, the experiment overrides and the
step count of the data binning."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from crossbar.defaults import DEFAULT_PRESET
from rram_lsm.data.config import BinningConfig, DataConfig, frame_shape, frame_steps
from rram_lsm.errors import ConfigError
from rram_lsm.experiments.config import (
    LSMOverrides,
    experiment_config_from_dict,
    load_experiment_config,
    resolve_lsm_config,
)
from rram_lsm.lsm import LSMConfig, load_lsm_config
from rram_lsm.lsm.config import read_lsm_file
from rram_lsm.lsm.defaults import CUSTOM_DEFAULTS, MODALITY_DEFAULTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("modality", ["image", "audio"])
def test_shipped_yaml_is_exactly_the_modality_defaults(modality):
    assert load_lsm_config(ROOT / "configs" / "lsm" / f"{modality}.yaml") == \
        LSMConfig.for_modality(modality)
    # and the YAML restates no value of the table: it names the modality and the data only
    raw = yaml.safe_load((ROOT / "configs" / "lsm" / f"{modality}.yaml").read_text())
    assert set(raw) == {"modality", "encode"}


def test_modality_drives_the_reservoir_defaults():
    for modality, row in MODALITY_DEFAULTS.items():
        cfg = LSMConfig(modality=modality)
        assert cfg == LSMConfig.for_modality(modality)
        assert {k: getattr(cfg, k) for k in row} == row
    plain = LSMConfig()
    assert plain.modality == "custom" and plain.n_steps is None
    assert {k: getattr(plain, k) for k in CUSTOM_DEFAULTS} == CUSTOM_DEFAULTS
    # LSMConfig's own fields hold no second copy of a modality's values
    for key in MODALITY_DEFAULTS["image"]:
        assert LSMConfig.model_fields[key].is_required(), key
    # a mapping's own keys win; lsm_config_from_dict fills the rest from the same table
    assert LSMConfig.from_dict({"modality": "audio", "const": 0.02}).decay == 0.97
    assert LSMConfig.for_modality("audio", n_steps=None).n_steps is None


def test_defaults_follow_the_data_binning():
    binning = BinningConfig()
    for modality in ("image", "audio"):
        t, n_in = frame_shape(binning, modality)
        assert (MODALITY_DEFAULTS[modality]["n_steps"], MODALITY_DEFAULTS[modality]["n_inputs"]) \
            == (t, n_in)
        assert frame_steps(binning, modality) == t
    assert frame_shape(binning, "image") == (50, 256) and frame_shape(binning, "audio") == (129, 64)
    other = BinningConfig.from_dict({"image": {"n_time_bins": 40, "crop": 8}})
    assert frame_shape(other, "image") == (40, 64)
    with pytest.raises(ConfigError, match="modality"):
        frame_steps(binning, "video")


def test_default_preset_is_one_constant():
    assert LSMConfig().weights.preset == DEFAULT_PRESET
    assert (ROOT / "configs" / "macro" / f"{DEFAULT_PRESET}.yaml").is_file()


def test_lsm_yaml_loader_reads_the_encode_block_and_names_file_and_key(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("lsm: {modality: audio, const: 0.02}\nencode: {dataset: nmnist, split: test}\n")
    f = read_lsm_file(p)
    assert f.config == LSMConfig.for_modality("audio", const=0.02)
    assert (f.encode.dataset, f.encode.split) == ("nmnist", "test")
    assert load_lsm_config(p) == f.config
    for text, match in [
        ("encode: {dataset: x, colour: red}\n", "key 'encode' must be a mapping"),
        ("encode: {split: val}\n", "encode.split must be one of"),
        ("lsm: {n_neurons: 5}\nextra: 1\n", r"unknown top-level key\(s\) \['extra'\]"),
        ("n_neurons: -3\n", "key 'n_neurons'"),
        ("modality: image\nbogus: 1\n", "key 'bogus': unknown key"),
        ("lsm: [1, 2]\n", "key 'lsm' must be a mapping"),
    ]:
        p.write_text(text)
        with pytest.raises(ConfigError, match=match) as info:
            read_lsm_file(p)
        assert str(p) in str(info.value)
    with pytest.raises(ConfigError, match="not found"):
        load_lsm_config(tmp_path / "missing.yaml")


def test_experiment_lsm_overrides_are_typed():
    cfg = experiment_config_from_dict({"lsm": {"image": {"n_neurons": 64,
                                                         "weights": {"form_voltage": 3.4}}}})
    assert isinstance(cfg.lsm.image, LSMOverrides)
    assert cfg.lsm.image.n_neurons == 64 and cfg.lsm.audio.n_neurons is None
    # only the keys given are dumped (config.yaml of a run re-validates to the same config)
    dumped = cfg.model_dump(mode="json")["lsm"]
    assert dumped["image"] == {"n_neurons": 64, "weights": {"form_voltage": 3.4}}
    assert dumped["audio"] == {}
    assert experiment_config_from_dict(cfg.model_dump(mode="json")) == cfg
    for bad, key in [({"n_neurons": "x"}, "lsm.image.n_neurons"),
                     ({"bogus": 1}, "lsm.image.bogus"),
                     ({"weights": {"source": "macro"}}, "lsm.image.weights.source"),
                     ({"seed": 3}, "lsm.image.seed"),
                     ({"analog": {"adc_bits": 99}}, "lsm.image.analog.adc_bits")]:
        with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
            experiment_config_from_dict({"lsm": {"image": bad}}, "x.yaml")
    # cross-field checks run at load too
    with pytest.raises(ConfigError, match=r"(?s)lsm\.image: .*n_windows \(80\) exceeds"):
        experiment_config_from_dict({"lsm": {"image": {"n_windows": 80}}}, "x.yaml")


def test_resolve_lsm_config_is_the_one_recipe():
    cfg = load_experiment_config(ROOT / "configs" / "zero_shot_default.yaml")
    img = resolve_lsm_config(cfg, "image", "gaussian", 3)
    aud = resolve_lsm_config(cfg, "audio", "macro", 3)
    assert img == LSMConfig.for_modality("image", features=("rate", "windows"), n_windows=5,
                                         seed=3, weights={"source": "gaussian"})
    assert aud == LSMConfig.for_modality("audio", features=("rate", "windows"), n_windows=5,
                                         seed=3 + cfg.lsm.audio_seed_offset)
    # T and the inputs follow the data binning unless the LSM section sets them
    cfg = experiment_config_from_dict({}, "<t>", ["data.binning.image.n_time_bins=40",
                                                  "data.binning.audio.n_channels=32",
                                                  "lsm.audio.n_steps=null"])
    assert resolve_lsm_config(cfg, "image", "macro", 0).n_steps == 40
    a = resolve_lsm_config(cfg, "audio", "macro", 0)
    assert (a.n_steps, a.n_inputs) == (None, 32)
    assert frame_steps(DataConfig().binning, "audio") == 129
