"""The canonical JSON codec and the records built on it: the bytes are the on-disk format
and the input of hashes (config_hash, object ids), so they must never change.  The golden
values below were produced by the code that preceded the codec (``lambdaver.storage``)."""

from __future__ import annotations

import hashlib
import json

import pytest

from lambdaver.model.config import FunctionConfig
from lambdaver.model.records import AliasState, VersionRecord
from lambdaver.runtime.journal import Journal
from lambdaver.storage import canonical_bytes, canonical_json

CFG_ENV = FunctionConfig(
    runtime="python3.12",
    handler="app.handler",
    memory_size=256,
    timeout=30,
    description="café ✓",
    environment={"ZED": "1", "ALPHA": "naïve", "MID": "\u2028"},
)
CFG_PLAIN = FunctionConfig(runtime="python3.11")

GOLDEN_CONFIGS = [
    (
        CFG_ENV,
        b'{"description":"caf\xc3\xa9 \xe2\x9c\x93","environment":{"ALPHA":"na\xc3\xafve",'
        b'"MID":"\xe2\x80\xa8","ZED":"1"},"handler":"app.handler","memory_size":256,'
        b'"runtime":"python3.12","timeout":30}',
        "13db19d31990904062945cb9632f6aed49aaf3adaa1d2b3bebb4b430d4705e41",
    ),
    (
        CFG_PLAIN,
        b'{"description":"","handler":"app.handler","memory_size":128,"runtime":"python3.11",'
        b'"timeout":3}',
        "a55928e227eae0d591828c0e3571e13e513838260efe5d4c69990a1718638cdc",
    ),
]


@pytest.mark.parametrize(("config", "data", "digest"), GOLDEN_CONFIGS)
def test_configuration_bytes_and_hash_are_unchanged(
    config: FunctionConfig, data: bytes, digest: str
) -> None:
    assert config.canonical_bytes() == data
    assert hashlib.sha256(data).hexdigest() == digest
    assert FunctionConfig.from_record(json.loads(data)) == config


REC_ENV = VersionRecord(
    version="12",
    tree="ab" * 32,
    config_hash=GOLDEN_CONFIGS[0][2],
    config=CFG_ENV,
    description="version «twelve»",
    code_sha256="q9T2JKQJBQ+7/tAivxxXVurIUdE8EOSjggqf62kIs80=",
    code_size=359,
    last_modified="2026-12-03T23:47:12.984+0000",
    revision_id="4d638f7a-1965-46e8-8e13-3cba2f8a2aa7",
)
REC_PLAIN = VersionRecord(
    "1",
    "cd" * 32,
    GOLDEN_CONFIGS[1][2],
    CFG_PLAIN,
    "",
    "Sqfm3D0ZeSI+CHrxofjeuCG89Y6viCVeVI/gomD2dH0=",
    0,
    "2026-01-01T00:00:00.000+0000",
    "559c6c02-a75f-42f1-b997-ad6708f0c527",
)
GOLDEN_VERSIONS = [
    (
        REC_ENV,
        '{"code_sha256":"q9T2JKQJBQ+7/tAivxxXVurIUdE8EOSjggqf62kIs80=","code_size":359,'
        '"config":{"description":"café ✓","environment":{"ALPHA":"naïve","MID":"\u2028",'
        '"ZED":"1"},"handler":"app.handler","memory_size":256,"runtime":"python3.12",'
        '"timeout":30},"config_hash":'
        '"13db19d31990904062945cb9632f6aed49aaf3adaa1d2b3bebb4b430d4705e41",'
        '"description":"version «twelve»","last_modified":"2026-12-03T23:47:12.984+0000",'
        '"revision_id":"4d638f7a-1965-46e8-8e13-3cba2f8a2aa7","tree":'
        '"abababababababababababababababababababababababababababababababab","version":"12"}',
    ),
    (
        REC_PLAIN,
        '{"code_sha256":"Sqfm3D0ZeSI+CHrxofjeuCG89Y6viCVeVI/gomD2dH0=","code_size":0,'
        '"config":{"description":"","handler":"app.handler","memory_size":128,'
        '"runtime":"python3.11","timeout":3},"config_hash":'
        '"a55928e227eae0d591828c0e3571e13e513838260efe5d4c69990a1718638cdc",'
        '"description":"","last_modified":"2026-01-01T00:00:00.000+0000",'
        '"revision_id":"559c6c02-a75f-42f1-b997-ad6708f0c527","tree":'
        '"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd","version":"1"}',
    ),
]


