"""Style files: every built-in parses; a user's file from the README works; malformed files get
errors that name the style, the field path and the line."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from liveai.band.style import StyleError, builtin_names, load_style, parse_grid, parse_style

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_builtin_style_parses_and_plays_4_4_and_3_4_or_names_a_fallback():
    names = builtin_names()
    assert names[:8] == ["chorale", "pop", "rock", "ballad", "waltz", "swing", "bossa", "duo"]
    for n in names:
        s = load_style(n)
        assert s.description
        if s.chorale:
            continue
        assert len(s.variations) >= 2 and s.variations[0].energy < s.variations[-1].energy
        for m in ("4/4", "3/4"):
            if m not in s.meters:
                assert s.fallback and m in load_style(s.fallback).meters, (n, m)
                assert "only" in s.description  # a 4/4-only style says so


def test_grid_cells_are_16ths_8ths_or_quarters():
    assert parse_grid("x..x ..x.", "4/4", 1, set("x.")).size == 2
    assert parse_grid("x...|x...|x...|x...", "4/4", 1, set("x.")).size == 1
    assert parse_grid("x.x", "3/4", 1, set("x.")).size == 4
    with pytest.raises(ValueError, match="has 7 cells"):
        parse_grid("x......", "4/4", 1, set("x."))


def readme_style() -> str:
    text = README.read_text()
    m = re.search(r"```toml\n(# my-band\.toml.*?)```", text, re.S)
    assert m, "the README has a style file example starting with '# my-band.toml'"
    return m.group(1)


def test_the_readme_style_file_loads(tmp_path):
    p = tmp_path / "my-band.toml"
    p.write_text(readme_style())
    s = load_style(str(p))
    assert s.name == "my-band" and {"bass", "comp"} <= set(s.parts)
    assert s.variations[0].grid("drums.kick", "4/4") is not None


GOOD = """
name = "t"
meters = ["4/4"]
[parts.bass]
range = [28, 52]
[variations.sparse]
bass = { "4/4" = "R-------" }
[variations.full]
energy = 0.7
bass = { "4/4" = "R-5-R-5-" }
"""


@pytest.mark.parametrize("bad, field, line, why", [
    (GOOD.replace('"R-5-R-5-"', '"R-5-R-5"'), r"variations\.full\.bass\[4/4\]", 10, "has 7 cells"),
    (GOOD.replace("range = [28, 52]", 'range = [28, 30]'), r"parts\.bass\.range", 5, "narrower than an octave"),
    (GOOD.replace('energy = 0.7', 'energy = "high"'), r"variations\.full\.energy", 9, "expects a number"),
    (GOOD.replace('"R-5-R-5-"', '"R-5-Q-5-"'), r"variations\.full\.bass\[4/4\]", 10, "not a grid symbol"),
    (GOOD + '\n[variations.full.drums]\ncowbel = { "4/4" = "x......." }\n', r"variations\.full\.drums\.cowbel", 13,
     "unknown drum instrument"),
])
def test_malformed_style_files_get_clear_errors(bad, field, line, why):
    with pytest.raises(StyleError) as e:
        parse_style(bad, "t")
    msg = str(e.value)
    assert msg.startswith("style 't': ")
    assert re.search(field, msg), msg
    assert f"(line {line})" in msg, msg
    assert why in msg, msg


def test_toml_syntax_errors_name_the_line():
    with pytest.raises(StyleError, match=r"style 't': not valid TOML: .*line 3"):
        parse_style('name = "t"\nmeters = ["4/4"]\n[parts.bass\n', "t")


def test_unknown_names_and_missing_files_are_clear(tmp_path):
    with pytest.raises(StyleError, match="unknown band style 'polka'; built-in: chorale, pop"):
        load_style("polka")
    with pytest.raises(StyleError, match="does not exist"):
        load_style(str(tmp_path / "none.toml"))


def test_a_fallback_that_names_no_style_is_an_error_at_load_and_a_lost_one_is_said_once(tmp_path, caplog):
    """Issue 29 item 6: a fallback naming no style loaded, then logged the same warning on every
    bar (272 times). Now: one clear error naming the file, the key and the value; a fallback file
    that disappears after loading is warned about once."""
    import logging

    from liveai.band.generator import BandGenerator
    p = tmp_path / "mine.toml"
    text = GOOD.replace('meters = ["4/4"]', 'meters = ["4/4"]\nfallback = "nosuch"')
    p.write_text(text)
    with pytest.raises(StyleError, match=r"band style file .*mine.toml: style 't': fallback \(line 4\): 'nosuch' names no style \(built-in: chorale"):
        load_style(str(p))
    (tmp_path / "waltzy.toml").write_text(GOOD.replace('name = "t"', 'name = "waltzy"'))
    p.write_text(text.replace('"nosuch"', '"waltzy.toml"'))
    style = load_style(str(p))  # a file beside it is a style
    assert style.fallback == "waltzy.toml"

    def gone(name):
        raise StyleError(f"band style file {name} does not exist")
    band = BandGenerator(style, resolve=gone)
    with caplog.at_level(logging.WARNING, logger="liveai.band.generator"):
        for _ in range(50):
            assert band._style_for(12) == (style, None)  # 3/4: not in the style, the fallback is gone
    assert sum("fallback unavailable" in r.getMessage() for r in caplog.records) == 1


WALTZY = """
name = "waltzy"
meters = ["3/4"]
[parts.bass]
range = [28, 52]
[variations.sparse]
bass = { "3/4" = "R-----" }
[variations.full]
energy = 0.7
bass = { "3/4" = "R-5-5-" }
"""


def test_a_fallback_file_beside_the_style_plays_from_any_folder_and_is_read_once(tmp_path, monkeypatch, caplog):
    """Issue 29 item 6: a fallback "waltzy.toml" beside mine.toml passed the check at load but was
    looked for in the current folder at play time (run from elsewhere: "fallback unavailable"),
    and the path fallback was read again on every step. Now it is found beside the style file,
    from any folder, and read once: deleting it after the first 3/4 bar changes nothing."""
    import logging

    from liveai.band.generator import BandGenerator
    st, elsewhere = tmp_path / "st", tmp_path / "elsewhere"
    st.mkdir(), elsewhere.mkdir()
    (st / "mine.toml").write_text(GOOD.replace('meters = ["4/4"]', 'meters = ["4/4"]\nfallback = "waltzy.toml"'))
    (st / "waltzy.toml").write_text(WALTZY)
    monkeypatch.chdir(elsewhere)
    style = load_style("../st/mine.toml")
    band = BandGenerator(style)
    with caplog.at_level(logging.WARNING, logger="liveai.band.generator"):
        fb, m = band._style_for(12)  # 3/4: the style lacks it, its fallback plays
        assert (fb.name, m) == ("waltzy", "3/4")
        (st / "waltzy.toml").unlink()
        for _ in range(50):
            assert band._style_for(12) == (fb, "3/4")
        assert band._style_for(16) == (style, "4/4")
    assert not [r.getMessage() for r in caplog.records if "fallback" in r.getMessage()]
    with pytest.raises(StyleError, match=r"mine.toml: style 't': fallback \(line 4\): 'waltzy.toml' names no style"):
        load_style("../st/mine.toml")  # now gone: said at load, naming the file, the key and the value


def test_a_fallback_path_is_read_beside_the_style_before_the_current_folder(tmp_path, monkeypatch):
    """One answer for load and play (fallback_source): beside the style file first; a path that
    is only under the current folder still works, as it did; an absolute path is itself."""
    from liveai.band.style import fallback_source
    st, here = tmp_path / "st", tmp_path / "here"
    (st / "sub").mkdir(parents=True), (here / "sub").mkdir(parents=True)
    monkeypatch.chdir(here)
    mine = str(st / "mine.toml")
    (here / "sub" / "w.toml").write_text(WALTZY.replace('"waltzy"', '"cwd"'))
    assert fallback_source("sub/w.toml", mine) == "sub/w.toml"  # only here: read from here
    (st / "sub" / "w.toml").write_text(WALTZY.replace('"waltzy"', '"beside"'))
    assert fallback_source("sub/w.toml", mine) == str(st / "sub" / "w.toml")  # beside wins
    assert fallback_source("none.toml", mine) == str(st / "none.toml")  # missing: where it was looked for
    assert fallback_source(str(st / "sub" / "w.toml"), "") == str(st / "sub" / "w.toml")
    assert fallback_source("waltz", mine) == "waltz"
    (st / "mine.toml").write_text(GOOD.replace('meters = ["4/4"]', 'meters = ["4/4"]\nfallback = "sub/w.toml"'))
    from liveai.band.generator import BandGenerator
    assert BandGenerator(load_style(mine))._style_for(12)[0].name == "beside"
