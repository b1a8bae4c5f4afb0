#!/usr/bin/env python3
"""Deterministic training script for Sentinel's fraud-model fixtures.

    pip install -r models/requirements.txt      # Python >= 3.12
    python3 models/train.py

Regenerates, byte-identically, every artifact under models/ except
models/compat/xgboost2-binary/ (that one is produced by models/train_xgb2.py in
an XGBoost 2.1.x environment, see models/README.md).

The data is synthetic (seeded numpy); every feature value is rounded to 4
decimals before training so that the values written to golden.jsonl are
exactly the ones that were fed to the models.

This module can be imported (train_xgb2.py does so) without pandas, sklearn,
xgboost or lightgbm installed: only numpy is needed for the data.
"""
from __future__ import annotations

import os

# Single-threaded everything: deterministic results, and polite on a 2-core box.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import json
import math
import sys
from pathlib import Path

import numpy as np

MODELS_DIR = Path(__file__).resolve().parent

SEED = 20240611
N_ROWS = 60_000
TARGET_FRAUD_RATE = 0.015
TEST_FRACTION = 0.30
N_GOLDEN = 200
N_GOLDEN_SMALL = 50

PINNED = {"xgboost": "3.4.1", "lightgbm": "4.7.0", "sklearn": "1.9.1"}

