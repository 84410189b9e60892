"""Fixed data and evaluation for the spiral lab.  DO NOT MODIFY.

Builds a seeded two-spirals binary classification dataset and exposes the
evaluation used as the lab's metric.  The data seed is fixed and independent
of AUTOLAB_SEED, so every run sees exactly the same train/validation split.

Public API:
    load_data() -> (train, val)   lists of ((x, y), label), label in {0, 1}
    evaluate(predict_fn) -> (val_loss, val_accuracy)
        predict_fn((x, y)) must return P(label == 1).
        val_loss is the mean binary cross-entropy over the validation set
        (probabilities clipped to [EPS, 1 - EPS]); val_accuracy uses a 0.5
        threshold.  A nan/inf or non-numeric prediction gives val_loss = nan.
"""

import math
import random

DATA_SEED = 20240601   # fixed; never derived from AUTOLAB_SEED
N_POINTS = 1000        # total points, half per class
N_VAL = 200            # held-out validation points
TURNS = 1.5            # how many times each spiral winds around the origin
NOISE = 0.08           # std of gaussian noise added to each coordinate
EPS = 1e-7             # probability clipping for the cross-entropy

_CACHE = None


def _make_spirals():
    rng = random.Random(DATA_SEED)
    points = []
    per_class = N_POINTS // 2
    for label in (0, 1):
        phase = math.pi * label
        for _ in range(per_class):
            t = 0.1 + 0.9 * rng.random()          # radius in (0.1, 1]
            angle = 2.0 * math.pi * TURNS * t + phase
            x = t * math.cos(angle) + rng.gauss(0.0, NOISE)
            y = t * math.sin(angle) + rng.gauss(0.0, NOISE)
            points.append(((x, y), label))
    rng.shuffle(points)
    return points[N_VAL:], points[:N_VAL]


def load_data():
    """Return (train, val): lists of ((x, y), label).  Copies, safe to mutate."""
    global _CACHE
    if _CACHE is None:
        _CACHE = _make_spirals()
    train, val = _CACHE
    return list(train), list(val)


def evaluate(predict_fn):
    """Return (val_loss, val_accuracy) of predict_fn on the validation set."""
    _, val = load_data()
    total = 0.0
    correct = 0
    for point, label in val:
        try:
            p = float(predict_fn(point))
        except (OverflowError, ValueError, TypeError, ZeroDivisionError):
            return float("nan"), 0.0
        if not math.isfinite(p):
            return float("nan"), 0.0
        p = min(max(p, EPS), 1.0 - EPS)
        total -= math.log(p) if label == 1 else math.log(1.0 - p)
        if (p >= 0.5) == (label == 1):
            correct += 1
    return total / len(val), correct / len(val)
