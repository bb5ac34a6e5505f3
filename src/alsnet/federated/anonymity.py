"""k-anonymity by full-domain generalisation with bounded suppression.

Record-level exports are checked on the quasi-identifiers named in the federation
reference (onset age band x onset region x gene x site), plus sex, which the export
also releases. Each quasi-identifier has a generalisation hierarchy (level 0 = most
detailed):

============  =====================================================  =====================
quasi-id      levels                                                 top level
============  =====================================================  =====================
age band      5-year, 10-year, 20-year bands (all top-coded "90+")    ``*``
onset region  canonical region; bulbar / spinal / respiratory /      ``*``
              other
gene          C9orf72 / SOD1 / FUS / TARDBP / multiple / none /      ``*``
              untested; carrier / non-carrier / untested
site          site code; country                                     ``*``
sex           F / M                                                  ``*``
============  =====================================================  =====================

:func:`k_anonymise` searches the whole lattice of level combinations (4 x 3 x 3 x 3 x
2 = 216 nodes, each one vectorised group count) and keeps the node with the least
information loss (sum of level / height over quasi-identifiers) whose records in
equivalence classes smaller than ``k`` are at most ``max_suppressed`` of all records;
those records are suppressed. This is the full-domain generalisation of Samarati
(2001) and LeFevre et al. (Incognito, 2005), solved exhaustively because the lattice
is small.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd

from alsnet.federated.errors import PrivacyThresholdError

__all__ = [
    "AGE_BAND_WIDTHS",
    "HEIGHTS",
    "QUASI_IDENTIFIERS",
    "AnonymityResult",
    "class_sizes",
    "generalise",
    "k_anonymise",
    "quasi_identifier_table",
]

#: Quasi-identifiers checked before a record-level export, in lattice order.
QUASI_IDENTIFIERS: tuple[str, ...] = ("age_band", "onset_region", "gene", "site", "sex")
#: Age band widths (years) of levels 0, 1 and 2; level 3 is ``*``.
AGE_BAND_WIDTHS: tuple[int, ...] = (5, 10, 20)
#: Ages at or above this are reported as ``"90+"`` (HIPAA Safe Harbor).
AGE_TOP_CODE = 90
#: Highest generalisation level of each quasi-identifier (its ``*`` level).
HEIGHTS: dict[str, int] = {"age_band": 3, "onset_region": 2, "gene": 2, "site": 2, "sex": 1}

_REGION_GROUP = {
    "bulbar": "bulbar",
    "bulbar_limb": "bulbar",
    "upper_limb": "spinal",
    "lower_limb": "spinal",
    "limb": "spinal",
    "trunk": "spinal",
    "respiratory": "respiratory",
    "generalised": "other",
    "ftd": "other",
}
_GENE_FLAGS = (("c9orf72", "C9orf72"), ("sod1", "SOD1"), ("fus", "FUS"), ("tardbp", "TARDBP"))


def age_band(age: npt.ArrayLike, width: int) -> npt.NDArray[np.object_]:
    """Label ages (years) with ``width``-year bands, top-coded at 90.

    Examples
    --------
    >>> age_band([54.2, 89.9, 93.0, float("nan")], 10).tolist()
    ['50-59', '80-89', '90+', '*']
    >>> age_band([85.0], 20).tolist()
    ['80+']
    """
    a = np.asarray(age, dtype="float64")
    lo = (np.floor(np.nan_to_num(a) / width) * width).astype(int)
    out = np.where(
        lo + width <= AGE_TOP_CODE,
        np.char.add(np.char.add(lo.astype(str), "-"), (lo + width - 1).astype(str)),
        np.char.add(lo.astype(str), "+"),
    ).astype(object)
    out[a >= AGE_TOP_CODE] = f"{AGE_TOP_CODE}+"
    out[np.isnan(a)] = "*"
    return out


def _gene_label(patients: pd.DataFrame) -> npt.NDArray[np.object_]:
    """C9orf72/SOD1/FUS/TARDBP, 'multiple', 'none' (all tested negative) or 'untested'."""
    n = len(patients)
    pos = np.zeros((n, len(_GENE_FLAGS)), dtype=bool)
    tested = np.zeros(n, dtype=bool)
    for j, (col, _) in enumerate(_GENE_FLAGS):
        if col in patients.columns:
            v = pd.to_numeric(patients[col], errors="coerce").to_numpy(dtype="float64")
            pos[:, j] = v == 1
            tested |= ~np.isnan(v)
    names = np.array([g for _, g in _GENE_FLAGS], dtype=object)
    out = np.where(tested, "none", "untested").astype(object)
    n_pos = pos.sum(axis=1)
    one = n_pos == 1
    out[one] = names[pos[one].argmax(axis=1)]
    out[n_pos > 1] = "multiple"
    return out


def quasi_identifier_table(
    patients: pd.DataFrame, sites: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Detailed (level-0) quasi-identifiers of every patient.

    Parameters
    ----------
    patients : DataFrame
        Canonical patients table (``age_onset`` in years, ``onset_region``, ``sex``,
        ``site_id`` and the gene flags).
    sites : DataFrame, optional
        Canonical sites table; supplies ``country`` for the site's level 1.

    Returns
    -------
    DataFrame
        Columns ``age`` (years, float), ``onset_region``, ``gene``, ``site``,
        ``country`` and ``sex``, one row per patient in input order.
    """
    country = pd.Series(dtype=object)
    if sites is not None and "country" in sites.columns:
        country = sites.set_index("site_id")["country"].astype(object)
    site = patients["site_id"].astype(str).to_numpy(dtype=object)
    ctry = pd.Series(site).map(country).fillna("*").astype(str).to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "age": pd.to_numeric(patients["age_onset"], errors="coerce").to_numpy("float64"),
            "onset_region": patients["onset_region"].astype(object).fillna("*").to_numpy(),
            "gene": _gene_label(patients),
            "site": site,
            "country": ctry,
            "sex": patients["sex"].astype(object).fillna("*").to_numpy(),
        }
    )


