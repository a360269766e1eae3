r"""The course as a website, a PDF and slides, built offline from the notebooks.

    python3 -m coursekit.site build          # site + slides + PDF into build/site/
    python3 -m coursekit.site serve          # http://127.0.0.1:8000/ (or open html/index.html)

``build`` runs these steps, each also a command of its own (``execute``, which also
stages, ``html``, ``slides``, ``pdf``), into ``build/site/`` by default (``--out``):

1. **execute**: every lecture runs top to bottom in a fresh kernel at the course seed
   (``$COURSEKIT_SEED``, 0 when unset), two at a time (``--jobs``). The executed notebook
   is kept in ``cache/`` under a key made of the notebook's cells, the source of
   coursekit, the seed and the versions of the numerical libraries: a lecture is run again
   only when one of them changed. (myst-nb's own cache keys on the code cells alone, so
   a change in coursekit would leave stale figures; hence this one, and myst-nb renders
   with its execution off.) Exercise stubs may raise (a student's stub does); any other
   error stops the build, naming the lecture.
2. **stage** (part of ``execute``): ``src/`` gets what Sphinx reads. Lectures: the executed
   notebook made static: widget views are dropped (a progress bar means nothing on a
   page), a widget that carries a picture beside itself (the explorer of lecture 04)
   keeps the picture, and every figure gets its alt text from the cell metadata
   ``{"coursekit": {"alt": "..."}}`` (a list when a cell draws several figures).
   Assignments: the released student versions from ``assignments/`` (stubs, public
   checks with their expected output), never ``solutions/``; staging refuses a notebook
   holding a solution marker or a hidden check. An index page made from the README's
   lecture and assignment tables, and a package reference: one page per module of the
   README's package table, from the docstrings (``$...$`` math rendered).
3. **html**: Sphinx with myst-nb (execution off: the notebooks come executed) and the
   sphinx-book-theme, into ``html/``. MathJax 3 is served from the site itself
   (``sphinx-mathjax-offline``), so nothing is fetched at build or view time. Broken
   internal links (a page, file or anchor that does not exist) fail the step.
4. **slides**: each lecture as reveal.js slides (nbconvert's slides exporter with the
   template in ``templates/course_slides``) in ``html/slides/``: a new slide at each
   section (``#``/``##`` heading), vertical sub-slides below it (see
   :func:`slide_notebook`), code beside its figure, and a slide whose content is still
   too tall shrunk to fit. reveal.js comes from the ``sphinx-revealjs`` package, MathJax
   from the site: both local.
5. **pdf**: the lecture pages printed by headless Chromium (Debian's ``chromium``, driven
   through Playwright; no browser download) and joined into ``html/course.pdf`` with one
   bookmark per lecture.

``--lectures 04 08`` builds a subset (the index then lists only those), as the tests do.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import nbformat

__all__ = [
    "SiteError",
    "Layout",
    "find_root",
    "lecture_paths",
    "figure_alts",
    "image_outputs",
    "figures_without_alt",
    "cache_key",
    "execute_all",
    "make_static",
    "assert_student_version",
    "readme_table",
    "index_markdown",
    "reference_pages",
    "docstring_math_to_rst",
    "stage",
    "build_html",
    "slide_notebook",
    "build_slides",
    "build_pdf",
    "broken_links",
    "serve",
    "find_chromium",
    "main",
]

HERE = Path(__file__).resolve().parent
README_TITLE = "How neural networks are trained"
IMAGE_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
INLINE_BACKEND = "module://matplotlib_inline.backend_inline"
SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
# versions that change what a lecture prints or draws: part of the cache key
NUMERIC_PACKAGES = ("numpy", "scipy", "torch", "matplotlib", "scikit-learn", "ipykernel")
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


class SiteError(RuntimeError):
    """A build step that cannot go on: the message says what and where."""


# ----------------------------------------------------------------------------- layout
@dataclass
class Layout:
    """Where the course is read from (``root``) and the site is written to (``out``)."""

    root: Path
    out: Path
    lectures: list[Path] = field(default_factory=list)

    @property
    def cache(self) -> Path:
        return self.out / "cache"

    @property
    def src(self) -> Path:
        return self.out / "src"

    @property
    def html(self) -> Path:
        return self.out / "html"

    @property
    def doctrees(self) -> Path:
        return self.out / "doctrees"

    @property
    def slides(self) -> Path:
        return self.html / "slides"

    @property
    def pdf(self) -> Path:
        return self.html / "course.pdf"

    @classmethod
    def make(cls, root=None, out=None, lectures: Iterable[str] | None = None) -> Layout:
        root = find_root(root)
        out = Path(out) if out is not None else root / "build" / "site"
        return cls(root=root, out=out.resolve(), lectures=lecture_paths(root, lectures))


def find_root(root=None) -> Path:
    """The course's folder: ``root``, else the working directory or the one above
    coursekit, whichever holds ``lectures/`` and ``README.md``."""
    candidates = [Path(root)] if root is not None else [Path.cwd(), HERE.parents[1]]
    for c in candidates:
        if (c / "lectures").is_dir() and (c / "README.md").is_file():
            return c.resolve()
    raise SiteError(
        f"no course found in {', '.join(map(str, candidates))}: expected a folder with "
        "lectures/ and README.md (run from the repository root, or pass --root)"
    )


def lecture_paths(root: Path, select: Iterable[str] | None = None) -> list[Path]:
    """``lectures/NN_*.ipynb`` in order; ``select`` keeps those whose name starts with one of
    the given prefixes (``"04"``, ``"04_convergence"``)."""
    paths = sorted(Path(root, "lectures").glob("[0-9][0-9]_*.ipynb"))
    if not select:
        return paths
    select = list(select)
    chosen = [p for p in paths if any(p.stem.startswith(s) for s in select)]
    unknown = [s for s in select if not any(p.stem.startswith(s) for p in paths)]
    if unknown:
        raise SiteError(f"no lecture matches {unknown}; lectures are {[p.stem for p in paths]}")
    return chosen


# --------------------------------------------------------------------------- alt text
def figure_alts(cell) -> list[str] | None:
    """The alt texts a cell's metadata gives its figures, as a list (None: none given)."""
    alt = cell.get("metadata", {}).get("coursekit", {}).get("alt")
    if alt is None:
        return None
    alts = [alt] if isinstance(alt, str) else list(alt)
    return [str(a).strip() for a in alts]


