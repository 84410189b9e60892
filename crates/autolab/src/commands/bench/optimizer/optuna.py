"""Optuna's TPESampler and GPSampler behind a line protocol, for `autolab bench optimizer`
and (with a pruner) `autolab bench speed`.

autolab evaluates every problem and runs every trial itself (the same code path for every
method), so this script only proposes and decides pruning: it reads one JSON request per line
on stdin and answers one JSON line on stdout.

    {"cmd": "study", "seed": 3, "sampler": "tpe", "space": [{"name": "x", "kind": "float", "low": 0, "high": 1},
                                          {"name": "c", "kind": "choice", "choices": ["a", "b"]},
                                          ...]}          -> {"optuna": "<version>"}
    {"cmd": "ask"}                               -> {"trial": 0, "params": {"x": 0.25, "c": "a"}}
    {"cmd": "tell", "trial": 0, "value": 1.5}    -> {}
    {"cmd": "tell", "trial": 0, "value": null}   -> {}   (a crashed trial: FAIL)
    {"cmd": "report", "trial": 0, "step": 5, "value": 0.8}   -> {"prune": false}
    {"cmd": "tell", "trial": 0, "state": "pruned"}   -> {}   (stopped after a report)

Several trials may be asked before they are told (parallel slots). Each study is minimized
with `TPESampler(seed=seed)` or `GPSampler(seed=seed)` ("sampler": "gp") and otherwise
default settings; "pruner": "median" or "hyperband" adds `MedianPruner()` or
`HyperbandPruner()` with Optuna's defaults.
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
    trials = {}
    for line in sys.stdin:
        if not line.strip():
            continue
        msg = json.loads(line)
        cmd = msg["cmd"]
        if cmd == "study":
            if msg.get("sampler") == "gp":
                sampler = optuna.samplers.GPSampler(seed=msg["seed"])
            else:
                sampler = optuna.samplers.TPESampler(seed=msg["seed"])
            pruner = {
                "median": optuna.pruners.MedianPruner,
                "hyperband": optuna.pruners.HyperbandPruner,
            }.get(msg.get("pruner"))
            trials = {}
            study = optuna.create_study(
                direction="minimize", sampler=sampler, pruner=pruner() if pruner else None
            )
            space = {p["name"]: distribution(p) for p in msg["space"]}
            out = {"optuna": optuna.__version__}
        elif cmd == "ask":
            trial = study.ask(space)
            trials[trial.number] = trial
            out = {"trial": trial.number, "params": trial.params}
        elif cmd == "report":
            trial = trials[msg["trial"]]
            # A step reported twice keeps its first value (Optuna warns and ignores it).
            trial.report(float(msg["value"]), int(msg["step"]))
            out = {"prune": bool(trial.should_prune())}
        elif cmd == "tell":
            trial = trials.pop(msg["trial"])
            if msg.get("state") == "pruned":
                study.tell(trial, state=TrialState.PRUNED)
            elif msg.get("value") is None:
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
