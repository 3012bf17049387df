#!/usr/bin/env python3
"""Rebuild the SQLite retrieval eval set (docs/ and extracted/) from Debian's sqlite3-doc HTML.

  mkdir -p /var/tmp/eval-build && cd /var/tmp/eval-build
  apt-get download sqlite3-doc            # sqlite3-doc_3.40.1-2+deb12u2_all.deb (bookworm)
  dpkg-deb -x sqlite3-doc_*.deb pkg
  python3 -m venv venv && venv/bin/pip install fpdf2==2.8.9 python-docx==1.2.0 python-pptx==1.0.2 \
      pypdf==7.1.1 beautifulsoup4==4.15.0 lxml==6.1.3
  venv/bin/python benches/eval/sqlite/build_set.py --src pkg/usr/share/doc/sqlite3

(--out defaults to this script's directory and gets docs/ and extracted/).  Each page is converted from HTML to a list of blocks
(headings, paragraphs, list items, code, table rows); syntax diagrams (SVG), menus, tables of contents and
scripts are dropped.  The blocks are then written as PDF (fpdf2, DejaVu fonts, real text, one outline entry
per heading), DOCX (python-docx, Title/Heading styles, code one monospace paragraph per line, real tables),
PPTX (python-pptx, a title slide, then one or more slides per section: title + bullets; code keeps its line
breaks), Markdown or plain text.  extracted/<file>.txt is the text read back from each written file with
pypdf / python-docx / python-pptx (the same extraction check_set.py uses).  Timestamps inside the PDF, DOCX
and PPTX files (metadata and ZIP entries) are pinned to FIXED_DATE, so a rebuild with the same library versions
gives byte-identical files.
"""
import argparse, datetime, os, re, sys

from bs4 import BeautifulSoup, NavigableString, Tag

HERE = os.path.dirname(os.path.abspath(__file__))
FONT_DIR = "/usr/share/fonts/truetype/dejavu"  # Debian package fonts-dejavu-core
FIXED_DATE = datetime.datetime(2026, 11, 28, 12, 0, 0, tzinfo=datetime.timezone.utc)

# (output file, source page in sqlite3-doc, role)
PAGES = [
    # gold: 2 PDF, 2 DOCX, 1 PPTX, 3 MD/TXT
    ("sq_datatypes.pdf", "datatype3.html", "gold"),
    ("sq_query_planner.pdf", "queryplanner.html", "gold"),
    ("sq_foreign_keys.docx", "foreignkeys.html", "gold"),
    ("sq_window_functions.docx", "windowfunctions.html", "gold"),
    ("sq_wal.pptx", "wal.html", "gold"),
    ("sq_json.md", "json1.html", "gold"),
    ("sq_upsert.md", "lang_upsert.html", "gold"),
    ("sq_transactions.txt", "lang_transaction.html", "gold"),
    # distractors: 3 PDF, 3 DOCX, 2 PPTX, 3 MD, 3 TXT
    ("d_sq_locking.pdf", "lockingv3.html", "distractor"),
    ("d_sq_optimizer_overview.pdf", "optoverview.html", "distractor"),
    ("d_sq_create_table.pdf", "lang_createtable.html", "distractor"),
    ("d_sq_pragma.docx", "pragma.html", "distractor"),
    ("d_sq_aggregate_functions.docx", "lang_aggfunc.html", "distractor"),
    ("d_sq_on_conflict.docx", "lang_conflict.html", "distractor"),
    ("d_sq_partial_indexes.pptx", "partialindex.html", "distractor"),
    ("d_sq_isolation.pptx", "isolation.html", "distractor"),
    ("d_sq_strict_tables.md", "stricttables.html", "distractor"),
    ("d_sq_atomic_commit.md", "atomiccommit.html", "distractor"),
    ("d_sq_expression_indexes.md", "expridx.html", "distractor"),
    ("d_sq_date_time_functions.txt", "lang_datefunc.html", "distractor"),
    ("d_sq_autoincrement.txt", "autoinc.html", "distractor"),
    ("d_sq_quirks.txt", "quirks.html", "distractor"),
]

# ---------------------------------------------------------------------------------------------- HTML -> blocks
# A block is (kind, payload): ("h", (level, text)), ("p", text), ("li", (depth, marker, text)),
# ("code", text with newlines), ("table", [[cell, ...], ...]).

