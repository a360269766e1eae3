"""The course site (``python3 -m coursekit.site build``): pages, slides and PDF, offline.

The README's command builds every lecture; here a representative subset is built once
per test run (``SITE_LECTURES``: lecture 04, with math, figures, checked outputs and the
interactive explorer), with every assignment and the package reference, into a
temporary folder, and then:

- the site has no broken internal link, and its assignment pages are the released
  student versions (no solution code, no hidden check);
- every figure of the built lectures has its alt text in ``<img alt>``, and the explorer
  shows a static picture; the execution cache is used on a second build;
- headless Chromium (Debian's, driven by Playwright) opens the index, the lecture and
  its slide deck: math is typeset (no raw ``$$``), every image loads, the console shows
  no error, no request leaves the machine, and every slide fits on the screen;
- the PDF has one bookmark per lecture and its text.

That every figure of *every* lecture has alt text is asserted where the lectures are
executed anyway: ``tests/test_lecture_seeds.py`` calls :func:`figures_without_alt` on
each executed lecture.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from coursekit import site
from coursekit.site import (
    Layout,
    SiteError,
    assert_student_version,
    broken_links,
    docstring_math_to_rst,
    figure_alts,
    figures_without_alt,
    make_static,
    readme_table,
    slide_notebook,
)
from tests.browser_lab import browser_fixture

ROOT = Path(__file__).resolve().parents[1]
SITE_LECTURES = os.environ.get("COURSEKIT_SITE_LECTURES", "04").split(",")
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def _figure_cell(alt=None, n=1, widget=False):
    cell = nbformat.v4.new_code_cell("plot()")
    if alt is not None:
        cell.metadata["coursekit"] = {"alt": alt}
    data = {"image/png": PNG, "text/plain": "<Figure>"}
    if widget:
        data["application/vnd.jupyter.widget-view+json"] = {"model_id": "m", "version_major": 2}
    cell.outputs = [nbformat.v4.new_output("display_data", data=dict(data)) for _ in range(n)]
    return cell


def _notebook(*cells):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), *cells]
    return nb


# ------------------------------------------------------------------ without a build
def test_a_figure_without_alt_text_is_named_by_lecture_and_cell():
    nb = _notebook(_figure_cell("contours and the GD path"), _figure_cell(None))
    problems = figures_without_alt(nb, "04_demo.ipynb")
    assert len(problems) == 1
    assert "04_demo.ipynb cell 2" in problems[0] and "without alt text" in problems[0]
    with pytest.raises(SiteError, match="04_demo.ipynb cell 2"):
        make_static(nb, "04_demo.ipynb", strict=True)


def test_alt_text_counts_must_match_the_figures():
    assert figures_without_alt(_notebook(_figure_cell(["a", "b"], n=2))) == []
    assert (
        "draws 2 figures but has 1" in figures_without_alt(_notebook(_figure_cell(["a"], n=2)))[0]
    )
    assert "empty" in figures_without_alt(_notebook(_figure_cell(["a", " "], n=2)))[0]
    stale = nbformat.v4.new_code_cell("x = 1", metadata={"coursekit": {"alt": "a plot"}})
    assert "draws no figure" in figures_without_alt(_notebook(stale))[0]
    assert figure_alts(_figure_cell("one")) == ["one"]


def test_static_pages_drop_widget_views_but_keep_a_widgets_picture():
    bar = nbformat.v4.new_code_cell("for _ in progress(range(3)): pass")
    bar.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": {"model_id": "p"},
                "text/plain": "HBox()",
            },
        )
    ]
    nb = _notebook(bar, _figure_cell("the explorer's frame", widget=True))
    nb.metadata["widgets"] = {"state": {}}
    static, problems = make_static(nb, "x.ipynb")
    assert problems == [] and "widgets" not in static.metadata
    assert static.cells[1].outputs == []  # a progress bar: nothing to show on a page
    (picture,) = static.cells[2].outputs
    assert set(picture.data) == {"image/png", "text/plain"}
    assert picture.metadata["image/png"]["alt"] == "the explorer's frame"


def test_explore_widget_carries_a_static_picture_beside_itself():
    from coursekit.explorer import explore

    box = explore(method="momentum", lr=0.3, kappa=30.0, widgets=True)
    bundle = box._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"].startswith("iVBORw0KGgo")  # a PNG, base64


def test_the_site_refuses_solutions_and_hidden_checks():
    for path in sorted((ROOT / "assignments").glob("[0-9]*.ipynb")):
        assert_student_version(nbformat.read(path, as_version=4), path.name)
    for path in sorted((ROOT / "solutions").glob("[0-9]*.ipynb")):
        with pytest.raises(SiteError, match="site shows assignments/ only"):
            assert_student_version(nbformat.read(path, as_version=4), path.name)


def test_docstring_math_becomes_rst_math():
    lines = [r"$\sigma(z) = 1/(1+e^{-z})$ for large |z|; costs $5 and ``a|b``.", "", "$$a =", "b$$"]
    out = "\n".join(docstring_math_to_rst(lines))
    assert r":math:`\sigma(z) = 1/(1+e^{-z})` for large \|z\|" in out
    assert "costs $5 and ``a|b``" in out
    assert ".. math::\n\n   a = b" in out


def test_slides_break_at_sections_and_keep_code_with_its_text():
    nb = _notebook(
        nbformat.v4.new_markdown_cell("Intro."),
        nbformat.v4.new_markdown_cell("## 1. A section\n\ntext\n```\n## not a heading\n```"),
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(1)"),
        nbformat.v4.new_code_cell("print(2)"),
        nbformat.v4.new_markdown_cell(
            "### A sub-heading\n\n## 2. Two sections in one cell\n\ntext"
        ),
        nbformat.v4.new_code_cell(""),
        nbformat.v4.new_markdown_cell("\n".join(["a long text"] * 9)),
        nbformat.v4.new_code_cell("print(3)"),
    )
    slides = slide_notebook(nb)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in slides.cells]
    assert kinds == [
        "slide", "subslide", "slide", "-", "subslide", "subslide", "slide", "skip", "subslide", "subslide"
    ]  # fmt: skip
    assert slides.cells[3].source == "print(1)"
    assert slides.cells[6].source == "## 2. Two sections in one cell\n\ntext"


def test_the_index_lists_every_lecture_of_the_readme():
    readme = (ROOT / "README.md").read_text()
    stems = [
        row[1].strip("`").removesuffix(".ipynb") for row in readme_table(readme, "The lectures")
    ]
    assert stems == [p.stem for p in site.lecture_paths(ROOT)]
    text = site.index_markdown(readme, {s: s for s in stems}, {}, [])
    assert all(f"(lectures/{s}.ipynb)" in text and f"slides/{s}.slides.html" in text for s in stems)


def test_broken_links_are_found(tmp_path):
    (tmp_path / "a.html").write_text(
        '<a href="b.html#here">ok</a><a href="b.html#gone">x</a><img src="missing.png">'
        '<a href="https://example.org/">external: the browser test covers it</a>'
    )
    (tmp_path / "b.html").write_text('<h1 id="here">B</h1><a href="../../etc/passwd">out</a>')
    assert broken_links(tmp_path) == [
        "a.html: <a> b.html#gone (no such anchor)",
        "a.html: <img> missing.png (no such file)",
        "b.html: <a> ../../etc/passwd leaves the site",
    ]


# ------------------------------------------------------------------------ the build
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The site of SITE_LECTURES, built once: html, slides and (with Chromium) the PDF."""
    try:
        import myst_nb  # noqa: F401
    except ImportError:
        message = "the site's packages are missing: pip install -e '.[dev]' -c constraints.txt"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    layout = Layout.make(ROOT, tmp_path_factory.mktemp("site"), SITE_LECTURES)
    log = []
    staged = site.stage(layout, jobs=1, log=log.append)
    site.build_html(layout, log=log.append)
    site.build_slides(layout, log=log.append)
    if site.find_chromium():
        site.build_pdf(layout, log=log.append)
    return layout, staged, log


