"""The Dutch catalogue (locale/nl/LC_MESSAGES): complete, compiled, and up to date with the
texts marked for translation. Read in Python, so the suite needs no GNU gettext; only the
up-to-date check runs xgettext (through makemessages) and is skipped where it is missing."""

import ast
import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.test_settings import ROOT

CATALOGUE = ROOT / "locale" / "nl" / "LC_MESSAGES"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
HTML_TAG = re.compile(r"</?[a-z]+")
# What locale/README.md's makemessages reads: the people's pages and the Python behind them.
SOURCES = ("apps", "idp", "templates")
# The console is English: the admin's templates, its pages and the token preview (the admin's
# own chrome speaks Django's catalogue).
NOT_TRANSLATED = ("templates/admin", "apps/console", "apps/grants/preview.py")


@dataclass
class Entry:
    msgid: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)
    flags: set[str] = field(default_factory=set)


def read_po(path: Path) -> list[Entry]:
    """The entries of a .po file as makemessages writes it: one block per entry, blank lines
    between them, the header first (its msgid is empty)."""
    entries = []
    for block in path.read_text(encoding="utf-8").strip().split("\n\n"):
        entry, target = Entry(), ""
        for line in block.splitlines():
            keyword, _, rest = line.partition(" ")
            if keyword == "#,":
                entry.flags |= {flag.strip() for flag in rest.split(",")}
            elif line.startswith("#"):
                continue
            elif line.startswith('"'):
                if target.startswith("msgstr"):
                    entry.msgstr[int(target[6:])] += ast.literal_eval(line)
                else:
                    setattr(entry, target, getattr(entry, target) + ast.literal_eval(line))
            elif keyword in ("msgctxt", "msgid", "msgid_plural"):
                target = keyword
                setattr(entry, target, ast.literal_eval(rest))
            else:  # msgstr or msgstr[n]
                index = int(keyword[7:-1]) if keyword.startswith("msgstr[") else 0
                target = f"msgstr{index}"
                entry.msgstr[index] = ast.literal_eval(rest)
        entries.append(entry)
    return entries


def translations() -> list[Entry]:
    return [entry for entry in read_po(CATALOGUE / "django.po") if entry.msgid]


def test_the_catalogue_is_dutch_and_its_header_counts_plurals():
    (header,) = [entry for entry in read_po(CATALOGUE / "django.po") if not entry.msgid]
    # A fuzzy header is left out by msgfmt, and with it the plural rule.
    assert "fuzzy" not in header.flags
    assert "Language: nl\n" in header.msgstr[0]
    assert "Plural-Forms: nplurals=2; plural=(n != 1);\n" in header.msgstr[0]


def test_every_text_has_a_dutch_translation():
    entries = translations()
    assert len(entries) > 100  # the reader found the catalogue, not an empty file
    fuzzy = [entry.msgid for entry in entries if "fuzzy" in entry.flags]
    missing = [
        entry.msgid
        for entry in entries
        if not all(entry.msgstr.get(i, "").strip() for i in range(2 if entry.msgid_plural else 1))
    ]
    assert fuzzy == [], "fuzzy entries are not shown: check the translation and drop the flag"
    assert missing == []


@pytest.mark.parametrize("entry", translations(), ids=lambda entry: entry.msgid[:40])
def test_a_translation_keeps_the_placeholders_and_markup_of_its_text(entry):
    for msgstr in entry.msgstr.values():
        assert sorted(PLACEHOLDER.findall(msgstr)) == sorted(PLACEHOLDER.findall(entry.msgid))
        assert HTML_TAG.findall(msgstr) == HTML_TAG.findall(entry.msgid)


def test_the_compiled_catalogue_says_what_the_po_file_says():
    """django.mo is what Django reads; it must be compiled from this django.po (compare the
    two rather than their times: a checkout gives every file the same age)."""
    with open(CATALOGUE / "django.mo", "rb") as compiled:
        catalogue = gettext.GNUTranslations(compiled)
    assert catalogue.info()["language"] == "nl"
    stale = []
    for entry in translations():
        if entry.msgctxt is not None:
            shown = [catalogue.pgettext(entry.msgctxt, entry.msgid)]
        elif entry.msgid_plural is None:
            shown = [catalogue.gettext(entry.msgid)]
        else:
            shown = [catalogue.ngettext(entry.msgid, entry.msgid_plural, n) for n in (1, 2)]
        if shown != [entry.msgstr[i] for i in range(len(shown))]:
            stale.append(entry.msgid)
    assert stale == [], "compile the catalogue again (locale/README.md)"


def test_the_catalogue_has_every_text_the_sources_mark_for_translation(tmp_path):
    """makemessages over a copy of the sources (so the committed catalogue is not rewritten)
    finds exactly the texts the catalogue has: none added without a translation, none left
    behind after its text changed."""
    if shutil.which("xgettext") is None:
        message = "GNU gettext is not installed (apt-get install gettext)"
        if os.environ.get("REQUIRE_GETTEXT"):  # CI installs it: there, this check must run
            pytest.fail(message)
        pytest.skip(message)
    for source in SOURCES:
        shutil.copytree(ROOT / source, tmp_path / source, ignore=shutil.ignore_patterns("__pycache__"))
    for excluded in NOT_TRANSLATED:
        path = tmp_path / excluded
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    (tmp_path / "locale").mkdir()
    environment = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "--locale", "nl", "--no-obsolete"],
        cwd=tmp_path,
        env=environment,
        check=True,
        capture_output=True,
    )
    extracted = read_po(tmp_path / "locale" / "nl" / "LC_MESSAGES" / "django.po")
    found = {(entry.msgid, entry.msgid_plural) for entry in extracted if entry.msgid}
    committed = {(entry.msgid, entry.msgid_plural) for entry in translations()}
    assert sorted(found - committed) == [], "new texts: run makemessages and translate them (locale/README.md)"
    assert sorted(committed - found) == [], "texts no longer in the sources: run makemessages (locale/README.md)"
