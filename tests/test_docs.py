"""The documentation matches the code: the README stays short, the site builds in strict
mode (a broken link, anchor or nav entry fails), and the configuration page lists every
variable the hub reads."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cshub.dev import DevSettings
from runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
CONFIGURATION = DOCS / "operators" / "configuration.md"
# Where the code that reads the environment lives (runtime/ and wiring/: after issue 22's
# split of the runtime out of cshub/; a folder that does not exist is skipped).
CODE_DIRS = (
    "cshub",
    "runtime",
    "wiring",
    "webhooks",
    "workflows",
    "activities",
    "connectors",
    "domain",
    "playbooks",
    "templates",
    "bench",
)
# Read by the code from os.environ but not by the hub: the emulator's redirection of the
# Zendesk SDK (set by the connector itself) is no setting of the hub.
NOT_SETTINGS = {"ZENPY_FORCE_NETLOC", "ZENPY_FORCE_SCHEME"}


def documented_variables() -> set[str]:
    """Every `UPPER_CASE` name in the first column of the configuration page's tables."""
    names: set[str] = set()
    for line in CONFIGURATION.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", first_cell))
    return names


def variables_read_by_the_code() -> set[str]:
    names = {name.upper() for name in Settings.model_fields}
    names |= {name.upper() for name in DevSettings.model_fields}
    pattern = re.compile(r"""(?:environ(?:\.get)?[(\[]|getenv\()\s*["']([A-Z][A-Z0-9_]+)["']""")
    for folder in CODE_DIRS:
        for path in [*(ROOT / folder).rglob("*.py"), ROOT / "worker.py"]:
            names |= set(pattern.findall(path.read_text(encoding="utf-8")))
    return names - NOT_SETTINGS


def test_the_configuration_page_lists_every_variable_the_hub_reads() -> None:
    documented = documented_variables()
    missing = sorted(variables_read_by_the_code() - documented)
    assert not missing, f"add these to {CONFIGURATION.relative_to(ROOT)}: {missing}"


def test_the_configuration_check_would_catch_a_missing_variable() -> None:
    """The check reads the table rows, not any mention: a name only in prose is missing."""
    assert "CSHUB_ENV" in documented_variables()
    assert "NOT_A_SETTING_ANYWHERE" not in documented_variables()
    assert "CSHUB_API_TOKENS" in variables_read_by_the_code()


def test_the_readme_fits_on_a_few_screens() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < 200, f"README.md has {len(lines)} lines: move the detail into docs/"


@pytest.mark.parametrize(
    "readme", ["README.md", "workflows/README.md", "connectors/README.md", "sandbox/README.md"]
)
def test_the_readmes_point_into_the_docs_with_links_that_work(readme: str) -> None:
    path = ROOT / readme
    targets = re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text(encoding="utf-8"))
    local = [t for t in targets if not re.match(r"[a-z]+:", t)]
    assert any("docs/" in t for t in local), f"{readme} points into docs/"
    missing = [t for t in local if not (path.parent / t).exists()]
    assert not missing, missing


def test_the_site_builds_in_strict_mode(tmp_path: Path) -> None:
    """`make docs` in miniature: a broken link or anchor, or a page missing from the
    nav, fails (mkdocs.yml sets every validation to warn, and strict makes warnings fatal)."""
    mkdocs = Path(sys.executable).parent / "mkdocs"
    if not mkdocs.exists():
        found = shutil.which("mkdocs")
        if found is None:
            pytest.fail("mkdocs is not installed: pip install -e '.[test]'")
        mkdocs = Path(found)
    run = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "site" / "engineers" / "architecture.html").exists()


def test_a_broken_link_fails_the_strict_build(tmp_path: Path) -> None:
    """The same build on a copy of the docs with one broken link must fail, naming it."""
    shutil.copytree(DOCS, tmp_path / "docs", symlinks=False)
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copy(ROOT / "mkdocs_hooks.py", tmp_path / "mkdocs_hooks.py")
    page = tmp_path / "docs" / "index.md"
    page.write_text(page.read_text() + "\n[gone](no-such-page.md) [code](../no_such_module.py)\n")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    run = subprocess.run(
        [str(mkdocs if mkdocs.exists() else "mkdocs"), "build", "--strict"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "NO_MKDOCS_2_WARNING": "1"},
        timeout=120,
    )
    assert run.returncode != 0
    assert "no-such-page.md" in run.stdout + run.stderr
    assert "no_such_module.py" in run.stdout + run.stderr


def _code_in(text: str) -> list[str]:
    """The inline code spans and the lines of fenced code blocks of a Markdown text."""
    code: list[str] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        if fenced or line.startswith("    "):
            code.append(line)
        else:
            code += re.findall(r"`([^`]+)`", line)
    return code