class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))


def test_site_has_no_broken_internal_links(built):
    layout, _, _ = built
    if not layout.pdf.exists():
        layout.pdf.write_bytes(b"%PDF-1.4\n")  # no Chromium here: the PDF's own test skips
    assert broken_links(layout.html) == []
    for lecture in layout.lectures:
        assert (layout.html / "lectures" / f"{lecture.stem}.html").exists()
        assert (layout.slides / f"{lecture.stem}.slides.html").exists()
    assert (layout.html / "reference" / "coursekit.theory.html").exists()


def test_a_second_build_executes_nothing(built):
    layout, _, _ = built
    log = []
    site.stage(layout, jobs=1, log=log.append)
    assert f"execute: {len(layout.lectures)} lecture(s) cached, 0 to run" in log[0]


def test_every_built_figure_has_its_alt_text(built):
    layout, staged, _ = built
    assert staged["alt_problems"] == [], "\n".join(staged["alt_problems"])
    for lecture in layout.lectures:
        nb = nbformat.read(staged["lectures"][lecture.stem], as_version=4)
        expected = [a for c in nb.cells if c.cell_type == "code" for a in (figure_alts(c) or [])]
        for page in (
            layout.html / "lectures" / f"{lecture.stem}.html",
            layout.slides / f"{lecture.stem}.slides.html",
        ):
            parser = _Images()
            parser.feed(page.read_text())
            figures = [
                i
                for i in parser.images
                if "_images/" in i["src"] or i["src"].startswith("data:image")
            ]
            assert [i.get("alt") for i in figures] == expected, (
                f"{page.name}: <img alt> differs from the cells' alt text"
            )


