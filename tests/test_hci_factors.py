"""The transmitter sends an HCI only at factors the decoder was trained on."""

from __future__ import annotations

import copy
import json

import pytest

from semcom.errors import SemcomError
from semcom.mtgc.pipeline import MTGC
from semcom.mtgc.streams.hci import FACTORS
from tests._mtgc import scene_image, small_codec


def _factor(payload: bytes) -> int:
    return 2 ** (((payload[0] >> 4) & 3) + 1)  # byte 0, bits 5-4: log2(f) - 1


def test_hci_options_keep_to_the_trained_factors(tmp_path) -> None:
    codec = copy.deepcopy(small_codec())
    image = scene_image(0)
    assert {_factor(p) for p in codec.hci_options(image)} == set(FACTORS)
    before = codec.fingerprint
    codec.config.hci_factors = (4, 8)
    codec._fingerprint = None
    assert {s.factor for s in codec.hci_candidates()} == {4, 8}
    assert {_factor(p) for p in codec.hci_options(image)} == {4, 8}
    assert codec.fingerprint != before  # both ends must agree on it
    codec.config.hci_factors = None
    codec._fingerprint = None
    assert codec.fingerprint == before  # unrecorded: the fingerprint it always had
    codec.config.hci_factors = (4, 8)
    codec.save_pretrained(tmp_path / "m")
    assert json.loads((tmp_path / "m" / "mtgc.json").read_text())["hci_factors"] == [4, 8]
    assert MTGC.from_pretrained(tmp_path / "m").config.hci_factors == (4, 8)


@pytest.mark.parametrize("bad", [[], [3], "4,8"])
def test_a_bad_factor_list_is_a_clear_error(tmp_path, bad) -> None:
    small_codec().save_pretrained(tmp_path / "m")
    path = tmp_path / "m" / "mtgc.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "hci_factors": bad}))
    with pytest.raises(SemcomError, match="hci_factors"):
        MTGC.from_pretrained(tmp_path / "m")
