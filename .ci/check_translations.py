"""Translation check CI runs: every user-facing template string is marked, and every message has a German and a
Spanish translation (web/i18n.py says how to mark). Exit 1 naming each problem with its fix.

    python .ci/check_translations.py            # check (CI)
    python .ci/check_translations.py --fix      # mark what is unmarked in the templates (then review the diff)
    python .ci/check_translations.py --update   # merge new message ids into the .po files (empty msgstr)
    python .ci/check_translations.py --compile  # write the .mo files from the .po files

Python code is checked too (web/i18n_pyscan.py): a flash or a user-facing error, field problem or CSV row error
whose text is written in place (a literal or an f-string) is named with the marked call to write instead; so is
text a view builds for a page (web/i18n_viewscan.py: message sinks such as `saved`, values passed to
render_template, text fields of view-model dataclasses, module-level text tables such as an error page's titles
and hints, whose fix is N_); a line ending in `# i18n: <why>` is left alone (text only a machine or an operator
reads), and so is a whole table with that comment on its first line. Templates are checked for literal labels in
`{% set %}` values too (web/i18n_scan.py).

Messages come from the templates (Jinja trans blocks and _()), from Python (_, gettext, lazy_gettext, ngettext in
web/ and the domains), and from the running code: status labels, menu labels and the kiosk's script strings.
"""

from __future__ import annotations

import importlib
import io
import pkgutil
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from babel.messages.catalog import Catalog  # noqa: E402
from babel.messages.extract import extract_from_file  # noqa: E402
from babel.messages.mofile import read_mo, write_mo  # noqa: E402
from babel.messages.pofile import read_po, write_po  # noqa: E402

from web.i18n import KIOSK_TEXT, LANGUAGES  # noqa: E402
from web.i18n_pyscan import Scanner  # noqa: E402
from web.i18n_scan import mark, template_files, unmarked  # noqa: E402
from web.i18n_viewscan import ViewScanner  # noqa: E402

PO_DIR = ROOT / "web" / "translations"
KEYWORDS = {
    "_": None,
    "gettext": None,
    "lazy_gettext": None,
    "ngettext": (1, 2),
    "lazy_ngettext": (1, 2),
    "N_": None,  # a message id stored now and translated when shown
}
JINJA_OPTIONS = {"extensions": "jinja2.ext.do", "trimmed": "true"}
PACKAGES = ("core", "vending", "tracking", "procurement", "web")
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def runtime_messages() -> dict[str, str]:
    """Labels the code shows without a _() call: every state label, menu label and kiosk script string."""
    from core import states
    from web.app import CORE_NAV, NAV_GROUPS

    found: dict[str, str] = {text: "web/i18n.py KIOSK_TEXT" for text in KIOSK_TEXT}
    for package in PACKAGES:
        module = importlib.import_module(package)
        for info in pkgutil.walk_packages(module.__path__, package + "."):
            if ".sim" in info.name or info.name.endswith("__main__"):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # a module needing optional hardware libraries: say so, go on
                print(f"note: {info.name} not imported ({exc.__class__.__name__})", file=sys.stderr)
    for text in sorted(states.labels_to_translate()):
        found.setdefault(text, "a state or shown value (core/states.py)")
    from web.domains import hook, load_plugins

    nav = list(CORE_NAV)
    for plugin in load_plugins():
        if (links := hook(plugin, "nav_links")) is not None:
            nav.extend(links())
    for label, endpoint, _roles in nav:
        found.setdefault(label, f"menu {endpoint}")
    for group in [*NAV_GROUPS, *(str(named()) for p in load_plugins() if (named := hook(p, "nav_group")))]:
        found.setdefault(group, "menu group (web/app.py NAV_GROUPS)")
    return found


def python_files() -> list[Path]:
    files: list[Path] = []
    for package in PACKAGES:
        files += [p for p in (ROOT / package).rglob("*.py") if "/sim/" not in str(p)]
    return sorted(files)


Message = str | tuple[str, ...]  # a plural message is (singular, plural)


def _key(msgid: Message) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def extract() -> dict[Message, list[str]]:
    """msgid -> where it comes from (file:line)."""
    messages: dict[Message, list[str]] = {}

    def add(msgid: Message, where: str) -> None:
        if msgid:
            messages.setdefault(msgid if isinstance(msgid, str) else tuple(msgid), []).append(where)

    for path in template_files(ROOT):
        for line, msgid, _c, _ctx in extract_from_file("jinja2", str(path), KEYWORDS, options=JINJA_OPTIONS):
            add(msgid, f"{path.relative_to(ROOT)}:{line}")
    for path in python_files():
        text = path.read_text(encoding="utf-8")
        if not re.search(r"\b(gettext|lazy_gettext|ngettext|lazy_ngettext)\b|\b_\(|\bN_\(", text):
            continue
        for line, msgid, _c, _ctx in extract_from_file("python", str(path), KEYWORDS):
            add(msgid, f"{path.relative_to(ROOT)}:{line}")
    for msgid, where in runtime_messages().items():
        add(msgid, where)
    return messages