def generalise(qi: pd.DataFrame, levels: Mapping[str, int]) -> pd.DataFrame:
    """Quasi-identifiers at the given generalisation levels (see the module docstring).

    Examples
    --------
    >>> qi = pd.DataFrame({"age": [61.0], "onset_region": ["upper_limb"], "gene": ["SOD1"],
    ...                    "site": ["NL01"], "country": ["NL"], "sex": ["F"]})
    >>> generalise(qi, {"age_band": 1, "onset_region": 1, "gene": 1, "site": 1, "sex": 1}
    ...            ).iloc[0].tolist()
    ['60-69', 'spinal', 'carrier', 'NL', '*']
    """
    lv = {q: int(levels.get(q, 0)) for q in QUASI_IDENTIFIERS}
    for q, v in lv.items():
        if not 0 <= v <= HEIGHTS[q]:
            raise ValueError(f"level of {q} must be in 0..{HEIGHTS[q]}, got {v}")
    n = len(qi)
    star = np.full(n, "*", dtype=object)
    a = lv["age_band"]
    age = age_band(qi["age"].to_numpy(), AGE_BAND_WIDTHS[a]) if a < 3 else star
    r = lv["onset_region"]
    region = qi["onset_region"].to_numpy(dtype=object)
    if r == 1:
        region = pd.Series(region).map(_REGION_GROUP).fillna("other").to_numpy(dtype=object)
    elif r == 2:
        region = star
    g = lv["gene"]
    gene = qi["gene"].to_numpy(dtype=object)
    if g == 1:
        gene = np.where(
            np.isin(gene, ["none", "untested"]), gene, np.full(n, "carrier", dtype=object)
        ).astype(object)
        gene[gene == "none"] = "non-carrier"
    elif g == 2:
        gene = star
    s = lv["site"]
    site = {0: qi["site"].to_numpy(dtype=object), 1: qi["country"].to_numpy(dtype=object)}.get(
        s, star
    )
    sex = qi["sex"].to_numpy(dtype=object) if lv["sex"] == 0 else star
    return pd.DataFrame(
        {"age_band": age, "onset_region": region, "gene": gene, "site": site, "sex": sex},
        index=qi.index,
    )


