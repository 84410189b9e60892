"""Optuna's TPESampler behind a line protocol, for `autolab bench optimizer`.

autolab evaluates every problem itself (the same code path for every method), so this script
only proposes: it reads one JSON request per line on stdin and answers one JSON line on stdout.

    {"cmd": "study", "seed": 3, "space": [{"name": "x", "kind": "float", "low": 0, "high": 1},
                                          {"name": "c", "kind": "choice", "choices": ["a", "b"]},
                                          ...]}          -> {"optuna": "<version>"}
    {"cmd": "ask"}                                       -> {"params": {"x": 0.25, "c": "a"}}
    {"cmd": "tell", "value": 1.5}                        -> {}
    {"cmd": "tell", "value": null}                       -> {}   (a crashed trial: FAIL)

Each study is minimized with `TPESampler(seed=seed)` and otherwise default settings.
"""

import json
import sys
import warnings

import optuna
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState


def distribution(p):
    kind = p["kind"]
    if kind == "float":
        return FloatDistribution(p["low"], p["high"])
    if kind == "log_float":
        return FloatDistribution(p["low"], p["high"], log=True)
    if kind == "int":
        return IntDistribution(p["low"], p["high"])
    if kind == "choice":
        return CategoricalDistribution(p["choices"])
    raise ValueError("unknown parameter kind %r" % kind)


def main():
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore")
    study = None
    space = None
    trial = None
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "study":
            sampler = optuna.samplers.TPESampler(seed=msg["seed"])
            study = optuna.create_study(direction="minimize", sampler=sampler)
            space = {p["name"]: distribution(p) for p in msg["space"]}
            out = {"optuna": optuna.__version__}
        elif cmd == "ask":
            trial = study.ask(space)
            out = {"params": trial.params}
        elif cmd == "tell":
            if msg.get("value") is None:
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, msg["value"])
            out = {}
        else:
            raise ValueError("unknown command %r" % cmd)
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