def po_path(lang: str) -> Path:
    return PO_DIR / lang / "LC_MESSAGES" / "messages.po"


def load(lang: str) -> Catalog:
    path = po_path(lang)
    if not path.exists():
        return Catalog(locale=lang, project="vendtrack")
    with path.open("rb") as f:
        return read_po(f, locale=lang)


def _forms(value: object) -> tuple[str, ...]:
    return tuple(str(f) for f in value) if isinstance(value, tuple | list) else (str(value),)


def _key_of(msgid: object) -> str:
    return str(msgid[0]) if isinstance(msgid, tuple | list) else str(msgid)


def _holders(text: str) -> list[str]:
    return sorted(PLACEHOLDER.findall(text))


def _translated(value: object) -> bool:
    return all(bool(f) for f in _forms(value))


def problems(messages: dict[Message, list[str]]) -> list[str]:
    out: list[str] = []
    compile_hint = "run python .ci/check_translations.py --compile"
    for path in template_files(ROOT):
        for f in unmarked(path, ROOT):
            out.append(f"{f.path}:{f.line}: not marked for translation: {f.text!r}\n    write: {f.fix}")
    scanner = Scanner(ROOT, PACKAGES)
    seen: set[tuple[str, int]] = set()
    for finding in [*scanner.findings(), *ViewScanner(scanner).findings()]:
        if (finding.path, finding.line) not in seen:  # a flash both checks name is said once
            seen.add((finding.path, finding.line))
            out.append(str(finding))
    for lang in LANGUAGES:
        if lang == "en":
            continue
        catalog = load(lang)
        po = po_path(lang).relative_to(ROOT)
        for msgid, where in sorted(messages.items(), key=lambda kv: _key(kv[0])):
            entry = catalog.get(_key(msgid))
            if entry is None or not _translated(entry.string) or entry.fuzzy:
                out.append(f"{po}: no {lang} translation for {msgid!r} ({where[0]})")
            elif any(_holders(_key(msgid)) != _holders(f) for f in _forms(entry.string)):
                out.append(f"{po}: {lang} translation of {msgid!r} changes its placeholders")
            elif any('"' in f for f in _forms(entry.string)) and '"' not in _key(msgid):
                out.append(f"{po}: {lang} translation of {msgid!r} has an ASCII double quote")
        mo = po_path(lang).with_suffix(".mo")
        if not mo.exists():
            out.append(f"{mo.relative_to(ROOT)} missing: {compile_hint}")
        else:
            with mo.open("rb") as f:
                compiled = {_key_of(m.id): _forms(m.string) for m in read_mo(f) if m.id}
            wanted = {
                _key_of(m.id): _forms(m.string) for m in catalog if m.id and _translated(m.string) and not m.fuzzy
            }
            if compiled != wanted:
                out.append(
                    f"{mo.relative_to(ROOT)} is older than its .po: run python .ci/check_translations.py --compile"
                )
    return out


def _location(where: str) -> tuple[str, int]:
    path, _sep, line = where.rpartition(":")
    return (path, int(line)) if path and line.isdigit() else (where, 0)


def update(messages: dict[Message, list[str]]) -> None:
    for lang in LANGUAGES:
        if lang == "en":
            continue
        old = load(lang)
        new = Catalog(locale=lang, project="vendtrack", charset="utf-8")
        for msgid, where in sorted(messages.items(), key=lambda kv: _key(kv[0])):
            previous = old.get(_key(msgid))
            empty: Message = "" if isinstance(msgid, str) else ("",) * old.num_plurals
            locations = [_location(w) for w in where[:3]]
            new.add(msgid, previous.string if previous is not None else empty, locations=locations)
        po_path(lang).parent.mkdir(parents=True, exist_ok=True)
        buffer = io.BytesIO()
        write_po(buffer, new, width=120, sort_output=True)
        po_path(lang).write_bytes(buffer.getvalue())


def compile_all() -> None:
    for lang in LANGUAGES:
        if lang == "en":
            continue
        catalog = load(lang)
        with po_path(lang).with_suffix(".mo").open("wb") as f:
            write_mo(f, catalog)


def main(argv: list[str]) -> int:
    if "--fix" in argv:
        for path in template_files(ROOT):
            text = path.read_text(encoding="utf-8")
            if (marked := mark(text)) != text:
                path.write_text(marked, encoding="utf-8")
                print(f"marked {path.relative_to(ROOT)}")
        return 0
    if "--compile" in argv:
        compile_all()
        return 0
    messages = extract()
    if "--update" in argv:
        update(messages)
        files = ", ".join(str(po_path(lang).relative_to(ROOT)) for lang in LANGUAGES if lang != "en")
        print(f"{len(messages)} messages merged into {files}")
        return 0
    found = problems(messages)
    for line in found:
        print(line)
    print(f"translations: {len(messages)} messages, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
