"""A sweep's codec entry holds the options it gives, checked by the codec itself: MTGC's
``steps`` and ``preset`` are options like any other, the canonical form (and so every
config's hash) is the one configs have always had, the data set picks MTGC's preset
when the entry names none, and ``--weights`` is checked by the codecs that load one."""

from __future__ import annotations

import pytest

from experiments.config import CodecSpec, parse_config
from experiments.runner import make_spec_codec
from experiments.sweep import check_weights
from semcom.errors import SemcomError


def _config(codecs, dataset="shapes"):
    return parse_config(
        {
            "name": "t",
            "dataset": {"name": dataset, "n": 1},
            "codecs": codecs,
            "channels": ["awgn"],
            "snr_db": [0],
            "budget_cpp": [0.1],
        }
    )


def test_an_entry_holds_the_options_it_gives_in_the_form_configs_were_hashed_in():
    mtgc, webp = _config([{"name": "mtgc", "steps": 10, "hci_lowpass": 4}, "webp"]).codecs
    assert mtgc.codec_options() == {"steps": 10, "hci_lowpass": 4}  # defaults are the codec's
    assert webp.codec_options() == {}
    d = mtgc.to_dict()
    # steps and preset stay keys of their own, the rest under options (as before)
    assert d["steps"] == 10 and d["preset"] == "tiny" and d["options"] == (("hci_lowpass", 4),)
    assert webp.to_dict()["steps"] is None and "options" not in webp.to_dict()
    # the same entry written with its defaults spelled out has the same identity
    spelled = _config([{"name": "mtgc", "steps": 10, "hci_lowpass": 4, "preset": "tiny"}, "webp"])
    assert (
        spelled.hash() == _config([{"name": "mtgc", "steps": 10, "hci_lowpass": 4}, "webp"]).hash()
    )
    assert CodecSpec("mtgc", options=(("steps", 3),)).to_dict()["steps"] == 3


def test_the_data_set_picks_mtgcs_preset_unless_the_entry_names_one():
    (plain,) = _config(["mtgc"], "shapes-complex").codecs
    assert make_spec_codec(plain, dataset="shapes-complex").preset == "tiny-complex"
    assert make_spec_codec(plain, dataset="shapes").preset == "tiny"
    (named,) = _config([{"name": "mtgc", "preset": "tiny"}], "shapes-complex").codecs
    assert make_spec_codec(named, dataset="shapes-complex").preset == "tiny"


def test_weights_are_checked_by_the_codecs_that_load_them(tmp_path):
    with pytest.raises(SemcomError, match="a codec that loads one"):
        check_weights(_config(["webp"]), tmp_path)
    with pytest.raises(SemcomError, match="is not a folder"):
        check_weights(_config(["mtgc"]), tmp_path / "missing")
    sd21 = _config([{"name": "mtgc", "preset": "sd21"}])
    with pytest.raises(SemcomError, match="sd21 preset loads local weights"):
        check_weights(sd21, None)
    check_weights(sd21, tmp_path)  # a folder given: the codec loads it later
    check_weights(sd21, None, handed_model=True)  # tests hand the model in
    check_weights(_config(["mtgc", "webp"]), None)


def test_sketch_overlay_is_an_mtgc_option_and_needs_a_sketch():
    from semcom.codecs.mtgc import MTGCCodec
    from tests._mtgc import small_codec

    mtgc = _config([{"name": "mtgc", "sketch_overlay": False}]).codecs[0]
    assert mtgc.codec_options() == {"sketch_overlay": False}
    with pytest.raises(SemcomError, match="sketch_overlay must be true or false"):
        _config([{"name": "mtgc", "sketch_overlay": "yes"}])
    with pytest.raises(SemcomError, match="has none"):
        MTGCCodec(sketch_overlay=True, model=small_codec(sketch=False))
