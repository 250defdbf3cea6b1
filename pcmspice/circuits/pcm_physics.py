"""The PCM model's state laws as numpy functions: drift exponent nu(G), kick spread s(G), 1/f read noise.

Mirrors of equations 1 and 5 of ``netlists/cells/pcm.cir.j2`` (nodes ``nu`` and the kick term; tests
check them against SPICE), and the documented read-noise model that the PCM table carries (the SPICE
model has no noise).  ``p`` is the resolved parameter dict of :func:`pcmspice.circuits.pcm.pcm_params`.
"""
from __future__ import annotations

import numpy as np


def drift_nu_of_g(g0_siemens: np.ndarray, znu: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Drift exponent of a device with quantile ``znu`` programmed to ``g0_siemens`` (node ``nu`` of pcm.cir.j2).

    nu = |clip(-a ln(G/g_ref) + b, nu_min, nu_max) + znu clip(-c ln(G/g_ref) - d, sd_min, sd_max)|,
    the form of aihwkit's PCMLikeNoiseModel (after Joshi et al., Nat. Commun. 11, 2473 (2020)).
    """
    lg = np.log(np.maximum(np.asarray(g0_siemens, float), 1e-15) / p["drift_g_ref_siemens"])
    mu = np.clip(-p["drift_nu_a"] * lg + p["drift_nu_b"], p["drift_nu_min"], p["drift_nu_max"])
    sd = np.clip(-p["drift_nu_sd_a"] * lg + p["drift_nu_sd_b"], p["drift_nu_sd_min"], p["drift_nu_sd_max"])
    return np.abs(mu + np.asarray(znu, float) * sd)


def kick_sigma_of_g(g0_siemens: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Spread s(G) (S) of the per-pulse kick (equation 5 of pcm.cir.j2): the kick is z s(G)."""
    g = np.asarray(g0_siemens, float)
    return (p["kick_sigma0_siemens"] + p["kick_sigma_per_g"] * g
            + p["kick_sigma_fresh_siemens"] * np.exp(-g / p["kick_g_fresh_siemens"]))


def read_noise_rel_of_g(g_siemens: np.ndarray, p: dict[str, float]) -> np.ndarray:
    """Relative 1/f read noise sigma/G of one read of ``t_read_pcm_seconds`` (aihwkit PCMLikeNoiseModel's form).

    sigma/G = Q_s sqrt(ln((T + t_read)/(2 t_read))), Q_s = min(q0 / max((G/g_ref)^q_exp, 1e-3), q_max):
    the 1/f noise integrated from 1/T (T = ``read_noise_window_seconds``, the observation window)
    up to the read's bandwidth 1/(2 t_read).  The SPICE model has no noise; this is the documented model.
    """
    g = np.maximum(np.asarray(g_siemens, float), 0.0) / p["drift_g_ref_siemens"]
    q = np.minimum(p["read_noise_q0"] / np.maximum(g ** p["read_noise_q_exp"], 1e-3), p["read_noise_q_max"])
    tr, tw = p["t_read_pcm_seconds"], p["read_noise_window_seconds"]
    return q * np.sqrt(np.log((tw + tr) / (2 * tr)))
