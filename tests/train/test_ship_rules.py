"""The pipeline's ship rules pick runtime settings by measurement (``pipeline.prefer_sealed``/``prefer_rest``)."""
from __future__ import annotations

from thunder_train.pipeline import prefer_rest


def _dev(**rows: dict) -> dict:
    def row(sealed=0.7, rounded=0.9, open_=0.98, silent=0.85, pcc=0.7):
        return {"overall": {"arkit.bilabial_sealed": {"mean": sealed}, "arkit.rounded_lips": {"mean": rounded},
                            "arkit.open_jaw": {"mean": open_}, "arkit.silent_closed": {"mean": silent},
                            "lip_pcc_vs_target": {"mean": pcc}}}
    return {"devset": {"groups": {name: row(**kw) for name, kw in rows.items()}}}


def test_rest_is_preferred_only_when_silence_improves_and_nothing_else_drops():
    assert prefer_rest(_dev(m={}, m_rest={"silent": 0.9}), "m")
    assert prefer_rest(_dev(m={}, m_rest={"silent": 0.9, "pcc": 0.695}), "m")        # within 0.01
    assert not prefer_rest(_dev(m={}, m_rest={"silent": 0.9, "pcc": 0.68}), "m")     # lip PCC falls
    assert not prefer_rest(_dev(m={}, m_rest={"silent": 0.9, "open_": 0.95}), "m")   # jaw opens less
    assert not prefer_rest(_dev(m={}, m_rest={"silent": 0.85}), "m")                 # no gain
    assert not prefer_rest(_dev(m={}), "m")                                          # not evaluated
    assert not prefer_rest({}, "m")                                                  # no development set
