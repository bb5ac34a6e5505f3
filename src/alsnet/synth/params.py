"""Parameters of the synthetic network cohort, each with a unit and a source.

Every field of :class:`SynthParams` is listed in :data:`SOURCES` with the citation
it was taken from (see ``reference/cohort-figures.md``, ``clinical-scores.md`` and
``omics.md`` of the project) or with ``"assumption: ..."`` where no source exists.
Several progression parameters are *calibrated*: they have no direct literature
value but were tuned so that the generated cohort reproduces published figures
(slope mean/SD, baseline total, median survival); their source entry says which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType

__all__ = ["GENE_FREQUENCIES", "ONSET_REGION_PROBS", "SOURCES", "SynthParams"]

#: Onset-region shares (must sum to 1).
ONSET_REGION_PROBS: Mapping[str, float] = MappingProxyType(
    {
        "bulbar": 0.27,
        "upper_limb": 0.32,
        "lower_limb": 0.33,
        "respiratory": 0.02,
        "trunk": 0.02,
        "generalised": 0.02,
        "ftd": 0.02,
    }
)

#: Carrier frequencies (familial ALS, sporadic ALS) by ancestry group and gene.
#: Keys of the outer mapping are ancestry codes; ``"other"`` applies to every
#: ancestry not listed.
GENE_FREQUENCIES: Mapping[str, Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        "EUR": MappingProxyType(
            {
                "C9orf72": (0.337, 0.051),
                "SOD1": (0.148, 0.012),
                "TARDBP": (0.042, 0.008),
                "FUS": (0.028, 0.003),
            }
        ),
        "EAS": MappingProxyType(
            {
                "C9orf72": (0.023, 0.003),
                "SOD1": (0.300, 0.015),
                "TARDBP": (0.015, 0.002),
                "FUS": (0.064, 0.009),
            }
        ),
        "other": MappingProxyType(
            {
                "C9orf72": (0.150, 0.025),
                "SOD1": (0.200, 0.013),
                "TARDBP": (0.030, 0.005),
                "FUS": (0.045, 0.006),
            }
        ),
    }
)

#: El Escorial category shares at diagnosis, in the order of the schema vocabulary
#: (definite, probable, probable_lab, possible, suspected, unknown).
_EL_ESCORIAL = (0.22, 0.38, 0.18, 0.17, 0.02, 0.03)

#: Onset-region ordering exponents of the ALSFRS-R items (see ``_trajectories``).
#: Twelve values per region in item order q1 q2 q3 q4 q5 q6 q7 q8 q9 q10 q11 q12;
#: smaller = the item falls earlier in the course.
_ITEM_EXPONENTS: Mapping[str, tuple[float, ...]] = MappingProxyType(
    {
        "bulbar": (0.35, 0.55, 0.40, 1.30, 1.30, 1.30, 1.50, 1.70, 1.60, 2.0, 2.3, 3.0),
        "upper_limb": (1.80, 2.20, 2.00, 0.40, 0.40, 0.50, 0.90, 1.20, 1.10, 2.0, 2.3, 3.0),
        "lower_limb": (1.90, 2.30, 2.10, 1.20, 1.20, 1.00, 0.80, 0.40, 0.35, 2.0, 2.3, 3.0),
        "respiratory": (1.60, 2.00, 1.80, 1.40, 1.40, 1.30, 1.00, 1.30, 1.20, 0.5, 0.6, 1.2),
        "trunk": (1.80, 2.20, 2.00, 1.30, 1.30, 1.00, 0.50, 0.90, 0.80, 1.0, 1.2, 2.2),
        "generalised": (1.00, 1.30, 1.10, 0.90, 0.90, 0.90, 0.90, 0.90, 0.90, 1.6, 1.8, 2.6),
        "ftd": (0.80, 1.20, 0.90, 1.10, 1.10, 0.80, 1.20, 1.20, 1.20, 2.0, 2.3, 3.0),
    }
)

_CONSENT_PROBS: Mapping[str, float] = MappingProxyType(
    {
        "registry": 1.0,
        "biobank": 0.80,
        "genetics": 0.75,
        "data_sharing": 0.70,
        "commercial": 0.30,
        "recontact": 0.85,
    }
)


@dataclass(frozen=True)
class SynthParams:
    """Every parameter of :func:`alsnet.synth.synthesize`, with units.

    Defaults reproduce the calibration targets of the project's reference figures;
    :data:`SOURCES` gives the source of each. Times are in months since symptom
    onset unless the name says days or years. Construct with keyword arguments to
    change any of them (``SynthParams(male_fraction=0.55)``); values are checked
    at construction.

    Attributes
    ----------
    male_fraction : float
        Share of men (0-1).
    age_onset_mean, age_onset_sd : float
        Normal distribution of age at onset (years).
    age_onset_min, age_onset_max : float
        Truncation of age at onset (years).
    onset_region_probs : mapping of str to float
        Share of each onset region (sums to 1).
    bulbar_odds_ratio_female : float
        Odds ratio of bulbar (vs other) onset for women; shares are re-normalised so
        that the overall bulbar share stays ``onset_region_probs["bulbar"]``.
    diagnostic_delay_median_months : float
        Median onset-to-diagnosis interval (months).
    diagnostic_delay_sd_log : float
        SD of the log diagnostic delay (log months).
    diagnostic_delay_speed_rho : float
        Correlation (latent, Gaussian copula) between progression speed and a
        *shorter* diagnostic delay.
    el_escorial_probs : tuple of float
        Shares of definite, probable, probable_lab, possible, suspected, unknown.
    el_escorial_speed_rho : float
        Latent correlation between progression speed and a more certain category.
    ftd_probability, ftd_probability_c9 : float
        Probability of frontotemporal dementia without / with a C9orf72 expansion.
    family_history_probability : float
        Share of patients with a relative with ALS/FTD (familial ALS).
    gene_frequencies : mapping
        Carrier frequency (familial, sporadic) per ancestry and gene (0-1).
    vus_probability : float
        Probability that a tested non-carrier has a variant of uncertain significance.
    other_gene_probability : float
        Probability of a finding in a minor gene (TBK1, NEK1, ATXN2 intermediate
        repeat) for a tested patient without a major-gene variant.
    genetic_testing_familial : float
        Probability that a familial patient was tested (sporadic: per site).
    dx_median_months : float
        Median time constant ``dx`` of the D50 sigmoid (months).
    dx_sd_log : float
        SD of log ``dx`` between patients.
    d50_ratio_median : float
        Median of ``D50 / dx`` (dimensionless; the latent total at onset is
        ``48 / (1 + exp(-D50 / dx))``).
    d50_ratio_speed_coupling : float
        Change of log ``D50 / dx`` per SD of progression speed (0 = time-scaled courses).
    d50_ratio_sd_log : float
        Residual SD of log ``D50 / dx``.
    timescale_bulbar, timescale_respiratory, timescale_ftd, timescale_c9orf72,
    timescale_fus, timescale_atxn2 : float
        Log time-scale factors (acceleration of the whole course, negative =
        faster) for bulbar onset, respiratory onset, FTD and gene carriers.
    timescale_age_per_year : float
        Log time-scale change per year of age at onset above 55 (negative = faster).
    item_exponents : mapping of str to tuple of float
        Order in which the items fall, per onset region (12 values, q5 merged).
    item_exponent_sd_log : float
        Between-patient SD of the log item exponents.
    residual_sd_total : float
        SD of visit-to-visit noise of the ALSFRS-R total (points).
    death_position_mean, death_position_sd : float
        Position ``w = (T_death - D50) / dx`` at death (dimensionless).
    gastrostomy_q3_threshold : float
        Latent swallowing score (q3, 0-4) at which gastrostomy is offered.
    gastrostomy_acceptance : float
        Probability of accepting a gastrostomy.
    niv_q12_threshold : float
        Latent q12 score at which NIV starts.
    niv_acceptance : float
        Probability of accepting NIV.
    pav_q12_threshold : float
        Latent q12 score at which NIV becomes permanent assisted ventilation.
    pav_probability : float
        Probability that an NIV user reaching that point is recorded as PAV.
    tracheostomy_extension_median_months : float
        Median survival gained by a tracheostomy (months).
    visit_interval_days : float
        Scheduled interval between registry visits (days).
    visit_jitter_sd_days : float
        SD of the deviation of a visit from its schedule (days; clipped to ±30).
    first_visit_delay_mean_days : float
        Mean time from diagnosis to the first registry visit (days).
    late_referral_probability : float
        Share of patients whose first registry visit comes late.
    late_referral_mean_days : float
        Mean extra delay for late referrals (days).
    missed_visit_probability : float
        Probability that a scheduled visit (after the first) is missed.
    alsfrs_missing_probability : float
        Probability that ALSFRS-R is not recorded at a visit.
    fvc_missing_probability, weight_missing_probability : float
        Probability that FVC / weight are not recorded at a visit.
    dropout_rate_per_month : float
        Hazard of loss to follow-up (per month).
    follow_up_min_years, follow_up_max_years : float
        Administrative follow-up after the first visit is uniform on this range (years).
    fvc_onset_mean, fvc_onset_sd : float
        FVC % predicted at onset (normal, % predicted).
    fvc_loss_factor_median : float
        Median ratio of the relative FVC loss to the relative ALSFRS-R loss.
    fvc_loss_factor_sd_log : float
        SD of the log FVC loss factor.
    fvc_noise_sd : float
        Visit-level FVC measurement noise (% predicted).
    nfl_median_pg_ml : float
        Median serum NfL (pg/mL) at the first draw.
    nfl_sd_log : float
        Between-patient SD of log NfL (log pg/mL).
    nfl_speed_rho : float
        Correlation between log NfL and the latent progression speed.
    nfl_visit_sd_log : float
        Within-patient SD of log NfL between draws.
    nfl_age_per_year : float
        Increase of log NfL per year of age above 55.
    nfl_measurement_probability : float
        Probability that serum NfL is measured at a visit of a biobank site.
    bmi_onset_mean, bmi_onset_sd : float
        BMI at onset (kg/m²).
    weight_loss_factor : float
        Relative weight loss per unit of relative ALSFRS-R loss.
    weight_loss_factor_bulbar : float
        Extra relative weight loss per unit of relative bulbar-item loss.
    weight_noise_sd : float
        Visit-level weight noise (kg).
    riluzole_probability : float
        Share of patients treated with riluzole.
    riluzole_stop_probability : float
        Share of riluzole users who stop early (side effects).
    tofersen_probability : float
        Share of SOD1 (likely) pathogenic carriers on tofersen where available.
    trial_placebo_fraction : float
        Share of trial participants on placebo.
    trial_duration_days : float
        Duration of trial participation (days).
    csf_probability : float
        Share of biobank-consented patients with a CSF sample at the first visit.
    consent_probs : mapping of str to float
        Probability of granting each consent scope at the first visit.
    consent_withdrawal_probability : float
        Probability that a granted optional consent is later withdrawn.
    """

    male_fraction: float = 0.60
    age_onset_mean: float = 55.0
    age_onset_sd: float = 11.7
    age_onset_min: float = 18.0
    age_onset_max: float = 92.0
    onset_region_probs: Mapping[str, float] = field(default_factory=lambda: ONSET_REGION_PROBS)
    bulbar_odds_ratio_female: float = 1.8
    diagnostic_delay_median_months: float = 9.0
    diagnostic_delay_sd_log: float = 0.55
    diagnostic_delay_speed_rho: float = 0.5
    el_escorial_probs: tuple[float, ...] = _EL_ESCORIAL
    el_escorial_speed_rho: float = 0.3
    ftd_probability: float = 0.11
    ftd_probability_c9: float = 0.35
    family_history_probability: float = 0.08
    gene_frequencies: Mapping[str, Mapping[str, tuple[float, float]]] = field(
        default_factory=lambda: GENE_FREQUENCIES
    )
    vus_probability: float = 0.02
    other_gene_probability: float = 0.03
    genetic_testing_familial: float = 0.95
    dx_median_months: float = 7.4
    dx_sd_log: float = 0.50
    d50_ratio_median: float = 3.7
    d50_ratio_speed_coupling: float = 0.0
    d50_ratio_sd_log: float = 0.10
    timescale_bulbar: float = -0.12
    timescale_respiratory: float = -0.30
    timescale_ftd: float = -0.15
    timescale_c9orf72: float = -0.19
    timescale_fus: float = -0.23
    timescale_atxn2: float = -0.51
    timescale_age_per_year: float = -0.006
    item_exponents: Mapping[str, tuple[float, ...]] = field(default_factory=lambda: _ITEM_EXPONENTS)
    item_exponent_sd_log: float = 0.25
    residual_sd_total: float = 1.77
    death_position_mean: float = 0.60
    death_position_sd: float = 0.40
    gastrostomy_q3_threshold: float = 2.0
    gastrostomy_acceptance: float = 0.70
    niv_q12_threshold: float = 3.5
    niv_acceptance: float = 0.80
    pav_q12_threshold: float = 1.5
    pav_probability: float = 0.50
    tracheostomy_extension_median_months: float = 24.0
    visit_interval_days: float = 91.0
    visit_jitter_sd_days: float = 10.0
    first_visit_delay_mean_days: float = 30.0
    late_referral_probability: float = 0.20
    late_referral_mean_days: float = 180.0
    missed_visit_probability: float = 0.10
    alsfrs_missing_probability: float = 0.05
    fvc_missing_probability: float = 0.15
    weight_missing_probability: float = 0.05
    dropout_rate_per_month: float = 0.01
    follow_up_min_years: float = 0.25
    follow_up_max_years: float = 8.0
    fvc_onset_mean: float = 100.0
    fvc_onset_sd: float = 14.0
    fvc_loss_factor_median: float = 1.10
    fvc_loss_factor_sd_log: float = 0.35
    fvc_noise_sd: float = 4.0
    nfl_median_pg_ml: float = 78.5
    nfl_sd_log: float = 0.60
    nfl_speed_rho: float = 0.60
    nfl_visit_sd_log: float = 0.15
    nfl_age_per_year: float = 0.015
    nfl_measurement_probability: float = 0.5
    bmi_onset_mean: float = 26.0
    bmi_onset_sd: float = 4.0
    weight_loss_factor: float = 0.10
    weight_loss_factor_bulbar: float = 0.08
    weight_noise_sd: float = 0.8
    riluzole_probability: float = 0.80
    riluzole_stop_probability: float = 0.15
    tofersen_probability: float = 0.60
    trial_placebo_fraction: float = 0.25
    trial_duration_days: float = 168.0
    csf_probability: float = 0.20
    consent_probs: Mapping[str, float] = field(default_factory=lambda: _CONSENT_PROBS)
    consent_withdrawal_probability: float = 0.02

    def __post_init__(self) -> None:
        probs = [
            f.name
            for f in fields(self)
            if f.name.endswith(("_probability", "_fraction", "_acceptance", "_c9"))
        ]
        for name in probs:
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"SynthParams.{name} must lie in [0, 1], got {v!r}")
        for name in ("onset_region_probs",):
            total = sum(getattr(self, name).values())
            if abs(total - 1.0) > 1e-9:
                raise ValueError(f"SynthParams.{name} must sum to 1, got {total:.6f}")
        if abs(sum(self.el_escorial_probs) - 1.0) > 1e-9 or len(self.el_escorial_probs) != 6:
            raise ValueError("SynthParams.el_escorial_probs needs 6 shares summing to 1")
        unknown = set(self.onset_region_probs) - set(self.item_exponents)
        if unknown:
            raise ValueError(f"SynthParams.item_exponents lacks onset regions {sorted(unknown)}")
        if any(len(v) != 12 or min(v) <= 0 for v in self.item_exponents.values()):
            raise ValueError("SynthParams.item_exponents needs 12 positive values per region")
        if "other" not in self.gene_frequencies:
            raise ValueError('SynthParams.gene_frequencies needs an "other" ancestry entry')
        for name in (
            "age_onset_sd",
            "dx_median_months",
            "dx_sd_log",
            "residual_sd_total",
            "visit_interval_days",
            "nfl_median_pg_ml",
            "diagnostic_delay_median_months",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"SynthParams.{name} must be positive")
        if self.visit_jitter_sd_days < 0 or self.follow_up_min_years > self.follow_up_max_years:
            raise ValueError("SynthParams: invalid visit jitter or follow-up range")
        for name in ("diagnostic_delay_speed_rho", "el_escorial_speed_rho", "nfl_speed_rho"):
            if not -1.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"SynthParams.{name} must lie in [-1, 1]")


_CAL = "calibrated (tuned so the cohort reproduces {}; see tests/synth/test_calibration.py)"
_SLOPE = "per-patient ALSFRS-R slope mean -1.01/SD 0.75 and baseline 37.9 ± 5.5 (own summary)"

#: Source of every :class:`SynthParams` field.
SOURCES: Mapping[str, str] = MappingProxyType(
    {
        "male_fraction": "60% male in PRO-ACT (own summary; cohort-figures.md §3)",
        "age_onset_mean": "56.3 ± 11.7 years at trial entry (PRO-ACT, own summary) minus the "
        "median 18 months from onset to entry (cohort-figures.md §3)",
        "age_onset_sd": "SD 11.7 years at trial entry, PRO-ACT (own summary; cohort-figures.md §3)",
        "age_onset_min": "assumption: adult-onset ALS only",
        "age_onset_max": "assumption: upper truncation of the age distribution",
        "onset_region_probs": "bulbar 23.7% PRO-ACT, about 30% in population registries "
        "(cohort-figures.md §3); split of limb and rare regions: assumption",
        "bulbar_odds_ratio_female": "assumption: bulbar onset is more common in women",
        "diagnostic_delay_median_months": "onset to diagnosis median 9 months "
        "(own summary; cohort-figures.md §3)",
        "diagnostic_delay_sd_log": "assumption: interquartile range about 6-13 months",
        "diagnostic_delay_speed_rho": "assumption: fast progressors are diagnosed earlier "
        "(diagnostic delay is an ENCALS predictor, Westeneng 2018)",
        "el_escorial_probs": "assumption: typical registry mix of revised El Escorial categories",
        "el_escorial_speed_rho": "assumption: wider spread at diagnosis in fast progressors",
        "ftd_probability": "assumption: FTD in 10-15% of patients (brief)",
        "ftd_probability_c9": "assumption: FTD is common in C9orf72 carriers",
        "family_history_probability": "assumption: between 3.8% with an ALS relative in the "
        "DREAM file and about 10% familial ALS (cohort-figures.md §6)",
        "gene_frequencies": "Zou et al., JNNP 2017 (Europe and Asia; cohort-figures.md §6); "
        "'other' ancestries: assumption (between the European and Asian figures)",
        "vus_probability": "assumption",
        "other_gene_probability": "assumption: TBK1, NEK1 and ATXN2 findings are rare "
        "(Chinese cohort study, cohort-figures.md §6)",
        "genetic_testing_familial": "assumption",
        "dx_median_months": "D50 model (Poesen/Steinbach/Grosskreutz; cohort-figures.md §1); "
        + _CAL.format(_SLOPE),
        "dx_sd_log": _CAL.format(_SLOPE),
        "d50_ratio_median": _CAL.format(_SLOPE),
        "d50_ratio_speed_coupling": _CAL.format(
            "ENCALS c-statistic about 0.78 with the baseline SD 5.5 of the total"
        ),
        "d50_ratio_sd_log": _CAL.format(_SLOPE),
        "timescale_bulbar": "assumption: bulbar onset shortens survival (ENCALS beta 0.27, "
        "Westeneng 2018)",
        "timescale_respiratory": "assumption: respiratory onset has the worst prognosis",
        "timescale_ftd": "assumption: FTD shortens survival (ENCALS beta 0.39, Westeneng 2018)",
        "timescale_c9orf72": "survival HR 1.6 for C9orf72 (omics.md §3), as a time ratio "
        "HR^(-1/2.5) (Weibull shape 2.5: assumption)",
        "timescale_fus": "survival HR 1.8 for FUS (omics.md §3), time ratio as for C9orf72",
        "timescale_atxn2": "survival HR 3.6 for ATXN2 (omics.md §3), time ratio as for C9orf72",
        "timescale_age_per_year": "assumption: older onset shortens survival (ENCALS age term)",
        "item_exponents": "assumption: bulbar onset loses q1-q3 first, limb onset q4-q9, "
        "respiratory items late (cohort-figures.md §8, a suggestion, not a source)",
        "item_exponent_sd_log": "assumption",
        "residual_sd_total": "residual SD 1.77 points (HEALEY master SAP simulation appendix; "
        "cohort-figures.md §1)",
        "death_position_mean": _CAL.format(
            "median survival from onset 30-36 months (cohort-figures.md §4)"
        ),
        "death_position_sd": _CAL.format("ENCALS c-statistic about 0.78 (Westeneng 2018)"),
        "gastrostomy_q3_threshold": "assumption: gastrostomy once dietary consistency changes "
        "(q3 = 2)",
        "gastrostomy_acceptance": "assumption",
        "niv_q12_threshold": "q12 = 3 means intermittent NIPPV (Cedarbaum 1999; "
        "clinical-scores.md §1)",
        "niv_acceptance": "assumption",
        "pav_q12_threshold": "q12 = 1 means NIPPV night and day (Cedarbaum 1999)",
        "pav_probability": "assumption",
        "tracheostomy_extension_median_months": "assumption",
        "visit_interval_days": "registries visit about every 3 months (cohort-figures.md §8)",
        "visit_jitter_sd_days": "assumption",
        "first_visit_delay_mean_days": "assumption",
        "late_referral_probability": "assumption",
        "late_referral_mean_days": "assumption",
        "missed_visit_probability": "assumption: no adherence figures collected "
        "(cohort-figures.md §8)",
        "alsfrs_missing_probability": "assumption",
        "fvc_missing_probability": "assumption",
        "weight_missing_probability": "assumption",
        "dropout_rate_per_month": "assumption: registries below the 2%/month of trials "
        "(HEALEY SAP; cohort-figures.md §4)",
        "follow_up_min_years": "assumption",
        "follow_up_max_years": "assumption: registry running for 8 years",
        "fvc_onset_mean": "assumption: normal vital capacity at onset",
        "fvc_onset_sd": "assumption",
        "fvc_loss_factor_median": _CAL.format(
            "FVC slope mean -2.41 %/month, SD 2.2 (own summary; cohort-figures.md §2)"
        ),
        "fvc_loss_factor_sd_log": _CAL.format("FVC slope SD 2.2 %/month (own summary)"),
        "fvc_noise_sd": "assumption",
        "nfl_median_pg_ml": "PRO-ACT median baseline serum NfL 78.5 pg/mL (unreviewed "
        "third-party analysis; cohort-figures.md §5)",
        "nfl_sd_log": "assumption",
        "nfl_speed_rho": _CAL.format(
            "Spearman rho -0.43 of NfL with ALSFRS-R slope (cohort-figures.md §5)"
        ),
        "nfl_visit_sd_log": "assumption: NfL is stable over time (Lu et al., Neurology 2015)",
        "nfl_age_per_year": "assumption: NfL rises about 1.5%/year with age",
        "nfl_measurement_probability": "assumption",
        "bmi_onset_mean": "assumption",
        "bmi_onset_sd": "assumption",
        "weight_loss_factor": "assumption",
        "weight_loss_factor_bulbar": "assumption: dysphagia adds weight loss",
        "weight_noise_sd": "assumption",
        "riluzole_probability": "assumption",
        "riluzole_stop_probability": "assumption",
        "tofersen_probability": "assumption; tofersen only for SOD1 (likely) pathogenic "
        "variants (omics.md §3)",
        "trial_placebo_fraction": "assumption: platform trial with shared placebo",
        "trial_duration_days": "24-week trial (HEALEY; platform-trials.md)",
        "csf_probability": "assumption",
        "consent_probs": "assumption",
        "consent_withdrawal_probability": "assumption",
    }
)
