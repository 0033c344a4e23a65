"""The page checkers catch each problem they claim to, on small pages made to fail."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.console.a11y import problems
from tests.console.browser import log_in, look, untranslated
from tests.console.conftest import Console

GOOD = """<!doctype html><html lang="fr"><head><title>Bon</title></head><body>
<a href="#main">Aller au contenu</a>
<main id="main"><h1>Machines</h1><h2>Laser</h2><h3>Réglages</h3><h2>Fraiseuse</h2>
<img src="data:," alt="La découpeuse laser"><img src="data:," alt="">
<form><label for="u">Nom</label><input id="u"><label>Mot de passe <input type="password"></label>
<span id="q">Quantité</span><input aria-labelledby="q"><input aria-label="Recherche">
<select aria-label="Langue"><option>fr</option></select><input type="hidden" name="csrf">
<button>Se connecter</button><input type="submit" value="Envoyer"></form>
<p style="color:#595959">Gris foncé sur blanc, 7:1.</p>
<p style="color:#fff;background:#005a9c">Blanc sur bleu.</p>
<p style="font-size:24px;color:#888">Grand texte gris, 3.5:1.</p>
<div style="background:#222"><p style="background:rgba(255,255,255,0.05);color:#eee">Sombre</p>
</div><p hidden style="color:#eee">Caché, donc pas lu.</p></main></body></html>"""


def test_an_accessible_page_has_no_problems(page: Page) -> None:
    page.set_content(GOOD)
    assert problems(page) == []


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('<h1>T</h1><label>Nom</label><input id="u">', "no accessible name: <input#u>"),
        ("<h1>T</h1><select><option>fr</option></select>", "no accessible name: <select>"),
        ('<h1>T</h1><input aria-labelledby="absent">', "no accessible name: <input>"),
        ("<h1>T</h1><button></button>", "no accessible name: <button>"),
        ('<h1>T</h1><a href="/"></a>', "no accessible name: <a>"),
        ('<h1>T</h1><img src="data:,">', "image without alt: data:,"),
        ("<p>Pas de titre</p>", "expected exactly one h1, found 0"),
        ("<h1>T</h1><h1>U</h1>", "expected exactly one h1, found 2"),
        ("<h1>T</h1><h3>U</h3>", 'heading skips from h1 to <h3> "U"'),
        (
            '<h1 style="color:#999">T</h1>',
            'contrast 2.85:1 < 3:1 for <h1> "T" (#999999 on #ffffff)',
        ),
        ('<h1>T</h1><p style="color:#777">p</p>', "contrast 4.48:1 < 4.5:1"),
        ('<h1>T</h1><p style="font-size:24px;color:#999">p</p>', "contrast 2.85:1 < 3:1"),
        (
            '<h1>T</h1><div style="background:#000"><p style="color:#333">p</p></div>',
            "(#333333 on #000000)",
        ),
        (
            '<h1>T</h1><div style="background:#fff"><p style="background:rgba(0,0,0,.5);'
            'color:#333">p</p></div>',
            "(#333333 on #808080)",
        ),
        ('<h1>T</h1><p style="opacity:.3">p</p>', "(#b3b3b3 on #ffffff)"),
    ],
)
def test_each_problem_is_caught(page: Page, body: str, expected: str) -> None:
    page.set_content(f'<!doctype html><html lang="fr"><body>{body}</body></html>')
    found = problems(page)
    assert len(found) == 1 and expected in found[0], found


def test_a_page_without_a_language_is_caught(page: Page) -> None:
    page.set_content("<!doctype html><html><body><h1>T</h1></body></html>")
    assert problems(page) == ["html has no lang attribute"]


def test_a_message_id_left_untranslated_is_caught(page: Page) -> None:
    page.set_content('<html lang="fr"><body><h2>me.month</h2><p>alice@example.org</p></body>')
    assert untranslated(page) == ["me.month"]


def test_the_usage_page_passes_the_checks_with_its_tables_open(
    page: Page, console: Console
) -> None:
    log_in(page, console.base_url, "gerante", console.passwords["gerante"])
    page.goto(console.url("/console/usage"))
    expect(page.locator("svg[role=img]")).to_have_count(3)
    for details in page.locator("details.usage-figures").all():
        details.locator("summary").click()
    expect(page.locator("#usage-machines-table")).to_be_visible()
    look(page, "usage")
