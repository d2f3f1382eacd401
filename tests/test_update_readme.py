"""tools/update_readme.py: generated README blocks are copied from their files, whole or one
marked part, a missing file leaves a placeholder naming its command, and the repository's
README is up to date."""

import pytest

from tools import update_readme


@pytest.fixture
def sources(tmp_path, monkeypatch):
  monkeypatch.setattr(update_readme, "ROOT", tmp_path)
  monkeypatch.setattr(
    update_readme,
    "SECTIONS",
    {
      "whole": update_readme.Source("whole.md", "python -m make_whole"),
      "part": update_readme.Source("long.md", "python -m make_long", part="summary"),
      "absent": update_readme.Source("absent.md", "python -m make_absent"),
    },
  )
  (tmp_path / "whole.md").write_text("| a | 1 |\n\n\n")
  (tmp_path / "long.md").write_text(
    "# details\nhidden\n<!-- BEGIN summary -->\n| b | 2 |\n<!-- END summary -->\nhidden\n"
  )
  return tmp_path


def _block(key, body="stale\n"):
  return f"<!-- BEGIN generated:{key} -->\n{body}<!-- END generated:{key} -->\n"


def test_blocks_are_copied_whole_or_by_part(sources):
  del sources
  out = update_readme.render("intro\n" + _block("whole") + "mid\n" + _block("part") + "end\n")
  assert out == (
    "intro\n"
    + _block("whole", "<!-- from whole.md, written by `python -m make_whole` -->\n| a | 1 |\n")
    + "mid\n"
    + _block(
      "part", "<!-- from long.md (summary), written by `python -m make_long` -->\n| b | 2 |\n"
    )
    + "end\n"
  )
  assert update_readme.render(out) == out  # a second run changes nothing


def test_missing_file_leaves_a_placeholder(sources):
  del sources
  out = update_readme.render(_block("absent"))
  assert "_Not generated yet: run `python -m make_absent` (writes absent.md)._" in out


def test_unknown_key_and_missing_part_are_one_line_errors(sources):
  with pytest.raises(SystemExit, match="unknown generated section 'nope'"):
    update_readme.render(_block("nope"))
  (sources / "long.md").write_text("no markers here\n")
  with pytest.raises(SystemExit, match="long.md: no part marked <!-- BEGIN summary -->"):
    update_readme.render(_block("part"))


def test_check_reports_a_stale_readme(sources, capsys):
  (sources / "README.md").write_text(_block("whole"))
  assert update_readme.main(["--check"]) == 1
  assert "README.md is stale" in capsys.readouterr().err
  assert update_readme.main([]) == 0
  assert update_readme.main(["--check"]) == 0


def test_repository_readme_is_current():
  readme = (update_readme.ROOT / "README.md").read_text(encoding="utf-8")
  assert update_readme.render(readme) == readme, "run python -m tools.update_readme"
