"""A lazy message carrying typed input is text, not HTML: escaped on a page and in a flash read back from the session,
and in JSON as it is (Flask-Babel's lazy strings call themselves HTML; web/i18n.py makes their HTML the escaped text
and their JSON the text)."""

from __future__ import annotations

from flask import Flask, flash, get_flashed_messages, render_template_string
from flask_babel import lazy_gettext

from core import access

TYPED = '<script>alert("x")</script>'


def test_a_lazy_message_with_typed_input_is_escaped_on_a_page_and_after_a_flash(app: Flask) -> None:
    @app.get("/test-lazy-flash")
    @access.public
    def lazy_flash() -> str:
        flash(lazy_gettext("unknown room %(from_zone)s: choose one of %(shapes)s", from_zone=TYPED, shapes="A"))
        return "ok"

    @app.get("/test-lazy-read")
    @access.public
    def lazy_read() -> str:
        return render_template_string("{% for m in get_flashed_messages() %}<p>{{ m }}</p>{% endfor %}")

    with app.test_request_context():
        page = render_template_string("<p>{{ m }}</p>", m=lazy_gettext("unknown room %(from_zone)s", from_zone=TYPED))
        assert "<script>" not in page and "&lt;script&gt;" in page
    client = app.test_client()
    assert client.get("/test-lazy-flash").status_code == 200
    read = client.get("/test-lazy-read").get_data(as_text=True)
    assert "&lt;script&gt;alert(" in read and "<script>" not in read
    with app.test_request_context():
        assert get_flashed_messages() == []
        said = app.json.dumps({"message": lazy_gettext("no asset has the tag %(code)s", code="'A-99'")})
        assert "'A-99'" in said and "&#39;" not in said  # JSON carries the text itself, for a program to read
