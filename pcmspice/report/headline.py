"""The headline of a report is its worst case: the training runs grouped by corner (seeds pooled only within
one group: the same config but its seed), the accuracy of the worst group as mean ± sd over its seeds; the
power run with the highest energy per example (and its area efficiency); each named by its corner.  A training
run whose PCM never received a transfer is said to be one (``pcm_trained`` of its summary)."""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from typing import Any

from pcmspice.report.discover import RunInput


def lut_label(prov: dict[str, Any] | None) -> str | None:
    """"ss, 27 °C" from a LUT provenance (its corner and temperature), None when it names no corner."""
    if not isinstance(prov, dict) or prov.get("corner") is None:
        return None
    t = prov.get("temp_c")
    return f"{prov['corner']}, {float(t):g} °C" if t is not None else str(prov["corner"])


def run_label(run: RunInput) -> str:
    """What names a training run in a report: its corner (from its LUTs), its seed and its folder."""
    s = run.summary
    where = lut_label(s.get("lut_provenance"))
    parts = ([f"corner {where}"] if where else []) + ([f"seed {s['seed']}"] if s.get("seed") is not None else [])
    return f"{run.path.name} ({', '.join(parts)})" if parts else run.path.name


def pcm_trained(s: dict[str, Any]) -> bool | None:
    """A run's ``pcm_trained`` (for a summary written before it existed: mode cell with no transfer)."""
    if "pcm_trained" in s:
        return s["pcm_trained"]
    if s.get("mode") == "cell" and s.get("transfers_total") is not None:
        return int(s["transfers_total"]) > 0
    return None


@dataclass
class Group:
    """The training runs of one config but their seeds (one corner of a design)."""

    label: str | None
    runs: list[RunInput]

    def values(self, key: str) -> list[float]:
        return [float(r.summary[key]) for r in self.runs if r.summary.get(key) is not None]

    @property
    def mean(self) -> float:
        v = self.values("analog_test_accuracy")
        return statistics.mean(v) if v else float("nan")

    @property
    def sd(self) -> float:
        v = self.values("analog_test_accuracy")
        return statistics.stdev(v) if len(v) > 1 else 0.0


def _group_key(s: dict[str, Any]) -> str:
    cfg = s.get("config") if isinstance(s.get("config"), dict) else {}
    return json.dumps({k: v for k, v in cfg.items() if k != "seed"}, sort_keys=True, default=str) + \
        str(s.get("lut_sha256"))


def training_groups(runs: list[RunInput]) -> list[Group]:
    """The training runs of ``runs`` grouped by config without the seed (and LUTs), in order of appearance."""
    groups: dict[str, Group] = {}
    for r in runs:
        if r.kind == "training":
            g = groups.setdefault(_group_key(r.summary), Group(lut_label(r.summary.get("lut_provenance")), []))
            g.runs.append(r)
    return list(groups.values())


def worst_group(groups: list[Group]) -> Group | None:
    """The group with the lowest mean final test accuracy (the first of equals)."""
    scored = [g for g in groups if g.values("analog_test_accuracy")]
    return min(scored, key=lambda g: g.mean) if scored else None


def worst_power(runs: list[RunInput]) -> tuple[RunInput | None, str | None]:
    """The power run with the highest training energy per example (ties: the lowest TOP/s/mm²) and its corner."""
    power = [r for r in runs if r.kind == "power" and "headline" in r.summary]
    if not power:
        return None, None
    w = max(power, key=lambda r: (r.summary["headline"]["energy_per_example_joules"],
                                  -r.summary["headline"]["tops_per_mm2_training"]))
    prov = ((w.summary.get("provenance") or {}).get("inputs") or {}).get("lut_provenance")
    return w, lut_label(prov)


def worst_area(runs: list[RunInput]) -> float | None:
    """The lowest training TOP/s/mm² over the power runs."""
    v = [r.summary["headline"]["tops_per_mm2_training"] for r in runs if r.kind == "power" and "headline" in r.summary]
    return min(v) if v else None


def pcm_caveat_item(runs: list[RunInput]) -> tuple[str | None, int]:
    """The verdict line of training runs whose PCM never learned (None when every PCM did) and how many."""
    bad = [r for r in runs if r.kind == "training" and pcm_trained(r.summary) is False]
    if not bad:
        return None, 0
    n = sum(1 for r in runs if r.kind == "training")
    why = bad[0].summary.get("pcm_caveat") or "no g -> PCM transfer happened"
    which = "the run" if n == 1 else f"{len(bad)} of {n} runs"
    return (f"⚠ **The 3T1C alone was trained; the PCM never learned** ({which}: {why}). The accuracy above is "
            "the volatile 3T1C's, not the 2PCM + 3T1C cell's."), len(bad)


def ended_after_transfer_item(runs: list[RunInput]) -> str | None:
    """The verdict line of training runs that ended right after a transfer (None when none did): their final
    accuracy is measured before training made up for the transfer's programming error."""
    ended = [r for r in runs if r.kind == "training" and r.summary.get("ended_after_transfer")]
    if not ended:
        return None
    n = sum(1 for r in runs if r.kind == "training")
    which = "the run" if n == 1 else f"{len(ended)} of {n} runs"
    return f"Note ({which}): {ended[0].summary.get('pcm_caveat') or 'the run ended right after a transfer'}."
