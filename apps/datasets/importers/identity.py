"""A pair's identity within a dataset: the normal form of its texts and its content hash.

Pure: an import compares normalised texts and stores the hash, so a re-import adds nothing.
"""

from __future__ import annotations

import hashlib
import unicodedata


def normalise_text(text: str) -> str:
    """The form of a text that identity checks compare: NFC, LF line ends, trimmed."""
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text.strip()


def pair_content_hash(
    prompt: str,
    response_a: str,
    response_b: str,
    domain: str,
    native_id: str | None = None,
    *,
    ordered: bool = True,
) -> str:
    """SHA-256 identifying a pair within a dataset, so a re-import adds nothing.

    Texts are compared in :func:`normalise_text` form. When the source fixes the positions
    (``ordered``), A and B are part of the identity: sources such as LLMEval2's MT-Bench rows
    hold both orders of one comparison as separately labelled items. When the importer chose the
    positions itself (the HH-RLHF coin flip), the two responses are hashed in sorted order, so a
    re-import with another seed does not duplicate every pair. The source's own id is included
    when it has one, because a source may hold two rows with the same texts that were labelled
    separately (PandaLM: two model pairs with identical outputs). Every part is length-prefixed
    so that no two different inputs hash the same concatenation.
    """
    return hash_normalised(
        normalise_text(prompt),
        normalise_text(response_a),
        normalise_text(response_b),
        normalise_text(domain),
        native_id,
        ordered=ordered,
    )


def hash_normalised(
    prompt: str,
    response_a: str,
    response_b: str,
    domain: str,
    native_id: str | None,
    *,
    ordered: bool,
) -> str:
    """``pair_content_hash`` of texts already in ``normalise_text`` form."""
    responses = [response_a, response_b] if ordered else sorted((response_a, response_b))
    parts = ["ordered" if ordered else "unordered", prompt, *responses, domain, native_id or ""]
    digest = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "big"))
        digest.update(encoded)
    return digest.hexdigest()
