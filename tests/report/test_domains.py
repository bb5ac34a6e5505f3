"""Section builders of the federated, platform-trial and PROCOVA demo sections."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from alsnet.demo import FederatedComparison, ProcovaSaving
from alsnet.report.domains import (
    DOMAIN_SECTIONS,
    federated_section,
    procova_section,
    trial_section,
    trial_table,
)
from alsnet.report.html import Table, render_report
from alsnet.twin import SampleSize


def _fed() -> FederatedComparison:
    cmp = pd.DataFrame(
        {
            "analysis": ["summary", "cox"],
            "quantity": ["mean age_onset", "log HR <sex_male>"],
            "pooled": [55.0, 0.2],
            "federated": [55.0, 0.2000001],
            "se_pooled": [np.nan, 0.05],
            "se_federated": [np.nan, 0.05],
            "rel_diff": [0.0, 5e-7],
        }
    )
    return FederatedComparison(cmp, {"NL01": 10, "GB01": 8}, {"cox": {"GB01": "refused: x"}})


def _sim(p: float, n: int) -> SimpleNamespace:
    a = np.array
    return SimpleNamespace(
        sims=n,
        true_drr=(1.0, 1.0),
        p_success=a([p, 0.0]),
        p_success_se=a([np.sqrt(p * (1 - p) / n), 0.0]),
        p_early_futility=a([0.3, 0.3]),
        p_early_futility_se=a([0.01, 0.01]),
        mean_n=a([200.0, 180.0]),
        mean_n_se=a([2.0, 2.0]),
    )


def test_federated_section() -> None:
    sec = federated_section(_fed())
    assert sec.title == DOMAIN_SECTIONS[0]
    assert "2 sites" in str(sec.text_html) and "GB01" in str(sec.text_html)
    assert "5.0e-07" in str(sec.text_html)
    first = sec.tables[0]
    assert isinstance(first, Table)
    assert list(first.frame["rel_diff"]) == ["0.0e+00", "5.0e-07"]


def test_trial_table_and_section(tmp_path: Path) -> None:
    res = {"null": _sim(0.02, 2000), "slow30": _sim(0.75, 2000)}
    pub = {"null": (0.024, 0.28), "slow30": (0.77, 0.0)}
    table = trial_table(res, pub)  # type: ignore[arg-type]
    assert list(table["scenario"]) == ["null", "slow30"]
    assert list(table["p_success"]) == [0.02, 0.75]
    assert list(table["published_p_success"]) == [0.024, 0.77]
    assert table["mean_n"].tolist() == [200.0, 200.0]
    sec = trial_section(res, pub)  # type: ignore[arg-type]
    assert sec.title == DOMAIN_SECTIONS[1] and len(sec.figures) == 1
    bars = sec.figures[0].data
    assert [b.name for b in bars] == ["simulated", "published"]
    assert list(bars[1].y) == [0.024, 0.77]
    assert np.allclose(bars[0].error_y.array, 1.96 * table["p_success_se"])


def test_procova_section_and_render(tmp_path: Path) -> None:
    size = SampleSize(n_total=196, n_treated=98, n_control=98, power=0.8, n_unadjusted=256)
    res = ProcovaSaving(609, 609, 0.4856, -1.18, 1.01, 0.355, size)
    assert res.saving == 60
    sec = procova_section(res)
    assert sec.title == DOMAIN_SECTIONS[2]
    frame = sec.tables[0].frame  # type: ignore[union-attr]
    values = dict(zip(frame["quantity"], frame["value"], strict=True))
    assert values["saving (patients)"] == "60"
    assert values["N·r² (approximate saving)"] == "60"  # 256 * 0.4856² = 60.4
    out = render_report(
        "t", [federated_section(_fed()), sec], tmp_path / "r.html", provenance={"seed": 0}
    )
    html = out.read_text(encoding="utf-8")
    assert "PROCOVA prognostic adjustment" in html and "Federated analysis" in html
    assert "&lt;sex_male&gt;" in html  # table cells escaped
