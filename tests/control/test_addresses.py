"""The OSC address table: consistent, strict about values, and the single source of the docs, the
OSCQuery tree and every address the patches in patches/ use."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from liveai.control.addresses import ADDRESSES, PARAMS, PARTS, TABLE, TOPICS, check_args, parse_args
from liveai.control.reference import markdown
from liveai.control.oscquery import tree

PATCHES = Path(__file__).resolve().parents[2] / "patches"
# An address in running text; one followed by "/<" is a placeholder such as /liveai/get/<name>.
ADDRESS_RE = re.compile(r"(?<![\w/])(/liveai(?:/[A-Za-z0-9_]+)*)(/<)?")


def test_table_is_consistent():
    paths = [a.path for a in TABLE]
    assert len(paths) == len(set(paths))
    for a in TABLE:
        assert a.path.startswith("/liveai/") and re.fullmatch(r"[/a-z_]+", a.path), a.path
        assert set(a.types) <= set("ifs"), a.path  # only int, float and string, ever
        assert a.direction in ("in", "out", "both") and a.doc
        optional = [x.optional for x in a.args]
        assert optional == sorted(optional), f"{a.path}: optional arguments must come last"
    for part in ("bass", "tenor", "alto"):
        for what in ("mute", "volume", "channel", "octave", "note"):
            assert f"/liveai/{part}/{what}" in ADDRESSES
    for must in ("transport", "tempo", "meter", "mode", "generator", "temperature", "density", "energy", "style",
                 "keylock", "position", "key", "chord"):
        assert f"/liveai/{must}" in ADDRESSES
    for must in ("start", "stop", "panic", "ping", "status", "record/start", "record/stop", "listen", "unlisten",
                 "listen/notes", "error", "pong"):
        assert f"/liveai/{must}" in ADDRESSES


def test_every_parameter_has_get_listen_unlisten_and_a_valid_example():
    for p in PARAMS:
        for verb in ("get", "listen", "unlisten"):
            assert f"/liveai/{verb}/{p.name}" in ADDRESSES
        if p.writable:
            assert ADDRESSES[p.path].direction == "both"
            assert check_args(p.path, p.example) == "", p.name
        else:
            assert ADDRESSES[p.path].direction == "out"
    assert set(TOPICS) == {p.name for p in PARAMS} | {"notes"}
    for a in TABLE:
        if a.incoming:
            assert check_args(a.path, a.example) == "", a.path


@pytest.mark.parametrize("path,args,want", [
    ("/liveai/bass/channel", (5.0,), (5,)),  # Pure Data: every number is a float
    ("/liveai/tempo", (120,), (120.0,)),
    ("/liveai/mode", (0,), ("accompany",)),  # TouchDesigner CHOP: the choice's index
    ("/liveai/mode", ("accompany",), ("accompany",)),
    ("/liveai/get/tempo", (), ()),
    ("/liveai/get/tempo", (9001.0,), (9001,)),
    ("/liveai/panic", (None,), ()),  # an OSC nil/impulse argument
    ("/liveai/meter", (6, 8), (6, 8)),
    ("/liveai/record/start", (), ()),
])
def test_parse_accepts_and_converts(path, args, want):
    got = parse_args(path, args)
    assert got == want and [type(x) for x in got] == [type(x) for x in want]


@pytest.mark.parametrize("path,args", [
    ("/liveai/tempo", (19.9,)), ("/liveai/tempo", (math.inf,)), ("/liveai/tempo", (math.nan,)),
    ("/liveai/tempo", (True,)), ("/liveai/tempo", ("120",)), ("/liveai/tempo", ()), ("/liveai/tempo", (1.0, 2.0)),
    ("/liveai/bass/channel", (5.5,)), ("/liveai/bass/channel", (0,)), ("/liveai/mode", ("polka",)),
    ("/liveai/mode", (3.5,)), ("/liveai/meter", (3, 3)), ("/liveai/keylock", (12,)), ("/liveai/ping", ("x",)),
    ("/liveai/player/note", (60,)), ("/liveai/bass/volume", (-0.1,)),
])
def test_parse_rejects_with_a_reason(path, args):
    with pytest.raises(ValueError) as e:
        parse_args(path, args)
    assert str(e.value)
    assert check_args(path, args) == str(e.value)


def test_the_osc_reference_is_generated_from_the_table_and_up_to_date():
    doc = (PATCHES / "OSC.md").read_text()
    assert doc == markdown(), "patches/OSC.md is stale: python -m liveai.control.reference --markdown > patches/OSC.md"
    for a in TABLE:
        assert f"`{a.path}`" in doc


def test_oscquery_tree_lists_every_address_with_type_and_range():
    root = tree({"/liveai/tempo": (133.0,)})
    for a in TABLE:
        node = root
        for name in a.path.strip("/").split("/"):
            node = node["CONTENTS"][name]
        assert node["FULL_PATH"] == a.path
        required = [x for x in a.args if not x.optional]
        assert node["TYPE"] == ("".join(x.type for x in required) or "N")
        assert len(node["RANGE"]) == len(required)
        for x, r in zip(required, node["RANGE"]):
            if x.choices:
                assert r == {"VALS": list(x.choices)}
            elif x.range:
                assert (r["MIN"], r["MAX"]) == x.range
            else:
                assert r is None
        assert node["ACCESS"] == {"in": 2, "out": 1, "both": 3}[a.direction]
        assert node["DESCRIPTION"]
    tempo = root["CONTENTS"]["liveai"]["CONTENTS"]["tempo"]
    assert tempo["VALUE"] == [133.0] and tempo["RANGE"] == [{"MIN": 20.0, "MAX": 400.0}]
    json.dumps(root)  # plain JSON


# ---------------------------------------------------------------------- patches/
def pd_addresses(text: str) -> set[str]:
    """Addresses a Pd patch sends ([oscformat a b c] is /a/b/c) or names in comments."""
    found = {"/" + "/".join(m.group(1).split()) for m in re.finditer(r"\boscformat ([^;\\]*?)\s*;", text)}
    return found | text_addresses(text)


def text_addresses(text: str) -> set[str]:
    return {m.group(1) for m in ADDRESS_RE.finditer(text) if not m.group(2)}


def maxpat_addresses(path: Path) -> set[str]:
    doc = json.loads(path.read_text())
    found: set[str] = set()

    def walk(patcher: dict) -> None:
        for b in patcher.get("boxes", []):
            box = b["box"]
            found.update(text_addresses(box.get("text", "")))
            if "patcher" in box:
                walk(box["patcher"])
    walk(doc["patcher"])
    return found


def patch_files():
    return sorted(p for p in PATCHES.rglob("*") if p.is_file())


def addresses_in(p: Path) -> set[str]:
    if p.suffix == ".pd":
        return pd_addresses(p.read_text())
    if p.suffix == ".maxpat":
        return maxpat_addresses(p)
    return text_addresses(p.read_text())


def test_every_address_used_in_patches_exists_in_the_table():
    files = patch_files()
    assert {p.name for p in files} >= {"liveai.pd", "liveai.maxpat", "OSC.md", "README.md", "liveai_callbacks.py"}
    for p in files:
        unknown = sorted(addresses_in(p) - set(ADDRESSES))
        assert not unknown, f"{p.relative_to(PATCHES)} uses addresses that are not in liveai/control/addresses.py: {unknown}"


def test_the_patches_cover_the_controls():
    pd = addresses_in(PATCHES / "liveai.pd")
    mx = addresses_in(PATCHES / "liveai.maxpat")
    for used in (pd, mx):
        for must in ("tempo", "mode", "transport", "panic", "meter", "generator", "temperature", "density", "energy",
                     "style", "keylock", "record/start", "record/stop", "ping", "status"):
            assert f"/liveai/{must}" in used, must
        for part in PARTS:
            for what in ("mute", "volume", "octave", "channel"):
                assert f"/liveai/{part}/{what}" in used
    assert {f"/liveai/{p}/note" for p in PARTS} <= mx  # the Max note receiver routes every part


def test_the_address_scanner_finds_what_it_should():
    assert pd_addresses("#X obj 1 2 oscformat liveai bass mute;\n#X text 1 2 see /liveai/get/<name>;") == {
        "/liveai/bass/mute"}
    assert text_addresses("send `/liveai/tempo` and /liveai/nope/x") == {"/liveai/tempo", "/liveai/nope/x"}
