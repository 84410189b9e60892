"""Train a tiny MLP (2 -> hidden -> 1, sigmoid output) on the two-spirals data.

Pure Python, standard library only.  Hyperparameters come from params.json
next to this file:

    lr          learning rate of minibatch SGD (> 0)
    hidden      number of hidden units (>= 1)
    activation  hidden nonlinearity: "tanh" or "relu"
    epochs      passes over the training set (>= 1)
    init_scale  std of the gaussian init of the input->hidden weights; the
                hidden->output weights use init_scale / sqrt(hidden)
    batch_size  minibatch size for SGD (>= 1; gradients are averaged)

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
        "batch_size": max(1, int(p.get("batch_size", 1))),
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
    bs = params["batch_size"]
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
    idx = list(range(H))

    def forward(x, y):
        if use_tanh:
            h = [math.tanh(a * x + c * y + b) for a, c, b in zip(wx, wy, b1)]
        else:
            h = [max(0.0, a * x + c * y + b) for a, c, b in zip(wx, wy, b1)]
        z = b2
        for v, w in zip(h, w2):
            z += v * w
        return h, sigmoid(z)

    def predict(point):
        return forward(point[0], point[1])[1]

    order = list(range(n))
    total_steps = epochs
    report_every = max(1, total_steps // N_PROGRESS)
    diverged = False
    train_loss = float("nan")
    try:
        for epoch in range(1, epochs + 1):
            rng.shuffle(order)
            loss_sum = 0.0
            for start in range(0, n, bs):
                batch = order[start:start + bs]
                gx = [0.0] * H
                gy = [0.0] * H
                gb1 = [0.0] * H
                gw2 = [0.0] * H
                gb2 = 0.0
                for i in batch:
                    (x, y), label = train[i]
                    h, p = forward(x, y)
                    loss_sum += bce(p, label)
                    d = p - label  # dL/dz for sigmoid + BCE
                    gb2 += d
                    for j in idx:
                        hj = h[j]
                        gw2[j] += d * hj
                        if use_tanh:
                            da = d * w2[j] * (1.0 - hj * hj)
                        elif hj > 0.0:
                            da = d * w2[j]
                        else:
                            continue
                        gx[j] += da * x
                        gy[j] += da * y
                        gb1[j] += da
                step = lr / len(batch)
                for j in idx:
                    wx[j] -= step * gx[j]
                    wy[j] -= step * gy[j]
                    b1[j] -= step * gb1[j]
                    w2[j] -= step * gw2[j]
                b2 -= step * gb2
            train_loss = loss_sum / n
            if not (math.isfinite(train_loss) and math.isfinite(b2)
                    and all(math.isfinite(w) for w in w2)):
                print("step: %d train_loss: %s  (diverged, stopping)" % (epoch, train_loss))
                diverged = True
                break
            if epoch % report_every == 0 or epoch == epochs:
                print("step: %d train_loss: %.6f" % (epoch, train_loss))
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
