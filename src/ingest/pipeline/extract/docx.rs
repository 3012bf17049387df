//! DOCX via docx-rs, after our own ZIP checks (docx-rs trusts declared sizes and unwraps read errors).
//!
//! Walks the body in order: paragraphs (including hyperlink and content-control text, which docx-rs's
//! `raw_text()` skips) and tables (row by row, cells joined with ` | `). Heading and Title paragraph styles,
//! resolved through styles.xml so localised style ids work, build the heading trail.

use std::collections::HashMap;

use docx_rs::{
    DocumentChild, Paragraph, ParagraphChild, RunChild, StructuredDataTagChild, Table, TableCellContent, TableChild,
    TableRowChild,
};

use super::ooxml::{self, Package, ZipProblem};
use super::{ExtractError, Limits, Outline, Sink};

/// Our traversal recurses into nested tables; the XML depth check in `verify_all` already bounds this, the
/// constant is a second fence for the code below.
const MAX_TABLE_NESTING: usize = 100;

fn problem(p: ZipProblem) -> ExtractError {
    match p {
        ZipProblem::Corrupt(msg) => ExtractError::CorruptDocx(msg),
        ZipProblem::Bomb(msg) => ExtractError::ZipBomb(msg),
    }
}

pub(super) fn extract(bytes: &[u8], limits: &Limits, sink: &mut Sink<'_>) -> Result<Option<String>, ExtractError> {
    let mut package = Package::open(bytes, limits).map_err(problem)?;
    if !package.names().iter().any(|n| n == "word/document.xml") {
        return Err(ExtractError::CorruptDocx("no word/document.xml".to_owned()));
    }
    package.verify_all().map_err(problem)?;
    sink.checkpoint()?;
    let core_title = {
        let mut fresh = Package::open(bytes, limits).map_err(problem)?;
        ooxml::core_title(&mut fresh)
    };

    let options = docx_rs::ReadDocxOptions::default().with_image_previews(false);
    let docx = docx_rs::read_docx_with_options(bytes, options)
        .map_err(|e| ExtractError::CorruptDocx(format!("docx-rs: {e}")))?;
    sink.checkpoint()?;

    let levels = heading_levels(&docx.styles);
    let mut walker = Walker { levels, outline: Outline::new(), title: None };
    for child in &docx.document.children {
        match child {
            DocumentChild::Paragraph(p) => walker.paragraph(sink, p)?,
            DocumentChild::Table(t) => walker.table(sink, t, 0)?,
            DocumentChild::StructuredDataTag(sdt) => walker.sdt(sink, &sdt.children, 0)?,
            // Section breaks, bookmarks and comment anchors carry no text; a table of contents repeats the
            // headings with page numbers and would only add noise.
            _ => {}
        }
    }
    let Walker { outline, title, .. } = walker;
    outline.finish(sink)?;
    Ok(core_title.or(title))
}

/// style id → heading level (0 = Title, 1..=9 = Heading N), from style names or outline levels.
fn heading_levels(styles: &docx_rs::Styles) -> HashMap<String, u8> {
    let mut map = HashMap::new();
    for style in &styles.styles {
        let level = if style.name.starts_with("Title") {
            Some(0)
        } else if style.name.is_heading() {
            style.name.get_heading_number().and_then(|n| u8::try_from(n).ok())
        } else {
            None
        };
        let level = level.or_else(|| outline_level(style.paragraph_property.outline_lvl.as_ref()));
        if let Some(level) = level {
            map.insert(style.style_id.clone(), level);
        }
    }
    map
}

/// `w:outlineLvl` 0..=8 are heading levels 1..=9; 9 means body text.
fn outline_level(lvl: Option<&docx_rs::OutlineLvl>) -> Option<u8> {
    lvl.and_then(|l| u8::try_from(l.v).ok()).filter(|v| *v < 9).map(|v| v + 1)
}

struct Walker {
    levels: HashMap<String, u8>,
    outline: Outline,
    title: Option<String>,
}

impl Walker {
    fn level_of(&self, p: &Paragraph) -> Option<u8> {
        if let Some(level) = outline_level(p.property.outline_lvl.as_ref()) {
            return Some(level);
        }
        let id = &p.property.style.as_ref()?.val;
        self.levels.get(id).copied().or_else(|| {
            // Style missing from styles.xml: fall back to the conventional English ids.
            if id == "Title" { Some(0) } else { id.strip_prefix("Heading").and_then(|n| n.parse().ok()) }
        })
    }