SKIP_TAGS = {"script", "style", "svg", "button", "form", "select", "input", "img", "head", "noscript"}
SKIP_CLASSES = {"nosearch", "fancy_toc", "imgcontainer", "fancy_toc_mark", "menu", "searchmenu", "tagline"}
BLOCK_TAGS = {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "ul", "ol", "dl", "dt", "dd", "table",
              "blockquote", "center", "hr", "tr", "li", "body", "html", "tbody", "thead"}

_ws = re.compile(r"\s+")


def clean_inline(s):
    s = s.replace("\u00a0", " ").replace("\u200b", "")
    return _ws.sub(" ", s).strip()


def pragma_heading(el):
    """pragma.html marks each pragma with a hidden <h _id=pragma_NAME> element; it becomes a level-3 heading."""
    return el.name == "h" and el.get("_id")


def skipped(el):
    if pragma_heading(el):
        return False
    if el.name in SKIP_TAGS:
        return True
    cls = el.get("class") or []
    if isinstance(cls, str):
        cls = cls.split()
    if SKIP_CLASSES.intersection(cls):
        return True
    style = (el.get("style") or "").replace(" ", "").lower()
    if "display:none" in style:
        return True
    # the "<b><a href=syntax/...>name:</a></b> [hide]" label that precedes every syntax diagram
    if el.name == "p" and el.find("button") is not None:
        return True
    return False


def inline_text(el, strip=True):
    """Text of an inline subtree; <br> becomes a space (paragraphs are reflowed anyway)."""
    out = []
    for node in el.descendants:
        if isinstance(node, NavigableString):
            if node.__class__.__name__ in ("Comment", "Doctype", "ProcessingInstruction"):
                continue
            if any(isinstance(p, Tag) and skipped(p) for p in node.parents if p is not el):
                continue
            out.append(str(node))
        elif node.name == "br":
            out.append(" ")
    t = "".join(out)
    return clean_inline(t) if strip else _ws.sub(" ", t.replace("\u00a0", " "))


def has_block_child(el):
    return any(isinstance(c, Tag) and c.name in BLOCK_TAGS for c in el.descendants)


class Converter:
    def __init__(self):
        self.blocks = []
        self.buf = []

    def flush(self):
        t = clean_inline("".join(self.buf))
        self.buf = []
        if t:
            self.blocks.append(("p", t))

    def walk(self, el, depth=0):
        for c in el.children:
            if isinstance(c, NavigableString):
                if c.__class__.__name__ in ("Comment", "Doctype", "ProcessingInstruction"):
                    continue
                self.buf.append(str(c))
                continue
            if not isinstance(c, Tag) or skipped(c):
                continue
            n = c.name
            if pragma_heading(c):
                self.flush()
                self.blocks.append(("h", (3, clean_inline(c.get_text()))))
                continue
            if n in ("h1", "h2", "h3", "h4", "h5", "h6"):
                self.flush()
                t = inline_text(c)
                if t:
                    self.blocks.append(("h", (int(n[1]), t)))
            elif n == "pre":
                self.flush()
                txt = c.get_text().replace("\u00a0", " ").replace("\t", "    ")
                lines = [l.rstrip() for l in txt.split("\n")]
                while lines and not lines[0].strip():
                    lines.pop(0)
                while lines and not lines[-1].strip():
                    lines.pop()
                if lines:
                    self.blocks.append(("code", "\n".join(lines)))
            elif n in ("ul", "ol"):
                self.flush()
                num = 0
                for li in c.find_all("li", recursive=False):
                    num += 1
                    marker = "%d." % num if n == "ol" else "-"
                    self.list_item(li, depth, marker)
            elif n == "li":  # stray li outside ul/ol
                self.flush()
                self.list_item(c, depth, "-")
            elif n == "table":
                self.flush()
                rows = []
                for tr in c.find_all("tr"):
                    if tr.find_parent("table") is not c:
                        continue
                    cells = [inline_text(td) for td in tr.find_all(["td", "th"], recursive=False)]
                    if any(cells):
                        rows.append(cells)
                # layout tables with a single cell (or a single column of prose) are paragraphs
                if rows and max(len(r) for r in rows) == 1:
                    for r in rows:
                        self.blocks.append(("p", r[0]))
                elif rows:
                    self.blocks.append(("table", rows))
            elif n in ("dt", "dd", "p", "blockquote", "center", "div", "dl", "tbody", "thead", "tr"):
                self.flush()
                if has_block_child(c):
                    self.walk(c, depth)
                else:
                    t = inline_text(c)
                    if t:
                        self.blocks.append(("p", t))
                self.flush()
            elif n == "br":
                self.buf.append(" ")
            elif n == "hr":
                self.flush()
            else:  # inline element (a, b, i, span, code, sub, small, ...)
                if has_block_child(c):
                    self.flush()
                    self.walk(c, depth)
                    self.flush()
                else:
                    self.buf.append(inline_text(c, strip=False))

    def list_item(self, li, depth, marker):
        sub = Converter()
        sub.walk(li, depth + 1)
        sub.flush()
        first = True
        for kind, payload in sub.blocks:
            if kind == "p" and first:
                self.blocks.append(("li", (depth, marker, payload)))
            elif kind == "p":
                self.blocks.append(("li", (depth, "", payload)))
            else:
                if first:
                    self.blocks.append(("li", (depth, marker, "")))
                self.blocks.append((kind, payload))
            first = False



