"""Train a tiny MLP (2 -> hidden -> 1, sigmoid output) on the two-spirals data
with plain per-sample SGD on the binary cross-entropy.

Pure Python, standard library only.  Hyperparameters come from params.json
next to this file:

    lr             SGD learning rate (> 0)
    hidden         number of hidden units (>= 1)
    activation     hidden nonlinearity: "tanh" or "relu"
    epochs         passes over the training set (>= 1)
    init_scale     std of the gaussian init of the input->hidden weights; the
                   hidden->output weights use init_scale / sqrt(hidden)
    final_lr_frac  the learning rate decays linearly over the epochs from lr
                   to lr * final_lr_frac (1.0 = constant learning rate)

Weight init and data shuffling are seeded from the AUTOLAB_SEED environment
variable (default 0): the same seed gives identical results, different seeds
give slightly different ones.

Prints progress lines and, at the end, a summary block:
    ---
    val_loss:          ...
    val_accuracy:      ...
    training_seconds:  ...
If training diverges (non-finite loss), it stops early and reports val_loss: nan.
"""

import json
import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import prepare  # noqa: E402

# Work cap: one unit of work = one (sample, hidden unit) forward+backward step.
# epochs * n_train * hidden is at most 200 * 800 * 64 = 10.24M for the intended
# search ranges (hidden <= 64, epochs <= 200), which takes a few seconds in
# pure Python.  Anything larger has its epoch count scaled down so the worst
# case stays bounded no matter what params.json says.
MAX_WORK = 200 * 800 * 64
N_PROGRESS = 10  # number of progress lines printed during training


def load_params():
    with open(os.path.join(HERE, "params.json")) as f:
        p = json.load(f)
    params = {
        "lr": float(p.get("lr", 0.01)),
        "hidden": max(1, int(p.get("hidden", 8))),
        "activation": str(p.get("activation", "tanh")),
        "epochs": max(1, int(p.get("epochs", 50))),
        "init_scale": float(p.get("init_scale", 1.0)),
        "final_lr_frac": float(p.get("final_lr_frac", 1.0)),
    }
    if params["activation"] not in ("tanh", "relu"):
        raise ValueError("activation must be 'tanh' or 'relu', got %r" % params["activation"])
    return params


def sigmoid(z):
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def bce(p, label):
    p = min(max(p, 1e-7), 1.0 - 1e-7)
    return -math.log(p) if label == 1 else -math.log(1.0 - p)


def main():
    t0 = time.time()
    params = load_params()
    seed = int(os.environ.get("AUTOLAB_SEED", "0") or 0)
    rng = random.Random(seed)
    train, _ = prepare.load_data()
    n = len(train)

    lr = params["lr"]
    H = params["hidden"]
    use_tanh = params["activation"] == "tanh"
    epochs = params["epochs"]
    if epochs * n * H > MAX_WORK:
        capped = max(1, MAX_WORK // (n * H))
        print("capping epochs %d -> %d (work limit)" % (epochs, capped))
        epochs = capped
    print("params: %s  seed: %d" % (json.dumps(params, sort_keys=True), seed))

    # Parameters: per hidden unit j, h_j = act(wx[j]*x + wy[j]*y + b1[j]);
    # output p = sigmoid(sum_j w2[j]*h_j + b2).
    s1 = params["init_scale"]
    s2 = params["init_scale"] / math.sqrt(H)
    wx = [rng.gauss(0.0, s1) for _ in range(H)]
    wy = [rng.gauss(0.0, s1) for _ in range(H)]
    b1 = [0.0] * H
    w2 = [rng.gauss(0.0, s2) for _ in range(H)]
    b2 = 0.0

    def forward(x, y):
        if use_tanh:
            h = [math.tanh(a * x + c * y + b) for a, c, b in zip(wx, wy, b1)]
        else:
            h = [max(0.0, a * x + c * y + b) for a, c, b in zip(wx, wy, b1)]
        # dot(h, w2) + b2; map(float.__mul__) is the fastest pure-Python dot
        return h, sigmoid(sum(map(float.__mul__, h, w2)) + b2)

    def predict(point):
        return forward(point[0], point[1])[1]

    order = list(range(n))
    report_every = max(1, epochs // N_PROGRESS)
    diverged = False
    try:
        for epoch in range(1, epochs + 1):
            # linear decay from lr (first epoch) to lr * final_lr_frac (last epoch)
            frac = (epoch - 1) / (epochs - 1) if epochs > 1 else 0.0
            lr_now = lr * (1.0 + (params["final_lr_frac"] - 1.0) * frac)
            rng.shuffle(order)
            loss_sum = 0.0
            for i in order:
                (x, y), label = train[i]
                h, p = forward(x, y)
                loss_sum += bce(p, label)
                s = lr_now * (p - label)  # lr * dL/dz for sigmoid output + BCE
                # per-sample SGD update, one hidden unit at a time
                for j, hj in enumerate(h):
                    if use_tanh:
                        da = s * w2[j] * (1.0 - hj * hj)
                    elif hj > 0.0:
                        da = s * w2[j]
                    else:
                        continue  # dead relu unit: no gradient on any weight
                    w2[j] -= s * hj
                    wx[j] -= da * x
                    wy[j] -= da * y
                    b1[j] -= da
                b2 -= s
            train_loss = loss_sum / n  # running mean over the epoch's updates
            if not (math.isfinite(train_loss) and math.isfinite(b2)
                    and all(math.isfinite(w) for w in w2)):
                print("step: %d train_loss: %s  (diverged, stopping)" % (epoch, train_loss))
                diverged = True
                break
            if epoch % report_every == 0 or epoch == epochs:
                print("step: %d train_loss: %.6f  lr: %.3g" % (epoch, train_loss, lr_now))
    except (OverflowError, ValueError) as e:
        print("diverged: %s" % e)
        diverged = True

    if diverged:
        val_loss, val_acc = float("nan"), 0.0
    else:
        val_loss, val_acc = prepare.evaluate(predict)

    elapsed = time.time() - t0
    print("---")
    print("val_loss:          %.6f" % val_loss)
    print("val_accuracy:      %.6f" % val_acc)
    print("training_seconds:  %.1f" % elapsed)


if __name__ == "__main__":
    main()