FEATURES = [
    "amount", "hour_of_day", "day_of_week", "merchant_category", "mcc_risk",
    "txn_count_1h", "txn_count_24h", "amount_sum_24h", "amount_to_avg_7d",
    "distance_from_home_km", "distance_from_last_txn_km", "seconds_since_last_txn",
    "is_foreign", "is_online", "is_card_present", "is_new_merchant",
    "device_risk_score", "ip_risk_score", "email_domain_risk", "failed_logins_24h",
    "past_chargebacks", "account_age_days", "card_age_days", "customer_age",
    "credit_limit", "utilization", "avg_ticket_90d", "declined_count_7d",
    "billing_shipping_mismatch", "velocity_score",
]
assert len(FEATURES) == 30 and len(set(FEATURES)) == 30
CAT_INDEX = FEATURES.index("merchant_category")
N_CATEGORIES = 20


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def generate_data(seed: int = SEED, n: int = N_ROWS):
    """Return (X float64 [n,30] with NaN for missing, y int8 fraud label,
    r float64 continuous regression target). numpy only, fully seeded."""
    rng = np.random.default_rng(seed)

    merchant_category = rng.integers(0, N_CATEGORIES, n)
    # per-category base risk; categories 4, 11, 17 are "risky" (gift cards,
    # electronics, crypto...) and 2, 7, 13 are online-heavy.
    cat_risk = np.round(rng.uniform(0.03, 0.35, N_CATEGORIES), 3)
    cat_risk[[4, 11, 17]] = [0.72, 0.64, 0.81]
    online_bias = np.full(N_CATEGORIES, 0.2)
    online_bias[[2, 7, 13, 17]] = 0.75
    mcc_risk = np.clip(cat_risk[merchant_category] + rng.normal(0, 0.04, n), 0.0, 1.0)

    is_online = (rng.random(n) < online_bias[merchant_category]).astype(float)
    is_card_present = ((is_online == 0) & (rng.random(n) < 0.93)).astype(float)
    is_foreign = (rng.random(n) < 0.05).astype(float)
    is_new_merchant = (rng.random(n) < 0.18 + 0.10 * is_online).astype(float)

    hour_p = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.2, 2.5, 4, 5, 5.5, 6, 7, 6.5,
                       6, 5.8, 6, 6.5, 7, 6.5, 5, 4, 3, 2], dtype=float)
    hour_of_day = rng.choice(24, size=n, p=hour_p / hour_p.sum()).astype(float)
    day_of_week = rng.integers(0, 7, n).astype(float)

    customer_age = np.clip(np.round(rng.normal(43, 14, n)), 18, 92)
    account_age_days = np.round(rng.gamma(1.6, 520, n))
    card_age_days = np.minimum(account_age_days, np.round(rng.gamma(1.4, 330, n)))
    credit_limit = rng.choice(np.array([500, 1000, 1500, 2500, 5000, 7500, 10000, 15000, 25000],
                                       dtype=float), size=n,
                              p=[0.05, 0.10, 0.12, 0.18, 0.22, 0.14, 0.10, 0.06, 0.03])
    utilization = rng.beta(2.0, 4.5, n)
    avg_ticket_90d = np.round(np.exp(rng.normal(3.7, 0.55, n)), 2)

    txn_count_1h = rng.poisson(0.35, n).astype(float)
    txn_count_24h = txn_count_1h + rng.poisson(2.2, n)
    velocity_raw = rng.normal(0, 1, n)  # hidden "burstiness" of the session

    amount = np.round(avg_ticket_90d * np.exp(rng.normal(0.0, 0.75, n)), 2)
    amount_to_avg_7d = amount / (avg_ticket_90d * np.exp(rng.normal(0, 0.25, n)))
    amount_sum_24h = np.round(amount + txn_count_24h * avg_ticket_90d * np.exp(rng.normal(0, 0.35, n)), 2)

    at_home = (is_card_present == 1) & (rng.random(n) < 0.30)
    distance_from_home_km = np.where(at_home, 0.0, rng.exponential(14.0, n))
    distance_from_home_km = distance_from_home_km + is_foreign * rng.uniform(300, 6000, n)
    same_place = rng.random(n) < 0.12
    distance_from_last_txn_km = np.where(same_place, 0.0,
                                         rng.exponential(9.0, n) + 0.3 * distance_from_home_km * rng.random(n))
    seconds_since_last_txn = np.round(rng.exponential(18_000, n) / (1 + txn_count_1h))
    seconds_since_last_txn[rng.random(n) < 0.01] = 0.0

    device_risk_score = np.where(rng.random(n) < 0.25, 0.0, rng.beta(1.4, 9.0, n))
    ip_risk_score = np.where(rng.random(n) < 0.20, 0.0, rng.beta(1.2, 10.0, n))
    email_domain_risk = rng.beta(1.0, 12.0, n)
    failed_logins_24h = rng.poisson(0.08, n).astype(float)
    past_chargebacks = rng.poisson(0.03, n).astype(float)
    declined_count_7d = rng.poisson(0.12, n).astype(float)
    billing_shipping_mismatch = ((is_online == 1) & (rng.random(n) < 0.09)).astype(float)
    velocity_score = np.clip(0.15 * txn_count_1h + 0.02 * txn_count_24h
                             + 0.12 * velocity_raw + 0.2, 0.0, 1.0)

    # ---- fraud label: plausible logistic function + noise -----------------
    z = (1.9 * mcc_risk
         + 0.9 * is_foreign
         + 0.5 * is_online
         - 0.6 * is_card_present
         + 0.5 * is_new_merchant
         + 2.6 * device_risk_score
         + 2.0 * ip_risk_score
         + 1.5 * email_domain_risk
         + 0.45 * failed_logins_24h
         + 0.6 * past_chargebacks
         + 0.55 * np.log1p(amount_to_avg_7d)
         + 0.30 * txn_count_1h
         + 0.45 * np.log1p(distance_from_home_km / 50.0)
         - 0.35 * np.log1p(account_age_days / 365.0)
         - 0.30 * np.log1p(card_age_days / 365.0)
         + 0.6 * ((hour_of_day >= 0) & (hour_of_day <= 4))
         + 0.35 * declined_count_7d
         + 0.9 * billing_shipping_mismatch
         + 1.4 * velocity_score
         - 0.10 * np.log1p(seconds_since_last_txn / 60.0)
         + 0.8 * is_online * device_risk_score
         + 0.004 * np.abs(customer_age - 40)
         + 0.6 * utilization
         + rng.normal(0.0, 0.6, n))
    # intercept by bisection so that E[fraud] == TARGET_FRAUD_RATE
    lo, hi = -30.0, 10.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if _sigmoid(z + mid).mean() > TARGET_FRAUD_RATE:
            hi = mid
        else:
            lo = mid
    p = _sigmoid(z + 0.5 * (lo + hi))
    y = (rng.random(n) < p).astype(np.int8)
    # continuous target for the regression compat models (latent risk score)
    r = z + 0.5 * (lo + hi) + rng.normal(0.0, 0.3, n)

    cols = {
        "amount": amount, "hour_of_day": hour_of_day, "day_of_week": day_of_week,
        "merchant_category": merchant_category.astype(float), "mcc_risk": mcc_risk,
        "txn_count_1h": txn_count_1h, "txn_count_24h": txn_count_24h,
        "amount_sum_24h": amount_sum_24h, "amount_to_avg_7d": amount_to_avg_7d,
        "distance_from_home_km": distance_from_home_km,
        "distance_from_last_txn_km": distance_from_last_txn_km,
        "seconds_since_last_txn": seconds_since_last_txn,
        "is_foreign": is_foreign, "is_online": is_online, "is_card_present": is_card_present,
        "is_new_merchant": is_new_merchant, "device_risk_score": device_risk_score,
        "ip_risk_score": ip_risk_score, "email_domain_risk": email_domain_risk,
        "failed_logins_24h": failed_logins_24h, "past_chargebacks": past_chargebacks,
        "account_age_days": account_age_days, "card_age_days": card_age_days,
        "customer_age": customer_age, "credit_limit": credit_limit, "utilization": utilization,
        "avg_ticket_90d": avg_ticket_90d, "declined_count_7d": declined_count_7d,
        "billing_shipping_mismatch": billing_shipping_mismatch, "velocity_score": velocity_score,
    }
    X = np.column_stack([cols[f] for f in FEATURES]).astype(np.float64)
    X = np.round(X, 4)

    # ---- missing values (after the label: the truth existed, we just lost it)
    missing_rate = {
        "distance_from_home_km": 0.06,
        "device_risk_score": 0.09,
        "ip_risk_score": 0.07,
        "seconds_since_last_txn": 0.04,
        "customer_age": 0.05,
        "merchant_category": 0.02,
        "amount_to_avg_7d": 0.03,
    }
    for name, rate in missing_rate.items():
        X[rng.random(n) < rate, FEATURES.index(name)] = np.nan
    # X[:, device] etc. keep their exact zeros, so NaN and 0.0 both occur.
    r = np.round(r, 4)
    return X, y, r


