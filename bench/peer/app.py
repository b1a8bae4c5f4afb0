"""The peer: the seed's design, as a team would deploy it (FastAPI + uvicorn + pydantic + XGBoost).

It answers the same requests as Sentinel's `POST /predict`, with the same response shape, so that
bench/serve.sh can drive both with one wrk script:

    POST /predict        {"features": {...30 features, null = missing...}, "model"?, "request_id"?}
                         -> {"request_id", "model", "version", "threshold", "score", "decision", "latency_us"}
    POST /predict/batch  {"instances": [{...}, ...], "model"?, "request_id"?}   (at most 1000)
                         -> {"request_id", "model", "version", "threshold", "predictions": [{"score", "decision"}], "latency_us"}
    GET  /healthz

Scoring is XGBoost's own: `Booster.predict(DMatrix)` (what most teams write), or
`Booster.inplace_predict` with PEER_PREDICT=inplace (about twice as fast per call here), one OpenMP
thread per worker process. There is no audit log: the peer records nothing, which only flatters it.

Environment: PEER_MODEL (artifact path, default models/fraud-xgboost/model.json), PEER_THRESHOLD
(default 0.06), PEER_VERSION (label echoed as "version", default v1), PEER_PREDICT (dmatrix|inplace).
Run: uvicorn app:app --app-dir bench/peer --workers 2 (bench/serve.sh does it, with OMP_NUM_THREADS=1).
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import numpy as np
import xgboost as xgb
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

ROOT = Path(__file__).resolve().parents[2]
MODEL_PATH = Path(os.environ.get("PEER_MODEL", ROOT / "models" / "fraud-xgboost" / "model.json"))
THRESHOLD = float(os.environ.get("PEER_THRESHOLD", "0.06"))
VERSION = os.environ.get("PEER_VERSION", "v1")
MODEL_NAME = "fraud"
PREDICT_MODE = os.environ.get("PEER_PREDICT", "dmatrix")
MAX_BATCH = 1000


class Transaction(BaseModel):
    """The 30 features the model reads; every one must be present (null for missing), no other."""

    model_config = ConfigDict(extra="forbid")

    amount: float | None
    hour_of_day: float | None
    day_of_week: float | None
    merchant_category: float | None
    mcc_risk: float | None
    txn_count_1h: float | None
    txn_count_24h: float | None
    amount_sum_24h: float | None
    amount_to_avg_7d: float | None
    distance_from_home_km: float | None
    distance_from_last_txn_km: float | None
    seconds_since_last_txn: float | None
    is_foreign: float | None
    is_online: float | None
    is_card_present: float | None
    is_new_merchant: float | None
    device_risk_score: float | None
    ip_risk_score: float | None
    email_domain_risk: float | None
    failed_logins_24h: float | None
    past_chargebacks: float | None
    account_age_days: float | None
    card_age_days: float | None
    customer_age: float | None
    credit_limit: float | None
    utilization: float | None
    avg_ticket_90d: float | None
    declined_count_7d: float | None
    billing_shipping_mismatch: float | None
    velocity_score: float | None


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    features: Transaction
    model: str | None = None
    request_id: str | None = Field(default=None, min_length=1, max_length=128)


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instances: list[Transaction] = Field(min_length=1, max_length=MAX_BATCH)
    model: str | None = None
    request_id: str | None = Field(default=None, min_length=1, max_length=128)


class PredictResponse(BaseModel):
    request_id: str
    model: str
    version: str
    threshold: float
    score: float
    decision: str
    latency_us: int


class Prediction(BaseModel):
    score: float
    decision: str


class BatchResponse(BaseModel):
    request_id: str
    model: str
    version: str
    threshold: float
    predictions: list[Prediction]
    latency_us: int


booster = xgb.Booster(model_file=str(MODEL_PATH))
booster.set_param({"nthread": 1})
FEATURES = list(Transaction.model_fields)
if booster.feature_names != FEATURES:
    raise SystemExit(f"{MODEL_PATH}: the model's features are not the Transaction fields")


def scores(transactions: list[Transaction]) -> np.ndarray:
    rows = np.array([[np.nan if (v := getattr(t, name)) is None else v for name in FEATURES] for t in transactions])
    if PREDICT_MODE == "inplace":
        return booster.inplace_predict(rows, missing=np.nan)
    return booster.predict(xgb.DMatrix(rows, missing=np.nan, feature_names=FEATURES))


def decision(score: float) -> str:
    return "fraud" if score >= THRESHOLD else "legit"


app = FastAPI(title="peer: FastAPI + XGBoost")


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


# `async def`: scoring runs on the event loop. With plain `def` FastAPI hands every request to its
# thread pool, which measured about 3x slower here (16 connections, 2 workers), so the peer gets the
# faster of the two.
@app.post("/predict", response_model=PredictResponse)
async def predict(request: PredictRequest) -> PredictResponse:
    started = time.perf_counter()
    score = float(scores([request.features])[0])
    return PredictResponse(
        request_id=request.request_id or str(uuid.uuid4()), model=MODEL_NAME, version=VERSION,
        threshold=THRESHOLD, score=score, decision=decision(score),
        latency_us=int((time.perf_counter() - started) * 1e6),
    )


@app.post("/predict/batch", response_model=BatchResponse)
async def predict_batch(request: BatchRequest) -> BatchResponse:
    started = time.perf_counter()
    values = scores(request.instances)
    return BatchResponse(
        request_id=request.request_id or str(uuid.uuid4()), model=MODEL_NAME, version=VERSION,
        threshold=THRESHOLD, predictions=[Prediction(score=float(s), decision=decision(float(s))) for s in values],
        latency_us=int((time.perf_counter() - started) * 1e6),
    )