def page_blocks(path):
    html = open(path, encoding="utf-8", errors="replace").read()
    soup = BeautifulSoup(html, "lxml")
    title = None
    ft = soup.find(class_="fancy_title")
    if ft:
        title = clean_inline(ft.get_text())
    if not title and soup.title:
        title = clean_inline(soup.title.get_text())
    root = soup.find("div", class_="fancy") or soup.body
    conv = Converter()
    conv.walk(root)
    conv.flush()
    blocks = conv.blocks
    # drop a leading heading that repeats the title, and empty list markers
    if blocks and blocks[0][0] == "h" and blocks[0][1][1].lower() == (title or "").lower():
        blocks = blocks[1:]
    out = []
    for b in blocks:
        if b[0] == "li" and not b[1][2]:
            continue
        out.append(b)
    return title, out



# ---------------------------------------------------------------------------------------------- writers


def write_md(path, title, blocks, source):
    L = ["# " + title, ""]
    for kind, p in blocks:
        if kind == "h":
            L += ["#" * min(p[0] + 1, 6) + " " + p[1], ""]
        elif kind == "p":
            L += [p, ""]
        elif kind == "li":
            depth, marker, text = p
            ind = "  " * depth
            if marker:
                L.append("%s%s %s" % (ind, marker if marker != "-" else "-", text))
            else:
                L.append("%s  %s" % (ind, text))
            L.append("")
        elif kind == "code":
            L += ["```", p, "```", ""]
        elif kind == "table":
            w = max(len(r) for r in p)
            rows = [r + [""] * (w - len(r)) for r in p]
            L.append("| " + " | ".join(c.replace("|", "\\|") for c in rows[0]) + " |")
            L.append("|" + "---|" * w)
            for r in rows[1:]:
                L.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
            L.append("")
    L.append("Source: %s" % source)
    open(path, "w", encoding="utf-8").write(re.sub(r"\n{3,}", "\n\n", "\n".join(L)).strip() + "\n")


def write_txt(path, title, blocks, source):
    import textwrap
    L = [title, "=" * len(title), ""]
    for kind, p in blocks:
        if kind == "h":
            L += ["", p[1], ("-" if p[0] <= 1 else "~") * len(p[1]), ""]
        elif kind == "p":
            L += textwrap.wrap(p, 100, break_long_words=False, break_on_hyphens=False) + [""]
        elif kind == "li":
            depth, marker, text = p
            ind = "  " * depth
            lead = (marker.replace("-", "*") + " ") if marker else "  "
            L += textwrap.wrap(text, 100, initial_indent=ind + lead, subsequent_indent=ind + "  ",
                               break_long_words=False, break_on_hyphens=False) + [""]
        elif kind == "code":
            L += ["    " + l if l else "" for l in p.split("\n")] + [""]
        elif kind == "table":
            for r in p:
                L.append("  " + " | ".join(r))
            L.append("")
    L.append("Source: %s" % source)
    open(path, "w", encoding="utf-8").write(re.sub(r"\n{3,}", "\n\n", "\n".join(L)).strip() + "\n")


