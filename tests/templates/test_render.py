"""The caption renderer: literal substitution, edge cases (pure unit tests)."""

from __future__ import annotations

import pytest

from instasched.templates.render import append_suggestions, render, variables_in


def test_substitutes_and_reports_nothing_missing() -> None:
    r = render(
        "Introducing {{productName}}! Get {{discount}} off.",
        {
            "productName": "Premium Course",
            "discount": "20%",
        },
    )
    assert r.caption == "Introducing Premium Course! Get 20% off."
    assert r.missing == [] and r.used == ["productName", "discount"] and r.unused == []


def test_missing_variables_stay_visible_and_are_reported_once() -> None:
    r = render("{{a}} {{b}} {{a}} {{c}}", {"b": "B"})
    assert r.caption == "{{a}} B {{a}} {{c}}"
    assert r.missing == ["a", "c"]
    assert r.used == ["b"]


def test_none_counts_as_missing() -> None:
    r = render("Hi {{name}}", {"name": None})
    assert r.caption == "Hi {{name}}" and r.missing == ["name"] and r.unused == []


def test_extra_variables_are_unused() -> None:
    r = render("Hi {{name}}", {"name": "Ada", "extra": "x", "other": 1})
    assert r.caption == "Hi Ada"
    assert r.unused == ["extra", "other"]


def test_repeated_placeholders_all_replaced() -> None:
    r = render("{{x}}-{{ x }}-{{x }}", {"x": "7"})
    assert r.caption == "7-7-7"
    assert r.used == ["x"]


@pytest.mark.parametrize(
    "template",
    ["{{name}}", "{{ name }}", "{{\tname\t}}", "{{   name}}", "{{name   }}", "{{\n name \n}}"],
)
def test_whitespace_inside_braces(template: str) -> None:
    assert render(template, {"name": "Ada"}).caption == "Ada"
    assert variables_in(template) == ["name"]


@pytest.mark.parametrize(
    "template",
    [
        "{{}}",
        "{{ }}",
        "{{1abc}}",
        "{{a b}}",
        "{{a-b}}",
        "{{a.b}}",
        "{ {a} }",
        "{{a}",
        "{a}}",
        "{{ a }",
        "{{prodükt}}",  # names are ASCII identifiers
        "{{$1}}",
        "{{.*}}",
    ],
)
def test_things_that_are_not_placeholders_stay_literal(template: str) -> None:
    values = {"a": "X", "b": "Y", "abc": "Z", "prodükt": "P", "$1": "D", ".*": "S"}
    r = render(template, values)
    assert r.caption == template
    assert r.missing == []
    assert variables_in(template) == []


def test_extra_braces_around_a_placeholder() -> None:
    assert render("{{{a}}}", {"a": "X"}).caption == "{X}"
    assert render("{{{{a}}}}", {"a": "X"}).caption == "{{X}}"
    assert render("}}{{a}}{{", {"a": "X"}).caption == "}}X{{"


def test_values_are_inserted_as_text_never_rescanned() -> None:
    r = render("A={{a}} B={{b}}", {"a": "{{b}}", "b": "{{a}}"})
    assert r.caption == "A={{b}} B={{a}}"
    assert r.missing == []
    r = render("{{x}}", {"x": "{{x}}"})
    assert r.caption == "{{x}}"
    r = render("{{x}}", {"x": "{{ undefined_var }}"})
    assert r.caption == "{{ undefined_var }}" and r.missing == []


@pytest.mark.parametrize(
    "value",
    ["$1", "$&", "$$", "\\1", "\\g<0>", "\\", "\\\\", ".*", "(a|b)+", "[^x]", "^$", "%s", "{0}"],
)
def test_regex_and_format_metacharacters_in_values(value: str) -> None:
    assert render("<{{v}}>", {"v": value}).caption == f"<{value}>"


def test_regex_metacharacters_in_the_template_text() -> None:
    template = "Price: $1 .* (a|b) \\d+ {{price}} [x] ^ $"
    assert render(template, {"price": "9.99"}).caption == "Price: $1 .* (a|b) \\d+ 9.99 [x] ^ $"


def test_unicode_and_emoji() -> None:
    template = "🎉 {{ produkt }} — ünïcödé ✨\n日本語: {{名前}}"
    r = render(template, {"produkt": "Crème brûlée 🍮", "名前": "unused"})
    assert r.caption == "🎉 Crème brûlée 🍮 — ünïcödé ✨\n日本語: {{名前}}"
    assert r.unused == ["名前"]
    r = render("{{e}}", {"e": "👩‍👩‍👧‍👦 🏳️‍🌈 \u200b \U0001f600"})
    assert r.caption == "👩‍👩‍👧‍👦 🏳️‍🌈 \u200b \U0001f600"


def test_numbers_are_written_as_text() -> None:
    assert render("{{n}} / {{f}}", {"n": 3, "f": 2.5}).caption == "3 / 2.5"


def test_empty_value_and_empty_template() -> None:
    assert render("a{{x}}b", {"x": ""}).caption == "ab"
    assert render("", {"x": "1"}).caption == ""


def test_variables_in_keeps_first_appearance_order() -> None:
    assert variables_in("{{b}} {{a}} {{ b }} {{c}} {{a}}") == ["b", "a", "c"]


def test_pathological_inputs_render() -> None:
    # Many openers without closers, and closers far away: one linear pass handles both.
    text = "{{" * 20_000 + "x" + "}}" * 20_000
    assert render(text, {"x": "y"}).caption == "{{" * 19_999 + "y" + "}}" * 19_999
    spaces = "{{" + " " * 50_000 + "a" + " " * 50_000 + "}}"
    assert render(spaces, {"a": "ok"}).caption == "ok"


def test_append_suggestions_as_the_spec() -> None:
    assert append_suggestions("Hi", ["launch", "#sale"], ["brand"]) == "Hi\n\n#launch #sale\n@brand"
    assert append_suggestions("Hi", [], ["a", "@b"]) == "Hi\n@a @b"
    assert append_suggestions("Hi", [], []) == "Hi"
