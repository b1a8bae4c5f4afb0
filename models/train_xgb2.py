#!/usr/bin/env python3
"""XGBoost 2.1.x compatibility fixture: models/compat/xgboost2-binary/.

Run it in a separate environment holding XGBoost 2.1.x (not the one from
models/requirements.txt):

    python3 -m venv /tmp/xgb2venv
    /tmp/xgb2venv/bin/pip install xgboost-cpu==2.1.4 numpy==1.26.4
    /tmp/xgb2venv/bin/python models/train_xgb2.py

It reuses the data generator of train.py (numpy only), trains a small
binary:logistic model (30 trees, depth 4) and writes model.json (XGBoost 2.x
JSON layout: scalar base_score, no "cats" block), golden.jsonl and meta.json.
"""
import os
import sys

sys.dont_write_bytecode = True  # keep models/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import hashlib  # noqa: E402

import numpy as np  # noqa: E402
import xgboost as xgb  # noqa: E402

import train as T  # noqa: E402


def main() -> None:
    if not xgb.__version__.startswith("2.1."):
        sys.exit(f"needs xgboost 2.1.x, found {xgb.__version__}")
    X_tr, y_tr, _r_tr, X_te, y_te, _r_te = T.dataset()
    print("data sha256:", hashlib.sha256(X_tr.tobytes() + X_te.tobytes()).hexdigest()[:16])
    Xg = X_te[T.golden_indices(X_te, y_te)][:T.N_GOLDEN_SMALL]

    params = {"objective": "binary:logistic", "booster": "gbtree", "max_depth": 4,
              "learning_rate": 0.3, "tree_method": "hist", "nthread": 1, "seed": 0}
    dtrain = xgb.DMatrix(X_tr, label=y_tr, missing=np.nan, feature_names=T.FEATURES)
    bst = xgb.train(params, dtrain, num_boost_round=30)

    folder = T.MODELS_DIR / "compat" / "xgboost2-binary"
    folder.mkdir(parents=True, exist_ok=True)
    bst.save_model(str(folder / "model.json"))
    scores = bst.predict(xgb.DMatrix(Xg, missing=np.nan, feature_names=T.FEATURES))
    T.write_golden(folder / "golden.jsonl", Xg, scores)
    T.write_meta(folder, "xgboost2-binary", "xgboost-json", "model.json", 0.5,
                 f"XGBoost {xgb.__version__} binary:logistic, 30 trees, depth 4 "
                 "(XGBoost 2.x JSON layout); golden score = probability.")
    print("xgboost2-binary size=", (folder / "model.json").stat().st_size)


if __name__ == "__main__":
    main()