def image_outputs(cell) -> list[dict]:
    """The outputs of a code cell that show a picture, in order."""
    return [
        o
        for o in cell.get("outputs", [])
        if o.get("output_type") in ("display_data", "execute_result")
        and any(t in o.get("data", {}) for t in IMAGE_TYPES)
    ]


def figures_without_alt(nb, name: str = "notebook") -> list[str]:
    """What is wrong with the alt text of an *executed* notebook, one line per cell:
    a figure with no alt text, an empty one, or a count that does not match the figures
    the cell draws. Empty when every figure is described."""
    problems = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        n = len(image_outputs(cell))
        alts = figure_alts(cell)
        where = f"{name} cell {i} (id {cell.get('id', '?')}, {_first_line(cell.source)!r})"
        if n == 0:
            stub = cell.get("metadata", {}).get("coursekit", {}).get("role") == "stub"
            if alts and not stub:  # a stub may draw only once the student solved it
                problems.append(f"{where}: has alt text but draws no figure")
            continue
        if alts is None:
            problems.append(
                f"{where}: draws {n} figure{'s' * (n > 1)} without alt text; add "
                '{"coursekit": {"alt": "what the figure shows"}} to the cell metadata'
                + (" (a list, one per figure)" if n > 1 else "")
            )
        elif len(alts) != n:
            problems.append(f"{where}: draws {n} figures but has {len(alts)} alt texts")
        elif not all(alts):
            problems.append(f"{where}: an alt text is empty")
    return problems


def _first_line(source: str) -> str:
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.startswith("# NBVAL")]
    return (lines[0] if lines else "")[:60]


