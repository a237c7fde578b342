"""Manual retrieval: heading-aware chunks with overlap, ranked by BM25 on scikit-learn's CountVectorizer.

BM25 rather than plain TF-IDF because it saturates repeated terms and normalises chunk length, which matters
when one chunk lists a sensor name five times. Sensor names such as `bearing_de_temp_C` are indexed whole and
as their parts, so a question about "bearing temperature" still finds the chunk that names the channel.
"""

import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from assistant.llm.manuals import Manual

CHUNK_CHARS = 700
OVERLAP_CHARS = 150
BM25_K1 = 1.5
BM25_B = 0.75
INDEX_FORMAT = 1

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_TERM = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)*")


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    source: str
    title: str
    section: str
    text: str
    category: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk and its BM25 score (higher is better; not bounded)."""

    chunk: Chunk
    score: float

    def to_dict(self) -> dict:
        return {**self.chunk.to_dict(), "score": round(self.score, 4)}


def analyze(text: str) -> list[str]:
    """Lower-cased terms without English stop words, with a light plural strip; snake_case kept whole too."""
    terms = []
    for word in _TERM.findall(text.lower()):
        parts = word.split("_")
        if len(parts) > 1:
            terms.append(word)
        terms.extend(_stem(part) for part in parts if len(part) > 1 and part not in ENGLISH_STOP_WORDS)
    return terms


def _stem(word: str) -> str:
    """A light suffix stripper: rises/rising/rise → ris, slipping → slip, bearings → bear."""
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("es") and len(word) > 4:
        return word[:-2]  # pipes → pip, like pipe below
    word = word.removesuffix("s")
    for suffix in ("ing", "ed"):
        stem = word[: -len(suffix)]
        if word.endswith(suffix) and len(stem) >= 3 and not stem.endswith("e"):
            return stem[:-1] if stem[-1] == stem[-2] and stem[-1] not in "lsz" else stem
    return word[:-1] if word.endswith("e") and len(word) > 3 else word


def chunk_manual(
    manual: Manual, *, max_chars: int = CHUNK_CHARS, overlap_chars: int = OVERLAP_CHARS
) -> list[Chunk]:
    """Splits a manual into chunks that never cross a heading; each repeats the tail of the one before it."""
    chunks = []
    for section, units in _sections(manual.text):
        for text in _pack(units, max_chars, overlap_chars):
            chunk_id = f"{manual.source}#{len(chunks)}"
            chunks.append(Chunk(chunk_id, manual.source, manual.title, section, text, manual.category))
    return chunks


def _sections(text: str) -> Iterator[tuple[str, list[str]]]:
    """Yields (heading path, units); a unit is a paragraph or one list item. The top heading is the title."""
    path: list[tuple[int, str]] = []
    units: list[str] = []
    lines: list[str] = []

    def close_unit() -> None:
        if lines:
            units.append(" ".join(line.strip() for line in lines))
            lines.clear()

    def section_title() -> str:
        return " > ".join(title for level, title in path if level > 1) or "Introduction"

    for line in text.splitlines():
        heading = _HEADING.match(line)
        if heading:
            close_unit()
            if units:
                yield section_title(), units
                units = []
            level = len(heading.group(1))
            path = [entry for entry in path if entry[0] < level] + [(level, heading.group(2))]
        elif not line.strip():
            close_unit()
        else:
            if _LIST_ITEM.match(line):
                close_unit()
            lines.append(line)
    close_unit()
    if units:
        yield section_title(), units


def _pack(units: list[str], max_chars: int, overlap_chars: int) -> Iterator[str]:
    pieces = [piece for unit in units for piece in _split_long(unit, max_chars)]
    current: list[str] = []
    for piece in pieces:
        if current and len("\n".join([*current, piece])) > max_chars:
            yield "\n".join(current)
            tail = _tail(current[-1], overlap_chars)
            current = [tail] if tail else []
        current.append(piece)
    if current:
        yield "\n".join(current)


def _split_long(unit: str, max_chars: int) -> list[str]:
    if len(unit) <= max_chars:
        return [unit]
    pieces, current = [], ""
    for sentence in _SENTENCE_END.split(unit):
        for word_group in _split_words(sentence, max_chars):
            if current and len(current) + 1 + len(word_group) > max_chars:
                pieces.append(current)
                current = word_group
            else:
                current = f"{current} {word_group}".strip()
    if current:
        pieces.append(current)
    return pieces


def _split_words(sentence: str, max_chars: int) -> list[str]:
    words = [word[i : i + max_chars] for word in sentence.split() for i in range(0, len(word), max_chars)]
    groups, current = [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > max_chars:
            groups.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        groups.append(current)
    return groups


def _tail(text: str, overlap_chars: int) -> str:
    """The last sentences of `text` that fit in `overlap_chars` (cut at a word if one sentence is longer)."""
    if overlap_chars <= 0:
        return ""
    if len(text) <= overlap_chars:
        return text
    sentences = _SENTENCE_END.split(text)
    tail = ""
    for sentence in reversed(sentences):
        candidate = f"{sentence} {tail}".strip()
        if len(candidate) > overlap_chars:
            break
        tail = candidate
    if tail:
        return tail
    cut = text[-overlap_chars:]
    return cut.split(" ", 1)[-1] if " " in cut else cut


class ManualIndex:
    """BM25 over manual chunks. Build it with `ManualIndex.build(manuals)`; `dumps`/`loads` round-trip it."""

    def __init__(self, chunks: list[Chunk], vocabulary: dict[str, int], weights: sparse.csr_matrix):
        self.chunks = chunks
        self._vectorizer = CountVectorizer(analyzer=analyze, vocabulary=vocabulary)
        self._weights = weights

    @classmethod
    def build(
        cls,
        manuals: Iterable[Manual],
        *,
        max_chars: int = CHUNK_CHARS,
        overlap_chars: int = OVERLAP_CHARS,
    ) -> "ManualIndex":
        chunks = [
            chunk
            for manual in manuals
            for chunk in chunk_manual(manual, max_chars=max_chars, overlap_chars=overlap_chars)
        ]
        vectorizer = CountVectorizer(analyzer=analyze)
        if not chunks:
            return cls([], {}, sparse.csr_matrix((0, 0)))
        counts = vectorizer.fit_transform(_indexed_text(chunk) for chunk in chunks)
        return cls(chunks, vectorizer.vocabulary_, _bm25_weights(counts.tocsr()))

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def sources(self) -> list[str]:
        return sorted({chunk.source for chunk in self.chunks})

    def search(
        self, query: str, *, k: int = 3, category: str | None = None, section: str | None = None
    ) -> list[Passage]:
        """The k best chunks with a positive score.

        `category` keeps that category's chunks and those of general manuals (no category); `section` keeps
        chunks whose section title contains it (case-insensitive), e.g. "inspection".
        """
        if not self.chunks or k <= 0:
            return []
        query_terms = self._vectorizer.transform([query])
        query_terms.data[:] = 1  # a term repeated in the question should not count twice
        scores = np.asarray((self._weights @ query_terms.T).todense()).ravel()
        allowed = np.array([_matches(chunk, category, section) for chunk in self.chunks])
        scores = np.where(allowed, scores, 0.0)
        best = np.argsort(-scores, kind="stable")[:k]
        return [Passage(self.chunks[i], float(scores[i])) for i in best if scores[i] > 0]

    def dumps(self) -> bytes:
        """A compact, pickle-free serialisation (numpy npz): safe to keep in a cache or shared store."""
        buffer = io.BytesIO()
        terms = sorted(self._vectorizer.vocabulary, key=self._vectorizer.vocabulary.get)
        meta = {"format": INDEX_FORMAT, "terms": terms, "chunks": [chunk.to_dict() for chunk in self.chunks]}
        np.savez_compressed(
            buffer,
            meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8),
            data=self._weights.data,
            indices=self._weights.indices,
            indptr=self._weights.indptr,
            shape=np.array(self._weights.shape),
        )
        return buffer.getvalue()

    @classmethod
    def loads(cls, payload: bytes) -> "ManualIndex":
        with np.load(io.BytesIO(payload), allow_pickle=False) as arrays:
            meta = json.loads(arrays["meta"].tobytes())
            if meta.get("format") != INDEX_FORMAT:
                raise ValueError(
                    f"manual index format {meta.get('format')} is not {INDEX_FORMAT}; rebuild it"
                )
            weights = sparse.csr_matrix(
                (arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"])
            )
        chunks = [Chunk(**chunk) for chunk in meta["chunks"]]
        return cls(chunks, {term: i for i, term in enumerate(meta["terms"])}, weights)


def _matches(chunk: Chunk, category: str | None, section: str | None) -> bool:
    if category is not None and chunk.category not in (None, category):
        return False
    return section is None or section.lower() in chunk.section.lower()


def _indexed_text(chunk: Chunk) -> str:
    # The section title and category make "pump inspection" match a pump manual's inspection section.
    return f"{chunk.category or ''} {chunk.title} {chunk.section}\n{chunk.text}"


def _bm25_weights(counts: sparse.csr_matrix) -> sparse.csr_matrix:
    """Per (chunk, term) BM25 weight, so that scoring a query is one sparse product."""
    documents = counts.shape[0]
    document_frequency = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = np.log(1 + (documents - document_frequency + 0.5) / (document_frequency + 0.5))
    lengths = np.asarray(counts.sum(axis=1)).ravel()
    norm = BM25_K1 * (1 - BM25_B + BM25_B * lengths / lengths.mean())
    weights = counts.astype(np.float64)
    rows = np.repeat(np.arange(documents), np.diff(weights.indptr))
    tf = weights.data
    weights.data = idf[weights.indices] * tf * (BM25_K1 + 1) / (tf + norm[rows])
    return weights