def split_indices(n: int = N_ROWS, seed: int = SEED):
    perm = np.random.default_rng(seed + 1).permutation(n)
    n_test = int(round(n * TEST_FRACTION))
    return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def golden_indices(X_test, y_test, seed: int = SEED, k: int = N_GOLDEN):
    """Positions (into the test split) of the golden rows: 30 fraud rows,
    70 legit rows with at least one missing value, 100 other legit rows."""
    rng = np.random.default_rng(seed + 2)
    has_nan = np.isnan(X_test).any(axis=1)
    fraud = np.flatnonzero(y_test == 1)
    legit_nan = np.flatnonzero((y_test == 0) & has_nan)
    legit_full = np.flatnonzero((y_test == 0) & ~has_nan)
    pick = np.concatenate([
        rng.choice(fraud, 30, replace=False),
        rng.choice(legit_nan, 70, replace=False),
        rng.choice(legit_full, k - 100, replace=False),
    ])
    # interleave deterministically so the first 50 rows are also a good mix
    return pick[rng.permutation(len(pick))]


def dataset():
    X, y, r = generate_data()
    tr, te = split_indices()
    return X[tr], y[tr], r[tr], X[te], y[te], r[te]


# --------------------------------------------------------------------------
# writing helpers
# --------------------------------------------------------------------------
def _num(v) -> float | None:
    v = float(v)
    return None if math.isnan(v) else v


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, allow_nan=False) + "\n")