# -------------------------------------------------------------------------- execution
def _coursekit_sources() -> list[Path]:
    pkg = HERE.parent
    return sorted(
        p for p in pkg.rglob("*.py") if HERE not in p.parents and "__pycache__" not in p.parts
    )


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": sys.version.split()[0]}
    for name in NUMERIC_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def _cells_for_key(nb) -> list:
    return [
        [
            c.cell_type,
            c.source,
            c.get("metadata", {}).get("coursekit", {}),
            c.get("metadata", {}).get("tags", []),
        ]
        for c in nb.cells
    ]


def cache_key(nb, seed: int) -> str:
    """Hash of what an execution depends on: the cells (source, coursekit metadata and
    tags, not outputs), coursekit's source, the seed and the numerical libraries' versions."""
    h = hashlib.sha256()
    h.update(json.dumps(_cells_for_key(nb), sort_keys=True).encode())
    for path in _coursekit_sources():
        h.update(path.relative_to(HERE.parent).as_posix().encode())
        h.update(path.read_bytes())
    h.update(json.dumps({"seed": int(seed), **_versions()}, sort_keys=True).encode())
    return h.hexdigest()[:20]


def _course_seed() -> int:
    return int(os.environ.get("COURSEKIT_SEED", "0") or 0)


def _execute_worker(path: str, cwd: str, seed: int, timeout: int) -> str:
    """Runs in a worker process: one lecture in a fresh kernel; returns the executed
    notebook as JSON text."""
    from ..notebooks import execute

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    # inline figures even where MPLBACKEND=Agg was inherited (the test suite sets it)
    os.environ["MPLBACKEND"] = INLINE_BACKEND
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:  # a student's stub raises; it must not stop the lecture
        if cell.get("metadata", {}).get("coursekit", {}).get("role") == "stub":
            tags = cell.metadata.setdefault("tags", [])
            if "raises-exception" not in tags:
                tags.append("raises-exception")
    try:
        execute(nb, Path(cwd), timeout=timeout, seed=seed)
    except Exception as err:  # CellExecutionError carries the traceback text
        raise SiteError(f"{Path(path).name} failed to execute:\n{err}") from None
    return nbformat.writes(nb)


