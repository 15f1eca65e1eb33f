"""The simulator's script files: actors and behaviours, clear errors, any input handled."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alertsvc.testing.sim_script import VIAS, Actor, ScriptError, load_script, parse_script


def test_actors_and_behaviours_load_from_json_and_toml(tmp_path: Path) -> None:
    doc = {
        "+819000000001": {"via": "sms", "answer": "1", "delay_s": 0.5},
        "+819000000002": {"via": "keypress", "answer": "2"},
        "+819000000003": {"via": "page", "answer": "safe"},
        "+819000000004": {"via": "never"},
        "+819000000005": {"via": "unreachable"},
        "+819000000006": {"via": "page", "people": {"NG00012": "cannot_reach"}},
        "tok": "dead_token",
    }
    expected = {
        "+819000000001": Actor("sms", "1", 0.5),
        "+819000000002": Actor("keypress", "2"),
        "+819000000003": Actor("page", "safe"),
        "+819000000004": Actor("never"),
        "+819000000005": Actor("unreachable"),
        "+819000000006": Actor("page", people={"NG00012": "cannot_reach"}),
        "tok": "dead_token",
    }
    path = tmp_path / "script.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert load_script(path) == expected
    toml = tmp_path / "script.toml"
    toml.write_text(
        '"+819000000001" = { via = "sms", answer = "1", delay_s = 0.5 }\n'
        '"+819000000006" = { via = "page", people = { NG00012 = "cannot_reach" } }\n'
        'tok = "dead_token"\n',
        encoding="utf-8",
    )
    assert load_script(toml) == {k: expected[k] for k in ("+819000000001", "+819000000006", "tok")}


@pytest.mark.parametrize(
    ("entry", "field", "words"),
    [
        ({"via": "fax"}, "via", "expected one of"),
        ({"via": "sms"}, "answer", "needs an answer"),
        ({"via": "keypress", "answer": "yes"}, "answer", "0-9"),
        ({"via": "sms", "answer": "1", "delay_s": -1}, "delay_s", "0 to"),
        ({"via": "sms", "answer": "1", "delay_s": "soon"}, "delay_s", "number"),
        ({"via": "sms", "answer": 1}, "answer", "text"),
        ({"via": "never", "answer": "1"}, "answer", "no answer"),
        ({"via": "sms", "answer": "1", "people": {"NG1": "safe"}}, "people", "page"),
        ({"via": "page", "people": {"NG1": ""}}, "people", "person -> answer"),
        ({"via": "sms", "answer": "1", "when": 3}, "when", "unknown field"),
    ],
)
def test_a_bad_entry_names_file_entry_and_field(
    tmp_path: Path, entry: dict[str, Any], field: str, words: str
) -> None:
    path = tmp_path / "script.json"
    path.write_text(json.dumps({"+819000000001": {"via": "never"}, "+819000000009": entry}))
    with pytest.raises(ScriptError) as err:
        load_script(path)
    message = str(err.value)
    assert str(path) in message
    assert "'+819000000009'" in message
    assert f"field '{field}'" in message
    assert words in message
    assert (err.value.entry, err.value.field) == ("+819000000009", field)


def test_unknown_behaviour_and_broken_files(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"+819000000001": "explode"}))
    with pytest.raises(ScriptError, match=r"s\.json: entry '\+819000000001': unknown behaviour"):
        load_script(path)
    path.write_text("{not json")
    with pytest.raises(ScriptError, match="not valid"):
        load_script(path)
    path.write_text("[1, 2]")
    with pytest.raises(ScriptError, match="expected an object"):
        load_script(path)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
_entry = st.fixed_dictionaries(
    {},
    optional={
        "via": st.sampled_from([*VIAS, "fax"]) | _json,
        "answer": st.text(max_size=10) | _json,
        "delay_s": st.floats(allow_nan=True) | st.integers() | _json,
        "people": st.dictionaries(st.text(max_size=5), st.text(max_size=5) | _json, max_size=3),
        "extra": _json,
    },
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=12), _entry | st.text(max_size=12) | _json, max_size=4))
def test_any_document_parses_or_raises_script_error(doc: dict[str, Any]) -> None:
    try:
        script = parse_script(doc, "f.json")
    except ScriptError as exc:
        assert str(exc).startswith("f.json")
        return
    # what parses is usable as is, and reads back from its own file form
    for address, entry in script.items():
        assert address
        if isinstance(entry, Actor):
            assert parse_script({address: entry.as_dict()}) == {address: entry}


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(VIAS),
    st.text(alphabet="0123456789*#", min_size=1, max_size=8),
    st.floats(min_value=0, max_value=3600),
    st.dictionaries(st.text(min_size=1, max_size=6), st.text(min_size=1, max_size=6), max_size=3),
)
def test_valid_actors_round_trip(
    via: Any, answer: str, delay: float, people: dict[str, str]
) -> None:
    try:
        actor = Actor(via, "" if via in ("never", "unreachable") else answer, delay,
                      people if via == "page" else {})  # fmt: skip
    except ValueError:
        pytest.fail("a well-formed actor was refused")
    assert parse_script({"+819000000001": actor.as_dict()}) == {"+819000000001": actor}