@pytest.mark.parametrize(("record", "text"), GOLDEN_VERSIONS)
def test_version_record_json_is_unchanged(record: VersionRecord, text: str) -> None:
    assert record.to_json() == text
    assert VersionRecord.from_json(text) == record


ALIAS_WEIGHTED = AliasState(
    name="prod",
    version="2",
    description="prêt",
    weights={"3": 0.25},
    revision_id="f568005d-4203-49f7-9e6c-80ba85e15823",
)
ALIAS_LATEST = AliasState("live", "$LATEST", "", {}, "00a5e85e-c12c-4b4b-b16d-2b9814080b00")
GOLDEN_ALIASES = [
    (
        ALIAS_WEIGHTED,
        '{"description":"prêt","name":"prod","revision_id":"f568005d-4203-49f7-9e6c-80ba85e15823",'
        '"version":"2","weights":{"3":0.25}}',
    ),
    (
        ALIAS_LATEST,
        '{"description":"","name":"live","revision_id":"00a5e85e-c12c-4b4b-b16d-2b9814080b00",'
        '"version":"$LATEST","weights":{}}',
    ),
]


@pytest.mark.parametrize(("state", "text"), GOLDEN_ALIASES)
def test_alias_state_json_is_unchanged(state: AliasState, text: str) -> None:
    assert state.to_json() == text
    assert AliasState.from_json(text) == state


def test_a_promotion_is_logged_as_before() -> None:
    """The alias log's entry of a promotion: the state plus ``promoted_from``, sorted."""
    logged = canonical_json({**json.loads(ALIAS_WEIGHTED.to_json()), "promoted_from": "3"})
    assert logged == (
        '{"description":"prêt","name":"prod","promoted_from":"3",'
        '"revision_id":"f568005d-4203-49f7-9e6c-80ba85e15823","version":"2","weights":{"3":0.25}}'
    )


def test_journal_lines_are_unchanged(tmp_path: str) -> None:
    """Journal lines escape non-ASCII (and so carry any lone surrogate of a log)."""
    Journal(tmp_path).append(
        {
            "RequestId": "r1",
            "Time": "2026-12-03T23:47:12.984+0000",
            "Qualifier": None,
            "ExecutedVersion": "$LATEST",
            "DurationMs": 1.25,
            "BilledDurationMs": 2,
            "MaxMemoryUsedMB": 20,
            "ErrorType": None,
            "Log": "héllo\n\udcff",
        }
    )
    with open(f"{tmp_path}/journal.jsonl", "rb") as f:
        assert f.read() == (
            b'{"BilledDurationMs":2,"DurationMs":1.25,"ErrorType":null,"ExecutedVersion":'
            b'"$LATEST","Log":"h\\u00e9llo\\n\\udcff","MaxMemoryUsedMB":20,"Qualifier":null,'
            b'"RequestId":"r1","Time":"2026-12-03T23:47:12.984+0000"}\n'
        )


def test_the_codec_sorts_its_own_input() -> None:
    assert canonical_bytes({"b": {"z": 1, "a": [2, {"y": 0, "x": None}]}, "a": "é"}) == (
        '{"a":"é","b":{"a":[2,{"x":null,"y":0}],"z":1}}'.encode()
    )
    assert canonical_bytes({"a": "é"}, ascii=True) == b'{"a":"\\u00e9"}'
