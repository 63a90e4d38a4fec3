"""web/i18n_scan.py: text, readable attributes and words written as literals inside {{ }} are found unmarked,
with the exact replacement; class names, comparisons, filter arguments and marked text are not."""

from __future__ import annotations

from pathlib import Path

from web.i18n_scan import unmarked


def _findings(tmp_path: Path, source: str) -> list[tuple[str, str]]:
    page = tmp_path / "templates" / "page.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(source, encoding="utf-8")
    return [(f.text, f.fix) for f in unmarked(page, tmp_path)]


def test_words_in_expressions_are_found_with_their_fix(tmp_path: Path) -> None:
    found = _findings(tmp_path, "<td>{{ 'yes' if w.active else 'no' }}</td>\n"
                                "<td>{{ t.used|when('%Y-%m-%d') if t.used else \"never\" }}</td>\n"
                                "<td>{{ {'pending': 'Waiting for approval'}.get(s.outcome, 'Unknown') }}</td>\n"
                                "<td>{{ 'Checked out'|badge('warn') }}</td>")  # fmt: skip
    assert found == [
        ("{{ 'yes' if w.active else 'no' }}", "{{ _('yes') if w.active else _('no') }}"),
        ("{{ t.used|when('%Y-%m-%d') if t.used else \"never\" }}",
         "{{ t.used|when('%Y-%m-%d') if t.used else _(\"never\") }}"),
        ("{{ {'pending': 'Waiting for approval'}.get(s.outcome, 'Unknown') }}",
         "{{ {'pending': _('Waiting for approval')}.get(s.outcome, _('Unknown')) }}"),
        ("{{ 'Checked out'|badge('warn') }}", "{{ _('Checked out')|badge('warn') }}"),
    ]  # fmt: skip


def test_a_chart_title_written_in_english_is_found(tmp_path: Path) -> None:
    found = _findings(tmp_path, "<div>{{ bar_chart(rows, title='Value by machine', unit='USD') }}</div>\n"
                                "<p>{{ time_chart(l, s, title=_('Per month'), unit='units', empty='Nothing') }}</p>")
    assert found == [
        ("{{ bar_chart(rows, title='Value by machine', unit='USD') }}",
         "{{ bar_chart(rows, title=_('Value by machine'), unit='USD') }}"),
        ("{{ time_chart(l, s, title=_('Per month'), unit='units', empty='Nothing') }}",
         "{{ time_chart(l, s, title=_('Per month'), unit='units', empty=_('Nothing')) }}"),
    ]  # fmt: skip


def test_marked_words_class_names_comparisons_and_formats_are_left_alone(tmp_path: Path) -> None:
    assert _findings(tmp_path, "{% block body_class %}{{ 'kiosk' }}{% endblock %}\n"
                               "<td class=\"{{ 'ok' if good else 'bad' }}\">{{ _('yes') if a else _('no') }}</td>\n"
                               "<td>{{ '%+.1f' % x if x == 'ready' else '–' }}</td>\n"
                               "<p>{% trans %}Hello{% endtrans %} {{ item.name }}</p>") == []  # fmt: skip


def test_text_and_readable_attributes_are_found(tmp_path: Path) -> None:
    found = _findings(tmp_path, '<p>Nothing here</p><input type="submit" value="Save" title="{{ _(\'Save it\') }}">')
    assert found == [
        ("Nothing here", "{% trans %}Nothing here{% endtrans %}"),
        ('<input type="submit" value="Save" title="{{ _(\'Save it\') }}">',
         '<input type="submit" value="{{ _(\'Save\') }}" title="{{ _(\'Save it\') }}">'),
    ]  # fmt: skip


def test_a_fallback_word_after_or_and_a_trans_blocks_values_are_found(tmp_path: Path) -> None:
    found = _findings(tmp_path, "<td>{{ po.cost_center or 'none' }}</td>\n"
                                "<p>{% trans yet=named(a.reason) or 'no location yet' %}Why: {{ yet }}"
                                "{% endtrans %}</p>\n"
                                "<p>{% trans host='{host}', who=a.name or _('nobody') %}{{ who }} on {{ host }}"
                                "{% endtrans %}</p>")  # fmt: skip
    assert found == [
        ("{% trans yet=named(a.reason) or 'no location yet' %}",
         "{% trans yet=named(a.reason) or _('no location yet') %}"),
        ("{{ po.cost_center or 'none' }}", "{{ po.cost_center or _('none') }}"),
    ]  # fmt: skip


def test_labels_written_in_a_set_are_found_and_codes_endpoints_and_marked_labels_are_not(tmp_path: Path) -> None:
    found = _findings(tmp_path, "{% set pages = [('Overview', 'vending_admin.overview'), (_('Items'), 'items.list'),\n"
                                "  ('Count differences', 'counts.queue')] %}\n"
                                "{% set heading = 'By worker' if by == 'worker' else titles[by] %}\n"
                                "{% set tone = 'ok' if good else 'bad' %}{% set row_class = 'Wide' %}\n"
                                "{% set when = t.used|when('%Y-%m-%d') or 'Never' %}{% set n = rows|length %}\n"
                                "{% set cols = {'sku': 'Item code', 'qty': _('Quantity')} %}\n"
                                "{% for label, endpoint in pages %}<a href=\"{{ url_for(endpoint) }}\">{{ label }}</a>"
                                "{% endfor %}")  # fmt: skip
    assert found == [
        ("{% set pages = [('Overview', 'vending_admin.overview'), (_('Items'), 'items.list'),\n"
         "  ('Count differences', 'counts.queue')] %}",
         "{% set pages = [(_('Overview'), 'vending_admin.overview'), (_('Items'), 'items.list'),\n"
         "  (_('Count differences'), 'counts.queue')] %}"),
        ("{% set heading = 'By worker' if by == 'worker' else titles[by] %}",
         "{% set heading = _('By worker') if by == 'worker' else titles[by] %}"),
        ("{% set when = t.used|when('%Y-%m-%d') or 'Never' %}",
         "{% set when = t.used|when('%Y-%m-%d') or _('Never') %}"),
        ("{% set cols = {'sku': 'Item code', 'qty': _('Quantity')} %}",
         "{% set cols = {'sku': _('Item code'), 'qty': _('Quantity')} %}"),
    ]  # fmt: skip
