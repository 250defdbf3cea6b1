"""The one config idiom (pcmspice.core.config): every config checks itself when made, names the field, the value
and the allowed range in one line, and round-trips through TOML."""
from __future__ import annotations

from dataclasses import dataclass, fields

import pytest

from pcmspice.array.config import ArrayConfig
from pcmspice.characterize.sweep import SweepConfig
from pcmspice.core.config import Config, allowed, param, parse_value, same_as
from pcmspice.core.errors import ConfigError
from pcmspice.cosim.config import CosimConfig
from pcmspice.power.config import PowerConfig
from pcmspice.train.config import TrainConfig

ALL = [ArrayConfig, TrainConfig, SweepConfig, CosimConfig, PowerConfig]


@dataclass(frozen=True)
class Toy(Config):
    _where = "toy"
    n: int = param(3, ge=1, le=10)
    x: float = param(0.5, unit="V", gt=0)
    kind: str = param("a", choices=("a", "b"))
    flag: bool = param(False)
    xs: tuple[float, ...] = param((1.0, 2.0), unit="s", gt=0)
    inner: ArrayConfig = param(default_factory=ArrayConfig)


@pytest.mark.parametrize("cls", ALL)
def test_every_config_uses_the_idiom_and_round_trips(cls):
    assert issubclass(cls, Config)
    cfg = cls()
    if cls is not PowerConfig:   # PowerConfig's TOML is a commented file: the next test
        assert cls.from_toml_text(cfg.to_toml()) == cfg
    assert cls.from_dict(cfg.to_dict()) == cfg


def test_power_config_round_trips_through_its_commented_toml(tmp_path):
    f = tmp_path / "p.toml"
    f.write_text(PowerConfig().to_toml())
    assert PowerConfig.from_toml(f) == PowerConfig()


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 0}, "toy: n = 0 is invalid; expected an integer from 1 to 10"),
    ({"n": 2.5}, "toy: n = 2.5 is invalid; expected an integer from 1 to 10"),
    ({"n": True}, "toy: n = True is invalid; expected an integer from 1 to 10"),
    ({"x": 0.0}, "toy: x = 0.0 is invalid; expected a finite number > 0 V"),
    ({"x": float("nan")}, "toy: x = nan is invalid; expected a finite number > 0 V"),
    ({"x": "1V"}, "toy: x = '1V' is invalid; expected a finite number > 0 V"),   # text: a SPICE number or nothing
    ({"x": "-1m"}, "toy: x = '-1m' is invalid; expected a finite number > 0 V"),
    ({"kind": "c"}, "toy: kind = 'c' is invalid; expected one of a, b"),
    ({"flag": 1}, "toy: flag = 1 is invalid; expected true or false"),
    ({"xs": [1.0, -1.0]}, "toy: xs = [1.0, -1.0] is invalid; expected a list of numbers > 0 s"),
    ({"inner": {"gain_f": -1}}, "array config: gain_f = -1 is invalid; expected a finite number > 0 and <= 1000"),
])
def test_bad_values_name_field_value_and_range(kwargs, message):
    with pytest.raises(ConfigError) as e:
        Toy(**kwargs)
    assert str(e.value) == message


def test_coercions_keep_types():
    t = Toy(n=4.0, x=1, xs=[3, 4], inner={"mode": "ideal"})
    assert t.n == 4 and isinstance(t.n, int)
    assert t.x == 1.0 and isinstance(t.x, float)
    assert t.xs == (3.0, 4.0) and isinstance(t.xs, tuple)
    assert t.inner == ArrayConfig(mode="ideal")
    assert Toy.from_toml_text(t.to_toml()) == t


def test_unknown_keys_and_bad_toml_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"^toy: unknown key\(s\) m; known keys are n, x, kind, flag, xs, inner$"):
        Toy.from_dict({"m": 1})
    with pytest.raises(ConfigError, match="not valid TOML"):
        Toy.from_toml_text("n = = 1\n")
    with pytest.raises(ConfigError, match="file does not exist"):
        Toy.from_toml(tmp_path / "missing.toml")


@pytest.mark.parametrize("cls", ALL)
def test_every_field_says_its_range(cls):
    for row in cls.fields_described():
        assert row["range"], row
    assert all(allowed(f) for f in fields(cls))


def test_a_shared_field_is_declared_once():
    cosim = {f.name: f for f in fields(CosimConfig)}
    array = {f.name: f for f in fields(ArrayConfig)}
    for name in ("gain_f", "time_per_example_seconds", "polarity_inversion", "w_max", "pcm_max_pulses"):
        assert {k: v for k, v in cosim[name].metadata.items() if k != "doc"} == \
               {k: v for k, v in array[name].metadata.items() if k != "doc"}
    assert CosimConfig().gain_f == ArrayConfig().gain_f
    assert CosimConfig().w_max == 4.0 and "ArrayConfig's default: 1.0" in cosim["w_max"].metadata["doc"]
    f = same_as(ArrayConfig, "leak_scale", 2.0)
    assert f.default == 2.0 and f.metadata["ge"] == 0


