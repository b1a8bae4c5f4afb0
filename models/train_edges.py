#!/usr/bin/env python3
"""XGBoost artifacts at the edges of its format: models/compat/xgboost-pruned/ and
models/compat/xgboost-constant-label/.

    /path/to/venv/bin/python models/train_edges.py   # the venv of models/requirements.txt

It reuses the data generator of train.py (numpy only) and XGBoost 3.4.1:

- xgboost-pruned: `tree_method="exact"` with `gamma` prunes splits after growing them, and
  XGBoost keeps the pruned nodes in the saved arrays, unreachable from the root and marked deleted
  (`tree_param.num_deleted`); the file is scored as any other. Its golden_sigmoid.jsonl holds
  rows whose probability XGBoost's single-precision sigmoid (libm's expf) rounds an ulp away from
  a correctly rounded one.
- xgboost-constant-label: trained on labels that are all 0, so the estimated base score is 0,
  which XGBoost 3.2 and later accept and clamp to 1e-6 before taking its logit.
"""
import json
import os
import sys

sys.dont_write_bytecode = True  # keep models/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

import train as T  # noqa: E402


def save(folder, bst, Xg, description):
    folder.mkdir(parents=True, exist_ok=True)
    bst.save_model(str(folder / "model.json"))
    # Scored from the file as saved, as a user's reload of it would be.
    saved = xgb.Booster(model_file=str(folder / "model.json"))
    scores = saved.predict(xgb.DMatrix(Xg, missing=np.nan, feature_names=T.FEATURES))
    T.write_golden(folder / "golden.jsonl", Xg, scores)
    T.write_meta(folder, folder.name, "xgboost-json", "model.json", 0.5, description)
    return json.loads((folder / "model.json").read_text())


def main() -> None:
    if xgb.__version__ != "3.4.1":
        sys.exit(f"needs xgboost 3.4.1 (models/requirements.txt), found {xgb.__version__}")
    X_tr, y_tr, _r_tr, X_te, y_te, _r_te = T.dataset()
    Xg = X_te[T.golden_indices(X_te, y_te)][:T.N_GOLDEN_SMALL]
    compat = T.MODELS_DIR / "compat"

    params = {"objective": "binary:logistic", "booster": "gbtree", "tree_method": "exact", "gamma": 1.0,
              "max_depth": 6, "learning_rate": 0.3, "nthread": 1, "seed": 0}
    bst = xgb.train(params, xgb.DMatrix(X_tr, label=y_tr, missing=np.nan, feature_names=T.FEATURES), 10)
    model = save(compat / "xgboost-pruned", bst, Xg,
                 "XGBoost 3.4.1 binary:logistic, 10 trees, depth 6, tree_method exact with gamma 1: "
                 "pruned nodes stay in the file, unreachable; golden score = probability.")
    # Rows whose probability a correctly rounded exponential gets an ulp away from XGBoost's (libm's
    # expf, in its own sigmoid): one in a few thousand margins.
    X_many, _y, _r = T.generate_data(seed=T.SEED + 77, n=200_000)
    saved = xgb.Booster(model_file=str(compat / "xgboost-pruned" / "model.json"))
    dm = xgb.DMatrix(X_many, missing=np.nan, feature_names=T.FEATURES)
    margins = saved.predict(dm, output_margin=True).astype(np.float32)
    probabilities = saved.predict(dm)
    nearest = (np.float32(1) / (np.float32(1) + np.exp(-margins.astype(np.float64)).astype(np.float32))).astype(np.float32)
    hard = np.flatnonzero(nearest != probabilities)[:40]
    if len(hard) < 10:
        sys.exit(f"xgboost-pruned: only {len(hard)} rows tell the two exponentials apart")
    T.write_golden(compat / "xgboost-pruned" / "golden_sigmoid.jsonl", X_many[hard], probabilities[hard])
    print(f"xgboost-pruned: {len(hard)} rows where the sigmoid's rounding shows")
    deleted = sum(int(t["tree_param"]["num_deleted"]) for t in model["learner"]["gradient_booster"]["model"]["trees"])
    if deleted == 0:
        sys.exit("xgboost-pruned: no tree has a deleted node; the fixture would not test them")
    print(f"xgboost-pruned: {deleted} deleted nodes")

    params = {"objective": "binary:logistic", "booster": "gbtree", "max_depth": 3, "learning_rate": 0.3,
              "tree_method": "hist", "nthread": 1, "seed": 0}
    zeros = np.zeros_like(y_tr)
    bst = xgb.train(params, xgb.DMatrix(X_tr, label=zeros, missing=np.nan, feature_names=T.FEATURES), 5)
    model = save(compat / "xgboost-constant-label", bst, Xg,
                 "XGBoost 3.4.1 binary:logistic, 5 trees, depth 3, trained on labels that are all 0: "
                 "base_score 0, clamped by XGBoost; golden score = probability.")
    base = model["learner"]["learner_model_param"]["base_score"]
    if float(base.strip("[]")) != 0.0:
        sys.exit(f"xgboost-constant-label: base_score is {base}, not 0")
    print(f"xgboost-constant-label: base_score {base}")


if __name__ == "__main__":
    main()
