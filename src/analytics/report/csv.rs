//! The report as CSV: one section per table (students, days, stuck groups, gaps), each with its own header row,
//! separated by a blank line, so a spreadsheet opens it and a script can split it on blank lines.

use std::fmt::Write;

use crate::analytics::views::{QuestionGroup, WeeklyReport};

/// RFC 4180 quoting; a cell that a spreadsheet would run as a formula is prefixed with `'`.
fn cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) { format!("'{value}") } else { value.to_owned() };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

fn row(out: &mut String, cells: &[String]) {
    let line: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

fn groups(out: &mut String, section: &str, list: &[QuestionGroup]) {
    out.push_str("\r\n");
    row(
        out,
        &[
            section.into(),
            "questions".into(),
            "students".into(),
            "answered".into(),
            "not_covered".into(),
            "examples".into(),
            "documents".into(),
        ],
    );
    for g in list {
        let documents: Vec<&str> = g.documents.iter().map(|d| d.name.as_str()).collect();
        row(
            out,
            &[
                g.label.clone(),
                g.questions.to_string(),
                g.students.to_string(),
                g.answered.to_string(),
                g.not_covered.to_string(),
                g.examples.join(" | "),
                documents.join(" | "),
            ],
        );
    }
}

pub fn csv(report: &WeeklyReport) -> String {
    let mut out = String::new();
    row(
        &mut out,
        &[
            "student_id".into(),
            "student".into(),
            "messages".into(),
            "sessions".into(),
            "not_covered".into(),
            "days_active".into(),
            "last_active".into(),
        ],
    );
    for s in &report.students {
        row(
            &mut out,
            &[
                s.id.to_string(),
                s.name.clone(),
                s.messages.to_string(),
                s.sessions.to_string(),
                s.not_covered.to_string(),
                s.days_active.to_string(),
                s.last_active.map(|t| t.to_rfc3339()).unwrap_or_default(),
            ],
        );
    }
    out.push_str("\r\n");
    row(
        &mut out,
        &["day".into(), "active_students".into(), "messages".into(), "sessions".into(), "not_covered".into()],
    );
    for d in &report.engagement.days {
        let _ = write!(out, "{},{},{},{},{}\r\n", d.day, d.active_students, d.messages, d.sessions, d.not_covered);
    }
    groups(&mut out, "stuck_question", &report.stuck);
    groups(&mut out, "gap_question", &report.gaps);
    out
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a, \"b\""), "\"a, \"\"b\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    }
}
