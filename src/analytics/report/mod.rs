//! A weekly report as CSV, as a plain-text mail body, and as a printable HTML page with server-rendered SVG charts.

mod charts;
mod csv;
mod html;

pub use csv::csv;
pub use html::html;

use crate::analytics::views::WeeklyReport;

/// The mail's plain-text part: the totals and where to read the rest.
pub fn text(report: &WeeklyReport) -> String {
    let t = &report.engagement.totals;
    let mut out = format!(
        "Bwenge weekly report {} ({} to {}), {}\n\n\
         Active students: {}\nMessages: {}\nSessions: {}\nQuestions the material did not cover: {}\nSafety flags: {}\n",
        report.week,
        report.from,
        report.to,
        report.org_name,
        t.active_students,
        t.messages,
        t.sessions,
        t.questions_not_covered,
        t.flagged,
    );
    if !report.stuck.is_empty() {
        out.push_str("\nWhere students were stuck:\n");
        for group in report.stuck.iter().take(5) {
            out.push_str(&format!("- {} ({} questions, {} students)\n", group.label, group.questions, group.students));
        }
    }
    if !report.gaps.is_empty() {
        out.push_str("\nNot covered by the material:\n");
        for group in report.gaps.iter().take(5) {
            out.push_str(&format!("- {} ({} questions)\n", group.label, group.questions));
        }
    }
    out
}