def class_sizes(gen: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Size of each record's equivalence class over the quasi-identifier columns."""
    if gen.empty:
        return np.zeros(0, dtype=np.int64)
    codes = np.column_stack([pd.factorize(gen[c].astype(str), sort=False)[0] for c in gen.columns])
    _, inverse, counts = np.unique(codes, axis=0, return_inverse=True, return_counts=True)
    return counts[inverse.ravel()].astype(np.int64)


@dataclass(frozen=True)
class AnonymityResult:
    """Outcome of :func:`k_anonymise`.

    Attributes
    ----------
    levels : dict
        Chosen generalisation level per quasi-identifier.
    generalised : DataFrame
        Quasi-identifiers at those levels (all records, suppressed ones included).
    keep : ndarray of bool
        Records released (False = suppressed: class smaller than ``k``).
    k : int
        Required class size.
    loss : float
        Information loss of the chosen node (0 = no generalisation, 5 = all ``*``).
    nodes_searched : int
        Lattice nodes evaluated.
    """

    levels: dict[str, int]
    generalised: pd.DataFrame
    keep: npt.NDArray[np.bool_]
    k: int
    loss: float
    nodes_searched: int
    smallest_class: int = field(default=0)

    @property
    def n_suppressed(self) -> int:
        """Records suppressed."""
        return int((~self.keep).sum())

    def summary(self) -> dict[str, object]:
        """Plain-data description (no record values) for reports and audit logs."""
        return {
            "k": self.k,
            "levels": dict(self.levels),
            "loss": round(self.loss, 6),
            "records": int(self.keep.size),
            "suppressed": self.n_suppressed,
            "smallest_released_class": self.smallest_class,
            "nodes_searched": self.nodes_searched,
        }


def _loss(levels: Mapping[str, int]) -> float:
    return float(sum(levels[q] / HEIGHTS[q] for q in QUASI_IDENTIFIERS))


def k_anonymise(qi: pd.DataFrame, k: int, *, max_suppressed: float = 0.05) -> AnonymityResult:
    """Least-loss full-domain generalisation meeting ``k`` with bounded suppression.

    Parameters
    ----------
    qi : DataFrame
        Output of :func:`quasi_identifier_table`.
    k : int
        Smallest equivalence class that may be released (>= 1).
    max_suppressed : float, default 0.05
        Largest fraction of records that may be suppressed, in [0, 1].

    Returns
    -------
    AnonymityResult
        Ties in loss are broken by fewer suppressed records, then by lattice order.

    Raises
    ------
    PrivacyThresholdError
        When no node meets ``k`` within the suppression limit (fewer than ``k``
        records in all).
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    if not 0.0 <= max_suppressed <= 1.0:
        raise ValueError(f"max_suppressed must be in [0, 1], got {max_suppressed!r}")
    n = len(qi)
    limit = int(np.floor(max_suppressed * n + 1e-9))
    # integer codes of every quasi-identifier at every level, computed once
    codes: dict[str, list[npt.NDArray[np.int64]]] = {q: [] for q in QUASI_IDENTIFIERS}
    for q in QUASI_IDENTIFIERS:
        for level in range(HEIGHTS[q] + 1):
            col = generalise(qi, {q: level})[q].astype(str)
            codes[q].append(pd.factorize(col, sort=False)[0].astype(np.int64))
    best: tuple[float, int, dict[str, int], npt.NDArray[np.int64]] | None = None
    searched = 0
    grid = itertools.product(*(range(HEIGHTS[q] + 1) for q in QUASI_IDENTIFIERS))
    for combo in sorted(
        grid, key=lambda c: (_loss(dict(zip(QUASI_IDENTIFIERS, c, strict=True))), c)
    ):
        levels = dict(zip(QUASI_IDENTIFIERS, combo, strict=True))
        loss = _loss(levels)
        if best is not None and loss > best[0]:
            break  # sorted by loss: nothing later can win
        searched += 1
        key = np.zeros(n, dtype=np.int64)
        for q in QUASI_IDENTIFIERS:
            c = codes[q][levels[q]]
            key = key * (int(c.max(initial=0)) + 1) + c
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        sizes = counts[inverse.ravel()].astype(np.int64)
        n_sup = int((sizes < k).sum())
        if n_sup <= limit and n - n_sup > 0 and (best is None or n_sup < best[1]):
            best = (loss, n_sup, levels, sizes)
    if best is None:
        raise PrivacyThresholdError(
            f"k-anonymity: no generalisation gives classes of at least {k} records with at "
            f"most {max_suppressed:.0%} suppressed ({n} records in all); export refused"
        )
    loss, _, levels, sizes = best
    gen = generalise(qi, levels)
    keep = sizes >= k
    return AnonymityResult(
        levels=levels,
        generalised=gen,
        keep=keep,
        k=k,
        loss=loss,
        nodes_searched=searched,
        smallest_class=int(sizes[keep].min()) if keep.any() else 0,
    )
