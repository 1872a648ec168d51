"""Grammar of the messages a person reads: articles and plurals of words filled in at run time."""

from __future__ import annotations


def with_article(word: str, *, start: bool = False) -> str:
    """`word` after "a" or "an" by its first letter: "an IMAGE", "a VIDEO", "an image", "a PNG";
    `start`: capitalised to begin a sentence ("An IMAGE").

    By letter, not by sound: enough for the words our messages fill in (media types, media
    kinds, image formats)."""
    article = "an" if word[:1].lower() in "aeiou" else "a"
    return f"{article.capitalize() if start else article} {word}"


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """ "1 post", "2 posts", "1 minute"; `plural` for irregular nouns."""
    return f"{count} {noun if count == 1 else plural or noun + 's'}"