def test_the_explorer_shows_a_picture_on_the_page(built):
    layout, staged, _ = built
    if not any(p.stem.startswith("04") for p in layout.lectures):
        pytest.skip("lecture 04 not in COURSEKIT_SITE_LECTURES")
    (stem,) = [p.stem for p in layout.lectures if p.stem.startswith("04")]
    nb = nbformat.read(staged["lectures"][stem], as_version=4)
    (cell,) = [c for c in nb.cells if c.cell_type == "code" and "explore(" in c.source]
    assert site.image_outputs(cell), "the explorer cell stores no static picture"
    html = (layout.html / "lectures" / f"{stem}.html").read_text()
    cells = html.split('<div class="cell docutils container"')
    (explorer,) = [c for c in cells if '<span class="n">explore</span><span class="p">(' in c]
    assert re.search(r'<img [^>]*src="\.\./_images/', explorer), "no picture in the explorer cell"


def _leaked_solution_lines(solution: Path, page: str) -> list[str]:
    """Lines of ``solution``'s answer regions and hidden checks that the released
    assignment does not contain (hints aside) but ``page`` shows."""
    released = nbformat.read(ROOT / "assignments" / solution.name, as_version=4)
    public = "\n".join(c.source for c in released.cells)
    secret = []
    for cell in nbformat.read(solution, as_version=4).cells:
        meta = cell.metadata.get("coursekit", {})
        if meta.get("hidden"):
            secret += cell.source.splitlines()
        elif "answer" in meta:
            regions = re.findall(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", cell.source, re.S)
            secret += [ln for block in regions for ln in block.splitlines()]

    def shown(line, text):  # the line's words in order, whatever the spacing and markup
        return re.search(r"\W+".join(re.findall(r"\w+", line)), text) is not None

    secret = [
        ln.strip()
        for ln in secret
        if len(ln.strip()) > 20 and "### HINT" not in ln and not shown(ln, public)
    ]
    assert secret, f"{solution.name}: no solution line to look for"
    return [ln for ln in secret if shown(ln, page)]


def test_assignment_pages_are_the_released_student_versions(built):
    """The staged assignments are assignments/ as released, and no line of a solution
    region or of a hidden check that the released version lacks shows on the page."""
    layout, _, _ = built
    for solution in sorted((ROOT / "solutions").glob("[0-9]*.ipynb")):
        page = _text((layout.html / "assignments" / f"{solution.stem}.html").read_text())
        staged = nbformat.read(layout.src / "assignments" / solution.name, as_version=4)
        released = nbformat.read(ROOT / "assignments" / solution.name, as_version=4)
        assert [c.source for c in staged.cells] == [c.source for c in released.cells]
        assert "NotImplementedError" in page
        leaked = _leaked_solution_lines(solution, page)
        assert not leaked, f"{solution.name}: the site shows solution code: {leaked[:3]}"
        # and the check does see a solution where there is one
        solution_text = "\n".join(c.source for c in nbformat.read(solution, as_version=4).cells)
        assert _leaked_solution_lines(solution, solution_text)


def _text(html: str) -> str:
    import html as html_lib

    return html_lib.unescape(re.sub(r"<[^>]+>", "", html))


def test_the_pdf_has_every_lecture(built):
    layout, _, _ = built
    if not site.find_chromium():
        pytest.skip("Chromium not installed: no PDF")
    from pypdf import PdfReader

    reader = PdfReader(layout.pdf)
    titles = [o.title for o in reader.outline]
    assert len(titles) == len(layout.lectures) and len(reader.pages) >= 2 * len(layout.lectures)
    text = " ".join(page.extract_text() for page in reader.pages[:3])
    assert titles[0].split(":")[0] in text and "$$" not in text


# ----------------------------------------------------------------- in the browser
browser = browser_fixture()


def visit(browser, base: str, path: str) -> dict:
    """Open ``base/path`` with every request that is not to ``base`` aborted; report what
    a reader sees: requests that tried to leave, console errors, broken images, raw math."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    left, errors = [], []

    def route(r):
        url = r.request.url
        if url.startswith(base + "/") or url.startswith("data:"):
            r.continue_()
        else:
            left.append(url)
            r.abort()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(f"{base}/{path}", wait_until="load")
        page.evaluate(site.WAIT_FOR_PAGE)
        if "slides" in path:
            page.evaluate("() => window.courseSlidesReady")
        page.wait_for_timeout(300)
        report = page.evaluate(
            """() => ({
                text: document.body.innerText,
                math: document.querySelectorAll('mjx-container').length,
                images: [...document.images].map(i => [i.getAttribute('src').slice(0, 60), i.naturalWidth]),
            })"""
        )
        if "slides" in path:
            report["slides"] = page.evaluate(
                """() => { const H = Reveal.getConfig().height, W = Reveal.getConfig().width;
                return [...document.querySelectorAll('.reveal .slides section')]
                  .filter(s => !s.querySelector('section')).map(s => {
                    const shown = [s, s.parentElement].map(e => [e, e.style.display]);
                    shown.forEach(([e]) => { e.style.display = 'block'; });
                    const k = parseFloat(s.style.zoom || '1');
                    const r = {at: JSON.stringify(Reveal.getIndices(s)), zoom: k,
                               h: s.scrollHeight * k, w: s.scrollWidth * k, H: H, W: W};
                    shown.forEach(([e, d]) => { e.style.display = d; });
                    return r; }); }"""
            )
    finally:
        context.close()
    report.update(left=left, errors=errors)
    return report


def assert_reader_view(report: dict, name: str, expect_math=True, expect_images=True):
    assert not report["left"], f"{name}: requests left the machine: {report['left'][:5]}"
    assert not report["errors"], f"{name}: console errors: {report['errors'][:5]}"
    broken = [src for src, width in report["images"] if width == 0]
    assert not broken, f"{name}: images that did not load: {broken[:5]}"
    if expect_images:
        assert report["images"], f"{name}: no image on the page"
    assert "$$" not in report["text"], f"{name}: raw $$ math is visible"
    if expect_math:
        assert report["math"] > 0, f"{name}: no typeset math (MathJax did not run)"


def test_pages_work_offline_in_chromium(built, browser):
    layout, _, _ = built
    stem = layout.lectures[0].stem
    with site.serve(layout.html) as base:
        index = visit(browser, base, "index.html")
        assert_reader_view(index, "index.html", expect_math=False, expect_images=False)
        lecture = visit(browser, base, f"lectures/{stem}.html")
        assert_reader_view(lecture, f"{stem}.html")
        reference = visit(browser, base, "reference/coursekit.theory.html")
        assert_reader_view(reference, "coursekit.theory.html", expect_images=False)


def test_slides_work_offline_and_every_slide_fits(built, browser):
    layout, _, _ = built
    stem = layout.lectures[0].stem
    with site.serve(layout.html) as base:
        deck = visit(browser, base, f"slides/{stem}.slides.html")
    assert_reader_view(deck, f"{stem}.slides.html")
    slides = deck["slides"]
    assert len(slides) > 5, f"{stem}: only {len(slides)} slides"
    too_big = [s for s in slides if s["h"] > s["H"] + 2 or s["w"] > s["W"] + 2]
    assert not too_big, f"{stem}: slides larger than the screen: {too_big[:3]}"
    tiny = [s for s in slides if s["zoom"] < 0.7]
    assert not tiny, f"{stem}: slides shrunk below 70% to fit (split the cell): {tiny[:3]}"


def test_the_browser_check_catches_what_it_must(browser, tmp_path):
    """The checks above must fail on an external request, a console error, a broken
    image and raw math."""
    (tmp_path / "bad.html").write_text(
        "<html><body><p>$$x^2$$</p><img src='missing.png'>"
        "<img src='https://cdn.example.org/a.png'><script>console.error('boom')</script>"
        "</body></html>"
    )
    with site.serve(tmp_path) as base:
        report = visit(browser, base, "bad.html")
    assert report["left"] == ["https://cdn.example.org/a.png"]
    for needle in ("requests left", "console errors", "did not load", "raw \\$\\$"):
        check = dict(report)
        if needle != "requests left":
            check["left"] = []
        if needle not in ("requests left", "console errors"):
            check["errors"] = []
        if needle == "raw \\$\\$":
            check["images"] = [["ok.png", 10]]
        with pytest.raises(AssertionError, match=needle):
            assert_reader_view(check, "bad.html")