def documented_cshub_commands() -> list[tuple[str, list[str]]]:
    """(page, words after `cshub`) for every `cshub …` command line the docs show."""
    pattern = re.compile(r"(?:^|[\s(/$])cshub((?: +(?:[a-z][a-z0-9-]*|--[a-z][a-z0-9-]*|-[a-z]))+)")
    pages = [*DOCS.rglob("*.md"), ROOT / "README.md"]
    found = []
    for page in pages:
        for code in _code_in(page.read_text(encoding="utf-8")):
            for m in pattern.finditer(code.replace("--task-queue cshub", "")):
                found.append((str(page.relative_to(ROOT)), m.group(1).split()))
    return found


def test_every_documented_cshub_command_and_option_exists() -> None:
    """`cshub simulate onboarding --tier starter` in a page: `simulate onboarding` is a
    command of the CLI and `--tier` one of its options (a renamed command or option that
    the docs still show fails here)."""
    import typer

    from cshub.cli import app

    root = typer.main.get_command(app)
    context = type(root.make_context("cshub", ["--help"], resilient_parsing=True))
    problems = []
    commands = documented_cshub_commands()
    assert len(commands) > 100, "the docs show the commands they describe"
    for page, words in commands:
        command: Any = root
        i = 0
        while i < len(words) and hasattr(command, "commands") and not words[i].startswith("-"):
            sub = command.get_command(context(command), words[i])
            if sub is None:
                problems.append(f"{page}: cshub {' '.join(words[: i + 1])}: no such command")
                break
            command, i = sub, i + 1
        if hasattr(command, "commands"):
            continue  # a group named alone (`cshub simulate`), or an unknown name (above)
        options = {o for p in command.params for o in [*p.opts, *p.secondary_opts]}
        options.add("--help")
        problems += [
            f"{page}: cshub {' '.join(words)}: no option {w}"
            for w in words[i:]
            if w.startswith("-") and w not in options
        ]
    assert not problems, "\n".join(sorted(set(problems)))


def test_the_senders_routes_table_lists_every_route() -> None:
    """docs/senders/index.md's *Routes* table names every event type of
    webhooks/routing.py with the workflow it reaches."""
    from webhooks.routing import ROUTES

    text = (DOCS / "senders" / "index.md").read_text(encoding="utf-8")
    table = text[text.index("## Routes") :].split("\n\n")[2]
    rows = {
        event: row.split("|")[2].strip()
        for row in table.splitlines()
        for event in re.findall(r"`([a-z_]+\.[a-z_.]+)`", row.split("|")[1])
    }
    missing = [event for event in ROUTES if event not in rows]
    assert not missing, f"add these routes to docs/senders/index.md: {missing}"
    wrong = {e: rows[e] for e, route in ROUTES.items() if route.workflow not in rows[e]}
    assert not wrong, f"documented with another workflow: {wrong}"


def test_links_to_the_repositorys_files_become_their_paths_on_the_site() -> None:
    """A page may link to code (`[webhooks/routing.py](../../webhooks/routing.py)` works on
    GitHub); the site shows the path. Links between pages, and broken ones, are left to
    the strict build."""
    from mkdocs_hooks import rewrite

    page_dir = DOCS / "senders"
    text = (
        "[`webhooks/routing.py`](../../webhooks/routing.py), [the table](../../webhooks/routing.py#L1), "
        "[migrations](../../runtime/migrations/), [Stripe](stripe.md), [security](../security.md), "
        "[gone](../../no_such_module.py), [site](https://example.com/x.py)\n"
        "```\n[kept in code](../../worker.py)\n```"
    )
    assert rewrite(text, page_dir, DOCS).split("\n") == [
        "`webhooks/routing.py`, the table (`webhooks/routing.py`), "
        "migrations (`runtime/migrations/`), [Stripe](stripe.md), [security](../security.md), "
        "[gone](../../no_such_module.py), [site](https://example.com/x.py)",
        "```",
        "[kept in code](../../worker.py)",
        "```",
    ]


def test_every_file_the_docs_name_exists() -> None:
    """A path in code (`webhooks/routing.py`, `playbooks/sla.yaml`) on any page names a
    file of the repository: a moved or renamed file the pages still name fails here."""
    path = re.compile(r"`((?:[a-z_]+/)+[A-Za-z0-9_.-]+\.(?:py|yaml|yml|j2|md|json|toml|txt|sql))`")
    pages = [*DOCS.rglob("*.md"), ROOT / "README.md"]
    named = {
        (page, name) for page in pages for name in path.findall(page.read_text(encoding="utf-8"))
    }
    assert len(named) > 50, "the pages name the files they describe"
    missing = sorted(f"{p.relative_to(ROOT)}: {n}" for p, n in named if not (ROOT / n).exists())
    assert not missing, "\n".join(missing)