    fn paragraph(&mut self, sink: &mut Sink<'_>, p: &Paragraph) -> Result<(), ExtractError> {
        let text = paragraph_text(p);
        match self.level_of(p) {
            Some(level) if !text.trim().is_empty() => {
                if level == 0 && self.title.is_none() {
                    self.title = Some(text.trim().to_owned());
                }
                self.outline.heading(sink, level, &text)
            }
            _ => self.outline.paragraph(sink, &text),
        }
    }

    fn table(&mut self, sink: &mut Sink<'_>, table: &Table, depth: usize) -> Result<(), ExtractError> {
        if depth > MAX_TABLE_NESTING {
            return Ok(());
        }
        for TableChild::TableRow(row) in &table.rows {
            let mut cells = Vec::new();
            for TableRowChild::TableCell(cell) in &row.cells {
                let mut parts = Vec::new();
                for content in &cell.children {
                    match content {
                        TableCellContent::Paragraph(p) => parts.push(paragraph_text(p)),
                        // A table inside a cell is emitted as its own rows after this one's text.
                        TableCellContent::Table(inner) => self.table(sink, inner, depth + 1)?,
                        TableCellContent::StructuredDataTag(sdt) => parts.push(sdt_text(&sdt.children)),
                        TableCellContent::TableOfContents(_) => {}
                    }
                }
                let cell_text = parts.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>();
                cells.push(cell_text.join(" "));
            }
            if cells.iter().any(|c| !c.is_empty()) {
                self.outline.paragraph(sink, &cells.join(" | "))?;
            }
        }
        Ok(())
    }

    fn sdt(
        &mut self,
        sink: &mut Sink<'_>,
        children: &[StructuredDataTagChild],
        depth: usize,
    ) -> Result<(), ExtractError> {
        if depth > MAX_TABLE_NESTING {
            return Ok(());
        }
        for child in children {
            match child {
                StructuredDataTagChild::Paragraph(p) => self.paragraph(sink, p)?,
                StructuredDataTagChild::Table(t) => self.table(sink, t, depth + 1)?,
                StructuredDataTagChild::StructuredDataTag(inner) => self.sdt(sink, &inner.children, depth + 1)?,
                StructuredDataTagChild::Run(run) => self.outline.paragraph(sink, &run_text(run))?,
                _ => {}
            }
        }
        Ok(())
    }
}

fn sdt_text(children: &[StructuredDataTagChild]) -> String {
    let mut out = String::new();
    for child in children {
        match child {
            StructuredDataTagChild::Paragraph(p) => {
                out.push_str(&paragraph_text(p));
                out.push('\n');
            }
            StructuredDataTagChild::Run(run) => out.push_str(&run_text(run)),
            _ => {}
        }
    }
    out
}

fn paragraph_text(p: &Paragraph) -> String {
    let mut out = String::new();
    push_children(&mut out, &p.children, 0);
    out
}

fn push_children(out: &mut String, children: &[ParagraphChild], depth: usize) {
    if depth > MAX_TABLE_NESTING {
        return;
    }
    for child in children {
        match child {
            ParagraphChild::Run(run) => out.push_str(&run_text(run)),
            ParagraphChild::Insert(ins) => {
                for c in &ins.children {
                    if let docx_rs::InsertChild::Run(run) = c {
                        out.push_str(&run_text(run));
                    }
                }
            }
            ParagraphChild::MoveTo(mv) => {
                for c in &mv.children {
                    if let docx_rs::MoveToChild::Run(run) = c {
                        out.push_str(&run_text(run));
                    }
                }
            }
            ParagraphChild::Hyperlink(link) => push_children(out, &link.children, depth + 1),
            ParagraphChild::StructuredDataTag(sdt) => {
                for c in &sdt.children {
                    if let StructuredDataTagChild::Run(run) = c {
                        out.push_str(&run_text(run));
                    }
                }
            }
            // Deleted and moved-away text is tracked-change history, not the current document.
            _ => {}
        }
    }
}

fn run_text(run: &docx_rs::Run) -> String {
    let mut out = String::new();
    for child in &run.children {
        match child {
            RunChild::Text(t) => out.push_str(&t.text),
            RunChild::Tab(_) | RunChild::PTab(_) => out.push('\t'),
            RunChild::Break(_) | RunChild::CarriageReturn(_) => out.push('\n'),
            _ => {}
        }
    }
    out
}
