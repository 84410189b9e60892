"""A synthetic learning curve with a known optimum, for `autolab bench speed`.

Reads lr, width, activation and steps (default STEPS) from params.json and "trains" for steps steps (a short sleep
each, so a full run costs about STEPS * SLEEP seconds), printing `step: i train_loss: v`;
then prints `val_loss: v`. The loss falls exponentially towards a floor:

    floor = 0.05 + 0.3 * log10(lr / 0.01)^2 + 0.1 * (log2(width / 96) / 2)^2
            + 0.05 if activation is tanh
    rate  = 0.25 * min(lr / 0.01, 1)^0.7 * (width / 96)^0.2
    loss(t) = floor + (1 - floor) * exp(-rate * t)

so small learning rates are slow (their curves look bad early and stay bad), large ones
settle high, and the best configuration (lr 0.01, width 96, relu) ends at
0.05 + 0.95 * exp(-0.25 * STEPS); within 0.01 of it is about 0.6 % of the space (uniform
in log lr, width and activation). AUTOLAB_SEED adds noise: 0.01 sd on each train_loss
point, 0.003 sd on val_loss.
"""

import json
import math
import os
import random
import time

STEPS = 30
SLEEP = 0.08

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    with open(os.path.join(HERE, "params.json")) as f:
        p = json.load(f)
    lr = float(p["lr"])
    width = int(p["width"])
    tanh = p["activation"] == "tanh"
    steps = int(p.get("steps", STEPS))
    seed = int(os.environ.get("AUTOLAB_SEED", "0") or 0)
    rng = random.Random(seed * 7919 + 17)
    floor = 0.05 + 0.3 * math.log10(lr / 0.01) ** 2 + 0.1 * (math.log2(width / 96) / 2) ** 2
    if tanh:
        floor += 0.05
    rate = 0.25 * min(lr / 0.01, 1.0) ** 0.7 * (width / 96) ** 0.2

    def loss(t):
        return floor + (1.0 - floor) * math.exp(-rate * t)

    for t in range(1, steps + 1):
        time.sleep(SLEEP)
        print("step: %d train_loss: %.5f" % (t, loss(t) + rng.gauss(0.0, 0.01)), flush=True)
    print("---")
    print("val_loss: %.5f" % (loss(steps) + rng.gauss(0.0, 0.003)), flush=True)


if __name__ == "__main__":
    main()