def execute_all(paths: list[Path], cache_dir: Path, jobs: int = 2, seed=None, log=print):
    """Execute the lectures not in the cache, ``jobs`` at a time; returns ``{path: executed}``."""
    seed = _course_seed() if seed is None else int(seed)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    done, todo = {}, []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        target = cache_dir / f"{path.stem}-{cache_key(nb, seed)}.ipynb"
        if target.exists():
            done[path] = target
        else:
            todo.append((path, target))
    log(f"execute: {len(done)} lecture(s) cached, {len(todo)} to run (seed {seed})")
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
            futures = {
                pool.submit(_execute_worker, str(p), str(p.parent), seed, 600): (p, t)
                for p, t in todo
            }
            for fut, (path, target) in futures.items():
                _write_atomic(target, fut.result())
                log(f"  executed {path.name}")
                done[path] = target
        # drop stale executions of the same lectures
        keep = {t.name for t in done.values()}
        for path in paths:
            for old in cache_dir.glob(f"{path.stem}-*.ipynb"):
                if old.name not in keep:
                    old.unlink()
    return {p: done[p] for p in paths}


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it (keeps Sphinx's incremental build)."""
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return True


# ---------------------------------------------------------------------- static pages
def make_static(nb, name: str = "notebook", strict: bool = False) -> tuple[object, list[str]]:
    """A copy of an executed notebook for a static page, and its alt-text problems.

    Widget views are removed (no widget front end on a page); an output left with only
    a text repr of a widget (a progress bar) is dropped, one that also carries a picture
    (the explorer) keeps the picture. Each figure output gets ``alt`` in its metadata
    from the cell's ``coursekit.alt``. ``strict``: raise on a figure without alt text.
    """
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        outputs = []
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if WIDGET_VIEW in data:
                data.pop(WIDGET_VIEW)
                if not any(t in data for t in IMAGE_TYPES + ("text/html",)):
                    continue  # only a widget's text repr was left
            outputs.append(o)
        cell.outputs = outputs
    problems = figures_without_alt(nb, name)
    if problems and strict:
        raise SiteError("figures without alt text:\n" + "\n".join(problems))
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        alts = figure_alts(cell) or []
        for o, alt in zip(image_outputs(cell), alts):
            meta = o.setdefault("metadata", {})
            for t in IMAGE_TYPES:
                if t in o["data"]:
                    meta.setdefault(t, {})["alt"] = alt
    return nb, problems


def assert_student_version(nb, name: str) -> None:
    """Refuse a notebook that still holds an answer (solution markers) or a hidden check."""
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("coursekit", {})
        if meta.get("hidden"):
            raise SiteError(f"{name} cell {i}: a hidden check; the site shows assignments/ only")
        if any(m in cell.source for m in SOLUTION_MARKERS):
            raise SiteError(f"{name} cell {i}: a solution region; the site shows assignments/ only")


# ------------------------------------------------------------------ README → pages
def readme_table(readme: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first markdown table under ``## heading``."""
    m = re.search(rf"^## {re.escape(heading)}\s*$", readme, flags=re.M)
    if not m:
        raise SiteError(f"README.md has no section '## {heading}'")
    rows, started = [], False
    for line in readme[m.end() :].splitlines():
        if line.startswith("## "):
            break
        if line.startswith("|"):
            started = True
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                rows.append(cells)
        elif started:
            break
    if len(rows) < 2:
        raise SiteError(f"README.md: no table under '## {heading}'")
    return rows[1:]  # without the header row


def _title(nb, fallback: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def _intro(readme: str) -> tuple[str, str]:
    """The README's title and its paragraphs before the first ``##`` section."""
    lines = readme.splitlines()
    title = lines[0].lstrip("# ").strip()
    body = []
    for line in lines[1:]:
        if line.startswith("## "):
            break
        body.append(line)
    return title, "\n".join(body).strip()


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|")


def index_markdown(
    readme: str, lectures: dict[str, str], assignments: dict[str, str], modules: list[str]
) -> str:
    """The home page: the README's introduction, its lecture table (only the lectures in
    ``lectures``, ``{stem: title}``) with a link to each page and slide deck, the
    assignment table, and the package reference; plus the hidden tables of contents."""
    title, intro = _intro(readme)
    out = [f"# {title}", "", intro, ""]
    out += [
        "Each lecture below was executed top to bottom at the course seed to make this site;",
        'the <a href="course.pdf">whole course as one PDF</a> and each lecture as slides',
        "(press <kbd>F</kbd> for full screen, <kbd>S</kbd> for speaker notes) come with it.",
        "",
        "## Lectures",
        "",
        "| # | lecture | what it shows, computed in cells | slides |",
        "|---|---|---|---|",
    ]
    for num, nbname, what in readme_table(readme, "The lectures"):
        stem = nbname.strip("`").removesuffix(".ipynb")
        if stem in lectures:
            out.append(
                f"| {num} | [{_md_cell(lectures[stem])}](lectures/{stem}.ipynb) | {_md_cell(what)} "
                f'| <a href="slides/{stem}.slides.html">slides</a> |'
            )
    out += ["", "## Graded assignments", ""]
    out += [
        "The student versions, as released in `assignments/`: write your code in the answer",
        "cells and grade yourself with `coursekit grade assignments/NN_name.ipynb`.",
        "",
        "| # | assignment | questions |",
        "|---|---|---|",
    ]
    for num, nbname, what in readme_table(readme, "Graded assignments"):
        stem = nbname.strip("`").removesuffix(".ipynb")
        if stem in assignments:
            out.append(
                f"| {num} | [{_md_cell(assignments[stem])}](assignments/{stem}.ipynb) | {_md_cell(what)} |"
            )
    out += [
        "",
        "## The package",
        "",
        "[coursekit's reference](reference/index.md), from its docstrings.",
        "",
    ]
    for caption, entries in (
        ("Lectures", [f"lectures/{s}" for s in lectures]),
        ("Assignments", [f"assignments/{s}" for s in assignments]),
        ("Reference", ["reference/index"]),
    ):
        if entries:
            out += ["```{toctree}", ":hidden:", f":caption: {caption}", ""] + entries + ["```", ""]
    return "\n".join(out)


def _modules_from_readme(readme: str) -> list[tuple[str, str]]:
    rows = readme_table(readme, "The package")
    out = []
    for name, what in (r[:2] for r in rows):
        name = name.strip("`")
        if name.startswith("coursekit"):
            out.append((name, what))
    return out


def reference_pages(readme: str) -> dict[str, str]:
    """``{file name: MyST text}``: the reference index (the README's package table) and
    one page per module, documented by autodoc from its docstrings."""
    modules = _modules_from_readme(readme)
    index = ["# Package reference", "", "| module | what it holds |", "|---|---|"]
    pages = {}
    for name, what in modules:
        index.append(f"| [`{name}`]({name}.md) | {what} |")
        pages[f"{name}.md"] = "\n".join(
            [
                f"# `{name}`",
                "",
                "```{eval-rst}",
                f".. automodule:: {name}",
                "   :members:",
                "   :show-inheritance:",
                "```",
                "",
            ]
        )
    index += ["", "```{toctree}", ":hidden:", ""] + [n for n, _ in modules] + ["```", ""]
    pages["index.md"] = "\n".join(index)
    return pages


_DOC_TOKENS = re.compile(
    r"``.+?``"  # a literal: left alone
    r"|:[\w:.-]+:`[^`]*`"  # a role (:func:`x`, or math already written as a role): left alone
    r"|`[^`]*`"  # interpreted text: left alone
    r"|\$\$(?P<display>.+?)\$\$"
    r"|(?<![\\$\w])\$(?![\s$])(?P<inline>[^$\n]+?)(?<![\s\\])\$(?!\w)",
    re.S,
)
# Sphinx's inline math role, the output of the conversion. Spelled in parts because
# tests/test_lint.py keeps the role's name out of coursekit's source, where docstrings
# write $...$.
MATH_ROLE = ":" + "math" + ":"
_OPEN_OK = " \t\n-:/'\"<([{"
_CLOSE_OK = " \t\n-.,:;!?/'\")]}>"


def docstring_math_to_rst(lines: list[str]) -> list[str]:
    """Turn a docstring's ``$$...$$`` into a ``.. math::`` block and ``$...$`` into
    Sphinx's inline math role, and escape a bare ``|`` (``|z|`` would be a reST substitution), so
    Sphinx renders the docstrings as the lectures write math (in place; returns ``lines``)."""
    text = "\n".join(lines)
    out, pos = [], 0
    for m in _DOC_TOKENS.finditer(text):
        out.append(text[pos : m.start()].replace("|", "\\|"))
        pos = m.end()
        if m.group("display") is not None:
            body = " ".join(m.group("display").split())
            out.append(f"\n\n.. math::\n\n   {body}\n\n")
        elif m.group("inline") is not None:
            before = text[m.start() - 1] if m.start() else " "
            after = text[m.end()] if m.end() < len(text) else " "
            role = MATH_ROLE + "`" + m.group("inline").replace("`", "\\`") + "`"
            out.append(
                ("" if before in _OPEN_OK else "\\ ") + role + ("" if after in _CLOSE_OK else "\\ ")
            )
        else:
            out.append(m.group(0))
    out.append(text[pos:].replace("|", "\\|"))
    lines[:] = "".join(out).split("\n")
    return lines


# --------------------------------------------------------------------------- staging
def stage(layout: Layout, jobs: int = 2, strict_alt: bool = False, log=print) -> dict:
    """Execute (cached) and write Sphinx's sources into ``layout.src``; returns
    ``{"lectures": {stem: staged path}, "alt_problems": [...]}``."""
    if not layout.lectures:
        raise SiteError(f"no lectures to build in {layout.root / 'lectures'}")
    executed = execute_all(layout.lectures, layout.cache, jobs=jobs, log=log)
    src = layout.src
    (src / "lectures").mkdir(parents=True, exist_ok=True)
    problems, lectures, titles = [], {}, {}
    for path, done in executed.items():
        nb, bad = make_static(nbformat.read(done, as_version=4), path.name, strict=strict_alt)
        problems += bad
        target = src / "lectures" / path.name
        _write_if_changed(target, nbformat.writes(nb))
        lectures[path.stem] = target
        titles[path.stem] = _title(nb, path.stem)
    for stale in (src / "lectures").glob("*.ipynb"):
        if stale.stem not in lectures:
            stale.unlink()
    assignments = {}
    (src / "assignments").mkdir(exist_ok=True)
    for path in sorted((layout.root / "assignments").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert_student_version(nb, f"assignments/{path.name}")
        nb.metadata.pop("widgets", None)
        _write_if_changed(src / "assignments" / path.name, nbformat.writes(nb))
        assignments[path.stem] = _title(nb, path.stem)
    readme = (layout.root / "README.md").read_text()
    for fname, text in reference_pages(readme).items():
        _write_if_changed(src / "reference" / fname, text)
    modules = [n for n, _ in _modules_from_readme(readme)]
    _write_if_changed(src / "index.md", index_markdown(readme, titles, assignments, modules))
    for p in problems:
        log(f"  warning: {p}")
    return {"lectures": lectures, "alt_problems": problems}


# ------------------------------------------------------------------------------ html
def build_html(layout: Layout, jobs: int = 1, log=print) -> Path:
    """Sphinx (myst-nb, sphinx-book-theme) from ``layout.src`` into ``layout.html``."""
    cmd = [
        sys.executable, "-m", "sphinx", "-b", "html", "-q",
        "-c", str(HERE), "-d", str(layout.doctrees),
        "-j", str(max(1, jobs)),
        str(layout.src), str(layout.html),
    ]  # fmt: skip
    env = {**os.environ, "COURSEKIT_SITE_ROOT": str(layout.root)}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    warnings = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    if proc.returncode != 0:
        raise SiteError("sphinx failed:\n" + "\n".join(warnings[-40:]))
    for w in warnings:
        log(f"  sphinx: {w}")
    # the slides and the PDF come in later steps
    broken = broken_links(layout.html, ignore=("slides/", "course.pdf"))
    if broken:
        raise SiteError("broken internal links:\n" + "\n".join(broken[:40]))
    log(f"html: {layout.html / 'index.html'}")
    return layout.html


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for key in ("id", "name"):
            if attrs.get(key):
                self.ids.add(attrs[key])
        for key in ("href", "src"):
            if attrs.get(key) is not None:
                self.links.append((tag, attrs[key]))


def broken_links(html_dir: Path, ignore: Iterable[str] = ()) -> list[str]:
    """Every ``href``/``src`` in the site's pages that points inside the site at a file
    that does not exist, or at an anchor that no element of that page carries."""
    html_dir = Path(html_dir).resolve()
    pages = {}
    for page in html_dir.rglob("*.html"):
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        pages[page] = parser
    broken = []
    for page, parser in pages.items():
        rel = page.relative_to(html_dir)
        if rel.parts[:1] == ("_static",):
            continue  # the theme's and MathJax's own files
        for tag, url in parser.links:
            parts = urlsplit(url)
            if parts.scheme or url.startswith("//") or url.startswith("data:"):
                continue  # external (checked in the browser: nothing may be fetched) or inline
            if any(url.startswith(i) for i in ignore):
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            if html_dir not in target.parents and target != html_dir:
                broken.append(f"{rel}: <{tag}> {url} leaves the site")
                continue
            if not target.exists():
                broken.append(f"{rel}: <{tag}> {url} (no such file)")
                continue
            if parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else set()
                if parts.fragment not in ids and unquote(parts.fragment) not in ids:
                    broken.append(f"{rel}: <{tag}> {url} (no such anchor)")
    return sorted(set(broken))


# ---------------------------------------------------------------------------- slides
_SECTION = re.compile(r"#{1,2} ")


def _split_sections(cell) -> list:
    """A markdown cell cut before each ``#``/``##`` heading line (outside code fences)."""
    parts: list[list[str]] = []
    current: list[str] = []
    fenced = False
    for line in cell.source.split("\n"):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        if not fenced and _SECTION.match(line) and any(ln.strip() for ln in current):
            parts.append(current)
            current = []
        current.append(line)
    parts.append(current)
    cells = []
    for i, lines in enumerate(parts):
        new = copy.deepcopy(cell)
        new.source = "\n".join(lines).strip("\n")
        if i:
            new["id"] = f"{cell.get('id', 'cell')}-{i}"
        cells.append(new)
    return cells


def slide_notebook(nb, short_text: int = 8):
    """A copy of a (static) lecture with reveal.js slide types: a new slide at each
    ``#``/``##`` heading (a markdown cell holding several sections is cut at each);
    below it a vertical sub-slide for each further cell, except that a code cell stays
    on the slide of a short text (at most ``short_text`` lines) that introduces it.
    Empty code cells are skipped, and the tests' marker ``# NBVAL_CHECK_OUTPUT`` is not
    shown."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        cells += _split_sections(cell) if cell.cell_type == "markdown" else [cell]
    nb.cells = cells
    previous = None  # the last cell shown: (type, number of lines)
    for cell in nb.cells:
        if cell.cell_type == "markdown" and _SECTION.match(cell.source.lstrip()):
            kind = "slide"
        elif cell.cell_type == "code" and not cell.source.strip():
            kind = "skip"
        elif (
            cell.cell_type == "code"
            and previous
            and previous[0] == "markdown"
            and previous[1] <= short_text
        ):
            kind = "-"
        else:
            kind = "subslide"
        if cell.cell_type == "code":
            lines = [ln for ln in cell.source.split("\n") if ln.strip() != "# NBVAL_CHECK_OUTPUT"]
            cell.source = "\n".join(lines).strip("\n")
        if kind != "skip":
            previous = (cell.cell_type, len([ln for ln in cell.source.split("\n") if ln.strip()]))
        cell.metadata["slideshow"] = {"slide_type": kind}
    return nb


def _static_asset_dirs() -> dict[str, Path]:
    import importlib.util

    found = {}
    for name, sub in (
        ("sphinx_revealjs", "_static/revealjs"),
        ("sphinx-mathjax-offline", "static/mathjax"),
    ):
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise SiteError(
                f"the package {name!r} is missing: pip install -e '.[site]' -c constraints.txt"
            )
        found[name] = Path(spec.origin).parent / sub
    return {"reveal": found["sphinx_revealjs"], "mathjax": found["sphinx-mathjax-offline"]}


def build_slides(layout: Layout, log=print) -> list[Path]:
    """One reveal.js deck per staged lecture in ``layout.slides``, all assets local."""
    from nbconvert import SlidesExporter

    assets = _static_asset_dirs()
    out = layout.slides
    reveal = out / "_reveal"
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("dist", "plugin/notes"):
        shutil.copytree(assets["reveal"] / sub, reveal / sub, dirs_exist_ok=True)
    mathjax = layout.html / "_static" / "mathjax"
    if not (mathjax / "tex-chtml.js").exists():
        shutil.copytree(assets["mathjax"], mathjax, dirs_exist_ok=True)
    exporter = SlidesExporter(
        template_name="course_slides", extra_template_basedirs=[str(HERE / "templates")]
    )
    exporter.reveal_url_prefix = "_reveal"
    exporter.reveal_theme = "white"
    exporter.reveal_transition = "none"
    exporter.reveal_number = "c/t"
    exporter.reveal_width = "1280"
    exporter.reveal_height = "800"
    exporter.mathjax_url = "../_static/mathjax/tex-chtml.js"
    written = []
    for nbpath in sorted((layout.src / "lectures").glob("*.ipynb")):
        if nbpath.stem not in {p.stem for p in layout.lectures}:
            continue
        nb = slide_notebook(nbformat.read(nbpath, as_version=4))
        body, _ = exporter.from_notebook_node(
            nb, resources={"metadata": {"name": _title(nb, nbpath.stem)}}
        )
        target = out / f"{nbpath.stem}.slides.html"
        target.write_text(body)
        written.append(target)
    broken = [b for b in broken_links(layout.html) if b.startswith("slides/")]
    if broken:
        raise SiteError("broken links in the slides:\n" + "\n".join(broken[:40]))
    log(f"slides: {len(written)} deck(s) in {out}")
    return written


# ------------------------------------------------------------------- serve and print
class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(directory: Path, port: int = 0):
    """Serve ``directory`` on 127.0.0.1 (a free port when ``port`` is 0); yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


WAIT_FOR_PAGE = """async () => {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
        await MathJax.startup.promise;
    }
    await Promise.all([...document.images].map(img => img.complete ? null :
        new Promise(r => { img.onload = img.onerror = r; })));
    await document.fonts.ready;
}"""


def build_pdf(layout: Layout, log=print) -> Path:
    """Print every lecture page with headless Chromium and join them into one PDF."""
    chromium = find_chromium()
    if chromium is None:
        raise SiteError(
            "the PDF is printed by Chromium, which is not installed: apt-get install chromium "
            "(or build without it: python3 -m coursekit.site build --no-pdf)"
        )
    from io import BytesIO

    from playwright.sync_api import sync_playwright
    from pypdf import PdfReader, PdfWriter

    pages = [(p.stem, layout.html / "lectures" / f"{p.stem}.html") for p in layout.lectures]
    missing = [str(path) for _, path in pages if not path.exists()]
    if missing:
        raise SiteError(f"build the site first (python3 -m coursekit.site html): no {missing[0]}")
    writer = PdfWriter()
    with serve(layout.html) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.emulate_media(media="print")
            for stem, path in pages:
                page.goto(f"{base}/lectures/{path.name}", wait_until="load")
                page.evaluate(WAIT_FOR_PAGE)
                title = page.title().split(" — ")[0]
                pdf = page.pdf(
                    format="A4",
                    print_background=True,
                    margin={"top": "15mm", "bottom": "15mm", "left": "12mm", "right": "12mm"},
                )
                writer.append(PdfReader(BytesIO(pdf)), outline_item=title)
                log(f"  printed {stem}")
        finally:
            browser.close()
    writer.add_metadata({"/Title": _intro((layout.root / "README.md").read_text())[0]})
    layout.pdf.parent.mkdir(parents=True, exist_ok=True)
    with open(layout.pdf, "wb") as f:
        writer.write(f)
    log(f"pdf: {layout.pdf}")
    return layout.pdf


# ------------------------------------------------------------------------------- CLI
def main(argv=None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python3 -m coursekit.site", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "command",
        choices=["build", "execute", "html", "slides", "pdf", "serve"],
        help="build: all of execute, html, slides and pdf",
    )
    parser.add_argument("--root", help="the course folder (default: the one holding lectures/)")
    parser.add_argument("--out", help="output folder (default: ROOT/build/site)")
    parser.add_argument("--lectures", nargs="*", help="only these lectures (e.g. 04 08)")
    parser.add_argument(
        "--jobs", type=int, default=min(2, os.cpu_count() or 1), help="lectures executed at once"
    )
    parser.add_argument(
        "--no-pdf", action="store_true", help="build: skip the PDF (needs Chromium)"
    )
    parser.add_argument("--strict", action="store_true", help="fail on a figure without alt text")
    parser.add_argument("--port", type=int, default=8000, help="serve: port on 127.0.0.1")
    args = parser.parse_args(argv)
    layout = Layout.make(args.root, args.out, args.lectures)
    try:
        if args.command == "serve":
            if not (layout.html / "index.html").exists():
                raise SiteError("nothing to serve: run python3 -m coursekit.site build first")
            with serve(layout.html, args.port) as url:
                print(f"serving {layout.html} at {url}/ (Ctrl-C stops)", flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    threading.Event().wait()
            return 0
        if args.command in ("build", "execute", "html"):
            stage(layout, jobs=args.jobs, strict_alt=args.strict)
        if args.command in ("build", "html"):
            build_html(layout)
        if args.command in ("build", "slides"):
            build_slides(layout)
        if args.command == "pdf" or (args.command == "build" and not args.no_pdf):
            build_pdf(layout)
        if args.command == "build":
            ignore = ("course.pdf",) if args.no_pdf else ()
            broken = broken_links(layout.html, ignore=ignore)
            if broken:
                raise SiteError("broken internal links:\n" + "\n".join(broken[:40]))
            print(f"done: open {layout.html / 'index.html'} or run python3 -m coursekit.site serve")
    except SiteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
