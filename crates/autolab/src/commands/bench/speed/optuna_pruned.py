"""Optuna's TPESampler with a pruner behind a line protocol, for `autolab bench speed`.

autolab runs every trial itself (the lab's command, its output streamed); this script only
proposes and decides pruning. One JSON request per line on stdin, one JSON line on stdout:

    {"cmd": "study", "seed": 3, "pruner": "median", "space": [...]}  -> {"optuna": "<version>"}
    {"cmd": "ask"}                                   -> {"trial": 0, "params": {...}}
    {"cmd": "report", "trial": 0, "step": 5, "value": 0.8}   -> {"prune": false}
    {"cmd": "tell", "trial": 0, "value": 0.25}       -> {}   (completed)
    {"cmd": "tell", "trial": 0, "state": "pruned"}   -> {}   (stopped after a report)
    {"cmd": "tell", "trial": 0, "value": null}       -> {}   (failed)

"pruner" is "median" (`MedianPruner()`) or "hyperband" (`HyperbandPruner()`), both with
Optuna's default settings; the sampler is `TPESampler(seed=seed)`; the study is minimized.
Several trials may be in flight at once (ask, ask, then reports of both in any order).
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
            if msg.get("pruner") == "hyperband":
                pruner = optuna.pruners.HyperbandPruner()
            else:
                pruner = optuna.pruners.MedianPruner()
            sampler = optuna.samplers.TPESampler(seed=msg["seed"])
            trials = {}
            study = optuna.create_study(direction="minimize", sampler=sampler, pruner=pruner)
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
