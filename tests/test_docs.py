"""The documentation: the strict site build, the tutorials run (reduced), README size, no link leaves the repository.

Tutorial pages mark the fenced blocks that run with ``<!-- docs-test -->`` on the line before the
fence, and state their reduced form with ``<!-- docs-quick: OLD => NEW -->`` lines: plain text
substitutions applied to every marked block when ``SEMCOM_DOCS_QUICK=1`` (the default here; set
``SEMCOM_DOCS_QUICK=0`` to run the full size). Consecutive python blocks run as one process, so
they share state like a notebook; bash blocks run with ``bash -e``. Each page runs in its own empty
folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
RUNNABLE = [p for p in TUTORIALS if p.name != "index.md"] + [DOCS / "extending.md"]
QUICK = os.environ.get("SEMCOM_DOCS_QUICK", "1") != "0"
FENCE = re.compile(r"<!-- docs-test -->\s*\n```(python|bash)\n(.*?)\n```", re.S)
QUICK_SUB = re.compile(r"<!-- docs-quick: (.*?) => (.*?) -->")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)|!\[[^\]]*\]\(([^)\s]+)\)|<(?:img|a)\s[^>]*(?:src|href)=\"([^\"]+)\"")


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md")), *sorted((ROOT / "experiments").rglob("*.md"))]


def test_strict_site_build(tmp_path):
    """`mkdocs build --strict`: broken links, missing pages or API references fail it."""
    import mkdocs  # noqa: F401  (ImportError here fails the test: install the `docs` extra)
    import mkdocstrings  # noqa: F401
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for page in ["index.html", "getting-started.html", "reference/api/api.html", "validation/codecs.html", "tutorials/your-model.html"]:
        assert (tmp_path / "site" / page).is_file(), page
    api = (tmp_path / "site" / "reference/api/api.html").read_text()
    assert "semcom.api.evaluate" in api  # mkdocstrings rendered the docstrings


def blocks(page: Path) -> list[tuple[str, str]]:
    """The marked blocks of a page, reduced when QUICK, consecutive python blocks joined."""
    text = page.read_text()
    subs = QUICK_SUB.findall(text) if QUICK else []
    out: list[tuple[str, str]] = []
    for lang, code in FENCE.findall(text):
        for old, new in subs:
            code = code.replace(old, new)
        if out and lang == "python" and out[-1][0] == "python":
            out[-1] = ("python", out[-1][1] + "\n\n" + code)
        else:
            out.append((lang, code))
    return out


def test_every_tutorial_has_runnable_blocks_and_valid_reductions():
    assert len(TUTORIALS) >= 3
    for page in RUNNABLE:
        text = page.read_text()
        assert FENCE.search(text), f"{page.name}: no <!-- docs-test --> block"
        code = "\n".join(c for _, c in FENCE.findall(text))
        for old, _ in QUICK_SUB.findall(text):
            assert old in code, f"{page.name}: docs-quick substitution {old!r} matches no marked block"


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: p.stem)
def test_tutorial_runs(page, tmp_path):
    env = {**os.environ, "SEMCOM_DOCS_QUICK": "1" if QUICK else "0", "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    start = time.monotonic()
    for k, (lang, code) in enumerate(blocks(page)):
        if lang == "python":
            cmd = [sys.executable, "-c", code]
        else:
            cmd = ["bash", "-e", "-c", code.replace("python -m", f"{shutil.which('python', path=env['PATH']) or sys.executable} -m")]
        proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{page.name} block {k} ({lang}):\n{code}\n--- stderr:\n{proc.stderr[-4000:]}"
    assert time.monotonic() - start < 300, "the reduced tutorial should stay short (about a minute on two idle cores)"


def test_readme_is_a_front_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    marker = readme.index("<!-- test-command -->")
    block = re.search(r"```bash\n(.*?)\n```", readme[marker:], re.S).group(1)
    assert "pytest" in block and "examples/semcom-example" in block and ".[test,learned,docs]" in block


def test_no_document_links_outside_the_repository():
    bad = []
    for doc in documents():
        text = doc.read_text()
        for m in LINK.finditer(text):
            target = next(g for g in m.groups() if g)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a web address or an anchor on the page
            path = target.split("#")[0]
            if path.startswith("/"):
                bad.append(f"{doc.relative_to(ROOT)}: absolute path {target}")
                continue
            resolved = (doc.parent / path).resolve()
            if ROOT.resolve() not in [resolved, *resolved.parents]:
                bad.append(f"{doc.relative_to(ROOT)}: {target} leaves the repository")
            elif not resolved.exists():
                bad.append(f"{doc.relative_to(ROOT)}: {target} does not exist")
        for m in re.finditer(r"(?:\.\./)+shared\b|/work/|/home/\w+", text):
            bad.append(f"{doc.relative_to(ROOT)}: points outside the repository: {m.group(0)}")
    assert not bad, "\n".join(bad)


def test_version_is_shown_and_documented():
    import semcom

    assert re.fullmatch(r"\d+\.\d+\.\d+", semcom.__version__)
    proc = subprocess.run([sys.executable, "-m", "semcom", "--version"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.stdout.strip() == f"semcom {semcom.__version__}"
    assert semcom.__version__ in (DOCS / "changelog.md").read_text()
    assert "--version" in (DOCS / "getting-started.md").read_text()
