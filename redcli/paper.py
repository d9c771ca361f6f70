"""Published numbers as data: the RED-Net paper's tables and the bicubic baselines.

All PSNR values are in dB, SSIM in [0, 1]. SR numbers are on the Y channel with a border
of ``scale`` pixels cropped; denoising numbers are on grey images. Sources:

* ``SR_TABLES`` — paper Tables 3, 4 and 5 (Set5, Set14, BSD100), RED10 / RED20 / RED30.
* ``DENOISE_TABLES`` — paper Tables 1 and 2 (one model per σ, RED10 / RED20 / RED30) and
  Table 6 (a single RED30 for all σ). The paper evaluates on "14 images" and on a resized
  grey "BSD200", neither public as used; redcli benchmarks Set12 and BSD68 instead and shows
  these numbers beside them for orientation only (``PAPER_DENOISE_SETS``).
* ``BICUBIC_BASELINES`` — MATLAB ``imresize`` bicubic on Set5 / Set14 as the SR literature
  reports it; a correct benchmark protocol reproduces them to ±0.02 dB / ±0.001.

This module imports nothing heavy and does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

Score = tuple[float, float]  # (PSNR dB, SSIM)

SR_TABLES: dict[str, dict[int, dict[int, Score]]] = {
    # dataset -> scale -> depth -> score
    "set5": {
        2: {10: (37.43, 0.9590), 20: (37.62, 0.9597), 30: (37.66, 0.9599)},
        3: {10: (33.43, 0.9197), 20: (33.80, 0.9229), 30: (33.82, 0.9230)},
        4: {10: (31.12, 0.8794), 20: (31.40, 0.8847), 30: (31.51, 0.8869)},
    },
    "set14": {
        2: {10: (32.77, 0.9125), 20: (32.87, 0.9138), 30: (32.94, 0.9144)},
        3: {10: (29.42, 0.8318), 20: (29.61, 0.8343), 30: (29.61, 0.8341)},
        4: {10: (27.58, 0.7654), 20: (27.80, 0.7697), 30: (27.86, 0.7718)},
    },
    "bsd100": {
        2: {10: (31.85, 0.8953), 20: (31.95, 0.8969), 30: (31.99, 0.8974)},
        3: {10: (28.79, 0.7975), 20: (28.90, 0.7993), 30: (28.93, 0.7994)},
        4: {10: (27.25, 0.7238), 20: (27.35, 0.7268), 30: (27.40, 0.7290)},
    },
}

DENOISE_TABLES: dict[str, dict[str, dict[int, Score]]] = {
    # paper test set -> model ("RED10", "RED20", "RED30", "RED30 single") -> σ -> score
    "14 images": {
        "RED10": {10: (34.62, 0.9374), 30: (28.95, 0.8327), 50: (26.51, 0.7571), 70: (24.97, 0.7012)},
        "RED20": {10: (34.74, 0.9392), 30: (29.10, 0.8396), 50: (26.72, 0.7689), 70: (25.23, 0.7177)},
        "RED30": {10: (34.81, 0.9402), 30: (29.17, 0.8423), 50: (26.81, 0.7733), 70: (25.31, 0.7206)},
        "RED30 single": {10: (34.49, 0.9368), 30: (29.09, 0.8414), 50: (26.75, 0.7716), 70: (25.20, 0.7157)},
    },
    "BSD200": {
        "RED10": {10: (33.49, 0.9290), 30: (27.79, 0.7918), 50: (25.54, 0.7032), 70: (24.13, 0.6367)},
        "RED20": {10: (33.59, 0.9310), 30: (27.90, 0.7993), 50: (25.67, 0.7117), 70: (24.33, 0.6521)},
        "RED30": {10: (33.63, 0.9319), 30: (27.95, 0.8019), 50: (25.75, 0.7167), 70: (24.37, 0.6551)},
        "RED30 single": {10: (33.38, 0.9280), 30: (27.88, 0.7980), 50: (25.69, 0.7119), 70: (24.36, 0.6544)},
    },
}

# Our public denoising sets and the paper's set each stands in for (orientation only).
PAPER_DENOISE_SETS: dict[str, str] = {"set12": "14 images", "bsd68": "BSD200"}

BICUBIC_BASELINES: dict[str, dict[int, Score]] = {
    "set5": {2: (33.66, 0.9299), 3: (30.39, 0.8682), 4: (28.42, 0.8104)},
    "set14": {2: (30.24, 0.8688), 3: (27.55, 0.7742), 4: (26.00, 0.7027)},
}

PAPER_DEPTHS = (10, 20, 30)


@dataclass(frozen=True)
class PaperScore:
    """A published number and where it comes from (e.g. ``paper RED30``)."""

    psnr: float
    ssim: float
    source: str


def _depth_label(depth: int) -> int:
    """The paper's depth closest in kind: the same depth if reported, else RED30."""
    return depth if depth in PAPER_DEPTHS else 30


def paper_sr(dataset: str, scale: int, depth: int = 30) -> PaperScore | None:
    """The paper's SR result for ``dataset`` at ``×scale`` (RED``depth``, else RED30), or None."""
    table = SR_TABLES.get(dataset.lower(), {}).get(scale)
    if table is None:
        return None
    shown = _depth_label(depth)
    return PaperScore(*table[shown], source=f"paper RED{shown}")


def paper_denoise(dataset: str, sigma: float, depth: int = 30, *, single_model: bool = False) -> PaperScore | None:
    """The paper's denoising result on the set ``dataset`` stands in for, or None.

    ``single_model`` selects Table 6 (one RED30 for every σ); it exists for RED30 only.
    """
    paper_set = PAPER_DENOISE_SETS.get(dataset.lower())
    if paper_set is None or not float(sigma).is_integer():
        return None
    model = "RED30 single" if single_model else f"RED{_depth_label(depth)}"
    score = DENOISE_TABLES[paper_set][model].get(int(sigma))
    if score is None:
        return None
    return PaperScore(*score, source=f"paper {model} ({paper_set})")


def bicubic_baseline(dataset: str, scale: int) -> PaperScore | None:
    """The literature's bicubic result for ``dataset`` at ``×scale``, or None."""
    score = BICUBIC_BASELINES.get(dataset.lower(), {}).get(scale)
    return None if score is None else PaperScore(*score, source="published bicubic")


def paper_score(dataset: str, task: str, level: float, depth: int = 30, *, blind: bool = False) -> PaperScore | None:
    """The paper's number for a model's result: ``level`` is the scale (``task`` "sr") or σ
    ("denoise"); ``blind`` (a denoiser trained for a σ range) selects the single-model table."""
    if task == "sr":
        return paper_sr(dataset, int(level), depth)
    return paper_denoise(dataset, level, depth, single_model=blind)