def write_golden(path: Path, X_rows, scores) -> None:
    lines = []
    for row, s in zip(X_rows, scores):
        obj = {"features": {f: _num(v) for f, v in zip(FEATURES, row)}, "score": float(s)}
        lines.append(json.dumps(obj, separators=(",", ":"), allow_nan=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


def write_meta(folder: Path, name, fmt, artifact, threshold, description) -> None:
    write_json(folder / "meta.json", {"name": name, "format": fmt, "artifact": artifact,
                                      "threshold": threshold, "description": description})


def metrics(y_true, scores):
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score
    prec, rec, thr = precision_recall_curve(y_true, scores)
    f1 = 2 * prec[:-1] * rec[:-1] / np.maximum(prec[:-1] + rec[:-1], 1e-300)
    t = round(float(thr[int(np.argmax(f1))]), 2)
    t = min(max(t, 0.01), 0.99)
    pred = scores >= t
    tp = int(np.sum(pred & (y_true == 1)))
    return {
        "roc_auc": round(float(roc_auc_score(y_true, scores)), 6),
        "pr_auc": round(float(average_precision_score(y_true, scores)), 6),
        "precision_at_threshold": round(tp / max(int(pred.sum()), 1), 6),
        "recall_at_threshold": round(tp / max(int((y_true == 1).sum()), 1), 6),
        "threshold": t,
    }


def _finish(folder: Path, name, fmt, artifact, description, y_test, test_scores, X_gold, gold_scores):
    m = metrics(y_test, test_scores)
    write_json(folder / "metrics.json", m)
    write_golden(folder / "golden.jsonl", X_gold, gold_scores)
    write_meta(folder, name, fmt, artifact, m["threshold"], description)
    print(f"{name:24s} roc_auc={m['roc_auc']:.4f} pr_auc={m['pr_auc']:.4f} "
          f"t={m['threshold']} p={m['precision_at_threshold']:.3f} r={m['recall_at_threshold']:.3f} "
          f"size={(folder / artifact).stat().st_size}")
    return m


# --------------------------------------------------------------------------
# edge-case rows (golden_edge.jsonl): split thresholds hit exactly, float32
# rounding, NaN/zero handling, odd categorical values. Scores still come from
# the library itself; the rows are held-out rows with ONE feature overwritten.
# --------------------------------------------------------------------------
CAT_ODD_VALUES = [-1.0, -0.5, -0.0, 0.5, 3.7, 19.5, 20.0, 25.0, 31.0, 32.0, 64.0, 1000.0, 3e9]


def edge_rows_xgb(model_path: Path, X_base, seed: int, categorical: bool):
    """50 rows at x == split_condition (goes RIGHT), 50 rows one double-ulp
    below it (rounds to the same Float32 -> still RIGHT), plus (categorical)
    odd category values and NaN."""
    rng = np.random.default_rng(seed)
    trees = json.loads(model_path.read_text())["learner"]["gradient_booster"]["model"]["trees"]
    rows = []
    for kind in ("tie", "below_f64"):
        while len(rows) < (50 if kind == "tie" else 100):
            t = trees[int(rng.integers(len(trees)))]
            nodes = [i for i, l in enumerate(t["left_children"]) if l != -1 and t["split_type"][i] == 0]
            if not nodes:
                continue
            n = nodes[int(rng.integers(len(nodes)))]
            c = float(np.float32(t["split_conditions"][n]))
            x = X_base[int(rng.integers(len(X_base)))].copy()
            x[t["split_indices"][n]] = c if kind == "tie" else float(np.nextafter(c, -np.inf))
            rows.append(x)
    if categorical:
        for v in CAT_ODD_VALUES + [math.nan]:
            for _ in range(4):
                x = X_base[int(rng.integers(len(X_base)))].copy()
                x[CAT_INDEX] = v
                rows.append(x)
    return np.array(rows)


def edge_rows_lgb(booster, X_base, seed: int, categorical: bool):
    """50 rows at x == threshold (goes LEFT), 50 rows one ulp above (RIGHT),
    NaN in features whose split has missing_type None (treated as 0.0),
    exact/signed zeros and tiny values (kZeroThreshold = 1e-35), plus
    (categorical) odd category values and NaN."""
    rng = np.random.default_rng(seed)
    nodes = []  # (feature, threshold, missing_type) of numerical splits

    def walk(node):
        if "split_index" not in node:
            return
        if node["decision_type"] == "<=":
            nodes.append((node["split_feature"], float(node["threshold"]), node["missing_type"]))
        walk(node["left_child"])
        walk(node["right_child"])

    for t in booster.dump_model()["tree_info"]:
        walk(t["tree_structure"])
    none_feats = sorted({f for f, _, m in nodes if m == "None"})
    rows = []
    for k in range(100):
        f, c, _ = nodes[int(rng.integers(len(nodes)))]
        x = X_base[int(rng.integers(len(X_base)))].copy()
        x[f] = c if k < 50 else float(np.nextafter(c, np.inf))
        rows.append(x)
    for k in range(30):
        x = X_base[int(rng.integers(len(X_base)))].copy()
        x[none_feats[k % len(none_feats)]] = math.nan
        rows.append(x)
    for k, v in enumerate([0.0, -0.0, 1e-36, -1e-36, 1e-35, 2e-35, 1e-30] * 4):
        f, _, _ = nodes[int(rng.integers(len(nodes)))]
        x = X_base[int(rng.integers(len(X_base)))].copy()
        x[f] = v
        rows.append(x)
    if categorical:
        for v in CAT_ODD_VALUES + [math.nan]:
            for _ in range(4):
                x = X_base[int(rng.integers(len(X_base)))].copy()
                x[CAT_INDEX] = v
                rows.append(x)
    return np.array(rows)


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------
def main() -> None:
    import lightgbm as lgb
    import pandas as pd
    import sklearn
    import xgboost as xgb
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    found = {"xgboost": xgb.__version__, "lightgbm": lgb.__version__, "sklearn": sklearn.__version__}
    if found != PINNED:
        sys.exit(f"version mismatch: want {PINNED}, have {found} "
                 f"(pip install -r models/requirements.txt)")

    X_tr, y_tr, r_tr, X_te, y_te, r_te = dataset()
    g = golden_indices(X_te, y_te)
    X_gold = X_te[g]
    print(f"rows train={len(y_tr)} test={len(y_te)} fraud_rate={np.mean(np.r_[y_tr, y_te]):.4f} "
          f"golden fraud={int(y_te[g].sum())} golden_with_nan={int(np.isnan(X_gold).any(axis=1).sum())}")

    # ---------------- logistic --------------------------------------------
    folder = MODELS_DIR / "fraud-logistic"
    pipe = Pipeline([
        ("impute", SimpleImputer(strategy="mean")),
        ("scale", StandardScaler()),
        ("clf", LogisticRegression(C=1.0, max_iter=5000, tol=1e-8)),
    ])
    pipe.fit(X_tr, y_tr)
    imp, sc, clf = pipe.named_steps["impute"], pipe.named_steps["scale"], pipe.named_steps["clf"]
    write_json(folder / "model.json", {
        "format": "logistic",
        "features": FEATURES,
        "coefficients": [float(c) for c in clf.coef_[0]],
        "intercept": float(clf.intercept_[0]),
        "scaler": {"mean": [float(v) for v in sc.mean_], "scale": [float(v) for v in sc.scale_]},
        "impute": [float(v) for v in imp.statistics_],
    })
    _finish(folder, "fraud-logistic", "logistic", "model.json",
            "Baseline: mean imputation + standard scaling + L2 logistic regression (scikit-learn).",
            y_te, pipe.predict_proba(X_te)[:, 1], X_gold, pipe.predict_proba(X_gold)[:, 1])

    # ---------------- xgboost ---------------------------------------------
    def xgb_train(params, X, y, rounds, categorical=False):
        base = {"nthread": 1, "seed": 0, "tree_method": "hist"}
        base.update(params)
        dm = xgb.DMatrix(_frame(X) if categorical else X, label=y, missing=np.nan,
                         feature_names=FEATURES, enable_categorical=categorical)
        return xgb.train(base, dm, num_boost_round=rounds)

    def xgb_predict(bst, X, categorical=False, margin=False):
        dm = xgb.DMatrix(_frame(X) if categorical else X, missing=np.nan,
                         feature_names=FEATURES, enable_categorical=categorical)
        return bst.predict(dm, output_margin=margin)

    def xgb_predict_raw(bst, X, categorical=False):
        # numpy input: the category value itself is the code (no re-coding), which
        # is the only way to feed odd values such as -1, 3.7 or 25.
        ft = ["c" if categorical and i == CAT_INDEX else "q" for i in range(len(FEATURES))]
        dm = xgb.DMatrix(X, missing=np.nan, feature_names=FEATURES, feature_types=ft,
                         enable_categorical=categorical)
        return bst.predict(dm)

    def xgb_edge(bst, folder, categorical, seed):
        X_edge = edge_rows_xgb(folder / "model.json", X_te, seed, categorical)
        if categorical:
            # A model trained on a DataFrame keeps its categories (cats), and a DataFrame of that
            # category type is how its users score it: a value outside 0..19 is no category, NaN.
            df = pd.DataFrame(X_edge, columns=FEATURES)
            df["merchant_category"] = pd.Categorical(df["merchant_category"], categories=list(range(N_CATEGORIES)))
            scores = bst.predict(xgb.DMatrix(df, missing=np.nan, feature_names=FEATURES, enable_categorical=True))
        else:
            scores = xgb_predict_raw(bst, X_edge, categorical)
        write_golden(folder / "golden_edge.jsonl", X_edge, scores)

    def _frame(X):
        df = pd.DataFrame(X, columns=FEATURES)
        mc = df["merchant_category"].to_numpy()
        codes = np.where(np.isnan(mc), -1, np.nan_to_num(mc, nan=-1)).astype(np.int64)
        # categories 0..19 in order, so category code == merchant_category value
        df["merchant_category"] = pd.Categorical.from_codes(codes, categories=list(range(N_CATEGORIES)))
        return df

    folder = MODELS_DIR / "fraud-xgboost"
    bst = xgb_train({"objective": "binary:logistic", "booster": "gbtree", "max_depth": 6,
                     "learning_rate": 0.1, "min_child_weight": 5, "reg_lambda": 5},
                    X_tr, y_tr, 200)
    folder.mkdir(parents=True, exist_ok=True)
    bst.save_model(str(folder / "model.json"))
    _finish(folder, "fraud-xgboost", "xgboost-json", "model.json",
            "XGBoost gbtree binary:logistic, 200 trees, depth 6, hist, trained with missing values.",
            y_te, xgb_predict(bst, X_te), X_gold, xgb_predict(bst, X_gold))
    xgb_edge(bst, folder, False, SEED + 10)

    folder = MODELS_DIR / "fraud-xgboost-large"
    bst = xgb_train({"objective": "binary:logistic", "booster": "gbtree", "max_depth": 8,
                     "learning_rate": 0.03, "max_cat_to_onehot": 1, "min_child_weight": 3,
                     "reg_lambda": 5},
                    X_tr, y_tr, 400, categorical=True)
    folder.mkdir(parents=True, exist_ok=True)
    bst.save_model(str(folder / "model.json"))
    _finish(folder, "fraud-xgboost-large", "xgboost-json", "model.json",
            "XGBoost gbtree binary:logistic, 400 trees, depth 8, merchant_category as a "
            "categorical feature (partition-based categorical splits).",
            y_te, xgb_predict(bst, X_te, True), X_gold, xgb_predict(bst, X_gold, True))
    xgb_edge(bst, folder, True, SEED + 11)

    # ---------------- lightgbm --------------------------------------------
    def lgb_train(params, X, y, rounds, categorical=False):
        base = {"num_threads": 1, "seed": 0, "deterministic": True, "force_row_wise": True,
                "verbose": -1}
        base.update(params)
        ds = lgb.Dataset(X, label=y, feature_name=FEATURES,
                         categorical_feature=[CAT_INDEX] if categorical else [],
                         free_raw_data=False)
        return lgb.train(base, ds, num_boost_round=rounds)

    folder = MODELS_DIR / "fraud-lightgbm"
    bst = lgb_train({"objective": "binary", "num_leaves": 31, "learning_rate": 0.05}, X_tr, y_tr, 150)
    folder.mkdir(parents=True, exist_ok=True)
    bst.save_model(str(folder / "model.txt"))
    _finish(folder, "fraud-lightgbm", "lightgbm-text", "model.txt",
            "LightGBM binary, 150 trees, 31 leaves, trained with missing values.",
            y_te, bst.predict(X_te), X_gold, bst.predict(X_gold))
    X_edge = edge_rows_lgb(bst, X_te, SEED + 12, False)
    write_golden(folder / "golden_edge.jsonl", X_edge, bst.predict(X_edge))

    folder = MODELS_DIR / "fraud-lightgbm-large"
    bst = lgb_train({"objective": "binary", "num_leaves": 127, "learning_rate": 0.02,
                     "min_data_in_leaf": 60, "lambda_l2": 10.0, "cat_smooth": 10,
                     "max_cat_to_onehot": 4},
                    X_tr, y_tr, 220, categorical=True)
    folder.mkdir(parents=True, exist_ok=True)
    bst.save_model(str(folder / "model.txt"))
    _finish(folder, "fraud-lightgbm-large", "lightgbm-text", "model.txt",
            "LightGBM binary, 220 trees, up to 127 leaves, merchant_category as a categorical "
            "feature (cat_boundaries/cat_threshold bitsets).",
            y_te, bst.predict(X_te), X_gold, bst.predict(X_gold))
    X_edge = edge_rows_lgb(bst, X_te, SEED + 13, True)
    write_golden(folder / "golden_edge.jsonl", X_edge, bst.predict(X_edge))

    # ---------------- compat: small models, other objectives ---------------
    Xg50 = X_gold[:N_GOLDEN_SMALL]
    compat = MODELS_DIR / "compat"
    small = {"booster": "gbtree", "max_depth": 3, "learning_rate": 0.3}

    def compat_xgb(name, objective, y, rounds, margin, output, extra=None):
        folder = compat / name
        params = dict(small, objective=objective, **(extra or {}))
        b = xgb_train(params, X_tr, y, rounds)
        folder.mkdir(parents=True, exist_ok=True)
        b.save_model(str(folder / "model.json"))
        write_golden(folder / "golden.jsonl", Xg50, xgb_predict(b, Xg50, margin=margin))
        write_meta(folder, name, "xgboost-json", "model.json", 0.5,
                   f"XGBoost 3.4.1 {objective}, {rounds} trees, depth {params['max_depth']}; "
                   f"golden score = {output}.")
        print(f"{name:24s} size={(folder / 'model.json').stat().st_size}")

    compat_xgb("xgboost-reg-logistic", "reg:logistic", y_tr, 10, False, "probability (sigmoid of margin)")
    compat_xgb("xgboost-binary-logitraw", "binary:logitraw", y_tr, 10, False, "raw margin (no sigmoid)")
    compat_xgb("xgboost-reg-squarederror", "reg:squarederror", r_tr, 10, False,
               "prediction (identity link) of a continuous latent-risk target")

    def compat_lgb(name, params, y, rounds, output):
        folder = compat / name
        b = lgb_train(params, X_tr, y, rounds)
        folder.mkdir(parents=True, exist_ok=True)
        b.save_model(str(folder / "model.txt"))
        write_golden(folder / "golden.jsonl", Xg50, b.predict(Xg50))
        if params.get("zero_as_missing"):
            X_edge = edge_rows_lgb(b, X_te, SEED + 14, False)
            write_golden(folder / "golden_edge.jsonl", X_edge, b.predict(X_edge))
        write_meta(folder, name, "lightgbm-text", "model.txt", 0.5,
                   f"LightGBM 4.7.0 {params['objective']}, {rounds} trees, "
                   f"{params['num_leaves']} leaves{', zero_as_missing=true' if params.get('zero_as_missing') else ''}; "
                   f"golden score = {output}.")
        print(f"{name:24s} size={(folder / 'model.txt').stat().st_size}")

    compat_lgb("lightgbm-regression", {"objective": "regression", "num_leaves": 8, "learning_rate": 0.2},
               r_tr, 10, "prediction (identity) of a continuous latent-risk target")
    compat_lgb("lightgbm-zero-as-missing", {"objective": "binary", "num_leaves": 8, "learning_rate": 0.2,
                                            "zero_as_missing": True},
               y_tr, 10, "probability; features use missing_type Zero (0 and NaN are both missing)")

    # ---------------- unsupported samples -----------------------------------
    uns = MODELS_DIR / "unsupported"
    uns.mkdir(parents=True, exist_ok=True)
    Xs, ys, rs = X_tr[:3000], y_tr[:3000], r_tr[:3000]
    y3 = np.digitize(rs, np.quantile(rs, [1 / 3, 2 / 3])).astype(np.int32)  # 3 classes
    xgb_train({"booster": "gblinear", "objective": "binary:logistic", "updater": "coord_descent"},
              Xs, ys, 5).save_model(str(uns / "xgboost-gblinear.json"))
    xgb_train({"booster": "dart", "objective": "binary:logistic", "max_depth": 2, "rate_drop": 0.1},
              Xs, ys, 5).save_model(str(uns / "xgboost-dart.json"))
    xgb_train({"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
              Xs, y3, 2).save_model(str(uns / "xgboost-multiclass.json"))
    lgb_train({"objective": "multiclass", "num_class": 3, "num_leaves": 4, "min_data_in_leaf": 50},
              Xs, y3, 1).save_model(str(uns / "lightgbm-multiclass.txt"))
    lgb_train({"objective": "binary", "linear_tree": True, "num_leaves": 4, "min_data_in_leaf": 50},
              Xs, ys, 3).save_model(str(uns / "lightgbm-linear-tree.txt"))
    # Early stopping keeps every tree and notes best_iteration: the scikit-learn wrapper then
    # predicts with fewer trees than Booster.predict, so Sentinel cannot tell which was meant.
    dm_tr = xgb.DMatrix(Xs[:2000], label=ys[:2000], feature_names=FEATURES)
    dm_va = xgb.DMatrix(Xs[2000:], label=ys[2000:], feature_names=FEATURES)
    xgb.train({"objective": "binary:logistic", "max_depth": 3, "learning_rate": 0.8, "nthread": 1, "seed": 0},
              dm_tr, num_boost_round=30, evals=[(dm_va, "valid")], early_stopping_rounds=2,
              verbose_eval=False).save_model(str(uns / "xgboost-early-stopped.json"))
    lgb_train({"objective": "binary", "boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.5,
               "num_leaves": 4, "min_data_in_leaf": 50}, Xs, ys, 3).save_model(str(uns / "lightgbm-random-forest.txt"))
    for p in sorted(uns.iterdir()):
        print(f"unsupported/{p.name:24s} size={p.stat().st_size}")

    # ---------------- compat: categories given by value (a DataFrame's) ----------
    # merchant_category 0..19 stands for these merchant category codes. A team trains on a
    # DataFrame whose category column holds the codes themselves; both libraries keep the list in
    # the artifact and re-code a DataFrame through it, so requests give the MCC (5411), not its
    # position. A code the model never saw is missing, as pandas codes it.
    mccs = [4111, 4121, 4511, 4722, 4812, 4829, 4900, 5311, 5411, 5541,
            5651, 5691, 5732, 5812, 5912, 5944, 5999, 6011, 6051, 7995]

    def by_value(X):
        X = X.copy()
        mc = X[:, CAT_INDEX]
        X[:, CAT_INDEX] = np.where(np.isnan(mc), np.nan, np.take(mccs, np.nan_to_num(mc, nan=0).astype(np.int64)))
        return X

    def mcc_frame(X):
        df = pd.DataFrame(X, columns=FEATURES)
        df["merchant_category"] = pd.Categorical(df["merchant_category"], categories=mccs)
        return df

    X_mcc_tr, X_mcc_gold = by_value(X_tr[:20000]), by_value(Xg50)
    # One row with a code the model was not trained on: scored as missing.
    unseen = X_mcc_gold[:1].copy()
    unseen[0, CAT_INDEX] = 9999
    unseen_as_missing = unseen.copy()
    unseen_as_missing[0, CAT_INDEX] = np.nan

    folder = compat / "xgboost-categories-by-value"
    b = xgb.train({"objective": "binary:logistic", "max_depth": 3, "learning_rate": 0.3, "nthread": 1,
                   "seed": 0, "tree_method": "hist", "max_cat_to_onehot": 1},
                  xgb.DMatrix(mcc_frame(X_mcc_tr), label=y_tr[:20000], enable_categorical=True), num_boost_round=10)
    folder.mkdir(parents=True, exist_ok=True)
    b.save_model(str(folder / "model.json"))
    scores = b.predict(xgb.DMatrix(mcc_frame(np.vstack([X_mcc_gold, unseen_as_missing])), enable_categorical=True))
    write_golden(folder / "golden.jsonl", np.vstack([X_mcc_gold, unseen]), scores)
    write_meta(folder, "xgboost-categories-by-value", "xgboost-json", "model.json", 0.5,
               "XGBoost 3.4.1 binary:logistic, 10 trees, depth 3, trained on a DataFrame whose "
               "merchant_category is a pandas category of merchant category codes (requests give the code).")
    print(f"{'xgboost-categories-by-value':24s} size={(folder / 'model.json').stat().st_size}")

    folder = compat / "lightgbm-categories-by-value"
    b = lgb.train({"objective": "binary", "num_leaves": 8, "learning_rate": 0.2, "num_threads": 1, "seed": 0,
                   "deterministic": True, "force_row_wise": True, "verbose": -1, "max_cat_to_onehot": 4},
                  lgb.Dataset(mcc_frame(X_mcc_tr), label=y_tr[:20000]), num_boost_round=10)
    folder.mkdir(parents=True, exist_ok=True)
    b.save_model(str(folder / "model.txt"))
    scores = b.predict(mcc_frame(np.vstack([X_mcc_gold, unseen_as_missing])))
    write_golden(folder / "golden.jsonl", np.vstack([X_mcc_gold, unseen]), scores)
    write_meta(folder, "lightgbm-categories-by-value", "lightgbm-text", "model.txt", 0.5,
               "LightGBM 4.7.0 binary, 10 trees, 8 leaves, trained on a DataFrame whose "
               "merchant_category is a pandas category of merchant category codes (requests give the code).")
    print(f"{'lightgbm-categories-by-value':24s} size={(folder / 'model.txt').stat().st_size}")


if __name__ == "__main__":
    main()