@pytest.mark.parametrize("raw, like, want", [
    ("1e-15", 0.0, 1e-15), ("3", 0, 3), ("-2.5", 0.0, -2.5), ("true", False, True), ("off", True, False),
    ("abc", "", "abc"),
])
def test_command_line_values(raw, like, want):
    assert parse_value(raw, like, "p") == want


@pytest.mark.parametrize("raw", ["1_0", "\uff11\uff10", "0x10", "inf", "nan", "", "1e", "true"])
def test_command_line_numbers_are_strict(raw):
    with pytest.raises(ConfigError, match="is not a number"):
        parse_value(raw, 0.0, "p")


def test_optional_fields_are_none_absent_from_toml_and_old_sentinels_still_load(tmp_path):
    from pcmspice.train import TrainConfig
    cfg = TrainConfig(array=ArrayConfig(pcm_tolerance_siemens=0.3e-6))
    text = cfg.to_toml()
    # unset fields are absent (TOML has no null); a set one is written
    assert "luts" not in text and "siemens_per_unit_weight" not in text and "pcm_tolerance_siemens = 3e-07" in text
    assert cfg.to_dict()["array"]["g_read_noise_rel"] is None and TrainConfig.from_toml_text(text) == cfg
    # a config.toml written before: its sentinels (0, -1, "") read as unset, a set value as itself
    old = ('luts = ""\nmax_train = 0\n[array]\nsiemens_per_unit_weight = 0.0\npcm_tolerance_siemens = 0.0\n'
           'leak_every_examples = 0\ng_read_noise_rel = -1.0\n')
    assert TrainConfig.from_toml_text(old) == TrainConfig()
    assert TrainConfig.from_toml_text("[array]\nleak_every_examples = 7\n").array.leak_every_examples == 7
    # the sentinels are no longer values: 0 S per unit weight is refused, with what is allowed
    with pytest.raises(ConfigError, match=r"siemens_per_unit_weight = 0.0 is invalid; expected a finite number "
                                          r"> 0 and <= 0.001 S \(or none: unset\)"):
        ArrayConfig(siemens_per_unit_weight=0.0)


def test_from_toml_takes_a_path_even_with_an_equals_sign(tmp_path):
    from pcmspice.train import TrainConfig
    d = tmp_path / "runs" / "lr=0.1"
    d.mkdir(parents=True)
    cfg = TrainConfig(learning_rate=0.1)
    (d / "config.toml").write_text(cfg.to_toml())
    assert TrainConfig.from_toml(d / "config.toml") == cfg
    assert TrainConfig.from_toml(str(d / "config.toml")) == cfg
    with pytest.raises(ConfigError, match="file does not exist"):   # text is not a path
        TrainConfig.from_toml("epochs = 3")


def test_field_table_lists_every_field_with_its_metadata():
    from pcmspice.core.config import field_table
    from pcmspice.train import TrainConfig
    rows = {r["name"]: r for r in field_table(TrainConfig)}
    assert set(rows["epochs"]) == {"name", "type", "default", "unit", "range", "doc", "source"}
    assert rows["epochs"] == {"name": "epochs", "type": "int", "default": 20, "unit": "",
                              "range": "an integer from 1 to 10000", "doc": "passes over the training examples",
                              "source": "the paper: 20 epochs of MNIST"}
    tol = rows["array.pcm_tolerance_siemens"]
    assert (tol["type"], tol["default"], tol["unit"]) == ("float or None", None, "S")
    assert len(rows) == len(fields(TrainConfig)) - 1 + len(fields(ArrayConfig))


def test_config_texts_say_microsiemens_not_uS():
    """Issue 21: the array and power configs' sources said "uS"; the texts that are recorded in summaries and
    shown in --describe say µS."""
    import dataclasses
    import re

    from pcmspice.array.config import ArrayConfig
    from pcmspice.characterize.sweep import SweepConfig
    from pcmspice.power.config import _SECTIONS, PowerConfig
    from pcmspice.train.config import TrainConfig
    texts = [f"{cls.__name__}.{f.name}: {f.metadata.get(k, '')}"
             for cls in (ArrayConfig, PowerConfig, TrainConfig, SweepConfig, *_SECTIONS.values())
             for f in dataclasses.fields(cls) for k in ("source", "doc")]
    assert not [t for t in texts if re.search(r"\d ?uS\b", t)]
    assert any("20 µS" in t for t in texts)