def write_pdf(path, title, blocks, source):
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    pdf = FPDF(format="A4")
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, 18)
    pdf.add_font("Serif", "", os.path.join(FONT_DIR, "DejaVuSerif.ttf"))
    pdf.add_font("Serif", "B", os.path.join(FONT_DIR, "DejaVuSerif-Bold.ttf"))
    pdf.add_font("Mono", "", os.path.join(FONT_DIR, "DejaVuSansMono.ttf"))
    pdf.set_title(title)
    pdf.set_author("SQLite documentation (public domain)")
    pdf.set_creator("build_set.py (fpdf2)")
    pdf.set_creation_date(FIXED_DATE)
    pdf.add_page()
    W = pdf.epw
    nl = dict(new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    pdf.set_font("Serif", "B", 18)
    pdf.start_section(title, level=0)
    pdf.multi_cell(W, 9, title, align="L", **nl)
    pdf.ln(3)
    outline = 0
    for kind, p in blocks:
        if kind == "h":
            lvl, text = p
            size = {1: 14, 2: 12.5}.get(lvl, 11.5)
            if pdf.get_y() > pdf.h - 45:
                pdf.add_page()
            pdf.ln(3)
            pdf.set_font("Serif", "B", size)
            outline = min(lvl, 2, outline + 1)  # fpdf2 refuses to skip outline levels
            pdf.start_section(text, level=outline)
            pdf.multi_cell(W, size * 0.55, text, align="L", **nl)
            pdf.ln(1.5)
        elif kind == "p":
            pdf.set_font("Serif", "", 10.5)
            pdf.multi_cell(W, 5.2, p, align="L", **nl)
            pdf.ln(2)
        elif kind == "li":
            depth, marker, text = p
            pdf.set_font("Serif", "", 10.5)
            ind = 5 + 6 * depth
            pdf.set_x(pdf.l_margin + ind)
            lead = ("\u2022 " if marker == "-" else marker + " ") if marker else "  "
            pdf.multi_cell(W - ind, 5.2, lead + text, align="L", **nl)
            pdf.ln(1)
        elif kind == "code":
            pdf.set_font("Mono", "", 8.5)
            for line in p.split("\n"):
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(W - 4, 4.2, line if line else " ", align="L", **nl)
            pdf.ln(2)
        elif kind == "table":
            pdf.set_font("Serif", "", 9.5)
            for r in p:
                pdf.set_x(pdf.l_margin + 4)
                pdf.multi_cell(W - 4, 4.8, " | ".join(r), align="L", **nl)
            pdf.ln(2)
    pdf.ln(4)
    pdf.set_font("Serif", "", 8)
    pdf.multi_cell(W, 4, "Source: " + source, align="L", **nl)
    pdf.output(path)


def write_docx(path, title, blocks, source):
    import docx
    from docx.enum.style import WD_STYLE_TYPE
    from docx.shared import Pt, Cm

    d = docx.Document()
    cp = d.core_properties
    cp.title, cp.author, cp.created, cp.modified = title, "SQLite documentation (public domain)", \
        FIXED_DATE.replace(tzinfo=None), FIXED_DATE.replace(tzinfo=None)
    cp.last_modified_by, cp.revision = "build_set.py", 1
    code = d.styles.add_style("Code", WD_STYLE_TYPE.PARAGRAPH)
    code.base_style = d.styles["Normal"]
    code.font.name = "DejaVu Sans Mono"
    code.font.size = Pt(8.5)
    code.paragraph_format.space_after = Pt(0)
    code.paragraph_format.space_before = Pt(0)
    code.paragraph_format.left_indent = Cm(0.5)
    d.add_paragraph(title, style="Title")
    for kind, p in blocks:
        if kind == "h":
            d.add_heading(p[1], level=min(p[0], 3))
        elif kind == "p":
            d.add_paragraph(p)
        elif kind == "li":
            depth, marker, text = p
            if not marker:
                para = d.add_paragraph(text)
                para.paragraph_format.left_indent = Cm(0.63 * (depth + 1))
            else:
                style = ("List Number" if marker != "-" else "List Bullet") + (" 2" if depth else "")
                d.add_paragraph(text, style=style)
        elif kind == "code":
            for line in p.split("\n"):
                d.add_paragraph(line, style="Code")
            d.add_paragraph("")
        elif kind == "table":
            w = max(len(r) for r in p)
            t = d.add_table(rows=len(p), cols=w)
            t.style = "Table Grid"
            for i, r in enumerate(p):
                for j in range(w):
                    t.cell(i, j).text = r[j] if j < len(r) else ""
    para = d.add_paragraph("Source: " + source)
    para.runs[0].font.size = Pt(8)
    d.save(path)
    pin_zip_times(path)


def slide_chunks(blocks, limit=1100):
    """Sections (split at h1/h2/h3) -> slides of at most ~limit characters of bullet text."""
    sections, cur_title, cur = [], None, []
    for b in blocks:
        if b[0] == "h":
            if cur or cur_title:
                sections.append((cur_title, cur))
            cur_title, cur = b[1][1], []
        else:
            cur.append(b)
    if cur or cur_title:
        sections.append((cur_title, cur))
    slides = []
    for t, bl in sections:
        items, size = [], 0
        part = 0
        for b in bl:
            if b[0] == "table":
                b = ("code", "\n".join(" | ".join(r) for r in b[1]))
            n = len(b[1] if isinstance(b[1], str) else b[1][2])
            if items and size + n > limit:
                slides.append((t if part == 0 else "%s (cont.)" % t, items))
                items, size, part = [], 0, part + 1
            items.append(b)
            size += n
        if items or part == 0:
            slides.append((t if part == 0 else "%s (cont.)" % t, items))
    return slides


def write_pptx(path, title, blocks, source):
    from pptx import Presentation
    from pptx.util import Pt, Inches

    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    cp = prs.core_properties
    cp.title, cp.author = title, "SQLite documentation (public domain)"
    cp.created = cp.modified = FIXED_DATE.replace(tzinfo=None)
    cp.last_modified_by, cp.revision = "build_set.py", 1
    s = prs.slides.add_slide(prs.slide_layouts[0])
    s.shapes.title.text = title
    s.placeholders[1].text = "Lecture slides \u2014 " + source
    for st, items in slide_chunks(blocks):
        s = prs.slides.add_slide(prs.slide_layouts[1])
        s.shapes.title.text = st or title
        body = s.placeholders[1]
        body.left, body.top, body.width, body.height = Inches(0.5), Inches(1.4), Inches(12.3), Inches(5.8)
        tf = body.text_frame
        tf.word_wrap = True
        first = True
        for kind, p in items:
            para = tf.paragraphs[0] if first else tf.add_paragraph()
            first = False
            if kind == "code":
                para.text = p.replace("\n", "\v")  # the paragraph setter turns \v into <a:br/> line breaks
                for run in para.runs:
                    run.font.name = "DejaVu Sans Mono"
                    run.font.size = Pt(11)
                para.level = 1
            else:
                text = p[2] if kind == "li" else p
                run = para.add_run()
                run.text = text
                run.font.size = Pt(14)
                para.level = min(p[0] + 1, 4) if kind == "li" else 0
    prs.save(path)
    pin_zip_times(path)


def pin_zip_times(path):
    """python-docx/python-pptx stamp ZIP entries with the current time; rewrite them with FIXED_DATE so that a
    rebuild gives byte-identical files."""
    import zipfile
    with zipfile.ZipFile(path) as z:
        entries = [(i, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for info, data in entries:
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE.timetuple()[:6])
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = info.external_attr
            z.writestr(zi, data)


WRITERS = {"md": write_md, "txt": write_txt, "pdf": write_pdf, "docx": write_docx, "pptx": write_pptx}


# ---------------------------------------------------------------------------------------------- read back

def extract_text(path):
    """The text check_set.py sees: PDF pages / PPTX slides separated by a form feed."""
    sys.dont_write_bytecode = True  # no __pycache__ in the set directory
    sys.path.insert(0, HERE)
    from check_set import units_from_libs
    return "\n\f\n".join(units_from_libs(path))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--src", default="/var/tmp/eval-build/pkg/usr/share/doc/sqlite3",
                    help="directory with the sqlite3-doc HTML pages")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--only", default=None, help="comma-separated output names (debug)")
    a = ap.parse_args()
    docs = os.path.join(a.out, "docs")
    ext_dir = os.path.join(a.out, "extracted")
    os.makedirs(docs, exist_ok=True)
    os.makedirs(ext_dir, exist_ok=True)
    only = set(a.only.split(",")) if a.only else None
    for name, page, role in PAGES:
        if only and name not in only:
            continue
        title, blocks = page_blocks(os.path.join(a.src, page))
        source = "SQLite documentation, %s (sqlite.org, public domain; Debian sqlite3-doc 3.40.1)" % page
        out = os.path.join(docs, name)
        WRITERS[name.rsplit(".", 1)[-1]](out, title, blocks, source)
        text = extract_text(out)
        open(os.path.join(ext_dir, name + ".txt"), "w", encoding="utf-8").write(text)
        print("%-34s %-10s %-24s %8d bytes %8d chars extracted" % (name, role, page, os.path.getsize(out),
                                                                      len(text)))


if __name__ == "__main__":
    main()
